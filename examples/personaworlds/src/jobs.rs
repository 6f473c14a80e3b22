//! The job queue in PostgreSQL: the api enqueues, the worker claims one job at a time with
//! `FOR UPDATE SKIP LOCKED` (so several workers never take the same job), runs it, and
//! records the outcome. A job that fails is retried with a growing delay up to
//! [`ATTEMPTS`] times before it counts as failed.

use std::time::Duration;

use serde_json::Value;

use crate::db::{Database, DbError};

/// The job types the service runs (`queue_depth{type}` and the job metrics take these).
pub const TYPES: [&str; 3] = ["render", "notify", "digest"];
/// Attempts before a job counts as failed.
pub const ATTEMPTS: i32 = 3;

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: Value,
    pub trace_id: Option<String>,
    /// This attempt's number, from 1.
    pub attempt: i32,
}

/// Queues a job; returns its id.
pub async fn enqueue(db: &Database, kind: &str, payload: &Value, trace_id: Option<&str>) -> Result<i64, DbError> {
    let rows = db
        .query(
            "INSERT INTO jobs (type, payload, trace_id) VALUES ($1, $2, $3) RETURNING id",
            &[&kind, payload, &trace_id],
        )
        .await?;
    Ok(rows[0].get(0))
}

/// Takes the oldest job that is due, if any, marking it running.
pub async fn claim(db: &Database) -> Result<Option<Job>, DbError> {
    let rows = db
        .query(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = now()
             WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND run_after <= now()
                         ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
             RETURNING id, type, payload, trace_id, attempts",
            &[],
        )
        .await?;
    Ok(rows.first().map(|row| Job {
        id: row.get(0),
        kind: row.get(1),
        payload: row.get(2),
        trace_id: row.get(3),
        attempt: row.get(4),
    }))
}

/// Records a finished attempt: done, back in the queue after `retry_in`, or failed.
pub async fn finish(db: &Database, job: &Job, outcome: Outcome) -> Result<(), DbError> {
    let (status, delay) = match outcome {
        Outcome::Succeeded => ("succeeded", Duration::ZERO),
        Outcome::Retry(delay) => ("queued", delay),
        Outcome::Failed => ("failed", Duration::ZERO),
    };
    let delay_ms = delay.as_millis() as f64;
    db.query(
        "UPDATE jobs SET status = $2, run_after = now() + $3 * interval '1 millisecond', updated_at = now()
         WHERE id = $1",
        &[&job.id, &status, &delay_ms],
    )
    .await?;
    Ok(())
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    Succeeded,
    Retry(Duration),
    Failed,
}

/// Jobs waiting, by type.
pub async fn queued_by_type(db: &Database) -> Result<Vec<(String, i64)>, DbError> {
    let rows = db
        .query(
            "SELECT type, count(*) FROM jobs WHERE status = 'queued' GROUP BY type",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Jobs that were running when a worker died go back to the queue.
pub async fn requeue_abandoned(db: &Database, older_than: Duration) -> Result<u64, DbError> {
    let seconds = older_than.as_secs_f64();
    let rows = db
        .query(
            "UPDATE jobs SET status = 'queued' WHERE status = 'running'
             AND updated_at < now() - $1 * interval '1 second' RETURNING id",
            &[&seconds],
        )
        .await?;
    Ok(rows.len() as u64)
}
