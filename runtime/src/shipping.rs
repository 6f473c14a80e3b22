//! The background half of log shipping, shared by Loki and Elasticsearch: a bounded queue
//! (full means dropped and counted, never a blocked request), batches by count and age,
//! retries with a doubling backoff while taking no more entries (memory stays at the queue
//! plus one batch), and a flush bounded in time.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::metrics::Counter;

/// First wait after a failed push; it doubles up to [`BACKOFF_MAX`].
pub const BACKOFF_FIRST: Duration = Duration::from_millis(500);
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Where batches go.
pub trait Sink: Send + Sync + 'static {
    type Entry: Send + 'static;

    /// Sends `batch`; leaves in it what is worth trying again (nothing once all was taken)
    /// and returns how many entries were refused for good. Says nothing on the log: a
    /// failure to ship logs, logged, would feed itself.
    fn push(&self, batch: &mut Vec<Self::Entry>) -> impl Future<Output = u64> + Send;
}

/// Entries that never left: the queue was full, or the store refused them. The counters
/// are the series of `obs_log_lines_dropped_total` when the catalog has it.
#[derive(Debug, Clone, Default)]
pub struct Dropped {
    pub queue_full: Counter,
    pub rejected: Counter,
}

impl Dropped {
    pub fn total(&self) -> u64 {
        self.queue_full.get() + self.rejected.get()
    }
}

/// How big batches get and how long an entry waits for one.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// Entries waiting before new ones are dropped.
    pub queue: usize,
    /// Entries in one push.
    pub batch: usize,
    /// How often a partial batch leaves.
    pub every: Duration,
}

enum Message<E> {
    Entry(E),
    Flush(oneshot::Sender<()>),
}

/// The logging side: cheap to clone, never blocks.
pub struct Queue<E> {
    tx: mpsc::Sender<Message<E>>,
    dropped: Dropped,
}

impl<E> Clone for Queue<E> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            dropped: self.dropped.clone(),
        }
    }
}

impl<E: Send + 'static> Queue<E> {
    /// Queues an entry, or counts it dropped when the queue is full.
    pub fn send(&self, entry: E) {
        if self.tx.try_send(Message::Entry(entry)).is_err() {
            self.dropped.queue_full.inc();
        }
    }

    pub fn dropped(&self) -> &Dropped {
        &self.dropped
    }

    /// Ships what is queued now; waits at most `timeout`, even when the queue is full
    /// because the store is down.
    pub async fn flush(&self, timeout: Duration) {
        let (done, wait) = oneshot::channel();
        let _ = tokio::time::timeout(timeout, async {
            if self.tx.send(Message::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        })
        .await;
    }
}

/// Starts shipping to `sink` on the current runtime.
pub fn start<S: Sink>(sink: S, batching: Batching, dropped: Dropped) -> Queue<S::Entry> {
    let (tx, rx) = mpsc::channel(batching.queue);
    let shipper = Shipper {
        sink,
        batching,
        dropped: dropped.clone(),
    };
    tokio::spawn(shipper.run(rx));
    Queue { tx, dropped }
}

struct Shipper<S> {
    sink: S,
    batching: Batching,
    dropped: Dropped,
}

impl<S: Sink> Shipper<S> {
    /// Pushes the batch unless a backoff is running (`force`: a flush tries anyway).
    async fn attempt(&self, batch: &mut Vec<S::Entry>, backoff: &mut Backoff, force: bool) {
        if batch.is_empty() || (!force && !backoff.due()) {
            return;
        }
        let refused = self.sink.push(batch).await;
        self.dropped.rejected.inc_by(refused);
        if batch.is_empty() {
            backoff.reset();
        } else {
            backoff.failed();
        }
    }

    async fn run(self, mut rx: mpsc::Receiver<Message<S::Entry>>) {
        let mut batch = Vec::new();
        let mut backoff = Backoff::default();
        let mut tick = tokio::time::interval(self.batching.every);
        let full = self.batching.batch;
        loop {
            tokio::select! {
                // A full batch waiting for the store takes no more entries: the channel bounds them.
                message = rx.recv(), if batch.len() < full => match message {
                    Some(Message::Entry(entry)) => {
                        batch.push(entry);
                        if batch.len() >= full {
                            self.attempt(&mut batch, &mut backoff, false).await;
                        }
                    }
                    Some(Message::Flush(done)) => {
                        self.attempt(&mut batch, &mut backoff, true).await;
                        let _ = done.send(());
                    }
                    None => {
                        self.attempt(&mut batch, &mut backoff, true).await;
                        return;
                    }
                },
                _ = tick.tick() => self.attempt(&mut batch, &mut backoff, false).await,
            }
        }
    }
}

/// When the next push may go after failures.
#[derive(Debug, Default)]
struct Backoff {
    wait: Option<Duration>,
    until: Option<tokio::time::Instant>,
}

impl Backoff {
    fn due(&self) -> bool {
        self.until.is_none_or(|until| tokio::time::Instant::now() >= until)
    }

    fn failed(&mut self) {
        let wait = self.wait.map_or(BACKOFF_FIRST, |w| (w * 2).min(BACKOFF_MAX));
        self.wait = Some(wait);
        self.until = Some(tokio::time::Instant::now() + wait);
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Takes what `accept` allows of each batch, refuses entries over 100, keeps the rest
    /// for another try.
    struct Picky {
        accept: Arc<Mutex<usize>>,
        taken: Arc<Mutex<Vec<u32>>>,
    }

    impl Sink for Picky {
        type Entry = u32;
        async fn push(&self, batch: &mut Vec<u32>) -> u64 {
            let before = batch.len();
            batch.retain(|n| *n <= 100);
            let refused = (before - batch.len()) as u64;
            let accept = *self.accept.lock().unwrap();
            let take = accept.min(batch.len());
            self.taken.lock().unwrap().extend(batch.drain(..take));
            refused
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_partial_push_keeps_the_rest_and_refusals_are_counted() {
        let accept = Arc::new(Mutex::new(1));
        let taken = Arc::new(Mutex::new(Vec::new()));
        let batching = Batching {
            queue: 4,
            batch: 3,
            every: Duration::from_secs(1),
        };
        let queue = start(
            Picky {
                accept: accept.clone(),
                taken: taken.clone(),
            },
            batching,
            Dropped::default(),
        );
        for n in [1, 2, 500, 3] {
            queue.send(n);
        }
        queue.flush(Duration::from_secs(5)).await;
        // The first batch (1, 2, 500): 500 refused, 1 taken, 2 kept for the next try (the
        // flush, or a tick once the paused clock jumps past the backoff).
        assert_eq!(taken.lock().unwrap()[..2], [1, 2]);
        assert_eq!(queue.dropped().rejected.get(), 1);
        *accept.lock().unwrap() = 10;
        // The backoff passes; the kept entry and the rest leave in order.
        tokio::time::sleep(BACKOFF_MAX).await;
        queue.flush(Duration::from_secs(5)).await;
        assert_eq!(*taken.lock().unwrap(), vec![1, 2, 3]);
        assert_eq!(queue.dropped().queue_full.get(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_drops_and_counts_without_waiting() {
        let accept = Arc::new(Mutex::new(0));
        let taken = Arc::new(Mutex::new(Vec::new()));
        let batching = Batching {
            queue: 2,
            batch: 2,
            every: Duration::from_secs(1),
        };
        let queue = start(Picky { accept, taken }, batching, Dropped::default());
        for n in 0..50 {
            queue.send(n);
        }
        assert!(queue.dropped().queue_full.get() >= 40, "{:?}", queue.dropped());
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let mut backoff = Backoff::default();
        let mut waits = Vec::new();
        for _ in 0..10 {
            backoff.failed();
            waits.push(backoff.wait.unwrap());
        }
        assert_eq!(waits[0], BACKOFF_FIRST);
        assert_eq!(waits[1], BACKOFF_FIRST * 2);
        assert_eq!(*waits.last().unwrap(), BACKOFF_MAX);
        backoff.reset();
        assert!(backoff.due());
    }
}
