//! Redis as the cache of dashboard summaries: every get, set and delete counted by its
//! result (hit, miss, ok, error) and timed, through a connection manager that reconnects by
//! itself; the cache's size and item count read from Redis (`INFO memory`, `DBSIZE`) every
//! few seconds.

use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use crate::obs::cache_operations_total::{Operation, Result as Outcome};
use crate::obs::{cache_operation_duration_seconds, Metrics};

/// How long one cache call may take before it counts as an error (the cache must never be
/// what makes a request slow).
const CALL_TIMEOUT: Duration = Duration::from_millis(500);
const SIZE_EVERY: Duration = Duration::from_secs(5);

/// The cache.
#[derive(Clone)]
pub struct Cache {
    client: redis::Client,
    connection: std::sync::Arc<tokio::sync::OnceCell<ConnectionManager>>,
    metrics: Metrics,
}

impl Cache {
    pub fn new(url: &str, metrics: Metrics) -> anyhow::Result<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            connection: Default::default(),
            metrics,
        })
    }

    async fn connection(&self) -> Result<ConnectionManager, String> {
        let connect = || async {
            tokio::time::timeout(CALL_TIMEOUT, ConnectionManager::new(self.client.clone()))
                .await
                .map_err(|_| "connecting to Redis timed out".to_string())?
                .map_err(|e| e.to_string())
        };
        self.connection.get_or_try_init(connect).await.cloned()
    }

    fn record(&self, operation: Operation, outcome: Outcome, started: Instant) {
        self.metrics.cache_operations_total.with(operation, outcome).inc();
        let timing = match operation {
            Operation::Get => cache_operation_duration_seconds::Operation::Get,
            Operation::Set => cache_operation_duration_seconds::Operation::Set,
            Operation::Delete => cache_operation_duration_seconds::Operation::Delete,
        };
        self.metrics
            .cache_operation_duration_seconds
            .with(timing)
            .observe(started.elapsed().as_secs_f64());
    }

    /// One command on the shared connection, bounded by [`CALL_TIMEOUT`].
    async fn call<T, F, Fut>(&self, command: F) -> Result<T, String>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let connection = self.connection().await?;
        tokio::time::timeout(CALL_TIMEOUT, command(connection))
            .await
            .map_err(|_| format!("timed out after {CALL_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())
    }

    /// A cached value; `None` on a miss or when the cache is unreachable (counted as error).
    pub async fn get(&self, key: &str) -> Option<String> {
        let started = Instant::now();
        let found: Result<Option<String>, String> = self.call(|mut c| async move { c.get(key).await }).await;
        let outcome = match &found {
            Ok(Some(_)) => Outcome::Hit,
            Ok(None) => Outcome::Miss,
            Err(error) => {
                tracing::warn!(error = %error, "cache read failed");
                Outcome::Error
            }
        };
        self.record(Operation::Get, outcome, started);
        found.ok().flatten()
    }

    /// Stores a value for `ttl`.
    pub async fn set(&self, key: &str, value: &str, ttl: Duration) {
        let started = Instant::now();
        let seconds = ttl.as_secs().max(1);
        let stored: Result<(), String> = self
            .call(|mut c| async move { c.set_ex(key, value, seconds).await })
            .await;
        let outcome = if stored.is_ok() { Outcome::Ok } else { Outcome::Error };
        self.record(Operation::Set, outcome, started);
    }

    /// Forgets a value.
    pub async fn delete(&self, key: &str) {
        let started = Instant::now();
        let deleted: Result<(), String> = self.call(|mut c| async move { c.del(key).await }).await;
        let outcome = if deleted.is_ok() { Outcome::Ok } else { Outcome::Error };
        self.record(Operation::Delete, outcome, started);
    }

    /// Publishes `cache_size_bytes` and `cache_items_total` from Redis every few seconds.
    pub async fn report_size(self) {
        loop {
            if let Ok(mut connection) = self.connection().await {
                let info: Result<String, _> = redis::cmd("INFO").arg("memory").query_async(&mut connection).await;
                if let Some(used) = info.ok().as_deref().and_then(used_memory) {
                    self.metrics.cache_size_bytes.set(used as f64);
                }
                let items: Result<u64, _> = redis::cmd("DBSIZE").query_async(&mut connection).await;
                if let Ok(items) = items {
                    self.metrics.cache_items_total.set(items as f64);
                }
            }
            tokio::time::sleep(SIZE_EVERY).await;
        }
    }
}

/// `used_memory:<bytes>` from `INFO memory`.
fn used_memory(info: &str) -> Option<u64> {
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_used_memory_from_info() {
        let info = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n";
        assert_eq!(super::used_memory(info), Some(1_048_576));
        assert_eq!(super::used_memory("# Memory\r\n"), None);
    }
}
