//! The demo's background worker: an in-process queue of jobs enqueued by the API, each
//! carrying the enqueuing request's id as its trace id. Jobs are retried twice before they
//! fail; on shutdown the worker stops taking new jobs, finishes the queued ones, and is
//! cancelled at the grace deadline. The queue is the demo's; the accounting (metrics,
//! spans, lines) is the runtime's `jobs` API.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use runtime::jobs::Jobs;
use runtime::shutdown::Shutdown;
use tokio::sync::mpsc;
use tracing::Instrument;

/// Jobs waiting at most; more are refused with 503.
pub const QUEUE_CAPACITY: usize = 1000;
/// Attempts before a job counts as failed.
pub const ATTEMPTS: u32 = 3;

/// The job types obs.yaml declares.
pub const TYPES: [&str; 2] = ["email", "report"];

/// One unit of work.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: &'static str,
    pub trace_id: Option<String>,
    pub fail: bool,
    pub work: Duration,
}

/// The enqueuing side.
#[derive(Clone)]
pub struct JobQueue {
    tx: mpsc::Sender<Job>,
    queued: Arc<AtomicUsize>,
    next_id: Arc<AtomicU64>,
    jobs: Jobs,
    shutdown: Shutdown,
}

/// Why a job was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum EnqueueError {
    Full,
    ShuttingDown,
}

impl JobQueue {
    /// Starts the worker on the shutdown tracker.
    pub fn start(jobs: Jobs, shutdown: Shutdown) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let queue = Self {
            tx,
            queued: Arc::default(),
            next_id: Arc::new(AtomicU64::new(1)),
            jobs,
            shutdown: shutdown.clone(),
        };
        shutdown.spawn(worker(rx, queue.clone()));
        queue
    }

    pub fn len(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Queues a job; the id is returned.
    pub fn enqueue(
        &self,
        kind: &'static str,
        trace_id: Option<String>,
        fail: bool,
        work: Duration,
    ) -> Result<String, EnqueueError> {
        if self.shutdown.is_shutting_down() {
            return Err(EnqueueError::ShuttingDown);
        }
        let id = format!("job-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let job = Job {
            id: id.clone(),
            kind,
            trace_id,
            fail,
            work,
        };
        self.tx.try_send(job).map_err(|_| EnqueueError::Full)?;
        self.queued.fetch_add(1, Ordering::SeqCst);
        self.jobs.enqueued(kind);
        Ok(id)
    }

    fn dequeued(&self, job: &Job) {
        self.queued.fetch_sub(1, Ordering::SeqCst);
        self.jobs.dequeued(job.kind);
    }
}

/// One job, retried until it succeeds or runs out of attempts.
async fn run(job: &Job, running: runtime::jobs::RunningJob) -> bool {
    for attempt in 1..=ATTEMPTS {
        tokio::time::sleep(job.work).await;
        if !job.fail {
            running.finish();
            return true;
        }
        if attempt < ATTEMPTS {
            running.retry(attempt, &"the job asked to fail");
        }
    }
    running.fail(&format_args!("failed {ATTEMPTS} attempts"));
    false
}

async fn worker(mut rx: mpsc::Receiver<Job>, queue: JobQueue) {
    let shutdown = queue.shutdown.clone();
    let mut draining = std::pin::pin!(shutdown.draining());
    let mut deadline = std::pin::pin!(shutdown.deadline());
    loop {
        let job = tokio::select! {
            biased;
            job = rx.recv() => match job {
                Some(job) => job,
                None => return,
            },
            _ = &mut draining => match rx.try_recv() {
                // Draining: finish what is queued, take nothing new.
                Ok(job) => job,
                Err(_) => return,
            },
        };
        queue.dequeued(&job);
        let running = queue.jobs.start(job.kind, &job.id, job.trace_id.as_deref());
        let span = running.span();
        tokio::select! {
            _ = run(&job, running).instrument(span) => {}
            // The running job is dropped here, which logs its cancellation.
            _ = &mut deadline => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn queued_jobs_finish_during_shutdown() {
        let shutdown = Shutdown::new(Duration::from_millis(100), Duration::from_secs(30));
        let queue = JobQueue::start(Jobs::default(), shutdown.clone());
        for _ in 0..3 {
            queue
                .enqueue("email", Some("trace".into()), false, Duration::from_secs(1))
                .unwrap();
        }
        shutdown.begin();
        assert_eq!(
            queue.enqueue("email", None, false, Duration::ZERO),
            Err(EnqueueError::ShuttingDown)
        );
        assert!(
            shutdown.wait_for_tasks().await,
            "the worker drained the queue before the deadline"
        );
        assert_eq!(queue.len(), 0);
    }
}
