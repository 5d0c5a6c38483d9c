//! When the runner may ask an engine. An engine that is down is down for every job it
//! would get, so the runner backs off from the engine, not from each job: without this,
//! an engine down behind a backlog of N jobs was asked N times every 30 s, and a server
//! with every engine off claimed and put back each queued job in turn, two writes a job,
//! for as long as it ran.

use std::collections::BTreeMap;
use std::sync::Mutex;

use callvault_core::transcription::backoff;
use chrono::{DateTime, Utc};

use super::EngineKind;

#[derive(Debug, Clone, Copy)]
struct Down {
    until: DateTime<Utc>,
    /// Tries in a row that found it down.
    streak: u32,
}

/// The engines found down, and until when they are left alone.
#[derive(Debug, Default)]
pub(crate) struct Pauses {
    down: Mutex<BTreeMap<EngineKind, Down>>,
}

impl Pauses {
    /// When `kind` may be asked again, if it is backing off at `now`.
    pub fn until(&self, kind: EngineKind, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let down = self.down.lock().ok()?;
        down.get(&kind).map(|d| d.until).filter(|u| *u > now)
    }

    /// `kind` was found down at `now`: answers when to ask it again, 30 s after the first
    /// such try in a row, doubling to an hour (`transcription::backoff`).
    pub fn went_down(&self, kind: EngineKind, now: DateTime<Utc>) -> DateTime<Utc> {
        let Ok(mut down) = self.down.lock() else {
            return now + backoff(1);
        };
        let streak = down.get(&kind).map_or(0, |d| d.streak) + 1;
        let until = now + backoff(streak);
        down.insert(kind, Down { until, streak });
        until
    }

    /// `kind` answered: the next failure starts the backoff over.
    pub fn came_up(&self, kind: EngineKind) {
        if let Ok(mut down) = self.down.lock() {
            down.remove(&kind);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_down_engine_backs_off_doubling_until_it_answers() {
        let p = Pauses::default();
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let k = EngineKind::Openai;
        assert_eq!(p.until(k, t0), None);
        let first = p.went_down(k, t0);
        assert_eq!((first - t0).num_seconds(), 30);
        assert_eq!(p.until(k, t0), Some(first));
        assert_eq!(p.until(EngineKind::Pocketsphinx, t0), None, "per engine");
        assert_eq!(p.until(k, first), None, "over at its end");
        let second = p.went_down(k, first);
        assert_eq!((second - first).num_seconds(), 60);
        p.came_up(k);
        assert_eq!((p.went_down(k, second) - second).num_seconds(), 30);
    }
}
