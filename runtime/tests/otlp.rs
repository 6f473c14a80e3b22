//! Trace export against local OTLP receivers that decode the wire format with the official
//! protobuf definitions (opentelemetry-proto): over gRPC and over HTTP/protobuf, spans arrive
//! with the caller's trace, the right parent links, the request's attributes and the
//! service's resource; the sample ratio holds; log lines carry the same ids; a receiver
//! that is down costs a bounded queue and nothing else.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use runtime::{Observability, ServiceConfig};
use serde_json::Value;

mod common;
use common::{capture, lines};
use tower::ServiceExt;
use tracing::Instrument;

/// What a receiver was sent.
type Received = Arc<Mutex<Vec<ExportTraceServiceRequest>>>;

#[derive(Clone, Default)]
struct GrpcReceiver(Received);

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

async fn grpc_receiver() -> (SocketAddr, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let receiver = GrpcReceiver::default();
    let received = receiver.0.clone();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    (address, received)
}

async fn http_receiver() -> (SocketAddr, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let received = Received::default();
    let sink = received.clone();
    let app = Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                assert_eq!(headers["content-type"], "application/x-protobuf");
                sink.lock()
                    .unwrap()
                    .push(ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf body"));
                (
                    [("content-type", "application/x-protobuf")],
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, received)
}

fn spec(endpoint: &str, protocol: &str, ratio: &str) -> contract::Spec {
    let yaml = format!(
        "service: {{name: traced, version: 2.4.1, environment: staging}}\n\
         logging: {{level: debug}}\n\
         tracing: {{otlp_endpoint: '{endpoint}', protocol: {protocol}, sample_ratio: {ratio}}}\n"
    );
    contract::load_bytes(yaml.as_bytes(), "obs.yaml").unwrap().spec
}

fn observability(spec: contract::Spec) -> Observability {
    let env = |var: &str| (var == "OBS_REPLICA").then(|| "blue".to_string());
    let config = ServiceConfig::resolve(spec, env).unwrap();
    Observability::new(config, env).unwrap()
}

/// The runtime's subscriber for this thread, its lines kept in a buffer.
fn logging_to_buffer(obs: &Observability) -> (tracing::subscriber::DefaultGuard, Arc<Mutex<Vec<u8>>>) {
    let (writer, buffer) = capture();
    let guard = tracing::subscriber::set_default(obs.subscriber(writer, |_| None).unwrap());
    (guard, buffer)
}

fn app(obs: &Observability) -> Router {
    let routes = Router::new().route(
        "/api/items/{id}",
        get(|| async {
            let lookup = tracing::info_span!("lookup", table = "items");
            lookup.in_scope(|| tracing::info!("item found"));
            "item"
        }),
    );
    runtime::server::app(obs, routes, obs.clone())
}

fn spans(received: &Received) -> Vec<(HashMap<String, String>, Span)> {
    let mut spans = Vec::new();
    for request in received.lock().unwrap().iter() {
        for resource_spans in &request.resource_spans {
            let resource = attributes(&resource_spans.resource.as_ref().unwrap().attributes);
            for scope in &resource_spans.scope_spans {
                for span in &scope.spans {
                    spans.push((resource.clone(), span.clone()));
                }
            }
        }
    }
    spans
}

fn attributes(list: &[KeyValue]) -> HashMap<String, String> {
    list.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.clone()) {
                Some(AnyValue::StringValue(s)) => s,
                Some(AnyValue::IntValue(i)) => i.to_string(),
                Some(AnyValue::BoolValue(b)) => b.to_string(),
                Some(AnyValue::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// Two requests, one continuing a caller's sampled trace and one starting its own, then a
/// flush; returns the log lines.
async fn two_requests(obs: &Observability, buffer: &Arc<Mutex<Vec<u8>>>) -> Vec<Value> {
    let app = app(obs);
    let traced = Request::get("/api/items/7")
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .header("x-request-id", "req-traced")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.clone().oneshot(traced).await.unwrap().status(), 200);
    let own = Request::get("/api/items/8")
        .header("x-request-id", "req-own")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.oneshot(own).await.unwrap().status(), 200);
    obs.flush_traces(Duration::from_secs(10)).await;
    lines(buffer)
}

fn check_exported(received: &Received, lines: &[Value]) {
    let spans = spans(received);
    let named = |name: &str, trace: &str| {
        spans
            .iter()
            .find(|(_, s)| s.name == name && hex(&s.trace_id) == trace)
            .unwrap_or_else(|| panic!("no {name} span in trace {trace}: {spans:?}"))
    };
    let (resource, request) = named("request", CALLER_TRACE);
    for (key, value) in [
        ("service.name", "traced"),
        ("service.version", "2.4.1"),
        ("deployment.environment.name", "staging"),
        ("service.instance.id", "blue"),
    ] {
        assert_eq!(
            resource.get(key).map(String::as_str),
            Some(value),
            "{key} in {resource:?}"
        );
    }
    assert_eq!(
        hex(&request.parent_span_id),
        CALLER_SPAN,
        "the caller's span is the parent"
    );
    let request_attributes = attributes(&request.attributes);
    assert_eq!(request_attributes["request_id"], "req-traced");
    assert_eq!(request_attributes["route"], "/api/items/{id}");
    assert_eq!(request_attributes["method"], "GET");
    let (_, lookup) = named("lookup", CALLER_TRACE);
    assert_eq!(
        lookup.parent_span_id, request.span_id,
        "the handler's span is the request's child"
    );
    assert_eq!(attributes(&lookup.attributes)["table"], "items");

    // The request without a traceparent started a trace of its own, with no parent.
    let own_line = lines
        .iter()
        .find(|l| l["request_id"] == "req-own" && l["message"] == "item found")
        .unwrap();
    let own_trace = own_line["trace_id"].as_str().unwrap();
    assert_ne!(own_trace, CALLER_TRACE);
    let (_, own) = named("request", own_trace);
    assert!(own.parent_span_id.is_empty(), "a root span");

    // The lines inside the traced request carry its ids: the lookup's span id inside it.
    let found = lines
        .iter()
        .find(|l| l["request_id"] == "req-traced" && l["message"] == "item found")
        .unwrap();
    assert_eq!(found["trace_id"], CALLER_TRACE);
    assert_eq!(found["span_id"], hex(&lookup.span_id));
    let finished = lines
        .iter()
        .find(|l| l["request_id"] == "req-traced" && l["message"] == "request finished")
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert_eq!(finished["trace_id"], CALLER_TRACE);
    assert_eq!(finished["span_id"], hex(&request.span_id), "{finished}");
}

#[tokio::test(flavor = "current_thread")]
async fn spans_reach_a_grpc_receiver_with_parents_attributes_and_resource() {
    let (address, received) = grpc_receiver().await;
    let obs = observability(spec(&format!("http://{address}"), "grpc", "1"));
    let (_guard, buffer) = logging_to_buffer(&obs);
    let lines = two_requests(&obs, &buffer).await;
    check_exported(&received, &lines);
}

#[tokio::test(flavor = "current_thread")]
async fn spans_reach_an_http_protobuf_receiver_at_v1_traces() {
    let (address, received) = http_receiver().await;
    let obs = observability(spec(&format!("http://{address}"), "http/protobuf", "1"));
    let (_guard, buffer) = logging_to_buffer(&obs);
    let lines = two_requests(&obs, &buffer).await;
    check_exported(&received, &lines);
}

#[tokio::test(flavor = "current_thread")]
async fn at_level_warn_a_warning_still_carries_the_request_trace_and_the_span_is_exported() {
    let (address, received) = grpc_receiver().await;
    let yaml = format!(
        "service: {{name: quiet}}\nlogging: {{level: warn}}\ntracing: {{otlp_endpoint: 'http://{address}', sample_ratio: 1}}\n"
    );
    let obs = observability(contract::load_bytes(yaml.as_bytes(), "obs.yaml").unwrap().spec);
    let (_guard, buffer) = logging_to_buffer(&obs);
    let routes = Router::new().route(
        "/api/slow",
        get(|| async {
            tracing::info!("below the level");
            tracing::warn!("slow answer");
            "ok"
        }),
    );
    let app = runtime::server::app(&obs, routes, obs.clone());
    let request = Request::get("/api/slow")
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .header("x-request-id", "req-quiet")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.oneshot(request).await.unwrap().status(), 200);
    obs.flush_traces(Duration::from_secs(10)).await;
    let lines = lines(&buffer);
    assert_eq!(lines.len(), 1, "only the warning: {lines:?}");
    assert_eq!(lines[0]["trace_id"], CALLER_TRACE);
    assert_eq!(lines[0]["request_id"], "req-quiet");
    let spans = spans(&received);
    assert!(
        spans
            .iter()
            .any(|(_, s)| s.name == "request" && hex(&s.trace_id) == CALLER_TRACE),
        "{spans:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_sample_ratio_keeps_its_share_and_a_callers_decision_wins() {
    let (address, received) = grpc_receiver().await;
    let obs = observability(spec(&format!("http://{address}"), "grpc", "0.1"));
    let (_guard, _buffer) = logging_to_buffer(&obs);
    const ROOTS: usize = 1000;
    for _ in 0..ROOTS {
        tracing::info_span!("request").in_scope(|| tracing::info_span!("child").in_scope(|| {}));
    }
    let app = app(&obs);
    for flag in ["01", "00"] {
        let request = Request::get("/api/items/1")
            .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-{flag}"))
            .body(Body::empty())
            .unwrap();
        app.clone().oneshot(request).await.unwrap();
    }
    obs.flush_traces(Duration::from_secs(10)).await;
    let spans = spans(&received);
    let roots = spans
        .iter()
        .filter(|(_, s)| s.name == "request" && s.parent_span_id.is_empty())
        .count();
    // 10% of 1000 is 100 with a standard deviation near 9.5: 55..=150 fails once in far
    // more than a million runs.
    assert!(
        (55..=150).contains(&roots),
        "{roots} of {ROOTS} root traces kept at 10%"
    );
    let children = spans.iter().filter(|(_, s)| s.name == "child").count();
    assert_eq!(children, roots, "a kept trace keeps its children");
    let caller: Vec<_> = spans
        .iter()
        .filter(|(_, s)| hex(&s.trace_id) == CALLER_TRACE && s.name == "request")
        .collect();
    assert_eq!(
        caller.len(),
        1,
        "the caller's sampled trace is kept, its unsampled one is not"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_receiver_that_is_down_costs_a_bounded_queue_and_is_used_again_when_back() {
    // A port that was free a moment ago: nothing listens there until the receiver comes back.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let obs = observability(spec(&format!("http://{port}"), "grpc", "1"));
    let (_guard, buffer) = logging_to_buffer(&obs);
    let app = app(&obs);
    // Far more spans than the queue holds while nobody receives: the overflow and the
    // batches that fail are dropped, not kept.
    const BURST: usize = runtime::traces::QUEUE_SPANS * 4;
    for _ in 0..BURST {
        tracing::info_span!("burst").in_scope(|| {});
    }
    obs.flush_traces(Duration::from_secs(8)).await;

    let listener = tokio::net::TcpListener::bind(port).await.unwrap();
    let receiver = GrpcReceiver::default();
    let received = receiver.0.clone();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    for id in 0..50 {
        let request = Request::get(format!("/api/items/{id}")).body(Body::empty()).unwrap();
        assert_eq!(app.clone().oneshot(request).await.unwrap().status(), 200);
    }
    obs.flush_traces(Duration::from_secs(10)).await;
    let spans = spans(&received);
    let burst = spans.iter().filter(|(_, s)| s.name == "burst").count();
    assert!(
        burst <= runtime::traces::QUEUE_SPANS,
        "{burst} of {BURST} spans made while the receiver was down outlived it"
    );
    let requests = spans.iter().filter(|(_, s)| s.name == "request").count();
    assert_eq!(requests, 50, "every request after the receiver came back is exported");
    let logged = lines(&buffer)
        .iter()
        .filter(|l| l["message"] == "item found" && l["trace_id"].is_string())
        .count();
    assert_eq!(logged, 50, "lines carry their trace ids whatever the receiver does");
}

#[tokio::test(flavor = "current_thread")]
async fn a_websocket_session_continues_the_upgrades_trace_and_context() {
    let (address, received) = grpc_receiver().await;
    let obs = observability(spec(&format!("http://{address}"), "grpc", "1"));
    let (_guard, buffer) = logging_to_buffer(&obs);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    // The session goes on after the upgrade is answered, until the test says go.
    let session_ends = Arc::new(Mutex::new(Some((go_rx, done_tx))));
    // The upgrade as the examples write it: the session span made in the handler, the
    // session itself in a task of its own that outlives the request.
    let routes = Router::new().route(
        "/ws",
        get(move || {
            let (go_rx, done_tx) = session_ends.lock().unwrap().take().expect("one upgrade");
            async move {
                runtime::context::record("user_id", "u-7");
                let span = runtime::websocket::session_span("s-1");
                tokio::spawn(
                    async move {
                        let _ = go_rx.await;
                        tracing::info!("in session");
                        let _ = done_tx.send(());
                    }
                    .instrument(span),
                );
                "switching"
            }
        }),
    );
    let app = runtime::server::app(&obs, routes, obs.clone());
    let upgrade = Request::get("/ws")
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .header("x-request-id", "req-ws")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.oneshot(upgrade).await.unwrap().status(), 200);
    go_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), done_rx)
        .await
        .unwrap()
        .unwrap();
    obs.flush_traces(Duration::from_secs(10)).await;

    let lines = lines(&buffer);
    let session_line = lines
        .iter()
        .find(|l| l["message"] == "in session")
        .expect("the session's line");
    assert_eq!(session_line["trace_id"], CALLER_TRACE, "the caller's trace continues");
    assert_eq!(
        session_line["request_id"], "req-ws",
        "the request's context comes along"
    );
    assert_eq!(session_line["user_id"], "u-7", "fields the handler recorded too");
    assert_eq!(session_line["session_id"], "s-1");
    let spans = spans(&received);
    let named = |name: &str| {
        spans
            .iter()
            .map(|(_, s)| s)
            .find(|s| s.name == name && hex(&s.trace_id) == CALLER_TRACE)
            .unwrap_or_else(|| panic!("no {name} span: {spans:?}"))
    };
    let (request, session) = (named("request"), named("websocket"));
    assert_eq!(
        session.parent_span_id, request.span_id,
        "the session is the upgrade's child"
    );
    assert!(
        request.end_time_unix_nano < session.end_time_unix_nano,
        "the request's span ended with its answer, before the session"
    );
}
