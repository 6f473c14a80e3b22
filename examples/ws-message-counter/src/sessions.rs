//! What the counter remembers across connections and within one: the running count of each
//! recent session, so a client that reconnects with its `session_id` resumes its count
//! (bounded: the oldest sessions are forgotten first), and each connection's rate limit.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Sessions remembered for resumption.
pub const REMEMBERED_SESSIONS: usize = 10_000;
/// Messages one connection may send per [`RATE_WINDOW`]; more are refused.
pub const RATE_LIMIT: u32 = 20;
pub const RATE_WINDOW: Duration = Duration::from_secs(1);

/// Counts of recent sessions, shared by every connection.
#[derive(Clone, Default)]
pub struct Sessions {
    inner: Arc<Mutex<Remembered>>,
}

#[derive(Default)]
struct Remembered {
    counts: HashMap<String, u64>,
    order: VecDeque<String>,
}

impl Sessions {
    /// The count a session left off at, if it is remembered.
    pub fn resume(&self, id: &str) -> Option<u64> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .counts
            .get(id)
            .copied()
    }

    /// Remembers where a session left off, forgetting the oldest beyond the bound.
    pub fn remember(&self, id: &str, count: u64) {
        let mut remembered = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if remembered.counts.insert(id.to_string(), count).is_none() {
            remembered.order.push_back(id.to_string());
        }
        while remembered.order.len() > REMEMBERED_SESSIONS {
            if let Some(oldest) = remembered.order.pop_front() {
                remembered.counts.remove(&oldest);
            }
        }
    }
}

/// A fixed-window limit on one connection's messages.
pub struct RateLimit {
    window_started: Instant,
    in_window: u32,
    said: bool,
}

/// What the limit says of one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refused; `first` for the first refusal of the window (log it once, not per message).
    Refused {
        first: bool,
    },
}

impl RateLimit {
    pub fn new(now: Instant) -> Self {
        Self {
            window_started: now,
            in_window: 0,
            said: false,
        }
    }

    pub fn check(&mut self, now: Instant) -> Verdict {
        if now.duration_since(self.window_started) >= RATE_WINDOW {
            *self = Self::new(now);
        }
        self.in_window += 1;
        if self.in_window <= RATE_LIMIT {
            return Verdict::Allowed;
        }
        let first = !self.said;
        self.said = true;
        Verdict::Refused { first }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_refuses_past_its_count_and_resets_each_window() {
        let start = Instant::now();
        let mut limit = RateLimit::new(start);
        for _ in 0..RATE_LIMIT {
            assert_eq!(limit.check(start), Verdict::Allowed);
        }
        assert_eq!(limit.check(start), Verdict::Refused { first: true });
        assert_eq!(limit.check(start), Verdict::Refused { first: false });
        assert_eq!(limit.check(start + RATE_WINDOW), Verdict::Allowed);
    }

    #[test]
    fn sessions_resume_and_the_oldest_are_forgotten() {
        let sessions = Sessions::default();
        sessions.remember("first", 3);
        sessions.remember("first", 5);
        assert_eq!(sessions.resume("first"), Some(5));
        for i in 0..REMEMBERED_SESSIONS {
            sessions.remember(&format!("s{i}"), 1);
        }
        assert_eq!(sessions.resume("first"), None, "the oldest went first");
        assert_eq!(sessions.resume("s1"), Some(1));
    }
}
