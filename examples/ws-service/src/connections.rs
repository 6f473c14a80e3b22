//! Live WebSocket connections: a guard per socket keeps `active_connections` right however
//! the socket ends, and the graceful shutdown is timed from SIGTERM until the last
//! connection has closed (the seed's `shutdown_duration`).

use std::time::Instant;

use runtime::metrics::{Gauge, Histogram};
use runtime::Observability;
use tokio::sync::watch;

/// How many connections are open, for the shutdown to wait on.
#[derive(Clone)]
pub struct Live {
    open: watch::Sender<usize>,
    gauge: Gauge,
}

/// One open connection; dropping it takes it off the count and the gauge.
pub struct Connection {
    live: Live,
}

impl Live {
    pub fn new(gauge: Gauge) -> Self {
        Self {
            open: watch::Sender::new(0),
            gauge,
        }
    }

    pub fn open(&self) -> Connection {
        self.open.send_modify(|open| *open += 1);
        self.gauge.inc();
        Connection { live: self.clone() }
    }

    pub fn count(&self) -> usize {
        *self.open.borrow()
    }

    async fn all_closed(&self) {
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|open| *open == 0).await;
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.live.gauge.dec();
        self.live.open.send_modify(|open| *open -= 1);
    }
}

/// Logs the shutdown when SIGTERM arrives and again when the last connection has closed
/// (or the grace deadline cut them off), and observes how long that took. Spawned on the
/// shutdown tracker, so the process does not exit before it has finished.
pub async fn time_shutdown(obs: Observability, live: Live, duration: Histogram) {
    obs.shutdown.begun().await;
    let started = Instant::now();
    tracing::info!(open_connections = live.count(), phase = "signal", "graceful shutdown");
    // Connections may still open until the listener stops accepting after the drain delay.
    obs.shutdown.draining().await;
    let closed_all = tokio::select! {
        _ = live.all_closed() => true,
        _ = obs.shutdown.deadline() => false,
    };
    let seconds = started.elapsed().as_secs_f64();
    duration.observe(seconds);
    tracing::info!(
        duration_seconds = seconds,
        closed_all,
        open_connections = live.count(),
        phase = "connections closed",
        "graceful shutdown"
    );
}
