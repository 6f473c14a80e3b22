//! Graceful shutdown: on SIGTERM or Ctrl-C readiness turns 503 at once; after the drain
//! delay the listener stops accepting and long-lived work (WebSockets, job workers) is told
//! to finish; at the grace deadline whatever still runs is cancelled. axum does not track
//! upgraded WebSocket tasks, so every such task is spawned on the tracker here.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// tokio's clock, so tests can pause and advance time through the phases.
use tokio::time::Instant;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The shutdown phases, shared by everything that must react to them.
#[derive(Debug, Clone)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    drain: Duration,
    grace: Duration,
    shutting_down: AtomicBool,
    started: Mutex<Option<Instant>>,
    /// Cancelled when shutdown begins (readiness turns 503).
    begun: CancellationToken,
    /// Cancelled after the drain delay: stop accepting, close long-lived work.
    draining: CancellationToken,
    /// Cancelled at the grace deadline: abandon what is left.
    deadline: CancellationToken,
    tracker: TaskTracker,
}

impl Shutdown {
    pub fn new(drain: Duration, grace: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                drain,
                grace: grace.max(drain),
                shutting_down: AtomicBool::new(false),
                started: Mutex::new(None),
                begun: CancellationToken::new(),
                draining: CancellationToken::new(),
                deadline: CancellationToken::new(),
                tracker: TaskTracker::new(),
            }),
        }
    }

    /// Starts the shutdown (idempotent) and schedules the drain and deadline phases.
    pub fn begin(&self) {
        if self.inner.shutting_down.swap(true, Ordering::SeqCst) {
            return;
        }
        *self.inner.started.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        crate::runtime_event!(
            INFO,
            crate::events::RuntimeEvent::ShutdownStarted,
            drain_seconds = self.inner.drain.as_secs_f64(),
            grace_seconds = self.inner.grace.as_secs_f64()
        );
        self.inner.begun.cancel();
        let inner = self.inner.clone();
        tokio::spawn(async move {
            tokio::time::sleep(inner.drain).await;
            // The listener closes, long-lived work is asked to finish.
            crate::runtime_event!(INFO, crate::events::RuntimeEvent::ShutdownDraining);
            inner.draining.cancel();
            tokio::time::sleep(inner.grace.saturating_sub(inner.drain)).await;
            inner.deadline.cancel();
        });
    }

    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }

    /// Seconds since shutdown began (0 while serving).
    pub fn elapsed_seconds(&self) -> f64 {
        self.inner
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map_or(0.0, |s| s.elapsed().as_secs_f64())
    }

    /// Resolves once shutdown has begun.
    pub fn begun(&self) -> impl Future<Output = ()> + Send + 'static {
        self.inner.begun.clone().cancelled_owned()
    }

    /// Resolves after the drain delay: the moment to stop accepting and close sockets.
    pub fn draining(&self) -> impl Future<Output = ()> + Send + 'static {
        self.inner.draining.clone().cancelled_owned()
    }

    /// Resolves at the grace deadline.
    pub fn deadline(&self) -> impl Future<Output = ()> + Send + 'static {
        self.inner.deadline.clone().cancelled_owned()
    }

    pub fn is_draining(&self) -> bool {
        self.inner.draining.is_cancelled()
    }

    /// Runs `tick` every `period`, the first time one period from now, until the drain
    /// begins: periodic work (a heartbeat, a digest, a cleanup) that stops with the service.
    /// A tick under way when the drain begins finishes; no new one starts.
    pub fn every<F, Fut>(&self, period: Duration, mut tick: F) -> tokio::task::JoinHandle<()>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let draining = self.draining();
        tokio::spawn(async move {
            let mut draining = std::pin::pin!(draining);
            let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
            loop {
                tokio::select! {
                    biased;
                    _ = &mut draining => return,
                    _ = ticks.tick() => tick().await,
                }
            }
        })
    }

    /// Runs long-lived work (a WebSocket session, a job) so shutdown waits for it.
    pub fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.tracker.spawn(task)
    }

    /// Waits for tracked work to finish, or the grace deadline; true when all finished.
    pub async fn wait_for_tasks(&self) -> bool {
        self.inner.tracker.close();
        tokio::select! {
            _ = self.inner.tracker.wait() => true,
            _ = self.deadline() => self.inner.tracker.is_empty(),
        }
    }

    /// Tracked tasks still running.
    pub fn running_tasks(&self) -> usize {
        self.inner.tracker.len()
    }

    /// Begins shutdown on SIGTERM or Ctrl-C.
    ///
    /// A second signal during the shutdown ends the process at once (exit 130 after Ctrl-C,
    /// 143 after SIGTERM), as a person pressing Ctrl-C twice or an orchestrator's second TERM
    /// means: whatever is still running is abandoned, and nothing more is flushed.
    pub fn on_signals(&self) {
        let shutdown = self.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            shutdown.begin();
            let second = wait_for_signal().await;
            tracing::warn!(
                signal = second.name(),
                "second signal during the shutdown: exiting at once, abandoning what still runs"
            );
            std::process::exit(second.exit_code());
        });
    }
}

/// The signals that start a graceful shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
        }
    }

    /// 128 + the signal's number, as a shell reports a process the signal ended.
    fn exit_code(self) -> i32 {
        match self {
            Self::Interrupt => 130,
            Self::Terminate => 143,
        }
    }
}

async fn wait_for_signal() -> Signal {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => Signal::Interrupt,
        _ = terminate => Signal::Terminate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn phases_follow_drain_and_grace() {
        let shutdown = Shutdown::new(Duration::from_secs(2), Duration::from_secs(10));
        assert!(!shutdown.is_shutting_down());
        shutdown.begin();
        assert!(shutdown.is_shutting_down());
        assert!(!shutdown.is_draining());
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert!(shutdown.is_draining());
        let stuck = shutdown.spawn(std::future::pending::<()>());
        let finished = shutdown.wait_for_tasks().await;
        assert!(!finished, "a task that never ends is abandoned at the deadline");
        stuck.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn periodic_work_ticks_each_period_until_the_drain() {
        let shutdown = Shutdown::new(Duration::from_secs(1), Duration::from_secs(30));
        let ticks = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = ticks.clone();
        let periodic = shutdown.every(Duration::from_secs(10), move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert_eq!(ticks.load(Ordering::SeqCst), 0, "the first tick is one period away");
        tokio::time::sleep(Duration::from_secs(22)).await;
        assert_eq!(ticks.load(Ordering::SeqCst), 3);
        shutdown.begin();
        tokio::time::timeout(Duration::from_secs(2), periodic)
            .await
            .expect("it stops at the drain")
            .unwrap();
        assert_eq!(ticks.load(Ordering::SeqCst), 3, "no tick after the drain");
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_tracked_work_that_finishes() {
        let shutdown = Shutdown::new(Duration::from_secs(1), Duration::from_secs(30));
        let work = shutdown.draining();
        shutdown.spawn(async move {
            work.await;
            tokio::time::sleep(Duration::from_secs(3)).await;
        });
        shutdown.begin();
        assert!(shutdown.wait_for_tasks().await);
        assert!(shutdown.elapsed_seconds() >= 4.0);
    }
}
