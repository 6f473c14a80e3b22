//! Error reports through the sentry crate's real transport, against a local endpoint that
//! takes Sentry's envelope API and decodes each envelope with the SDK's own parser: error
//! and critical lines and panics arrive with the request id, trace id and route as tags,
//! the environment and release, redaction applied; nothing is built without a DSN; a bad
//! DSN or rate stops the start with the field named; an endpoint that is down costs nothing.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::routing::{get, post};
use axum::Router;
use runtime::errors::ErrorReporter;
use runtime::{Observability, ServiceConfig};
use sentry::protocol::{Context, EnvelopeItem, Event, Level, SpanStatus, Transaction};
use tower::ServiceExt;

mod common;
use common::{capture, lines};

/// Envelopes received: the auth header and the events inside; the transactions.
#[derive(Clone, Default)]
struct Received(
    Arc<Mutex<Vec<(String, Event<'static>)>>>,
    Arc<Mutex<Vec<Transaction<'static>>>>,
);

impl Received {
    fn transactions(&self) -> Vec<Transaction<'static>> {
        self.1.lock().unwrap().clone()
    }
    fn events(&self) -> Vec<Event<'static>> {
        self.0.lock().unwrap().iter().map(|(_, e)| e.clone()).collect()
    }
    fn auth(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().map(|(a, _)| a.clone()).collect()
    }
}

async fn receiver() -> (SocketAddr, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let received = Received::default();
    let sink = received.clone();
    let app = Router::new().route(
        "/api/{project}/envelope/",
        post(
            move |axum::extract::Path(project): axum::extract::Path<String>,
                  headers: axum::http::HeaderMap,
                  body: axum::body::Bytes| {
                let sink = sink.clone();
                async move {
                    assert_eq!(project, "42");
                    let auth = headers
                        .get("x-sentry-auth")
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default();
                    let envelope = sentry::Envelope::from_slice(&body).expect("a Sentry envelope");
                    for item in envelope.items() {
                        match item {
                            EnvelopeItem::Event(event) => sink.0.lock().unwrap().push((auth.clone(), event.clone())),
                            EnvelopeItem::Transaction(t) => sink.1.lock().unwrap().push(t.clone()),
                            _ => {}
                        }
                    }
                    "{}"
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, received)
}

fn spec() -> contract::Spec {
    let yaml = "service: {name: shop, version: 1.2.3, environment: staging}\n\
                logging: {level: info, redact: [password]}\n\
                error_tracking:\n  sentry:\n    dsn: ${SENTRY_DSN}\n    \
                traces_sample_rate: ${SENTRY_TRACES_SAMPLE_RATE:-0.1}\n";
    contract::load_bytes(yaml.as_bytes(), "obs.yaml").unwrap().spec
}

fn environment(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Clone {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |var: &str| vars.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone())
}

fn app(obs: &Observability) -> Router {
    let routes = Router::new()
        .route(
            "/orders/{id}",
            get(|| async {
                tracing::error!(password = "hunter2", card = "visa", "payment declined");
                "declined, kept going"
            }),
        )
        .route(
            "/boom",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("stock ledger corrupt at row {}", 7);
                }
                "unreachable"
            }),
        );
    runtime::server::app(obs, routes, obs.clone())
}

async fn wait_for(received: &Received, count: usize) -> Vec<Event<'static>> {
    for _ in 0..200 {
        if received.events().len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    received.events()
}

/// What `find` finds within 5 s, polling.
async fn soon<T>(find: impl Fn() -> Option<T>) -> Option<T> {
    for _ in 0..200 {
        if let Some(found) = find() {
            return Some(found);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    find()
}

fn tag<'a>(event: &'a Event<'static>, key: &str) -> &'a str {
    event.tags.get(key).map(String::as_str).unwrap_or_default()
}

/// The runtime of replica `blue` reporting to the receiver at `address`, its subscriber on
/// this thread, its lines in the buffer.
fn reporting_to(
    address: SocketAddr,
    traces_rate: &str,
) -> (Observability, tracing::subscriber::DefaultGuard, Arc<Mutex<Vec<u8>>>) {
    let env = environment(&[
        ("SENTRY_DSN", &format!("http://publickey@{address}/42")),
        ("SENTRY_TRACES_SAMPLE_RATE", traces_rate),
        ("OBS_REPLICA", "blue"),
    ]);
    let config = ServiceConfig::resolve(spec(), &env).unwrap();
    let obs = Observability::new(config, &env).unwrap();
    let (writer, buffer) = capture();
    let guard = tracing::subscriber::set_default(obs.subscriber(writer, &env).unwrap());
    (obs, guard, buffer)
}

#[tokio::test]
async fn errors_criticals_and_panics_arrive_with_the_request_trace_and_release() {
    let (address, received) = receiver().await;
    let (obs, _guard, buffer) = reporting_to(address, "0");

    let declined = app(&obs)
        .oneshot(Request::get("/orders/7").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(declined.status(), 200);
    let request_id = declined.headers()["x-request-id"].to_str().unwrap().to_string();
    let boom = app(&obs)
        .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(boom.status(), 500, "a panicking handler answers 500");
    let boom_id = boom.headers()["x-request-id"].to_str().unwrap().to_string();
    runtime::critical!(volume = "/data", "disk gone");
    tracing::warn!("a warning is no report");
    obs.flush_errors(Duration::from_secs(5)).await;

    // The error, the panic, the failed request's line (a 500 is an error line) and the critical.
    let events = wait_for(&received, 4).await;
    assert_eq!(events.len(), 4, "{events:#?}");
    assert!(received.auth().iter().all(|a| a.contains("sentry_key=publickey")));
    for event in &events {
        assert_eq!(event.environment.as_deref(), Some("staging"));
        assert_eq!(event.release.as_deref(), Some("shop@1.2.3"));
        assert_eq!(event.server_name.as_deref(), Some("blue"));
        assert_eq!(tag(event, "service"), "shop");
    }

    let logged = lines(&buffer);
    let line_of = |message: &str| {
        logged
            .iter()
            .find(|l| l["message"] == message)
            .unwrap_or_else(|| panic!("no line `{message}` in {logged:#?}"))
    };

    let error = events
        .iter()
        .find(|e| e.message.as_deref() == Some("payment declined"))
        .expect("the error");
    assert_eq!(error.level, Level::Error);
    assert_eq!(tag(error, "request_id"), request_id);
    assert_eq!(tag(error, "route"), "/orders/{id}");
    let trace_id = tag(error, "trace_id");
    assert_eq!(trace_id.len(), 32);
    assert_eq!(trace_id, line_of("payment declined")["trace_id"]);
    let Some(Context::Trace(trace)) = error.contexts.get("trace") else {
        panic!("no trace context on {error:#?}")
    };
    assert_eq!(trace.trace_id.to_string(), trace_id);
    assert_eq!(error.extra["password"], "[REDACTED]", "redacted before it leaves");
    assert_eq!(error.extra["card"], "visa");

    let panic = events
        .iter()
        .find(|e| e.exception.values.first().is_some_and(|x| x.ty == "panic"))
        .expect("the panic");
    assert_eq!(panic.level, Level::Fatal);
    assert_eq!(
        panic.exception.values[0].value.as_deref(),
        Some("stock ledger corrupt at row 7")
    );
    assert!(panic.exception.values[0].stacktrace.is_some());
    assert_eq!(tag(panic, "request_id"), boom_id);
    assert_eq!(tag(panic, "route"), "/boom");
    assert!(panic.extra["location"].as_str().unwrap().contains("sentry.rs"));
    let panic_line = line_of("stock ledger corrupt at row 7");
    assert_eq!(panic_line["level"], "error");
    assert_eq!(panic_line["request_id"], boom_id.as_str());
    assert_eq!(panic_line["panic"], true);

    let failed = events
        .iter()
        .find(|e| e.message.as_deref() == Some("request failed"))
        .expect("the 500's line");
    assert_eq!(tag(failed, "request_id"), boom_id);

    let critical = events
        .iter()
        .find(|e| e.message.as_deref() == Some("disk gone"))
        .expect("the critical");
    assert_eq!(critical.level, Level::Fatal);
    assert_eq!(critical.extra["volume"], "/data");
    assert!(!critical.tags.contains_key("request_id"), "outside any request");
    assert!(received.transactions().is_empty(), "a rate of 0 sends no transactions");
}

/// A caller's traceparent with this trace id, sampled.
fn traceparent(trace_id: &str) -> String {
    format!("00-{trace_id}-00f067aa0ba902b7-01")
}

#[tokio::test]
async fn requests_become_transactions_for_the_share_of_traces_kept() {
    let (address, received) = receiver().await;
    let (obs, _guard, _buffer) = reporting_to(address, "0.5");
    // The share is decided by the trace id's low bits: the first is kept at 0.5, the second not.
    let kept = "4bf92f3577b34da60000000000000001";
    let dropped = "4bf92f3577b34da6ffffffffffffffff";
    let mut request_ids = Vec::new();
    for (trace_id, path) in [
        (kept, "/orders/7"),
        (dropped, "/orders/8"),
        (kept, "/health-of-nothing"),
    ] {
        let response = app(&obs)
            .oneshot(
                Request::get(path)
                    .header("traceparent", traceparent(trace_id))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        request_ids.push(response.headers()["x-request-id"].to_str().unwrap().to_string());
    }
    obs.flush_errors(Duration::from_secs(5)).await;
    for _ in 0..200 {
        if received.transactions().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let transactions = received.transactions();
    assert_eq!(transactions.len(), 2, "{transactions:#?}");
    let by_request = |id: &str| {
        transactions
            .iter()
            .find(|t| t.tags.get("request_id").map(String::as_str) == Some(id))
            .unwrap_or_else(|| panic!("no transaction for {id}: {transactions:#?}"))
    };
    let declined = by_request(&request_ids[0]);
    assert_eq!(declined.name.as_deref(), Some("GET /orders/{id}"));
    assert_eq!(declined.environment.as_deref(), Some("staging"));
    assert_eq!(declined.release.as_deref(), Some("shop@1.2.3"));
    assert!(declined.timestamp.unwrap() >= declined.start_timestamp);
    let Some(Context::Trace(trace)) = declined.contexts.get("trace") else {
        panic!("no trace context on {declined:#?}")
    };
    assert_eq!(trace.trace_id.to_string(), kept, "the caller's trace continues");
    assert_eq!(trace.op.as_deref(), Some("http.server"));
    assert_eq!(
        trace.status,
        Some(SpanStatus::InternalError),
        "an error line was written in it"
    );
    let unmatched = by_request(&request_ids[2]);
    let Some(Context::Trace(trace)) = unmatched.contexts.get("trace") else {
        panic!("no trace context on {unmatched:#?}")
    };
    assert_eq!(trace.status, Some(SpanStatus::Ok));
}

#[tokio::test]
async fn without_a_dsn_nothing_is_built_and_lines_are_still_written() {
    for dsn in [None, Some(""), Some("  ")] {
        let mut vars = vec![("OBS_REPLICA", "blue")];
        if let Some(dsn) = dsn {
            vars.push(("SENTRY_DSN", dsn));
        }
        let env = environment(&vars);
        let config = ServiceConfig::resolve(spec(), &env).unwrap();
        let http = runtime::http_client::HttpClient::new(None).unwrap();
        assert!(ErrorReporter::from_spec(&config, &http, &env).unwrap().is_none());
        let obs = Observability::new(config, &env).unwrap();
        let (writer, buffer) = capture();
        let _guard = tracing::subscriber::set_default(obs.subscriber(writer, &env).unwrap());
        tracing::error!("written, not reported");
        obs.flush_errors(Duration::from_secs(1)).await;
        assert_eq!(lines(&buffer)[0]["message"], "written, not reported");
    }
}

#[test]
fn a_bad_dsn_or_rate_stops_the_start_naming_the_field() {
    let cases = [
        (vec![("SENTRY_DSN", "not a dsn")], "error_tracking.sentry.dsn"),
        (
            vec![("SENTRY_DSN", "https://example.com/42")],
            "error_tracking.sentry.dsn",
        ),
        (
            vec![
                ("SENTRY_DSN", "https://key@example.com/42"),
                ("SENTRY_TRACES_SAMPLE_RATE", "1.5"),
            ],
            "error_tracking.sentry.traces_sample_rate `1.5`",
        ),
    ];
    for (vars, expected) in cases {
        let env = environment(&vars);
        let config = ServiceConfig::resolve(spec(), &env).unwrap();
        let http = runtime::http_client::HttpClient::new(None).unwrap();
        let error = ErrorReporter::from_spec(&config, &http, &env).unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    }
}

#[tokio::test]
async fn an_endpoint_that_is_down_costs_the_service_nothing() {
    // A port that was just free: nothing listens there.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let env = environment(&[("SENTRY_DSN", &format!("http://publickey@{closed}/42"))]);
    let config = ServiceConfig::resolve(spec(), &env).unwrap();
    let obs = Observability::new(config, &env).unwrap();
    let (writer, buffer) = capture();
    let _guard = tracing::subscriber::set_default(obs.subscriber(writer, &env).unwrap());
    // Far more than the transport's queue of 30: the rest are dropped, none waits.
    for n in 0..500 {
        tracing::error!(n, "nobody hears this");
    }
    tokio::time::timeout(Duration::from_secs(10), obs.flush_errors(Duration::from_secs(1)))
        .await
        .expect("the flush is bounded");
    assert_eq!(lines(&buffer).len(), 500, "every line is still written");
}

#[tokio::test]
async fn a_websocket_upgrade_ends_as_a_transaction_while_its_session_goes_on() {
    let (address, received) = receiver().await;
    let (obs, _guard, _buffer) = reporting_to(address, "1");
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let session_ends = Arc::new(Mutex::new(Some(go_rx)));
    // The upgrade as the examples write it: the session span made in the handler, the
    // session in a task of its own that outlives the request.
    let routes = Router::new().route(
        "/ws",
        get(move || {
            let go_rx = session_ends.lock().unwrap().take().expect("one upgrade");
            async move {
                let span = runtime::websocket::session_span("s-1");
                tokio::spawn(tracing::Instrument::instrument(
                    async move {
                        let _ = go_rx.await;
                        tracing::info!("session over");
                    },
                    span,
                ));
                "switching"
            }
        }),
    );
    let app = runtime::server::app(&obs, routes, obs.clone());
    let answer = app
        .oneshot(Request::get("/ws").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let named = |name: &str| {
        received
            .transactions()
            .into_iter()
            .find(|t| t.name.as_deref() == Some(name))
    };
    let upgrade = soon(|| named("GET /ws"))
        .await
        .expect("the upgrade's transaction leaves while the session is still open");
    assert!(named("websocket session").is_none(), "the session is still open");
    go_tx.send(()).unwrap();
    obs.flush_errors(Duration::from_secs(5)).await;
    let session = soon(|| named("websocket session"))
        .await
        .expect("the session's transaction once it ends");
    let trace = |t: &Transaction<'static>| match t.contexts.get("trace") {
        Some(Context::Trace(trace)) => trace.trace_id.to_string(),
        _ => panic!("no trace context on {t:#?}"),
    };
    assert_eq!(trace(&session), trace(&upgrade), "one trace");
}
