//! Target 1: HTTP instrumentation overhead. The same handler served five ways, each on its
//! own single-threaded runtime: bare axum; with an empty layer; with obs' middleware (RED
//! metrics, request id, span) and no log output; the same writing every JSON log line (to
//! a sink); and with axum-prometheus. Driven by wrk on loopback when installed, else by the
//! built-in driver.

use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::oneshot;

use crate::{interleaved_over, Effort};

/// A server on a thread of its own, stopped on drop.
pub struct Server {
    pub port: u16,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves the router `make` builds on 127.0.0.1, on one thread; `logs` installs a JSON log
/// subscriber (writing to a sink) for that thread only.
pub fn spawn(make: impl FnOnce() -> Router + Send + 'static, logs: bool) -> Server {
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let _guard = logs.then(|| tracing::subscriber::set_default(sink_subscriber()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let _ = port_tx.send(listener.local_addr().expect("address").port());
            let _ = axum::serve(listener, make())
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
    });
    let port = port_rx.recv_timeout(Duration::from_secs(10)).expect("server listening");
    Server {
        port,
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// Lines the sink subscribers have written, so a run can show its log lines were made.
pub static LINES_WRITTEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The JSON log layer of a default spec at its level (info), as a service runs it, writing
/// to a sink (counted in [`LINES_WRITTEN`]).
pub fn sink_subscriber() -> impl tracing::Subscriber + Send + Sync {
    use tracing_subscriber_reexport::*;
    let spec = contract::load_bytes(b"service: {name: bench}\n", "bench.yaml")
        .expect("loads")
        .spec;
    let mut settings =
        runtime::logging::LogSettings::from_spec(&spec.logging, vec![("service".into(), serde_json::json!("bench"))]);
    let levels = runtime::logging::filter(spec.logging.level, &spec.logging.targets, None).expect("the default levels");
    settings.levels = Some(levels.clone());
    let writer: runtime::logging::MakeWriter = std::sync::Arc::new(|| {
        LINES_WRITTEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::new(std::io::sink())
    });
    registry().with(
        runtime::logging::SpecLayer::new(settings, writer, None)
            .with_filter(runtime::logging::with_runtime_events(levels)),
    )
}

/// tracing-subscriber through the runtime's dependency, so versions always agree.
mod tracing_subscriber_reexport {
    pub use runtime::logging::reexport::{registry, Layer, SubscriberExt};
}

pub async fn item(Path(id): Path<u64>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "id": id, "name": "item" }))
}

pub fn bare() -> Router {
    Router::new().route("/api/items/{id}", get(item))
}

/// Bare with an empty layer: what wrapping every route in any layer costs in axum, the
/// floor under every middleware.
pub fn bare_layered() -> Router {
    bare().layer(tower::layer::util::Identity::new())
}

pub fn instrumented() -> Router {
    let spec = contract::load_bytes(
        b"service: {name: bench}\nmetrics: {builtin: {http: {}}}\n",
        "bench.yaml",
    )
    .expect("loads")
    .spec;
    let config = runtime::ServiceConfig::resolve(spec, |_| None).expect("resolves");
    let obs = runtime::Observability::new(config, |_| None).expect("binds");
    runtime::server::app(&obs, Router::new().route("/api/items/{id}", get(item)), obs.clone())
}

pub fn axum_prometheus() -> Router {
    // Its pair installs a process-wide recorder, which can be done once per process.
    static PAIR: std::sync::OnceLock<(
        axum_prometheus::PrometheusMetricLayer<'static>,
        axum_prometheus::metrics_exporter_prometheus::PrometheusHandle,
    )> = std::sync::OnceLock::new();
    let (layer, handle) = PAIR.get_or_init(axum_prometheus::PrometheusMetricLayer::pair).clone();
    Router::new()
        .route("/api/items/{id}", get(item))
        .route("/metrics", get(move || std::future::ready(handle.render())))
        .layer(layer)
}

/// Requests per second wrk (one thread) measured against `url`, if wrk is installed.
pub fn wrk_rps(url: &str, seconds: u64, connections: u32) -> Option<f64> {
    let output = std::process::Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), url])
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Requests per second obs-tools' loadtest measured against `url`, on one thread like `wrk -t1`.
pub fn loadtest_rps(url: &str, seconds: u64, connections: u32) -> f64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let load = obs_tools::loadtest::HttpLoad {
        url: url.to_string(),
        concurrency: connections,
        duration: Duration::from_secs(seconds),
        rps: None,
    };
    runtime
        .block_on(obs_tools::loadtest::run_http(&load, Default::default()))
        .map(|s| s.throughput_per_second)
        .unwrap_or(0.0)
}

/// Requests per second against `port` for `seconds`: wrk when installed, else the built-in driver.
pub fn drive(port: u16, seconds: u64, connections: u32) -> f64 {
    let url = format!("http://127.0.0.1:{port}/api/items/42");
    wrk_rps(&url, seconds, connections).unwrap_or_else(|| loadtest_rps(&url, seconds, connections))
}

/// The load tester beside wrk on the same bare server: same connections, same duration.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverResult {
    pub wrk: f64,
    pub loadtest: f64,
    pub connections: u32,
    pub seconds: u64,
}

pub fn drivers(effort: Effort) -> anyhow::Result<DriverResult> {
    anyhow::ensure!(
        wrk_available(),
        "wrk is not installed (Debian package `wrk`): this table measures the load tester against it"
    );
    let server = spawn(bare, false);
    let url = format!("http://127.0.0.1:{}/api/items/42", server.port);
    let seconds = effort.pick(3, 1);
    let connections = effort.pick(32, 4);
    let m = interleaved_over(effort.rounds, &[true, false], |use_wrk| {
        if *use_wrk {
            wrk_rps(&url, seconds, connections).unwrap_or(0.0)
        } else {
            loadtest_rps(&url, seconds, connections)
        }
    });
    Ok(DriverResult {
        wrk: m[0],
        loadtest: m[1],
        connections,
        seconds,
    })
}

/// Whether the fast driver is available.
pub fn wrk_available() -> bool {
    std::process::Command::new("wrk").arg("--version").output().is_ok()
}

/// Median requests per second of each server.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResult {
    pub bare: f64,
    pub bare_layered: f64,
    pub obs: f64,
    pub obs_with_logs: f64,
    pub axum_prometheus: f64,
    pub driver: &'static str,
    /// Log lines the logging server wrote per request it answered (about one, if the
    /// lines were made), requests taken as its rate times the seconds driven.
    pub log_lines_per_request: f64,
}

pub fn run(effort: Effort) -> HttpResult {
    // The logging server is driven before the plain obs one in every round: tracing caches a
    // callsite's interest when it is first hit, and a thread with no subscriber hitting
    // the request event first made it "never" for every thread, so the logging server
    // wrote nothing (its lines per request below show that they are written now).
    let servers = [
        spawn(bare, false),
        spawn(bare_layered, false),
        spawn(instrumented, true),
        spawn(instrumented, false),
        spawn(axum_prometheus, false),
    ];
    let seconds = effort.pick(3, 1);
    let connections = effort.pick(32, 4);
    let logging_port = servers[2].port;
    let (lines, requests) = (std::cell::Cell::new(0u64), std::cell::Cell::new(0.0));
    let m = interleaved_over(effort.rounds, &servers, |s| {
        let before = LINES_WRITTEN.load(std::sync::atomic::Ordering::Relaxed);
        let rps = drive(s.port, seconds, connections);
        if s.port == logging_port {
            lines.set(lines.get() + LINES_WRITTEN.load(std::sync::atomic::Ordering::Relaxed) - before);
            requests.set(requests.get() + rps * seconds as f64);
        }
        rps
    });
    HttpResult {
        bare: m[0],
        bare_layered: m[1],
        obs: m[3],
        obs_with_logs: m[2],
        axum_prometheus: m[4],
        driver: if wrk_available() { "wrk -t1" } else { "built-in driver" },
        log_lines_per_request: lines.get() as f64 / requests.get().max(1.0),
    }
}

/// Nanoseconds of CPU per request through each router, called in memory (no sockets, no
/// HTTP parsing): the part of the cost the middleware itself adds, free of network noise.
#[derive(Debug, Clone, PartialEq)]
pub struct InMemoryResult {
    pub bare: f64,
    pub bare_layered: f64,
    pub obs: f64,
    pub axum_prometheus: f64,
}

pub fn nanos_per_request_pub(runtime: &tokio::runtime::Runtime, router: &Router, requests: u32) -> f64 {
    nanos_per_request(runtime, router, requests)
}
pub fn nanos_per_request(runtime: &tokio::runtime::Runtime, router: &Router, requests: u32) -> f64 {
    use tower::util::ServiceExt;
    let started = std::time::Instant::now();
    runtime.block_on(async {
        for _ in 0..requests {
            let request = axum::http::Request::get("/api/items/42")
                .body(axum::body::Body::empty())
                .expect("request");
            let response = router.clone().oneshot(request).await;
            std::hint::black_box(response.ok());
        }
    });
    started.elapsed().as_nanos() as f64 / f64::from(requests)
}

pub fn in_memory(effort: Effort) -> InMemoryResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let routers = {
        let _entered = runtime.enter();
        [bare(), bare_layered(), instrumented(), axum_prometheus()]
    };
    let requests = effort.pick(300_000, 200);
    let m = interleaved_over(effort.rounds, &routers, |router| {
        nanos_per_request(&runtime, router, requests)
    });
    InMemoryResult {
        bare: m[0],
        bare_layered: m[1],
        obs: m[2],
        axum_prometheus: m[3],
    }
}
