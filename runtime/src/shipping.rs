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

/// The logging side: cheap to clone, never blocks.
pub struct Queue<E> {
    tx: mpsc::Sender<E>,
    /// Flush requests go beside the entries, so that one reaches the shipper even while the
    /// entry channel is full or a full batch waits out a backoff.
    flushes: mpsc::UnboundedSender<oneshot::Sender<()>>,
    dropped: Dropped,
}

impl<E> Clone for Queue<E> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            flushes: self.flushes.clone(),
            dropped: self.dropped.clone(),
        }
    }
}

impl<E: Send + 'static> Queue<E> {
    /// Queues an entry, or counts it dropped when the queue is full.
    pub fn send(&self, entry: E) {
        if self.tx.try_send(entry).is_err() {
            self.dropped.queue_full.inc();
        }
    }

    pub fn dropped(&self) -> &Dropped {
        &self.dropped
    }

    /// Ships everything queued now, trying the store at once whatever its backoff; waits at
    /// most `timeout` (a store that is still down keeps what it could not take).
    pub async fn flush(&self, timeout: Duration) {
        let (done, wait) = oneshot::channel();
        if self.flushes.send(done).is_ok() {
            let _ = tokio::time::timeout(timeout, wait).await;
        }
    }
}

/// Starts shipping to `sink` on the current runtime.
pub fn start<S: Sink>(sink: S, batching: Batching, dropped: Dropped) -> Queue<S::Entry> {
    let (tx, rx) = mpsc::channel(batching.queue);
    let (flushes, flush_requests) = mpsc::unbounded_channel();
    let shipper = Shipper {
        sink,
        batching,
        dropped: dropped.clone(),
    };
    tokio::spawn(shipper.run(rx, flush_requests));
    Queue { tx, flushes, dropped }
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

    /// Pushes everything queued, batch after batch, as long as the store takes it.
    async fn drain(&self, rx: &mut mpsc::Receiver<S::Entry>, batch: &mut Vec<S::Entry>, backoff: &mut Backoff) {
        loop {
            while batch.len() < self.batching.batch {
                match rx.try_recv() {
                    Ok(entry) => batch.push(entry),
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                return;
            }
            self.attempt(batch, backoff, true).await;
            if !batch.is_empty() {
                return; // the store did not take it: the rest waits with it
            }
        }
    }

    async fn run(
        self,
        mut rx: mpsc::Receiver<S::Entry>,
        mut flush_requests: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
    ) {
        let mut batch = Vec::new();
        let mut backoff = Backoff::default();
        let mut tick = tokio::time::interval(self.batching.every);
        let full = self.batching.batch;
        let mut flushes_open = true;
        loop {
            tokio::select! {
                request = flush_requests.recv(), if flushes_open => match request {
                    Some(done) => {
                        self.drain(&mut rx, &mut batch, &mut backoff).await;
                        let _ = done.send(());
                    }
                    None => flushes_open = false,
                },
                // A full batch waiting for the store takes no more entries: the channel bounds them.
                entry = rx.recv(), if batch.len() < full => match entry {
                    Some(entry) => {
                        batch.push(entry);
                        if batch.len() >= full {
                            self.attempt(&mut batch, &mut backoff, false).await;
                        }
                    }
                    None => {
                        self.drain(&mut rx, &mut batch, &mut backoff).await;
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

    /// What a store takes a push, and what it has taken.
    type Accept = Arc<Mutex<usize>>;
    type Taken = Arc<Mutex<Vec<u32>>>;

    /// A queue shipping to a [`Picky`] store that takes `accept` entries a push.
    fn picky(accept: usize, queue: usize, batch: usize) -> (Queue<u32>, Accept, Taken) {
        let accept = Arc::new(Mutex::new(accept));
        let taken = Arc::new(Mutex::new(Vec::new()));
        let batching = Batching {
            queue,
            batch,
            every: Duration::from_secs(1),
        };
        let sink = Picky {
            accept: accept.clone(),
            taken: taken.clone(),
        };
        (start(sink, batching, Dropped::default()), accept, taken)
    }

    #[tokio::test(start_paused = true)]
    async fn a_partial_push_keeps_the_rest_and_refusals_are_counted() {
        let (queue, accept, taken) = picky(1, 4, 3);
        for n in [1, 2, 500, 3] {
            queue.send(n);
        }
        queue.flush(Duration::from_secs(5)).await;
        // The first batch (1, 2, 500): 500 refused, 1 taken, 2 kept for the next try; the
        // store took one entry a push, so the flush stopped where it stopped taking.
        assert_eq!(taken.lock().unwrap()[0], 1);
        assert!(!taken.lock().unwrap().contains(&500));
        assert_eq!(queue.dropped().rejected.get(), 1);
        *accept.lock().unwrap() = 10;
        // The store takes everything now: the kept entry and the rest leave, in order.
        queue.flush(Duration::from_secs(5)).await;
        assert_eq!(*taken.lock().unwrap(), vec![1, 2, 3]);
        assert_eq!(queue.dropped().queue_full.get(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_drops_and_counts_without_waiting() {
        let (queue, _accept, _taken) = picky(0, 2, 2);
        for n in 0..50 {
            queue.send(n);
        }
        assert!(queue.dropped().queue_full.get() >= 40, "{:?}", queue.dropped());
    }

    #[tokio::test(start_paused = true)]
    async fn a_flush_reaches_a_full_batch_waiting_out_its_backoff_and_ships_everything() {
        let (queue, accept, taken) = picky(0, 10, 2);
        for n in 1..=7 {
            queue.send(n);
        }
        // The store takes nothing: the first full batch waits out a backoff, the rest queue.
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        assert!(taken.lock().unwrap().is_empty());
        // Back up: a flush, shorter than the backoff, ships the batch and all behind it.
        *accept.lock().unwrap() = 100;
        queue.flush(Duration::from_millis(100)).await;
        assert_eq!(*taken.lock().unwrap(), vec![1, 2, 3, 4, 5, 6, 7]);
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
