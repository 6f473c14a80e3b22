//! PostgreSQL through a connection pool (deadpool-postgres): the schema applied at start-up
//! (waiting for the database), every query counted and timed by operation, failures
//! classified into the seed's error types, and the pool's state published as
//! `database_connections{state}` every second.

use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::obs::database_connections::State;
use crate::obs::database_errors_total::ErrorType;
use crate::obs::database_queries_total::Operation;
use crate::obs::{database_query_duration_seconds, Metrics};

/// Connections the pool holds at most, and how many it opens at start so the pool is warm.
pub const POOL_SIZE: usize = 20;
const WARM: usize = 10;
/// How long a query (or waiting for a connection) may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS events (
        id BIGSERIAL PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        user_id TEXT,
        kind TEXT NOT NULL,
        value DOUBLE PRECISION NOT NULL DEFAULT 1,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now());
    CREATE INDEX IF NOT EXISTS events_by_workspace ON events (workspace_id, created_at);
    CREATE TABLE IF NOT EXISTS daily_aggregates (
        workspace_id TEXT NOT NULL,
        day DATE NOT NULL,
        events BIGINT NOT NULL,
        total DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (workspace_id, day));
    CREATE TABLE IF NOT EXISTS exports (
        id BIGSERIAL PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        format TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued',
        rows BIGINT,
        bytes BIGINT,
        error TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now());";

/// Why a query gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Connection(String),
    #[error("query timed out after {QUERY_TIMEOUT:?}")]
    Timeout,
    #[error("query failed: {}", describe(.0))]
    Query(#[from] tokio_postgres::Error),
}

impl StoreError {
    fn error_type(&self) -> ErrorType {
        match self {
            StoreError::Connection(_) => ErrorType::Connection,
            StoreError::Timeout => ErrorType::Timeout,
            StoreError::Query(error) if error.is_closed() => ErrorType::Connection,
            StoreError::Query(error) => match error.code() {
                Some(code) if code.code().starts_with("23") => ErrorType::Integrity,
                Some(code) if *code == SqlState::QUERY_CANCELED => ErrorType::Timeout,
                _ => ErrorType::Other,
            },
        }
    }
}

/// The server's own message for a database error, else the error's.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}

/// The pool with its metrics.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    metrics: Metrics,
}

impl Store {
    pub fn new(url: &str, metrics: Metrics) -> anyhow::Result<Self> {
        let config: tokio_postgres::Config = url.parse()?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(QUERY_TIMEOUT))
            .create_timeout(Some(QUERY_TIMEOUT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()?;
        Ok(Self { pool, metrics })
    }

    /// Runs one statement; counted and timed as `operation`.
    pub async fn query(
        &self,
        operation: Operation,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let started = Instant::now();
        let outcome = self.run(sql, params).await;
        self.metrics.database_queries_total.with(operation).inc();
        self.metrics
            .database_query_duration_seconds
            .with(timing(operation))
            .observe(started.elapsed().as_secs_f64());
        if let Err(error) = &outcome {
            self.metrics.database_errors_total.with(error.error_type()).inc();
        }
        outcome
    }

    async fn run(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        let client = self.pool.get().await.map_err(|error| match error {
            PoolError::Timeout(_) => StoreError::Timeout,
            PoolError::Backend(error) => StoreError::Connection(error.to_string()),
            other => StoreError::Connection(other.to_string()),
        })?;
        match tokio::time::timeout(QUERY_TIMEOUT, client.query(sql, params)).await {
            Ok(rows) => Ok(rows?),
            Err(_) => Err(StoreError::Timeout),
        }
    }

    /// Applies the schema once the database answers, then opens the warm connections.
    pub async fn prepare(&self) {
        loop {
            let applied = match self.pool.get().await {
                Ok(client) => client.batch_execute(SCHEMA).await.map_err(|e| e.to_string()),
                Err(error) => Err(error.to_string()),
            };
            match applied {
                Ok(()) => break,
                Err(error) => {
                    tracing::warn!(error = %error, "the schema waits for the database");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        // Queued exports lived in the last process's memory: they will never run.
        let abandoned = self
            .query(
                Operation::Update,
                "UPDATE exports SET status = 'failed', error = 'the service restarted before the export ran'
                 WHERE status = 'queued' RETURNING id",
                &[],
            )
            .await;
        match abandoned {
            Ok(rows) if !rows.is_empty() => {
                tracing::warn!(exports = rows.len(), "exports queued before a restart marked failed")
            }
            _ => {}
        }
        let opened = self.warm().await;
        tracing::info!(connections = opened, "database schema ready and pool warm");
    }

    /// Publishes the pool's state every second, and opens connections again up to the warm
    /// count after an outage emptied the pool, so a quiet, healthy service does not look
    /// exhausted (`DatabaseConnectionPoolExhausted` reads the idle count).
    pub async fn report_pool(self) {
        loop {
            let status = self.pool.status();
            let gauge = &self.metrics.database_connections;
            gauge.with(State::Total).set(status.size as f64);
            gauge.with(State::Idle).set(status.available as f64);
            gauge
                .with(State::Active)
                .set(status.size.saturating_sub(status.available) as f64);
            if status.size < WARM {
                self.warm().await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Opens connections until the pool holds the warm count (or the database refuses).
    async fn warm(&self) -> usize {
        let mut held = Vec::new();
        while self.pool.status().size < WARM {
            match self.pool.get().await {
                Ok(client) => held.push(client),
                Err(_) => break,
            }
        }
        held.len()
    }
}

/// The duration histogram's label for an operation (the same values, another enum).
fn timing(operation: Operation) -> database_query_duration_seconds::Operation {
    match operation {
        Operation::Select => database_query_duration_seconds::Operation::Select,
        Operation::Insert => database_query_duration_seconds::Operation::Insert,
        Operation::Update => database_query_duration_seconds::Operation::Update,
        Operation::Delete => database_query_duration_seconds::Operation::Delete,
    }
}
