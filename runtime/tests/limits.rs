//! `service.limits.request_body_bytes`: a handler's extractor reads at most that much; a
//! larger body is answered 413 and counted under its status like any other answer.

use std::time::Duration;

use axum::routing::post;
use axum::Router;
use runtime::config::ServiceConfig;
use runtime::Observability;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn post_body(address: std::net::SocketAddr, size: usize) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer 413 before reading the whole body: a failed write is fine.
    let _ = stream.write_all(&vec![b'x'; size]).await;
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer)).await;
    answer.lines().next().unwrap_or_default().to_string()
}

/// The uploads service of `spec` (YAML) serving `POST /echo` on a free port.
async fn serve_echo(
    spec: &str,
) -> (
    Observability,
    std::net::SocketAddr,
    tokio::task::JoinHandle<anyhow::Result<runtime::server::ShutdownReport>>,
) {
    let spec: contract::Spec = serde_yaml::from_str(spec).unwrap();
    let env = |_: &str| None;
    let mut config = ServiceConfig::resolve(spec, env).unwrap();
    config.spec.shutdown.drain = contract::Duration::from_millis(0);
    let obs = Observability::new(config, env).unwrap();
    let routes: Router<Observability> =
        Router::new().route("/echo", post(|body: String| async move { body.len().to_string() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(runtime::serve_on(obs.clone(), routes, obs.clone(), listener, None));
    assert!(runtime::server::wait_until_listening(address, Duration::from_secs(5)).await);
    (obs, address, server)
}

async fn stop(obs: &Observability, server: tokio::task::JoinHandle<anyhow::Result<runtime::server::ShutdownReport>>) {
    obs.shutdown.begin();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_body_past_the_spec_limit_is_answered_413_and_counted() {
    let (obs, address, server) = serve_echo(
        "service: {name: uploads, port: 8080, limits: {request_body_bytes: 1024}}\nmetrics:\n  builtin:\n    http: {}\n",
    )
    .await;
    assert!(post_body(address, 1000).await.contains("200"), "within the limit");
    assert!(post_body(address, 1024).await.contains("200"), "at the limit");
    assert!(post_body(address, 4096).await.contains("413"), "past the limit");
    let metrics = obs.registry.encode(runtime::metrics::Format::Text);
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("http_requests_total{") && l.contains("status=\"413\"")),
        "{metrics}"
    );
    stop(&obs, server).await;
}

#[tokio::test]
async fn the_default_limit_is_two_mebibytes() {
    // The default is axum's own, so the runtime adds no layer for it: this proves it holds.
    let (obs, address, server) =
        serve_echo("service: {name: uploads, port: 8080}\nmetrics:\n  builtin:\n    http: {}\n").await;
    assert_eq!(obs.config.spec.service.limits.request_body_bytes, 2 * 1024 * 1024);
    assert!(
        post_body(address, 2 * 1024 * 1024).await.contains("200"),
        "at the limit"
    );
    assert!(post_body(address, 2 * 1024 * 1024 + 1).await.contains("413"), "past it");
    stop(&obs, server).await;
}
