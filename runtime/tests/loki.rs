//! Loki shipping against a local receiver that decodes Loki's JSON push format: the tenant
//! and basic-auth headers the spec asks for (password from a file) arrive with every push;
//! lines sent while the receiver is down wait, bounded, and arrive once it is back; past
//! the queue and one batch they are dropped and counted, never kept.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use runtime::http_client::HttpClient;
use runtime::loki::{LokiSender, Target, BATCH_LINES, QUEUE_LINES};
use serde_json::{json, Map, Value};

mod common;
use common::{capture, wait_until};

/// Every push a receiver took: its headers and its decoded body.
type Pushes = Arc<Mutex<Vec<(HeaderMap, Value)>>>;

async fn receiver_on(listener: tokio::net::TcpListener) -> Pushes {
    let pushes = Pushes::default();
    let sink = pushes.clone();
    let app = Router::new().route(
        "/loki/api/v1/push",
        post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let value: Value = serde_json::from_slice(&body).expect("a Loki JSON push body");
                for stream in value["streams"].as_array().expect("streams") {
                    assert!(stream["stream"].is_object(), "{stream}");
                    for entry in stream["values"].as_array().expect("values") {
                        let nanos: u128 = entry[0].as_str().unwrap().parse().expect("nanoseconds as a string");
                        assert!(nanos > 0);
                        assert!(entry[1].is_string());
                    }
                }
                sink.lock().unwrap().push((headers, value));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    pushes
}

fn lines_received(pushes: &Pushes) -> usize {
    pushes
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(_, body)| body["streams"].as_array().cloned().unwrap_or_default())
        .map(|stream| stream["values"].as_array().map_or(0, Vec::len))
        .sum()
}

fn line(level: &str) -> Map<String, Value> {
    let mut line = Map::new();
    line.insert("service".into(), json!("counter"));
    line.insert("level".into(), json!(level));
    line
}

fn sender(address: SocketAddr) -> LokiSender {
    runtime::loki::start(
        HttpClient::new(None).unwrap(),
        Target {
            base_url: format!("http://{address}"),
            labels: vec!["service".into(), "level".into()],
            headers: Vec::new(),
        },
        runtime::shipping::Dropped::default(),
    )
}

#[tokio::test]
async fn pushes_carry_the_tenant_and_basic_auth_from_a_password_file() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let pushes = receiver_on(listener).await;
    let password = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(password.path(), "s3cret\n").unwrap();
    let spec = format!(
        "service: {{name: counter}}\nlogging:\n  loki: {{url: 'http://{address}', enabled: 'true', tenant: '${{LOKI_TENANT}}', username: loki-user, password_file: '{}'}}\n",
        password.path().display()
    );
    let spec = contract::load_bytes(spec.as_bytes(), "obs.yaml").unwrap().spec;
    let env = |var: &str| (var == "LOKI_TENANT").then(|| "team-a".to_string());
    let obs = runtime::Observability::new(runtime::ServiceConfig::resolve(spec, env).unwrap(), env).unwrap();
    let (writer, _buffer) = capture();
    {
        let _guard = tracing::subscriber::set_default(obs.subscriber(writer, env).unwrap());
        tracing::warn!("disk filling up");
    }
    obs.flush_logs().await;
    let pushes = pushes.lock().unwrap();
    let (headers, body) = pushes.first().expect("one push");
    assert_eq!(headers["x-scope-orgid"], "team-a");
    // base64("loki-user:s3cret"): the file's trailing newline is not part of the password.
    assert_eq!(headers["authorization"], "Basic bG9raS11c2VyOnMzY3JldA==");
    assert_eq!(body["streams"][0]["stream"]["level"], "warn");
    assert!(body["streams"][0]["values"][0][1]
        .as_str()
        .unwrap()
        .contains("disk filling up"));
}

#[tokio::test]
async fn a_password_file_that_cannot_be_read_is_a_start_up_error() {
    let spec = "service: {name: counter}\nlogging:\n  loki: {url: 'http://127.0.0.1:9', enabled: 'true', username: u, password_file: /nonexistent/loki}\n";
    let spec = contract::load_bytes(spec.as_bytes(), "obs.yaml").unwrap().spec;
    let obs = runtime::Observability::new(runtime::ServiceConfig::resolve(spec, |_| None).unwrap(), |_| None).unwrap();
    let (writer, _buffer) = capture();
    let error = obs.subscriber(writer, |_| None).err().expect("an error").to_string();
    assert!(
        error.contains("/nonexistent/loki") && error.contains("password_file"),
        "{error}"
    );
}

#[tokio::test]
async fn lines_wait_for_a_receiver_that_is_down_bounded_and_arrive_when_it_is_back() {
    // A port that was free a moment ago: nothing listens there until the receiver starts.
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let loki = sender(address);
    for _ in 0..5 {
        loki.send(&line("info"), "{\"message\":\"before\"}");
    }
    loki.flush(Duration::from_secs(5)).await;
    assert_eq!(loki.dropped(), 0, "a failed push keeps its lines for the next try");

    // Far more than the queue holds while nobody receives.
    let sent = 5 + QUEUE_LINES * 2;
    for _ in 5..sent {
        loki.send(&line("info"), "{\"message\":\"during\"}");
    }
    // A flush (the shutdown's) with the queue full and Loki down still returns in time.
    let flushing = tokio::time::timeout(Duration::from_secs(10), loki.flush(Duration::from_secs(1))).await;
    assert!(flushing.is_ok(), "a flush waited on a full queue");
    let dropped = loki.dropped() as usize;
    assert!(
        dropped >= QUEUE_LINES - BATCH_LINES,
        "only {dropped} of {sent} lines dropped: the queue grew"
    );

    let pushes = receiver_on(tokio::net::TcpListener::bind(address).await.unwrap()).await;
    let kept = sent - dropped;
    let arrived = wait_until(Duration::from_secs(40), || lines_received(&pushes) >= kept).await;
    assert!(arrived, "{} of the {kept} kept lines arrived", lines_received(&pushes));
    assert_eq!(lines_received(&pushes), kept, "each kept line arrives once");
    assert!(kept <= QUEUE_LINES + BATCH_LINES, "{kept} lines were held in memory");
}
