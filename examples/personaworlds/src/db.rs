//! The PostgreSQL side both components share: one connection (tokio-postgres pipelines
//! concurrent queries over it), re-opened after it breaks, every query timed into
//! `db_query_duration_seconds`, and the schema migrations with the `migrations` check that
//! reports whether all of them are applied.

use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime::metrics::Histogram;
use tokio::sync::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row};

/// The schema, in order; `schema_migrations` records how many are applied.
const MIGRATIONS: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS worlds (
        id BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL,
        owner TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS jobs (
        id BIGSERIAL PRIMARY KEY,
        type TEXT NOT NULL,
        payload JSONB NOT NULL DEFAULT '{}',
        trace_id TEXT,
        status TEXT NOT NULL DEFAULT 'queued',
        attempts INT NOT NULL DEFAULT 0,
        run_after TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
     CREATE INDEX IF NOT EXISTS jobs_queued ON jobs (run_after) WHERE status = 'queued'",
];

/// How long one query may take before it counts as failed.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a query did not answer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("query failed: {0}")]
    Query(#[from] tokio_postgres::Error),
    #[error("query timed out after {QUERY_TIMEOUT:?}")]
    Timeout,
}

/// A broken connection is the database being unavailable; an error the server sent back
/// is the query's.
fn classify(error: tokio_postgres::Error) -> DbError {
    if error.is_closed() || error.as_db_error().is_none() {
        DbError::Unavailable(error.to_string())
    } else {
        DbError::Query(error)
    }
}

/// The shared connection.
#[derive(Clone)]
pub struct Database {
    url: Arc<str>,
    client: Arc<Mutex<Option<Arc<Client>>>>,
    timing: Histogram,
}

impl Database {
    pub fn new(url: &str, timing: Histogram) -> Self {
        Self {
            url: url.into(),
            client: Arc::default(),
            timing,
        }
    }

    /// The open connection, or a new one when there is none or it broke.
    async fn client(&self) -> Result<Arc<Client>, DbError> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let connecting = tokio_postgres::connect(&self.url, NoTls);
        let (client, connection) = tokio::time::timeout(QUERY_TIMEOUT, connecting)
            .await
            .map_err(|_| DbError::Unavailable("connecting timed out".into()))?
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(error = %error, "database connection closed");
            }
        });
        let client = Arc::new(client);
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Runs one statement and returns its rows, timed into `db_query_duration_seconds`.
    pub async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, DbError> {
        let client = self.client().await?;
        let started = Instant::now();
        let outcome = tokio::time::timeout(QUERY_TIMEOUT, client.query(sql, params)).await;
        self.timing.observe(started.elapsed().as_secs_f64());
        outcome.map_err(|_| DbError::Timeout)?.map_err(classify)
    }

    /// Applies every migration not applied yet, each in its own transaction.
    pub async fn migrate(&self) -> Result<usize, DbError> {
        let client = self.client().await?;
        client
            .batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY)")
            .await?;
        let mut applied = 0;
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            let version = index as i32 + 1;
            let done = client
                .query_opt("SELECT 1 FROM schema_migrations WHERE version = $1", &[&version])
                .await?;
            if done.is_some() {
                continue;
            }
            let script = format!(
                "BEGIN; {migration}; INSERT INTO schema_migrations VALUES ({version}) ON CONFLICT DO NOTHING; COMMIT"
            );
            if let Err(error) = client.batch_execute(&script).await {
                // Leave no aborted transaction behind on the shared connection.
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(error.into());
            }
            applied += 1;
        }
        Ok(applied)
    }

    /// Applies the migrations, retrying until the database answers or `give_up` passes.
    pub async fn migrate_when_up(&self, give_up: Duration) -> Result<(), DbError> {
        let until = Instant::now() + give_up;
        loop {
            match self.migrate().await {
                Ok(applied) => {
                    tracing::info!(applied, latest = MIGRATIONS.len(), "migrations applied");
                    return Ok(());
                }
                Err(error) if Instant::now() < until => {
                    tracing::warn!(error = %error, "migrations wait for the database");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// The `migrations` check: every migration of this build is recorded as applied.
    pub async fn migrations_applied(&self) -> Result<(), String> {
        let rows = self
            .query("SELECT count(*) FROM schema_migrations", &[])
            .await
            .map_err(|e| e.to_string())?;
        let applied: i64 = rows.first().map(|r| r.get(0)).unwrap_or(0);
        if applied as usize >= MIGRATIONS.len() {
            Ok(())
        } else {
            Err(format!("{applied} of {} migrations applied", MIGRATIONS.len()))
        }
    }
}
