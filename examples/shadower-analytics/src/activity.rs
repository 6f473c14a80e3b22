//! Who is active: the users each workspace has seen in the last five minutes, published as
//! `analytics_active_users{workspace_id}` every few seconds. The runtime caps the label at
//! its budget (500 workspaces); workspaces with nobody active are forgotten.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::obs::analytics_active_users;

/// How recently a user must have been seen to count as active.
pub const ACTIVE_WINDOW: Duration = Duration::from_secs(300);
const PUBLISH_EVERY: Duration = Duration::from_secs(2);
/// Users remembered per workspace at most (the gauge saturates beyond it).
const MAX_USERS: usize = 100_000;

type Seen = HashMap<String, HashMap<String, Instant>>;

/// Recent activity, shared by the handlers.
#[derive(Clone, Default)]
pub struct Activity {
    seen: Arc<Mutex<Seen>>,
}

impl Activity {
    pub fn seen(&self, workspace_id: &str, user_id: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let users = seen.entry(workspace_id.to_string()).or_default();
        if users.len() < MAX_USERS || users.contains_key(user_id) {
            users.insert(user_id.to_string(), Instant::now());
        }
    }

    /// Active users per workspace now; drops who has been idle too long.
    fn active(&self, now: Instant) -> Vec<(String, usize)> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        for users in seen.values_mut() {
            users.retain(|_, at| now.duration_since(*at) < ACTIVE_WINDOW);
        }
        let counts = seen.iter().map(|(w, users)| (w.clone(), users.len())).collect();
        seen.retain(|_, users| !users.is_empty());
        counts
    }

    pub async fn publish(self, gauge: analytics_active_users::Family) {
        loop {
            for (workspace, users) in self.active(Instant::now()) {
                gauge.with(&workspace).set(users as f64);
            }
            tokio::time::sleep(PUBLISH_EVERY).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_recent_users_per_workspace() {
        let activity = Activity::default();
        activity.seen("w1", "a");
        activity.seen("w1", "a");
        activity.seen("w1", "b");
        activity.seen("w2", "a");
        let mut now = activity.active(Instant::now());
        now.sort();
        assert_eq!(now, [("w1".to_string(), 2), ("w2".to_string(), 1)]);
        let later = activity.active(Instant::now() + ACTIVE_WINDOW);
        assert!(later.iter().all(|(_, n)| *n == 0), "{later:?}");
        assert!(
            activity.active(Instant::now()).is_empty(),
            "idle workspaces are forgotten"
        );
    }
}
