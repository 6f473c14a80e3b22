//! The heartbeat: one message broadcast to every connected client at a fixed interval (30 s,
//! as the seed says; `HEARTBEAT_INTERVAL_SECONDS` changes it), each broadcast logged with how
//! many clients it reached.

use std::sync::Arc;
use std::time::Duration;

use runtime::Observability;
use serde_json::json;
use tokio::sync::broadcast;

/// The seed's interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Overrides the interval, in whole seconds.
pub const INTERVAL_ENV: &str = "HEARTBEAT_INTERVAL_SECONDS";
/// Heartbeats a slow client may fall behind by before it skips some.
const BACKLOG: usize = 4;

/// Where sessions subscribe to the heartbeat.
#[derive(Clone)]
pub struct Heartbeat {
    sender: broadcast::Sender<Arc<str>>,
}

impl Heartbeat {
    /// The interval the environment asks for, or the seed's.
    pub fn interval(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Duration> {
        Ok(runtime::config::seconds_env(env, INTERVAL_ENV, DEFAULT_INTERVAL)?)
    }

    /// Starts broadcasting every `interval` until the service drains.
    pub fn start(obs: &Observability, interval: Duration) -> Self {
        let (sender, _) = broadcast::channel(BACKLOG);
        let heartbeat = Self { sender };
        let beating = heartbeat.clone();
        let replica = obs.config.replica.clone().unwrap_or_default();
        obs.shutdown.every(interval, move || {
            let message = json!({
                "type": "heartbeat",
                "timestamp": runtime::logging::now_rfc3339(),
                "replica": replica,
            })
            .to_string();
            let clients = beating.sender.send(message.into()).unwrap_or(0);
            tracing::debug!(clients, "heartbeat broadcast");
            std::future::ready(())
        });
        heartbeat
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.sender.subscribe()
    }
}
