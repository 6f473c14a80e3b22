//! The demo's background worker: an in-process queue of jobs enqueued by the API, each
//! carrying the enqueuing request's id as its trace id. Jobs are retried twice before they
//! fail; on shutdown the worker stops taking new jobs, finishes the queued ones, and is
//! cancelled at the grace deadline.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime::builtins::JobMetrics;
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
    metrics: Option<JobMetrics>,
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
    pub fn start(metrics: Option<JobMetrics>, shutdown: Shutdown) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let queue = Self {
            tx,
            queued: Arc::default(),
            next_id: Arc::new(AtomicU64::new(1)),
            metrics,
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
        if let Some(m) = &self.metrics {
            m.queue_depth.with(&[kind]).inc();
        }
        Ok(id)
    }

    fn dequeued(&self, job: &Job) {
        self.queued.fetch_sub(1, Ordering::SeqCst);
        if let Some(m) = &self.metrics {
            m.queue_depth.with(&[job.kind]).dec();
        }
    }
}

async fn run(job: &Job, metrics: Option<&JobMetrics>) -> bool {
    let started = Instant::now();
    tracing::info!("job started");
    let mut succeeded = false;
    for attempt in 1..=ATTEMPTS {
        tokio::time::sleep(job.work).await;
        if !job.fail {
            succeeded = true;
            break;
        }
        if attempt < ATTEMPTS {
            if let Some(m) = metrics {
                m.retries.with(&[job.kind]).inc();
            }
            tracing::warn!(attempt, "job retried");
        }
    }
    let status = if succeeded { "succeeded" } else { "failed" };
    let trace = if job.trace_id.is_some() { "present" } else { "missing" };
    if let Some(m) = metrics {
        m.processed.with(&[job.kind, status]).inc();
        m.trace.with(&[job.kind, status, trace]).inc();
        m.duration.with(&[job.kind]).observe(started.elapsed().as_secs_f64());
    }
    if succeeded {
        tracing::info!(status, "job finished");
    } else {
        tracing::error!(status, attempts = ATTEMPTS, "job failed");
    }
    succeeded
}

fn job_span(job: &Job) -> tracing::Span {
    // The enqueuing request's id travels as trace id and becomes the job's request id.
    let trace = job.trace_id.clone().unwrap_or_default();
    tracing::info_span!("job", job_id = %job.id, job_type = job.kind, trace_id = %trace, request_id = %trace)
}

async fn worker(mut rx: mpsc::Receiver<Job>, queue: JobQueue) {
    let metrics = queue.metrics.clone();
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
        let span = job_span(&job);
        tokio::select! {
            _ = run(&job, metrics.as_ref()).instrument(span.clone()) => {}
            _ = &mut deadline => {
                span.in_scope(|| tracing::warn!("job cancelled at the grace deadline"));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn queued_jobs_finish_during_shutdown() {
        let shutdown = Shutdown::new(Duration::from_millis(100), Duration::from_secs(30));
        let queue = JobQueue::start(None, shutdown.clone());
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
