//! Dependency checks: tcp (connect), http (2xx), redis (`PING`, see `redis_ping`), postgres
//! (`SELECT 1`, see `postgres_ping`), and custom checks the service registers by name. They
//! run concurrently, each inside its own timeout, so a hung dependency never hangs a probe;
//! results are reused for a second so a probe storm does not become a storm on the
//! dependencies.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contract::model::{CheckKind, HealthCheck};
use contract::probe_bodies::{CheckResult, ProbeState};

use crate::http_client::HttpClient;

/// A custom check: resolves to `Ok` when the dependency is fine.
pub type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type CustomCheck = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// How long check results are reused.
pub const CACHE_FOR: Duration = Duration::from_secs(1);

/// The last results and when they were taken.
type Cached = Option<(Instant, Vec<CheckResult>)>;

/// A check with its target resolved from the environment.
#[derive(Debug, Clone)]
struct Declared {
    spec: HealthCheck,
    target: Option<String>,
}

/// The service's dependency checks.
#[derive(Clone)]
pub struct HealthChecks {
    declared: Arc<Vec<Declared>>,
    client: HttpClient,
    custom: Arc<Mutex<HashMap<String, CustomCheck>>>,
    cache: Arc<tokio::sync::Mutex<Cached>>,
}

impl std::fmt::Debug for HealthChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthChecks")
            .field("declared", &self.declared)
            .finish_non_exhaustive()
    }
}

impl HealthChecks {
    /// The spec's checks with their targets resolved in `env`; http checks go through `client`.
    pub fn new(checks: &[HealthCheck], client: HttpClient, env: impl Fn(&str) -> Option<String>) -> Self {
        let declared = checks
            .iter()
            .map(|c| Declared {
                target: c.target.as_ref().and_then(|t| t.resolve(&env)),
                spec: c.clone(),
            })
            .collect();
        Self {
            declared: Arc::new(declared),
            client,
            custom: Arc::default(),
            cache: Arc::default(),
        }
    }

    /// The spec's `custom` checks no code has registered yet: each reports down with
    /// "no code registered" until it is. `serve` logs them at start-up.
    pub fn unregistered(&self) -> Vec<String> {
        let custom = self.custom.lock().unwrap_or_else(|e| e.into_inner());
        self.declared
            .iter()
            .filter(|d| d.spec.kind == CheckKind::Custom && !custom.contains_key(&d.spec.name))
            .map(|d| d.spec.name.clone())
            .collect()
    }

    /// Registers the code behind a `custom` check of the spec.
    pub fn register<F, Fut>(&self, name: &str, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let check: CustomCheck = Arc::new(move || Box::pin(check()));
        self.custom
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), check);
    }

    /// Every check's result, fresh or at most `CACHE_FOR` old.
    pub async fn results(&self) -> Vec<CheckResult> {
        let mut cache = self.cache.lock().await;
        if let Some((at, results)) = cache.as_ref() {
            if at.elapsed() < CACHE_FOR {
                return results.clone();
            }
        }
        let results = self.run().await;
        *cache = Some((Instant::now(), results.clone()));
        results
    }

    /// Runs every check now, concurrently.
    pub async fn run(&self) -> Vec<CheckResult> {
        let runs = self.declared.iter().map(|declared| {
            let custom = self
                .custom
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&declared.spec.name)
                .cloned();
            run_one(declared.clone(), custom, &self.client)
        });
        futures_util::future::join_all(runs).await
    }

    /// A probe state built from the current results.
    pub async fn state(&self, started: Instant, version: &str, shutting_down: bool) -> ProbeState {
        ProbeState {
            timestamp: crate::logging::now_rfc3339(),
            uptime_seconds: started.elapsed().as_secs_f64(),
            version: version.to_string(),
            shutting_down,
            checks: self.results().await,
        }
    }
}

async fn run_one(declared: Declared, custom: Option<CustomCheck>, client: &HttpClient) -> CheckResult {
    let check = &declared.spec;
    let started = Instant::now();
    let timeout = check.timeout.to_std();
    let outcome = tokio::time::timeout(timeout, async {
        match (check.kind, declared.target.as_deref()) {
            (CheckKind::Tcp, Some(target)) => tokio::net::TcpStream::connect(target)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            (CheckKind::Http, Some(target)) => match client.get(target, timeout).await {
                Ok(response) if (200..300).contains(&response.status) => Ok(()),
                Ok(response) => Err(format!("answered {}", response.status)),
                Err(error) => Err(error),
            },
            (CheckKind::Redis, Some(target)) => crate::redis_ping::ping(target).await,
            (CheckKind::Postgres, Some(target)) => crate::postgres_ping::ping(target).await,
            (CheckKind::Custom, _) => match custom {
                Some(check) => check().await,
                None => Err("no code registered for this custom check".into()),
            },
            (_, None) => Err("no target".into()),
        }
    })
    .await
    .unwrap_or_else(|_| Err(format!("timed out after {}", check.timeout)));
    CheckResult {
        name: check.name.clone(),
        kind: check.kind,
        up: outcome.is_ok(),
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        gates_readiness: check.gates_readiness,
        error: outcome.err(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(yaml: &str) -> Vec<HealthCheck> {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[tokio::test]
    async fn a_hung_dependency_fails_within_its_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let health = HealthChecks::new(
            &checks(&format!(
                "[{{name: up, kind: tcp, target: '{addr}', timeout: 1s}}, {{name: slow, kind: http, target: 'http://{addr}/', timeout: 300ms}}, {{name: hung, kind: custom, timeout: 200ms, gates_readiness: false}}]"
            )),
            HttpClient::new(None).unwrap(),
            |_| None,
        );
        health.register("hung", || async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        });
        let started = Instant::now();
        let results = health.run().await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "checks ran concurrently within their timeouts"
        );
        assert!(results[0].up);
        assert!(!results[1].up);
        assert_eq!(results[2].error.as_deref(), Some("timed out after 200ms"));
    }

    #[tokio::test]
    async fn unregistered_custom_checks_and_refused_ports_are_down() {
        let health = HealthChecks::new(
            &checks("[{name: db, kind: tcp, target: '${DB:-127.0.0.1:1}', timeout: 1s}, {name: queue, kind: custom}]"),
            HttpClient::new(None).unwrap(),
            |_| None,
        );
        assert_eq!(health.unregistered(), ["queue"]);
        let results = health.run().await;
        assert!(results.iter().all(|r| !r.up));
        assert_eq!(
            results[1].error.as_deref(),
            Some("no code registered for this custom check")
        );
        health.register("queue", || async { Ok(()) });
        assert!(health.unregistered().is_empty());
    }
}
