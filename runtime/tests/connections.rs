//! The server against clients that hold connections without finishing a request: slowloris
//! trickling headers, idle connections past the connection limit, and more idle
//! connections than the process has file descriptors. Through all of them another client's
//! `/healthz` answers, and the server closes what it must and counts it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::Router;
use runtime::config::ServiceConfig;
use runtime::connections::Limits;
use runtime::Observability;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn observability(limits: Limits) -> Observability {
    let spec: contract::Spec =
        serde_yaml::from_str("service: {name: conns, port: 8080}\nmetrics:\n  builtin:\n    http: {}\n").unwrap();
    let env = |_: &str| None;
    let mut config = ServiceConfig::resolve(spec, env).unwrap();
    config.connection_limits = limits;
    config.spec.shutdown.drain = contract::Duration::from_millis(0);
    config.spec.shutdown.grace = contract::Duration::from_millis(2000);
    Observability::new(config, env).unwrap()
}

async fn serve(obs: &Observability) -> (SocketAddr, tokio::task::JoinHandle<runtime::server::ShutdownReport>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let serving = runtime::serve_on(obs.clone(), Router::new(), obs.clone(), listener, None);
    let server = tokio::spawn(async move { serving.await.unwrap() });
    assert!(runtime::server::wait_until_listening(address, Duration::from_secs(5)).await);
    (address, server)
}

/// A GET on a fresh connection: the status line and how long the answer took (bounded).
async fn get(address: SocketAddr, path: &str) -> (String, Duration) {
    let started = Instant::now();
    let exchange = async {
        let mut stream = TcpStream::connect(address).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        std::io::Result::Ok(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map(|r| r.unwrap_or_else(|e| format!("failed: {e}")))
        .unwrap_or_else(|_| "timed out".into());
    (answer, started.elapsed())
}

fn counter(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Sends a request head a line at a time, forever (bounded), and reports when the server
/// closed the connection: `None` if it never did.
async fn trickle(address: SocketAddr) -> Option<Duration> {
    let started = Instant::now();
    let stream = TcpStream::connect(address).await.ok()?;
    let (mut read, mut write) = stream.into_split();
    write.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n").await.ok()?;
    let sending = async {
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if write.write_all(b"X-Slow: 1\r\n").await.is_err() {
                break;
            }
        }
        std::future::pending::<()>().await;
    };
    let closed = async {
        let mut buffer = [0u8; 512];
        // A 408 answer may come first; the close is what counts.
        while let Ok(read) = read.read(&mut buffer).await {
            if read == 0 {
                break;
            }
        }
    };
    tokio::select! {
        () = closed => Some(started.elapsed()),
        () = sending => None,
        () = tokio::time::sleep(Duration::from_secs(15)) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_at_the_header_timeout_while_healthz_answers() {
    let limits = Limits {
        header_read_timeout: Duration::from_secs(2),
        ..Limits::for_this_process()
    };
    let obs = observability(limits);
    let (address, server) = serve(&obs).await;
    let slow: Vec<_> = (0..500).map(|_| tokio::spawn(trickle(address))).collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (answer, took) = get(address, "/healthz").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    println!("/healthz answered in {took:?} beside 500 slowloris connections");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let mut closed_after = Vec::new();
    for task in slow {
        closed_after.push(
            task.await
                .unwrap()
                .expect("the server closes every trickling connection"),
        );
    }
    let earliest = closed_after.iter().min().unwrap();
    let latest = closed_after.iter().max().unwrap();
    println!("slowloris connections closed after {earliest:?} to {latest:?}");
    assert!(
        *earliest >= Duration::from_millis(1900),
        "closed before the timeout: {earliest:?}"
    );
    assert!(*latest < Duration::from_secs(10), "{latest:?}");
    let (metrics, _) = get(address, "/metrics").await;
    let timeouts = counter(&metrics, "obs_http_connections_closed_total{reason=\"header_timeout\"}");
    assert!(timeouts >= 500.0, "{timeouts}\n{metrics}");
    obs.shutdown.begin();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_past_the_limit_make_room_for_new_ones() {
    let limits = Limits {
        header_read_timeout: Duration::from_secs(60),
        max_connections: 50,
    };
    let obs = observability(limits);
    let (address, server) = serve(&obs).await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(address).await.unwrap());
    }
    let (answer, took) = get(address, "/healthz").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    println!("/healthz answered in {took:?} with 200 idle connections over a limit of 50");
    // The oldest idle connections were the ones closed.
    let mut buffer = [0u8; 1];
    let first = tokio::time::timeout(Duration::from_secs(5), idle[0].read(&mut buffer)).await;
    assert!(
        matches!(first, Ok(Ok(0)) | Ok(Err(_))),
        "the oldest idle connection is closed"
    );
    let (metrics, _) = get(address, "/metrics").await;
    let shed = counter(&metrics, "obs_http_connections_closed_total{reason=\"shed\"}");
    assert!(shed >= 150.0, "{shed}");
    obs.shutdown.begin();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_do_not_hold_up_shutdown() {
    // A header timeout far past the 2 s grace: only dropping idle connections ends in time.
    let limits = Limits {
        header_read_timeout: Duration::from_secs(60),
        ..Limits::for_this_process()
    };
    let obs = observability(limits);
    let (address, server) = serve(&obs).await;
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(TcpStream::connect(address).await.unwrap());
    }
    let mut half = TcpStream::connect(address).await.unwrap();
    half.write_all(
        b"GET /healthz HTTP/1.1
Host: te",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    obs.shutdown.begin();
    let report = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
    println!(
        "shutdown with 6 idle connections took {:.2} s of a 2 s grace",
        report.seconds
    );
    assert!(report.clean, "{report:?}");
    let mut buffer = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(2), idle[0].read(&mut buffer)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the idle connection is closed");
}

/// The server half of the descriptor test: run by it in a child process whose open-file
/// limit is lowered, it serves until its parent is done (at most a minute).
#[tokio::test]
#[ignore = "run by idle_connections_past_the_descriptor_limit_do_not_stop_healthz in a child process"]
async fn descriptor_limited_server() {
    let Ok(port_file) = std::env::var("OBS_TEST_PORT_FILE") else {
        return;
    };
    let obs = observability(Limits::for_this_process());
    let (address, _server) = serve(&obs).await;
    std::fs::write(&port_file, address.port().to_string()).unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_past_the_descriptor_limit_do_not_stop_healthz() {
    // The child gets 1,024 descriptors, as the issue measured; a parent without room for
    // its own ends of the connections scales the scene down, keeping it past the limit.
    let own = runtime::connections::descriptor_limit();
    let child_limit = 1024.min(own.saturating_sub(200) / 2);
    assert!(
        child_limit >= 200,
        "this test needs `ulimit -n` of at least 600 (have {own})"
    );
    let connections = child_limit + child_limit / 8;
    let dir = tempfile::tempdir().unwrap();
    let port_file: PathBuf = dir.path().join("port");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n {child_limit} && exec \"$0\" descriptor_limited_server --exact --include-ignored --nocapture"
        ))
        .arg(std::env::current_exe().unwrap())
        .env("OBS_TEST_PORT_FILE", &port_file)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let port = {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|p| p.trim().parse::<u16>().ok())
            {
                break port;
            }
            assert!(Instant::now() < until, "the child server never started");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut idle = Vec::new();
    for _ in 0..connections {
        idle.push(TcpStream::connect(address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (answer, took) = get(address, "/healthz").await;
    println!("/healthz answered in {took:?} beside {connections} idle connections, the server's descriptor limit {child_limit}");
    let (metrics, _) = get(address, "/metrics").await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let shed = counter(&metrics, "obs_http_connections_closed_total{reason=\"shed\"}");
    assert!(shed > 0.0, "{metrics}");
}
