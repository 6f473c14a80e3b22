//! The background job runner (what Celery does for the seed's service): a bounded in-process
//! queue worked by two tasks. Exports turn a workspace's events into a file and then queue
//! a notification; aggregation rolls events up by day and cleanup deletes what is past
//! retention, each on its own schedule. Every job counts into the builtin job metrics, with
//! whether a request's trace came along. The `background-jobs` check is green while the
//! workers keep turning.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime::Observability;
use tokio::sync::{mpsc, Mutex};
use tracing::Instrument;

use crate::obs::analytics_exports_total::{Format, Status as ExportStatus};
use crate::obs::database_queries_total::Operation;
use crate::obs::jobs_processed_total::{Status, Type};
use crate::obs::{
    analytics_export_duration_seconds, job_duration_seconds, job_retries_total, jobs_trace_total, queue_depth, Metrics,
};
use crate::store::{Store, StoreError};

/// Jobs waiting at most; more are refused.
pub const QUEUE_CAPACITY: usize = 500;
const WORKERS: usize = 2;
/// A worker that has not turned for this long makes the check fail.
const STALL_AFTER: Duration = Duration::from_secs(10);
/// Rows one export holds at most.
const MAX_EXPORT_ROWS: i64 = 100_000;

/// What a job does.
#[derive(Debug, Clone)]
pub enum Work {
    Aggregate,
    Cleanup,
    Export {
        export_id: i64,
        workspace_id: String,
        format: Format,
    },
    Notify {
        export_id: i64,
        workspace_id: String,
    },
}

impl Work {
    fn kind(&self) -> Type {
        match self {
            Work::Aggregate => Type::Aggregation,
            Work::Cleanup => Type::Cleanup,
            Work::Export { .. } => Type::Export,
            Work::Notify { .. } => Type::Notification,
        }
    }
}

#[derive(Debug)]
struct Job {
    work: Work,
    trace_id: Option<String>,
    queued_at: Instant,
}

/// The enqueuing side, and what the check reads.
#[derive(Clone)]
pub struct Jobs {
    tx: mpsc::Sender<Job>,
    metrics: Metrics,
    started: Instant,
    /// Milliseconds since `started` at which a worker last turned.
    turned: Arc<AtomicU64>,
}

/// Why a job was not queued.
#[derive(Debug, thiserror::Error)]
#[error("the job queue is full ({QUEUE_CAPACITY} waiting)")]
pub struct QueueFull;

impl Jobs {
    /// Starts the workers and the schedules (aggregation and cleanup every given interval).
    pub fn start(
        obs: &Observability,
        store: Store,
        metrics: Metrics,
        aggregate_every: Duration,
        cleanup_every: Duration,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let jobs = Self {
            tx,
            metrics,
            started: Instant::now(),
            turned: Arc::default(),
        };
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WORKERS {
            obs.shutdown
                .spawn(work(obs.clone(), jobs.clone(), rx.clone(), store.clone()));
        }
        for (work, every) in [(Work::Aggregate, aggregate_every), (Work::Cleanup, cleanup_every)] {
            let jobs = jobs.clone();
            obs.shutdown.every(every, move || {
                if jobs.enqueue(work.clone(), None).is_err() {
                    tracing::warn!(
                        job_type = work.kind().as_str(),
                        "scheduled job skipped: the queue is full"
                    );
                }
                std::future::ready(())
            });
        }
        jobs
    }

    /// Queues a job, with the trace of the request that asked for it.
    pub fn enqueue(&self, work: Work, trace_id: Option<String>) -> Result<(), QueueFull> {
        let kind = work.kind();
        let job = Job {
            work,
            trace_id,
            queued_at: Instant::now(),
        };
        // Counted before it is sent, so a worker's decrement can never come first.
        let depth = self.metrics.queue_depth.with(depth_type(kind));
        depth.inc();
        self.tx.try_send(job).map_err(|_| {
            depth.dec();
            QueueFull
        })
    }

    fn turn(&self) {
        self.turned
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// The `background-jobs` check.
    pub fn check(&self) -> Result<(), String> {
        let since = self
            .started
            .elapsed()
            .saturating_sub(Duration::from_millis(self.turned.load(Ordering::Relaxed)));
        if since > STALL_AFTER {
            return Err(format!("no job worker has turned for {}s", since.as_secs()));
        }
        let waiting = QUEUE_CAPACITY - self.tx.capacity();
        if waiting >= QUEUE_CAPACITY * 9 / 10 {
            return Err(format!("{waiting} jobs waiting, the queue is nearly full"));
        }
        Ok(())
    }
}

async fn work(obs: Observability, jobs: Jobs, rx: Arc<Mutex<mpsc::Receiver<Job>>>, store: Store) {
    let mut draining = std::pin::pin!(obs.shutdown.draining());
    loop {
        jobs.turn();
        let next = tokio::select! {
            _ = &mut draining => return,
            next = async { rx.lock().await.recv().await } => next,
            _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
        };
        let Some(job) = next else { return };
        let kind = job.work.kind();
        jobs.metrics.queue_depth.with(depth_type(kind)).dec();
        let span = tracing::info_span!("job", job_type = kind.as_str());
        if let Some(trace) = &job.trace_id {
            runtime::traces::continue_from_traceparent(&span, trace);
        }
        run(&jobs, &store, job).instrument(span).await;
    }
}

/// Runs one job, retrying once after a database hiccup.
async fn run(jobs: &Jobs, store: &Store, job: Job) {
    let started = Instant::now();
    let kind = job.work.kind();
    let mut outcome = execute(jobs, store, &job).await;
    if matches!(
        outcome,
        Err(JobError::Store(StoreError::Connection(_) | StoreError::Timeout))
    ) {
        jobs.metrics.job_retries_total.with(retry_type(kind)).inc();
        tracing::warn!("job retried after a database error");
        tokio::time::sleep(Duration::from_millis(500)).await;
        outcome = execute(jobs, store, &job).await;
    }
    if let (Err(JobError::Store(_)), Work::Export { format, .. }) = (&outcome, &job.work) {
        // The database never came back: the export failed, though its row cannot say so.
        count_export(jobs, &job, *format, false);
    }
    let status = if outcome.is_ok() {
        Status::Succeeded
    } else {
        Status::Failed
    };
    let m = &jobs.metrics;
    m.jobs_processed_total.with(kind, status).inc();
    let trace = if job.trace_id.is_some() {
        jobs_trace_total::Trace::Present
    } else {
        jobs_trace_total::Trace::Missing
    };
    let trace_status = if outcome.is_ok() {
        jobs_trace_total::Status::Succeeded
    } else {
        jobs_trace_total::Status::Failed
    };
    m.jobs_trace_total.with(trace_type(kind), trace_status, trace).inc();
    m.job_duration_seconds
        .with(duration_type(kind))
        .observe(started.elapsed().as_secs_f64());
    if let Err(error) = outcome {
        tracing::error!(error = %error, "job failed");
    }
}

#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Export(String),
}

async fn execute(jobs: &Jobs, store: &Store, job: &Job) -> Result<(), JobError> {
    match &job.work {
        Work::Aggregate => {
            let rows = store
                .query(
                    Operation::Update,
                    "INSERT INTO daily_aggregates (workspace_id, day, events, total)
                     SELECT workspace_id, created_at::date, count(*), sum(value) FROM events
                     WHERE created_at >= now() - interval '2 days' GROUP BY 1, 2
                     ON CONFLICT (workspace_id, day) DO UPDATE
                     SET events = EXCLUDED.events, total = EXCLUDED.total RETURNING 1",
                    &[],
                )
                .await?;
            // The seed's metrics stream: analytics-metrics-YYYY.MM.DD in Elasticsearch.
            tracing::info!(stream = "metrics", days = rows.len(), "events aggregated");
        }
        Work::Cleanup => {
            let deleted = store
                .query(
                    Operation::Delete,
                    "WITH gone AS (DELETE FROM events WHERE created_at < now() - interval '30 days' RETURNING 1)
                     SELECT count(*) FROM gone",
                    &[],
                )
                .await?;
            tracing::debug!(deleted = deleted[0].get::<_, i64>(0), "old events deleted");
        }
        Work::Export {
            export_id,
            workspace_id,
            format,
        } => {
            let started = std::time::Instant::now();
            let exported = export(store, *export_id, workspace_id, *format).await;
            if let Err(JobError::Store(error)) = exported {
                // A database hiccup: `run` tries again before anything is recorded.
                return Err(JobError::Store(error));
            }
            let outcome = exported.as_ref().map(|bytes| *bytes).map_err(|e| e.to_string());
            mark_export(store, *export_id, &outcome).await?;
            count_export(jobs, job, *format, outcome.is_ok());
            let bytes = exported?;
            tracing::info!(workspace_id = %workspace_id, export_id, format = format.as_str(), bytes, "export finished");
            // The seed's performance stream: analytics-performance-YYYY.MM.DD.
            let duration_ms = (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
            tracing::info!(
                stream = "performance",
                export_id,
                format = format.as_str(),
                duration_ms,
                "export timed"
            );
            let notify = Work::Notify {
                export_id: *export_id,
                workspace_id: workspace_id.clone(),
            };
            if jobs.enqueue(notify, job.trace_id.clone()).is_err() {
                tracing::warn!(export_id, "the export's notification was dropped: the queue is full");
            }
        }
        Work::Notify {
            export_id,
            workspace_id,
        } => {
            // This example has no mail or chat channel: the notification is the log line.
            tracing::info!(workspace_id = %workspace_id, export_id, "export notification sent");
        }
    }
    Ok(())
}

/// Records an export's outcome on its row.
async fn mark_export(store: &Store, export_id: i64, outcome: &Result<usize, String>) -> Result<(), StoreError> {
    let (state, bytes, error) = match outcome {
        Ok(bytes) => ("succeeded", Some(*bytes as i64), None),
        Err(error) => ("failed", None, Some(error.as_str())),
    };
    store
        .query(
            Operation::Update,
            "UPDATE exports SET status = $2, bytes = $3, error = $4 WHERE id = $1",
            &[&export_id, &state, &bytes, &error],
        )
        .await?;
    Ok(())
}

/// Counts an export once, when its outcome is final.
fn count_export(jobs: &Jobs, job: &Job, format: Format, succeeded: bool) {
    let status = if succeeded {
        ExportStatus::Success
    } else {
        ExportStatus::Failed
    };
    jobs.metrics.analytics_exports_total.with(format, status).inc();
    jobs.metrics
        .analytics_export_duration_seconds
        .with(export_format(format))
        .observe(job.queued_at.elapsed().as_secs_f64());
}

/// Writes the workspace's events in `format`; returns the file's size.
async fn export(store: &Store, export_id: i64, workspace_id: &str, format: Format) -> Result<usize, JobError> {
    let rows = store
        .query(
            Operation::Select,
            "SELECT kind, value, user_id, created_at::text FROM events WHERE workspace_id = $1 ORDER BY id LIMIT $2",
            &[&workspace_id, &MAX_EXPORT_ROWS],
        )
        .await?;
    let records = rows.iter().map(|r| {
        (
            r.get::<_, String>(0),
            r.get::<_, f64>(1),
            r.get::<_, Option<String>>(2).unwrap_or_default(),
            r.get::<_, String>(3),
        )
    });
    let file = match format {
        Format::Csv => {
            let mut out = String::from("kind,value,user_id,created_at\n");
            for (kind, value, user, at) in records {
                out.push_str(&format!("{},{value},{},{at}\n", csv_field(&kind), csv_field(&user)));
            }
            out
        }
        Format::Json => {
            let list: Vec<_> = records
                .map(|(kind, value, user, at)| serde_json::json!({"kind": kind, "value": value, "user_id": user, "created_at": at}))
                .collect();
            serde_json::to_string(&list).map_err(|e| JobError::Export(e.to_string()))?
        }
        Format::Xlsx | Format::Pdf => {
            return Err(JobError::Export(format!(
                "export {export_id}: no {} renderer in this service; csv and json are supported",
                format.as_str()
            )))
        }
    };
    Ok(file.len())
}

/// A CSV field, quoted when it holds a separator, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

// The job metrics share the values of `type` but each family has its own enum.
fn depth_type(kind: Type) -> queue_depth::Type {
    match kind {
        Type::Aggregation => queue_depth::Type::Aggregation,
        Type::Export => queue_depth::Type::Export,
        Type::Notification => queue_depth::Type::Notification,
        Type::Cleanup => queue_depth::Type::Cleanup,
    }
}

fn retry_type(kind: Type) -> job_retries_total::Type {
    match kind {
        Type::Aggregation => job_retries_total::Type::Aggregation,
        Type::Export => job_retries_total::Type::Export,
        Type::Notification => job_retries_total::Type::Notification,
        Type::Cleanup => job_retries_total::Type::Cleanup,
    }
}

fn trace_type(kind: Type) -> jobs_trace_total::Type {
    match kind {
        Type::Aggregation => jobs_trace_total::Type::Aggregation,
        Type::Export => jobs_trace_total::Type::Export,
        Type::Notification => jobs_trace_total::Type::Notification,
        Type::Cleanup => jobs_trace_total::Type::Cleanup,
    }
}

fn duration_type(kind: Type) -> job_duration_seconds::Type {
    match kind {
        Type::Aggregation => job_duration_seconds::Type::Aggregation,
        Type::Export => job_duration_seconds::Type::Export,
        Type::Notification => job_duration_seconds::Type::Notification,
        Type::Cleanup => job_duration_seconds::Type::Cleanup,
    }
}

fn export_format(format: Format) -> analytics_export_duration_seconds::Format {
    match format {
        Format::Csv => analytics_export_duration_seconds::Format::Csv,
        Format::Xlsx => analytics_export_duration_seconds::Format::Xlsx,
        Format::Json => analytics_export_duration_seconds::Format::Json,
        Format::Pdf => analytics_export_duration_seconds::Format::Pdf,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(super::csv_field("plain"), "plain");
        assert_eq!(super::csv_field("a,b"), "\"a,b\"");
        assert_eq!(super::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
