//! analytics-backend (seed 003): the Shadower Analytics API over PostgreSQL
//! (`DATABASE_URL`) and Redis (`REDIS_URL`), with background jobs. The runtime serves the
//! HTTP RED metrics (labelled by `endpoint`), the WebSocket and process metrics, `/metrics`
//! and `/api/v1/metrics`, `/live` (and `/health`), `/ready` and `/health/detailed` over the
//! spec's dependency checks, of which this service registers the code of
//! `background-jobs`; the service itself counts the business, database, cache and export
//! metrics and publishes its container's memory limit.
//! `analytics-backend healthcheck` is its container healthcheck.

mod activity;
mod api;
mod cache;
mod jobs;
mod live;
mod resources;
mod store;

use std::process::ExitCode;
use std::time::Duration;

use runtime::Observability;

use crate::activity::Activity;
use crate::cache::Cache;
use crate::jobs::Jobs;
use crate::live::Live;
use crate::store::Store;

mod obs {
    runtime::include_obs!();
}

/// How often aggregation and cleanup run unless the environment says otherwise.
const AGGREGATE_EVERY: (&str, Duration) = ("AGGREGATION_INTERVAL_SECONDS", Duration::from_secs(60));
const CLEANUP_EVERY: (&str, Duration) = ("CLEANUP_INTERVAL_SECONDS", Duration::from_secs(3600));

fn main() -> ExitCode {
    runtime::healthcheck::or_serve(obs::SPEC, serve)
}

/// A required variable.
fn required(var: &str) -> anyhow::Result<String> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| anyhow::anyhow!("{var} is not set"))
}

/// An interval in whole seconds from the environment, or its default.
fn interval((var, default): (&str, Duration)) -> anyhow::Result<Duration> {
    Ok(runtime::config::seconds_env(|v| std::env::var(v).ok(), var, default)?)
}

#[tokio::main]
async fn serve() -> anyhow::Result<()> {
    let obs = Observability::start(obs::SPEC)?;
    let metrics = obs::Metrics::bind(&obs.registry)?;
    metrics
        .container_memory_limit_bytes
        .set(resources::memory_limit_bytes().unwrap_or(0) as f64);
    let store = Store::new(&required("DATABASE_URL")?, metrics.clone())?;
    let cache = Cache::new(&required("REDIS_URL")?, metrics.clone())?;
    tokio::spawn(store.clone().report_pool());
    tokio::spawn({
        let store = store.clone();
        async move { store.prepare().await }
    });
    tokio::spawn(cache.clone().report_size());
    let jobs = Jobs::start(
        &obs,
        store.clone(),
        metrics.clone(),
        interval(AGGREGATE_EVERY)?,
        interval(CLEANUP_EVERY)?,
    );
    let checked = jobs.clone();
    obs.health
        .register("background-jobs", move || std::future::ready(checked.check()));
    let activity = Activity::default();
    tokio::spawn(activity.clone().publish(metrics.analytics_active_users.clone()));
    let state = api::Api {
        obs: obs.clone(),
        metrics,
        store,
        cache,
        jobs,
        activity,
        live: Live::default(),
    };
    runtime::serve(obs, api::routes(), state).await?;
    Ok(())
}
