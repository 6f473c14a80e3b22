//! The worker component: claims jobs from PostgreSQL and runs them one at a time through the
//! runtime's job API, which gives each run a span with its job id in the trace the api gave
//! it (so a job's lines carry the `trace_id` of the request that enqueued it, the seed's
//! shared field model lining up across both components) and counts it in the builtin job metrics (`jobs_trace_total{trace}` says
//! whether a trace came along); reports queue depth by type; enqueues the periodic digest,
//! which no request starts. On shutdown it finishes the job in hand and takes no new one.

use std::time::{Duration, Instant};

use runtime::jobs::Jobs;
use runtime::Observability;
use serde_json::json;
use tracing::Instrument;

use crate::db::Database;
use crate::jobs::{self, Job, Outcome};

/// How often an idle worker looks for a due job, and the queue depth is read.
const POLL: Duration = Duration::from_millis(200);
const DEPTH_EVERY: Duration = Duration::from_secs(1);
/// Interval of the digest job; `DIGEST_INTERVAL_SECONDS` changes it.
pub const DIGEST_EVERY: Duration = Duration::from_secs(300);
pub const DIGEST_ENV: &str = "DIGEST_INTERVAL_SECONDS";
/// Longest simulated work a payload may ask for.
const MAX_WORK: Duration = Duration::from_secs(10);
/// A job left `running` this long belonged to a worker that died; it is queued again,
/// looked for this often.
const ABANDONED_AFTER: Duration = Duration::from_secs(120);
const REQUEUE_EVERY: Duration = Duration::from_secs(60);

/// Starts the worker's loops on the shutdown tracker.
pub fn start(obs: &Observability, db: Database, digest_every: Duration) -> anyhow::Result<()> {
    if obs.builtins.jobs.is_none() {
        anyhow::bail!("the spec gives the worker no job metrics (metrics.builtin.jobs)");
    }
    obs.shutdown.spawn(claim_loop(obs.clone(), db.clone(), obs.jobs()));
    tokio::spawn(report_depth(db.clone(), obs.jobs()));
    schedule_digest(obs, db, digest_every);
    Ok(())
}

async fn claim_loop(obs: Observability, db: Database, jobs_api: Jobs) {
    // The api applies the migrations; until then there is no queue to claim from.
    let mut draining = std::pin::pin!(obs.shutdown.draining());
    while let Err(reason) = db.migrations_applied().await {
        tracing::info!(reason, "waiting for the schema");
        tokio::select! {
            _ = &mut draining => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    let mut requeued_at: Option<Instant> = None;
    loop {
        // Checked before each claim rather than raced against it: a claim cancelled after
        // the server committed it would leave its job `running` with nobody on it.
        if obs.shutdown.is_draining() {
            return;
        }
        if requeued_at.is_none_or(|at| at.elapsed() >= REQUEUE_EVERY) {
            requeued_at = Some(Instant::now());
            match jobs::requeue_abandoned(&db, ABANDONED_AFTER).await {
                Ok(0) | Err(_) => {}
                Ok(requeued) => tracing::warn!(requeued, "jobs left running by a worker that died were queued again"),
            }
        }
        let pause = match jobs::claim(&db).await {
            Ok(Some(job)) => {
                let running = jobs_api.start(&job.kind, job.id, job.trace_id.as_deref());
                let span = running.span();
                run(&db, running, job).instrument(span).await;
                continue;
            }
            Ok(None) => POLL,
            Err(error) => {
                tracing::warn!(error = %error, "claiming a job failed");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            _ = &mut draining => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// One attempt: the payload's `work_ms` of work, failing while the attempt number is within
/// its `fail_attempts` (a flaky downstream, for demonstrations and tests).
async fn run(db: &Database, running: runtime::jobs::RunningJob, job: Job) {
    let work = Duration::from_millis(job.payload["work_ms"].as_u64().unwrap_or(50)).min(MAX_WORK);
    tokio::time::sleep(work).await;
    let fails = i64::from(job.attempt) <= job.payload["fail_attempts"].as_i64().unwrap_or(0);
    let outcome = match (fails, job.attempt < jobs::ATTEMPTS) {
        (false, _) => Outcome::Succeeded,
        (true, true) => Outcome::Retry(Duration::from_millis(200 * 2u64.pow(job.attempt as u32))),
        (true, false) => Outcome::Failed,
    };
    let why = format!("attempt {} failed", job.attempt);
    match outcome {
        // The next attempt is another claim: this run ends here, counted as a retry.
        Outcome::Retry(delay) => running.requeue(
            job.attempt as u32,
            &format_args!("{why}; again in {} ms", delay.as_millis()),
        ),
        Outcome::Succeeded => running.finish(),
        Outcome::Failed => running.fail(&why),
    }
    if let Err(error) = jobs::finish(db, &job, outcome).await {
        tracing::error!(error = %error, "recording the job's outcome failed; it is queued again once abandoned");
    }
}

async fn report_depth(db: Database, jobs_api: Jobs) {
    loop {
        if let Ok(queued) = jobs::queued_by_type(&db).await {
            for kind in jobs::TYPES {
                let depth = queued.iter().find(|(k, _)| k == kind).map_or(0, |(_, n)| *n);
                jobs_api.set_depth(kind, depth as usize);
            }
        }
        tokio::time::sleep(DEPTH_EVERY).await;
    }
}

/// Enqueues the digest every `every` until the drain. No request starts it, so it carries
/// no trace id.
fn schedule_digest(obs: &Observability, db: Database, every: Duration) {
    obs.shutdown.every(every, move || {
        let db = db.clone();
        async move {
            if let Err(error) = jobs::enqueue(&db, "digest", &json!({}), None).await {
                tracing::warn!(error = %error, "enqueuing the digest failed");
            }
        }
    });
}

/// The digest interval the environment asks for, or the default.
pub fn digest_every(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Duration> {
    Ok(runtime::config::seconds_env(env, DIGEST_ENV, DIGEST_EVERY)?)
}
