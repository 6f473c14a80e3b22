//! What tracing costs a request: the instrumented router, writing its JSON line per request,
//! called in memory under five subscribers side by side: the log layer alone (no trace
//! context, as before tracing), trace ids on the lines with export off, OTLP export over
//! gRPC to a local receiver at 10% and at 100% sampled, and at 100% with the receiver down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tracing::Dispatch;

use crate::servers::{item, nanos_per_request};
use crate::{interleaved_over, Effort};

/// Counts the spans it is sent and answers OK.
#[derive(Clone, Default)]
struct Sink(Arc<AtomicU64>);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.0.fetch_add(spans as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// A gRPC OTLP receiver on its own thread and runtime; returns its port and span count.
fn receiver() -> anyhow::Result<(u16, Arc<AtomicU64>)> {
    let sink = Sink::default();
    let count = sink.0.clone();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    crate::spawn_runtime_thread(move || async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let _ = port_tx.send(listener.local_addr().expect("address").port());
        let _ = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(sink))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await;
    });
    let port = port_rx.recv_timeout(Duration::from_secs(10))?;
    Ok((port, count))
}

/// One way of serving: the router and the subscriber its requests run under.
struct Case {
    router: Router,
    dispatch: Dispatch,
    obs: runtime::Observability,
}

fn sink_writer() -> runtime::logging::MakeWriter {
    Arc::new(|| Box::new(std::io::sink()))
}

/// Which router a case serves.
#[derive(Clone, Copy, PartialEq)]
enum Served {
    /// obs' instrumented router.
    Instrumented,
    /// Bare axum with an empty layer: the floor the middleware is measured over.
    EmptyLayer,
}

/// A router of a spec with the builtin HTTP metrics (so each request writes its line at
/// info, unless `more` sets the level higher) and `more` (tracing, logging) as given.
fn case(more: &str, log_layer_only: bool, served: Served) -> Case {
    let yaml = format!("service: {{name: bench}}\nmetrics: {{builtin: {{http: {{}}}}}}\n{more}");
    let spec = contract::load_bytes(yaml.as_bytes(), "bench.yaml").expect("loads").spec;
    let config = runtime::ServiceConfig::resolve(spec, |_| None).expect("resolves");
    let obs = runtime::Observability::new(config, |_| None).expect("binds");
    let router = match served {
        Served::Instrumented => {
            runtime::server::app(&obs, Router::new().route("/api/items/{id}", get(item)), obs.clone())
        }
        Served::EmptyLayer => crate::servers::bare_layered(),
    };
    let dispatch = if log_layer_only {
        use runtime::logging::reexport::{registry, SubscriberExt};
        let settings = runtime::logging::LogSettings::from_spec(&obs.config.spec.logging, obs.log_statics());
        Dispatch::new(registry().with(runtime::logging::SpecLayer::new(settings, sink_writer(), None)))
    } else {
        Dispatch::new(obs.subscriber(sink_writer(), |_| None).expect("subscriber"))
    };
    Case { router, dispatch, obs }
}

/// The instrumented router under the runtime's own subscriber exporting 10% of traces to
/// `port` with request lines off (`logging.level: warn`), for a profiler; call inside a
/// tokio runtime.
pub fn quiet_traced(port: u16) -> (Router, Dispatch, runtime::Observability) {
    let more =
        format!("tracing: {{otlp_endpoint: 'http://127.0.0.1:{port}', sample_ratio: 0.1}}\nlogging: {{level: warn}}\n");
    let Case { router, dispatch, obs } = case(&more, false, Served::Instrumented);
    (router, dispatch, obs)
}

/// Nanoseconds per request for each case, in the order of [`CASES`], and the spans the
/// receiver got.
#[derive(Debug, Clone, PartialEq)]
pub struct TracesResult {
    pub nanos: Vec<f64>,
    pub spans_received: u64,
    pub requests_per_case: u32,
}

/// What each case is, for the table.
pub const CASES: [&str; 7] = [
    "JSON line per request, no trace layer",
    "+ trace ids on the lines, export off",
    "+ OTLP/gRPC export, 10% sampled",
    "+ OTLP/gRPC export, 100% sampled",
    "+ OTLP/gRPC export, 100%, receiver down",
    "empty layer (no middleware) under the subscriber below",
    "no request lines (level warn), OTLP/gRPC export, 10% sampled",
];

/// The cases [`CASES`] 5 and 6: the middleware with 10% export and no request lines, and
/// the empty layer under the same subscriber, to subtract.
pub const NO_LINES_FLOOR: usize = 5;
pub const NO_LINES_TRACED: usize = 6;

pub fn run(effort: Effort) -> anyhow::Result<TracesResult> {
    let (port, received) = receiver()?;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    // The requests run on the calling thread; the exporter's connection lives on the one
    // worker, as it would beside a service's request threads.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let export = |port: u16, ratio: &str| {
        format!("tracing: {{otlp_endpoint: 'http://127.0.0.1:{port}', sample_ratio: {ratio}}}\n")
    };
    let cases = {
        let _entered = runtime.enter();
        let quiet = format!("{}logging: {{level: warn}}\n", export(port, "0.1"));
        [
            case("", true, Served::Instrumented),
            case("", false, Served::Instrumented),
            case(&export(port, "0.1"), false, Served::Instrumented),
            case(&export(port, "1"), false, Served::Instrumented),
            case(&export(closed, "1"), false, Served::Instrumented),
            case(&quiet, false, Served::EmptyLayer),
            case(&quiet, false, Served::Instrumented),
        ]
    };
    let requests = effort.pick(100_000, 200);
    let nanos = interleaved_over(effort.rounds, &cases, |case| {
        let _guard = tracing::dispatcher::set_default(&case.dispatch);
        nanos_per_request(&runtime, &case.router, requests)
    });
    runtime.block_on(async {
        for case in &cases {
            case.obs.flush_traces(Duration::from_secs(10)).await;
        }
    });
    Ok(TracesResult {
        nanos,
        spans_received: received.load(Ordering::Relaxed),
        requests_per_case: requests,
    })
}
