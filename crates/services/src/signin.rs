//! Limits on failed sign-ins, so that passwords and client secrets cannot be guessed at
//! the rate argon2 and SHA-256 allow: per principal (a client id, or a login through a
//! client, so tenants never share a budget) and per source address. Only failures count,
//! so a busy integration signing in correctly is never refused. A key over its budget is
//! refused until the budget refills, whatever the credentials, so a refusal says nothing
//! about them.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Failed attempts a principal may make at once, and then one per this period.
const PRINCIPAL_BURST: u32 = 10;
const PRINCIPAL_PERIOD: Duration = Duration::from_secs(6);
/// The same for a source address, shared by every principal behind it.
const SOURCE_BURST: u32 = 100;
const SOURCE_PERIOD: Duration = Duration::from_millis(600);

pub struct SignInLimits {
    principals: DefaultKeyedRateLimiter<String>,
    sources: DefaultKeyedRateLimiter<String>,
    blocked: Mutex<HashMap<String, Instant>>,
    clock: DefaultClock,
}

fn quota(burst: u32, period: Duration) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl Default for SignInLimits {
    fn default() -> Self {
        Self {
            principals: RateLimiter::keyed(quota(PRINCIPAL_BURST, PRINCIPAL_PERIOD)),
            sources: RateLimiter::keyed(quota(SOURCE_BURST, SOURCE_PERIOD)),
            blocked: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }
}

impl SignInLimits {
    fn keys(principal: &str, source: &str) -> [String; 2] {
        [format!("p:{principal}"), format!("s:{source}")]
    }

    /// How long attempts by `principal` from `source` are refused, if they are now.
    pub fn refused(&self, principal: &str, source: &str) -> Option<Duration> {
        let now = Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        blocked.retain(|_, until| *until > now);
        Self::keys(principal, source)
            .iter()
            .filter_map(|k| blocked.get(k))
            .max()
            .map(|until| *until - now)
    }

    /// Counts a failed attempt; a key over its budget is refused until it refills.
    pub fn failed(&self, principal: &str, source: &str) {
        let [p, s] = Self::keys(principal, source);
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        for (limiter, key) in [(&self.principals, p), (&self.sources, s)] {
            if let Err(not_until) = limiter.check_key(&key) {
                let wait = not_until.wait_time_from(self.clock.now());
                blocked.insert(key, Instant::now() + wait.max(Duration::from_secs(1)));
            }
        }
        if blocked.len() > 100_000 {
            // A flood of distinct keys: forget the oldest state rather than grow.
            self.principals.retain_recent();
            self.sources.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_principal_is_refused_after_its_burst_of_failures() {
        let l = SignInLimits::default();
        for _ in 0..PRINCIPAL_BURST {
            assert_eq!(l.refused("c1", "10.0.0.1"), None);
            l.failed("c1", "10.0.0.1");
        }
        l.failed("c1", "10.0.0.1");
        let wait = l.refused("c1", "10.0.0.1").expect("refused");
        assert!(
            wait <= PRINCIPAL_PERIOD + Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(l.refused("c2", "10.0.0.1"), None, "other principals go on");
        assert!(
            l.refused("c1", "10.0.0.2").is_some(),
            "the principal, from anywhere"
        );
    }

    #[test]
    fn a_source_is_refused_after_its_burst_across_principals() {
        let l = SignInLimits::default();
        for i in 0..=SOURCE_BURST {
            l.failed(&format!("c{i}"), "10.0.0.9");
        }
        assert!(l.refused("fresh", "10.0.0.9").is_some());
        assert_eq!(l.refused("fresh", "10.0.0.8"), None);
    }
}
