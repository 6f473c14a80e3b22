//! Error-log throttling (`logging.throttle`): of identical lines (same level, target and
//! message) at a throttled level, at most `burst` are written per `window`; the rest are
//! suppressed (not written, shipped or reported) and counted, and the first line written
//! after them says how many there were (`suppressed`). A flood of one failure costs one
//! line a window instead of thousands, while the count stays exact in the metric.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use contract::model::LogKeys;
use serde_json::{Map, Value};

use crate::metrics::Counter;

/// Distinct lines tracked at once; past this, windows that ended are forgotten, and if none
/// has, the oldest one.
pub const MAX_TRACKED: usize = 1024;

/// The field a written line carries when identical lines were suppressed before it.
pub const SUPPRESSED_FIELD: &str = "suppressed";

/// What to do with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Write it; `suppressed` identical lines were held back since the last one written.
    Write { suppressed: u64 },
    /// Hold it back (counted).
    Suppress,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    window_start: Instant,
    written: u32,
    suppressed: u64,
}

/// The throttle of one process.
#[derive(Debug)]
pub struct Throttle {
    window: Duration,
    burst: u32,
    /// The throttled levels, lowercase (`error`, `critical`), each with its count of
    /// suppressed lines (a series of `obs_log_lines_suppressed_total`).
    levels: Vec<(String, Counter)>,
    slots: Mutex<HashMap<u64, Slot>>,
}

fn key(level: &str, target: &str, message: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    (level, target, message).hash(&mut hasher);
    hasher.finish()
}

impl Throttle {
    pub fn new(window: Duration, burst: u32, levels: Vec<(String, Counter)>) -> Self {
        Self {
            window,
            burst: burst.max(1),
            levels,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a written line goes out: a line at another level always does; a throttled
    /// one when the window allows, carrying `suppressed` when lines were held back before it.
    pub fn admit(&self, line: &mut Map<String, Value>, keys: &LogKeys) -> bool {
        self.admit_at(line, keys, Instant::now())
    }

    /// [`admit`](Self::admit) at `now`.
    pub fn admit_at(&self, line: &mut Map<String, Value>, keys: &LogKeys, now: Instant) -> bool {
        let text = |key: &str| line.get(key).and_then(Value::as_str).unwrap_or_default();
        let level = text(&keys.level).to_ascii_lowercase();
        let Some((_, counter)) = self.levels.iter().find(|(l, _)| *l == level) else {
            return true;
        };
        let verdict = self.judge(&level, text(&keys.target), text(&keys.message), now);
        if verdict == Verdict::Suppress {
            counter.inc();
        }
        match verdict {
            Verdict::Suppress => false,
            Verdict::Write { suppressed: 0 } => true,
            Verdict::Write { suppressed } => {
                line.insert(SUPPRESSED_FIELD.into(), Value::from(suppressed));
                true
            }
        }
    }

    /// The verdict on a line at `now` (not counted: [`admit`](Self::admit) counts).
    pub fn judge(&self, level: &str, target: &str, message: &str, now: Instant) -> Verdict {
        let key = key(level, target, message);
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if !slots.contains_key(&key) && slots.len() >= MAX_TRACKED {
            self.forget(&mut slots, now);
        }
        let slot = slots.entry(key).or_insert(Slot {
            window_start: now,
            written: 0,
            suppressed: 0,
        });
        if now.duration_since(slot.window_start) >= self.window {
            slot.window_start = now;
            slot.written = 0;
        }
        if slot.written < self.burst {
            slot.written += 1;
            let suppressed = std::mem::take(&mut slot.suppressed);
            Verdict::Write { suppressed }
        } else {
            slot.suppressed += 1;
            Verdict::Suppress
        }
    }

    /// Makes room: windows that ended go (their suppressed count is in the metric already),
    /// else the oldest.
    fn forget(&self, slots: &mut HashMap<u64, Slot>, now: Instant) {
        slots.retain(|_, slot| now.duration_since(slot.window_start) < self.window);
        if slots.len() >= MAX_TRACKED {
            if let Some(oldest) = slots.iter().min_by_key(|(_, s)| s.window_start).map(|(k, _)| *k) {
                slots.remove(&oldest);
            }
        }
    }

    /// Lines suppressed so far, every level.
    pub fn suppressed(&self) -> u64 {
        self.levels.iter().map(|(_, c)| c.get()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors() -> Vec<(String, Counter)> {
        vec![("error".into(), Counter::default())]
    }

    #[test]
    fn identical_lines_beyond_the_burst_wait_for_the_next_window() {
        let throttle = Throttle::new(Duration::from_secs(60), 2, errors());
        let start = Instant::now();
        let judge =
            |message: &str, after: u64| throttle.judge("error", "db", message, start + Duration::from_secs(after));
        assert_eq!(judge("pool timed out", 0), Verdict::Write { suppressed: 0 });
        assert_eq!(judge("pool timed out", 1), Verdict::Write { suppressed: 0 });
        for second in 2..10 {
            assert_eq!(judge("pool timed out", second), Verdict::Suppress);
        }
        // Another message is another line.
        assert_eq!(judge("disk full", 5), Verdict::Write { suppressed: 0 });
        // The next window writes again and says how many were held back.
        assert_eq!(judge("pool timed out", 61), Verdict::Write { suppressed: 8 });
        assert_eq!(judge("pool timed out", 62), Verdict::Write { suppressed: 0 });
    }

    #[test]
    fn level_and_target_are_part_of_what_makes_lines_identical() {
        let throttle = Throttle::new(Duration::from_secs(60), 1, errors());
        let now = Instant::now();
        assert_eq!(throttle.judge("error", "a", "x", now), Verdict::Write { suppressed: 0 });
        assert_eq!(
            throttle.judge("critical", "a", "x", now),
            Verdict::Write { suppressed: 0 }
        );
        assert_eq!(throttle.judge("error", "b", "x", now), Verdict::Write { suppressed: 0 });
        assert_eq!(throttle.judge("error", "a", "x", now), Verdict::Suppress);
    }

    #[test]
    fn only_the_throttled_levels_are_held_back_and_the_count_rides_on_the_next_line() {
        let throttle = Throttle::new(Duration::from_millis(0), 1, errors());
        let keys = LogKeys::default();
        let line = |level: &str| {
            let mut line = Map::new();
            line.insert("level".into(), Value::from(level));
            line.insert("message".into(), Value::from("pool timed out"));
            line.insert("target".into(), Value::from("db"));
            line
        };
        // A zero window never holds anything back; a long one does, below.
        assert!(throttle.admit(&mut line("ERROR"), &keys));
        assert!(throttle.admit(&mut line("error"), &keys));
        let throttle = Throttle::new(Duration::from_secs(60), 1, errors());
        assert!(throttle.admit(&mut line("error"), &keys));
        assert!(
            !throttle.admit(&mut line("ERROR"), &keys),
            "the level's case does not matter"
        );
        for _ in 0..5 {
            assert!(
                throttle.admit(&mut line("warn"), &keys),
                "warnings are not throttled here"
            );
        }
        assert_eq!(throttle.suppressed(), 1);
        let later = Instant::now() + Duration::from_secs(61);
        let mut next = line("error");
        assert!(throttle.admit_at(&mut next, &keys, later));
        assert_eq!(
            next[SUPPRESSED_FIELD], 1,
            "the next window's first line says how many were held back"
        );
    }

    #[test]
    fn memory_stays_bounded_under_endless_distinct_lines() {
        let throttle = Throttle::new(Duration::from_secs(60), 1, errors());
        let now = Instant::now();
        for n in 0..(MAX_TRACKED * 3) {
            assert_eq!(
                throttle.judge("error", "t", &format!("failure {n}"), now),
                Verdict::Write { suppressed: 0 }
            );
        }
        assert!(throttle.slots.lock().unwrap().len() <= MAX_TRACKED);
    }
}
