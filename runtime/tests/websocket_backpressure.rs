//! A WebSocket client that never reads while the server keeps sending: the server's sends
//! give up after `SEND_TIMEOUT` (the session ends and `send_failed` is counted) instead of
//! waiting for as long as the client lives, and a shutdown does not wait out its grace.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use runtime::config::ServiceConfig;
use runtime::websocket::{Session, SEND_TIMEOUT};
use runtime::Observability;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn observability() -> Observability {
    let spec: contract::Spec = serde_yaml::from_str(
        "service: {name: pusher, port: 8080}\nmetrics:\n  builtin:\n    websocket: {error_types: [send_failed]}\n",
    )
    .unwrap();
    let env = |_: &str| None;
    let mut config = ServiceConfig::resolve(spec, env).unwrap();
    config.spec.shutdown.drain = contract::Duration::from_millis(0);
    config.spec.shutdown.grace = contract::Duration::from_millis(60_000);
    Observability::new(config, env).unwrap()
}

/// Pushes 64 KiB frames as fast as the client takes them, until a send fails or shutdown.
async fn push(mut socket: WebSocket, obs: Observability) {
    let session = Session::open(obs.builtins.websocket.clone(), "pushed".into());
    let mut draining = std::pin::pin!(obs.shutdown.draining());
    let frame = vec![7u8; 64 * 1024];
    loop {
        tokio::select! {
            () = &mut draining => {
                runtime::websocket::close_going_away(&mut socket).await;
                return;
            }
            sent = runtime::websocket::send(&mut socket, Message::Binary(frame.clone().into())) => {
                if sent.is_err() {
                    session.error("send_failed");
                    return;
                }
            }
        }
    }
}

async fn upgrade(upgrade: WebSocketUpgrade, State(obs): State<Observability>) -> axum::response::Response {
    // Tracked, so the shutdown waits for the session as it would for a real one.
    upgrade.on_upgrade(move |socket| {
        let session = obs.shutdown.spawn(push(socket, obs.clone()));
        async move {
            let _ = session.await;
        }
    })
}

/// Opens a WebSocket by hand and then never reads another byte from it.
async fn connect_and_never_read(address: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            b"GET /push HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 101", "the upgrade is accepted");
    stream
}

async fn errors(address: SocketAddr) -> f64 {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("websocket_errors_total{type=\"send_failed\"}"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn start(obs: &Observability) -> (SocketAddr, tokio::task::JoinHandle<runtime::server::ShutdownReport>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let routes: Router<Observability> = Router::new().route("/push", get(upgrade));
    let serving = runtime::serve_on(obs.clone(), routes, obs.clone(), listener, None);
    let server = tokio::spawn(async move { serving.await.unwrap() });
    assert!(runtime::server::wait_until_listening(address, Duration::from_secs(5)).await);
    (address, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped_after_the_send_timeout_and_counted() {
    let obs = observability();
    let (address, server) = start(&obs).await;
    let started = Instant::now();
    let _client = connect_and_never_read(address).await;
    let until = Instant::now() + SEND_TIMEOUT + Duration::from_secs(10);
    while errors(address).await < 1.0 {
        assert!(Instant::now() < until, "the stuck session never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ended = started.elapsed();
    println!("the session of a client that never reads ended after {ended:?}");
    assert!(
        ended >= SEND_TIMEOUT,
        "{ended:?}: the buffers filled, then the send waited"
    );
    obs.shutdown.begin();
    let report = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
    assert!(report.clean, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_does_not_hold_up_shutdown_for_the_grace() {
    let obs = observability();
    let (address, server) = start(&obs).await;
    let _client = connect_and_never_read(address).await;
    // Long enough for the socket's buffers to fill, so the session is stuck in a send.
    tokio::time::sleep(Duration::from_millis(500)).await;
    obs.shutdown.begin();
    let report = tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .unwrap()
        .unwrap();
    println!(
        "shutdown with a stuck client took {:.2} s of a 60 s grace",
        report.seconds
    );
    assert!(
        report.seconds < (SEND_TIMEOUT + Duration::from_secs(3)).as_secs_f64(),
        "{report:?}"
    );
    assert!(report.clean, "{report:?}");
}
