//! When the runner may ask an engine. An engine that is down is down for every job it
//! would get, so the runner backs off from the engine, not from each job: without this,
//! an engine down behind a backlog of N jobs was asked N times every 30 s, and a server
//! with every engine off claimed and put back each queued job in turn, two writes a job,
//! for as long as it ran. One failure alone may be the job's (a recording the engine's
//! server fails on every time), so it holds up only that job; the engine is left alone
//! from the second failure in a row, on another job, with no answer in between.

use std::collections::BTreeMap;
use std::sync::Mutex;

use callvault_core::transcription::backoff;
use chrono::{DateTime, Utc};

use super::EngineKind;

#[derive(Debug, Clone, Copy)]
struct Down {
    /// Left alone until then; `None` after a single failure.
    until: Option<DateTime<Utc>>,
    /// Tries in a row that found it down.
    streak: u32,
}

/// The engines found down, and until when they are left alone.
#[derive(Debug, Default)]
pub(crate) struct Pauses {
    down: Mutex<BTreeMap<EngineKind, Down>>,
}

impl Pauses {
    /// When `kind` may be asked again, if it is left alone at `now`.
    pub fn until(&self, kind: EngineKind, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let down = self.down.lock().ok()?;
        down.get(&kind).and_then(|d| d.until).filter(|u| *u > now)
    }

    /// A try found `kind` down at `now`: answers when that job may be tried again. The
    /// first failure in a row holds up only its job, for 30 s; from the second, the
    /// engine is left alone as long, 30 s doubling to an hour (`transcription::backoff`).
    pub fn went_down(&self, kind: EngineKind, now: DateTime<Utc>) -> DateTime<Utc> {
        let Ok(mut down) = self.down.lock() else {
            return now + backoff(1);
        };
        let streak = down.get(&kind).map_or(0, |d| d.streak) + 1;
        let wait = now + backoff(streak.saturating_sub(1).max(1));
        let until = (streak > 1).then_some(wait);
        down.insert(kind, Down { until, streak });
        wait
    }

    /// `kind` answered: the next failure starts over.
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
    fn a_down_engine_is_left_alone_from_the_second_failure_doubling_until_it_answers() {
        let p = Pauses::default();
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let k = EngineKind::Openai;
        assert_eq!(p.until(k, t0), None);
        let job = p.went_down(k, t0);
        assert_eq!((job - t0).num_seconds(), 30, "the job waits");
        assert_eq!(p.until(k, t0), None, "one failure may be the job's");
        let first = p.went_down(k, t0);
        assert_eq!((first - t0).num_seconds(), 30);
        assert_eq!(p.until(k, t0), Some(first));
        assert_eq!(p.until(EngineKind::Pocketsphinx, t0), None, "per engine");
        assert_eq!(p.until(k, first), None, "over at its end");
        let second = p.went_down(k, first);
        assert_eq!((second - first).num_seconds(), 60);
        p.came_up(k);
        p.went_down(k, second);
        assert_eq!(p.until(k, second), None, "an answer starts it over");
    }
}
