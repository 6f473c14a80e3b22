//! personaworlds (seed 004): the PersonaWorlds API and its background worker, one binary
//! that runs the component `OBS_COMPONENT` names (`api` in the `backend` container, `worker`
//! in `worker`), over PostgreSQL (`DATABASE_URL`). The api stores worlds and enqueues jobs
//! with the request's trace; the worker runs them and serves `/healthz` and
//! `/metrics` on its own port (9091, `WORKER_OBSERVABILITY_PORT`). Both log the seed's
//! shared field model (`ts`, `msg`, `service`, `request_id`, `trace_id`, `job_id`, …) and
//! answer readiness from a database ping and the `migrations` check.
//! `personaworlds healthcheck` is the container healthcheck of both.

mod api;
mod db;
mod jobs;
mod worker;

use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use runtime::Observability;

use crate::db::Database;

/// The api's handles (and the spec, embedded once per component).
mod obs {
    runtime::include_obs!();
}

/// The worker's handles.
mod worker_obs {
    runtime::include_obs!("obs_worker.rs");
}

/// Names the database; the same variable the spec's `database` check reads.
const DATABASE_ENV: &str = "DATABASE_URL";
/// How long the api waits for the database to apply the migrations at start.
const MIGRATE_WITHIN: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    runtime::healthcheck::or_serve(obs::SPEC, serve)
}

#[tokio::main]
async fn serve() -> anyhow::Result<()> {
    let env = |var: &str| std::env::var(var).ok();
    let obs = Observability::start(obs::SPEC)?;
    let query_timing = match obs.config.component.name.as_str() {
        "worker" => worker_obs::Metrics::bind(&obs.registry)?.db_query_duration_seconds,
        _ => obs::Metrics::bind(&obs.registry)?.db_query_duration_seconds,
    };
    let url = env(DATABASE_ENV)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| anyhow::anyhow!("{DATABASE_ENV} is not set"))?;
    let db = Database::new(&url, query_timing);
    let checked = db.clone();
    obs.health.register("migrations", move || {
        let db = checked.clone();
        async move { db.migrations_applied().await }
    });
    match obs.config.component.name.as_str() {
        "api" => {
            // The api owns the schema; the worker only waits for it.
            let migrating = db.clone();
            tokio::spawn(async move {
                if let Err(error) = migrating.migrate_when_up(MIGRATE_WITHIN).await {
                    tracing::error!(error = %error, "migrations failed; readiness stays down");
                }
            });
            let state = api::Api { obs: obs.clone(), db };
            runtime::serve(obs, api::routes(), state).await?;
        }
        "worker" => {
            worker::start(&obs, db, worker::digest_every(env)?)?;
            runtime::serve(obs.clone(), Router::new(), obs).await?;
        }
        other => anyhow::bail!("no component `{other}` in this service (api, worker)"),
    }
    Ok(())
}
