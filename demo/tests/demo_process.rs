//! The demo binary over real sockets (port 0, loopback): WebSocket replies and accounting
//! when a client vanishes, SIGTERM with a request, a socket and a job in flight (nothing
//! dropped, readiness 503, close frames, exit 0, the shutdown duration logged), hostile
//! label values and headers, and the `healthcheck` subcommand. Every wait is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use runtime::http_client;
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_obs-demo");

struct Demo {
    child: Child,
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Demo {
    fn start() -> Self {
        let mut child = Command::new(BIN)
            .args(["--port", "0", "--log-level", "debug"])
            .env_remove("OBS_SPEC")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("obs-demo starts");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("\"service started\"") {
                    let _ = tx.send(line.clone());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let started = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("obs-demo logs `service started` within 20s");
        let started: serde_json::Value = serde_json::from_str(&started).unwrap();
        let port = started["address"]
            .as_str()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        Demo { child, port, lines }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let until = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < until,
                "obs-demo did not exit within {within:?}; logs:\n{}",
                self.lines.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn logs(&self) -> Vec<serde_json::Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap()
    }

    async fn metrics(&self) -> String {
        http_client::get(&self.url("/metrics"), Duration::from_secs(5))
            .await
            .unwrap()
            .text()
    }

    /// Polls the exposition until `line` appears, for up to five seconds.
    async fn wait_for_metric(&self, line: &str) {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let text = self.metrics().await;
            if text.lines().any(|l| l == line) {
                return;
            }
            assert!(
                Instant::now() < until,
                "`{line}` never appeared:\n{}",
                text.lines()
                    .filter(|l| l.starts_with("websocket"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn websocket_replies_with_the_count_and_survives_a_vanished_client() {
    let demo = Demo::start();
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/ws", demo.port))
        .await
        .unwrap();
    for (i, text) in ["one", "two", "three"].iter().enumerate() {
        socket.send(Message::Text((*text).into())).await.unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let reply: serde_json::Value = serde_json::from_str(reply.to_text().unwrap()).unwrap();
        assert_eq!(reply["count"], i + 1);
    }
    demo.wait_for_metric("websocket_active_connections 1").await;
    demo.wait_for_metric("websocket_messages_total 3").await;
    demo.wait_for_metric("websocket_message_size_bytes_count 3").await;
    // Vanish: drop the TCP connection without a close frame.
    drop(socket);
    demo.wait_for_metric("websocket_active_connections 0").await;
    demo.wait_for_metric("websocket_connection_duration_seconds_count 1")
        .await;
    let logs = demo.logs();
    assert!(logs
        .iter()
        .any(|l| l["message"] == "WebSocket connected" && l["session_id"].is_string()));
    assert!(logs
        .iter()
        .any(|l| l["message"] == "WebSocket disconnected" && l["messages"] == 3));
}

#[tokio::test]
async fn sigterm_drains_without_dropping_anything() {
    let mut demo = Demo::start();
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/ws", demo.port))
        .await
        .unwrap();
    let job = http_client::request(
        "POST",
        &demo.url("/api/jobs"),
        &[("Content-Type", "application/json"), ("X-Request-ID", "req-shutdown-1")],
        Some(br#"{"type": "report", "duration_ms": 1500}"#),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(job.status, 202);
    let slow_url = demo.url("/api/slow?ms=3000");
    let slow = tokio::spawn(async move { http_client::get(&slow_url, Duration::from_secs(20)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    demo.sigterm();
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        let ready = http_client::get(&demo.url("/readyz"), Duration::from_secs(2))
            .await
            .unwrap();
        if ready.status == 503 {
            assert!(ready.text().contains("shutting_down"));
            break;
        }
        assert!(
            Instant::now() < until,
            "readiness stayed {} after SIGTERM",
            ready.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The socket gets a close frame once the 2s drain has passed.
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(message) = socket.next().await {
            if let Ok(Message::Close(frame)) = message {
                return frame;
            }
        }
        None
    })
    .await
    .expect("a close frame within 10s");
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1001));
    assert!(
        signalled.elapsed() >= Duration::from_millis(1900),
        "the close came after the drain delay"
    );
    let slow = slow.await.unwrap().expect("the in-flight request was answered");
    assert_eq!(slow.status, 200, "an accepted request is never dropped");
    let status = demo.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "exit {status:?}");
    let logs = demo.logs();
    let complete = logs
        .iter()
        .find(|l| l["message"] == "shutdown complete")
        .expect("shutdown complete logged");
    assert!(complete["shutdown_seconds"].as_f64().unwrap() >= 2.0);
    assert_eq!(complete["clean"], true);
    let job_done = logs
        .iter()
        .find(|l| l["message"] == "job finished")
        .expect("the queued job finished during shutdown");
    let request_trace = logs
        .iter()
        .find(|l| l["request_id"] == "req-shutdown-1" && l["trace_id"].is_string())
        .expect("the request's lines carry a trace id");
    assert_eq!(
        job_done["trace_id"], request_trace["trace_id"],
        "the job continued the request's trace"
    );
    assert!(logs.iter().any(|l| l["message"] == "shutdown started"));
}

#[tokio::test]
async fn a_message_over_the_limit_gets_a_1009_close_frame() {
    let demo = Demo::start();
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/ws", demo.port))
        .await
        .unwrap();
    socket.send(Message::Text("x".repeat(200 * 1024).into())).await.unwrap();
    let close = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Close(frame)) => return frame,
                Ok(_) => {}
                Err(error) => panic!("the connection dropped without a close frame: {error}"),
            }
        }
        None
    })
    .await
    .expect("a close frame within 5 s");
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1009), "message too big");
    demo.wait_for_metric("websocket_errors_total{type=\"too_large\"} 1")
        .await;
}

#[tokio::test]
async fn a_second_sigterm_ends_the_shutdown_at_once() {
    let mut demo = Demo::start();
    // A request that keeps the graceful shutdown waiting far longer than this test does.
    let slow_url = demo.url("/api/slow?ms=20000");
    let _slow = tokio::spawn(async move { http_client::get(&slow_url, Duration::from_secs(30)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    demo.sigterm();
    let until = Instant::now() + Duration::from_secs(5);
    while !demo.logs().iter().any(|l| l["message"] == "shutdown started") {
        assert!(Instant::now() < until, "no shutdown started within 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    demo.sigterm();
    let status = demo.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(143), "exit {status:?}");
    assert!(demo
        .logs()
        .iter()
        .any(|l| l["message"].as_str().is_some_and(|m| m.starts_with("second signal"))));
    assert!(
        !demo.logs().iter().any(|l| l["message"] == "shutdown complete"),
        "the shutdown was cut short"
    );
}

/// Sends raw bytes as one HTTP request and returns the status code.
fn raw_request(port: u16, head: &[u8]) -> Option<u16> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(head).ok()?;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
}

#[tokio::test]
async fn hostile_inputs_neither_crash_nor_grow_without_bound() {
    let demo = Demo::start();
    let mut invalid = b"GET /api/notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Client: ".to_vec();
    invalid.extend_from_slice(&[0xff, 0xfe, 0x80]);
    invalid.extend_from_slice(b"\r\n\r\n");
    assert_eq!(raw_request(demo.port, &invalid), Some(200));
    let mut huge = b"GET /api/notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-ID: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    huge.extend_from_slice(b"\r\n\r\n");
    let status = raw_request(demo.port, &huge);
    assert!(
        matches!(status, None | Some(400 | 431)),
        "a 1 MB header is refused, got {status:?}"
    );
    let before = demo.rss_kb();
    let port = demo.port;
    let workers: Vec<_> = (0..8)
        .map(|w| {
            tokio::spawn(async move {
                for i in (w..10_000).step_by(8) {
                    let client = format!("client-{i}");
                    let url = format!("http://127.0.0.1:{port}/api/notes");
                    let response =
                        http_client::request("GET", &url, &[("X-Client", &client)], None, Duration::from_secs(10))
                            .await
                            .unwrap();
                    assert_eq!(response.status, 200);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let grown_kb = demo.rss_kb().saturating_sub(before);
    let text = demo.metrics().await;
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("api_client_requests_total{"))
        .collect();
    assert_eq!(series.len(), 51, "50 clients and `other`");
    assert!(series.contains(&r#"api_client_requests_total{client="invalid"} 1"#));
    assert!(series
        .iter()
        .any(|l| l.starts_with(r#"api_client_requests_total{client="other"} "#)));
    let dropped = text
        .lines()
        .find(|l| l.starts_with(r#"obs_series_dropped_total{metric="api_client_requests_total"}"#))
        .unwrap();
    assert_eq!(
        dropped,
        r#"obs_series_dropped_total{metric="api_client_requests_total"} 9951"#
    );
    assert!(
        grown_kb < 30 * 1024,
        "10,000 distinct label values grew memory by {grown_kb} kB"
    );
    assert_eq!(
        http_client::get(&demo.url("/healthz"), Duration::from_secs(5))
            .await
            .unwrap()
            .status,
        200
    );
    let findings = contract::conformance::compare(
        &contract::Catalog::from_spec(
            &contract::load_file(std::path::Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../obs.yaml"
            )))
            .unwrap()
            .spec,
        ),
        "app",
        &contract::exposition::parse(&text).unwrap(),
    );
    assert!(findings.is_empty(), "{findings:#?}");
}

#[tokio::test]
async fn the_healthcheck_subcommand_probes_liveness() {
    let demo = Demo::start();
    let ok = Command::new(BIN)
        .args(["healthcheck", "--port", &demo.port.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = Command::new(BIN)
        .args(["healthcheck", "--port", &closed.to_string(), "--timeout-seconds", "2"])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("connect"),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
}

#[tokio::test]
async fn the_load_tester_drives_the_demo_and_its_counts_match_the_metrics() {
    use obs_tools::loadtest::{run_http, run_ws, HttpLoad, WsLoad};
    let demo = Demo::start();
    let ws = WsLoad {
        url: format!("ws://127.0.0.1:{}/ws", demo.port),
        sockets: 20,
        rate: 100.0,
        duration: Duration::from_secs(2),
        send_rate: 5.0,
    };
    let summary = run_ws(&ws, Arc::default()).await.unwrap();
    assert_eq!((summary.connections_opened, summary.connections_failed), (20, 0));
    let (sent, acked) = (summary.messages_sent, summary.messages_acknowledged);
    assert!(sent >= 100 && acked == sent, "sent {sent}, acknowledged {acked}");
    assert!(summary.latency.p99_ms > 0.0);
    demo.wait_for_metric(&format!("websocket_messages_total {sent}")).await;
    let http = HttpLoad {
        url: demo.url("/api/error"),
        concurrency: 2,
        duration: Duration::from_secs(1),
        rps: None,
    };
    let summary = run_http(&http, Arc::default()).await.unwrap();
    let failed = *summary.status.get("500").expect("the error endpoint answers 500");
    assert_eq!(failed, summary.messages_acknowledged);
    assert_eq!(summary.connections_opened, 2, "kept alive: {summary:?}");
    demo.wait_for_metric(&format!(
        "http_requests_total{{route=\"/api/error\",method=\"GET\",status=\"500\"}} {failed}"
    ))
    .await;
}

/// A writer the monitor prints into, readable by the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_monitor_prints_errors_busiest_metrics_and_health() {
    let demo = Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("service.log");
    std::fs::write(
        &log,
        "{\"level\":\"error\",\"message\":\"before the monitor started\"}\n",
    )
    .unwrap();
    let spec = contract::load_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../obs.yaml"
    )))
    .unwrap()
    .spec;
    let config = obs_tools::monitor::MonitorConfig {
        targets: vec![obs_tools::monitor::Target {
            name: "demo".into(),
            base_url: format!("http://127.0.0.1:{}", demo.port),
            metrics_base_url: None,
            readiness: true,
            container: None,
        }],
        metrics_path: spec.metrics.endpoint.path.clone(),
        liveness_path: spec.health.liveness.path.clone(),
        readiness_path: spec.health.readiness.path.clone(),
        logs: Some(obs_tools::monitor::LogSource::File(log.clone())),
        interval: Duration::from_millis(500),
        duration: Duration::from_secs(3),
        top: 3,
        keys: spec.logging.keys.clone(),
    };
    let captured = Captured::default();
    let out: obs_tools::monitor::Output = Arc::new(Mutex::new(Box::new(captured.clone())));
    let monitor = tokio::spawn(obs_tools::monitor::run(config, out));
    // Steady traffic for the whole run, so every snapshot after the first sees it change.
    let notes = demo.url("/api/notes");
    let traffic = tokio::spawn(async move {
        let until = Instant::now() + Duration::from_millis(2800);
        while Instant::now() < until {
            http_client::get(&notes, Duration::from_secs(5)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    writeln!(
        file,
        "{{\"timestamp\":\"t1\",\"level\":\"error\",\"message\":\"request failed\",\"request_id\":\"req-9\"}}"
    )
    .unwrap();
    writeln!(file, "{{\"timestamp\":\"t2\",\"level\":\"info\",\"message\":\"fine\"}}").unwrap();
    drop(file);
    let summary = tokio::time::timeout(Duration::from_secs(15), monitor)
        .await
        .expect("the monitor stops by itself")
        .unwrap();
    traffic.await.unwrap();
    let text = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert_eq!(summary.unhealthy_probes, 0, "{text}");
    assert_eq!(summary.errors_seen, 1, "{text}");
    assert!(text.contains("t1 ERROR request failed request_id=req-9"), "{text}");
    assert!(
        !text.contains("before the monitor started"),
        "follows from the end, like tail -f: {text}"
    );
    assert!(!text.contains("fine"));
    assert!(text.contains("liveness 200 ok  readiness 200 ready"), "{text}");
    assert!(
        text.contains("/s  http_requests_total{method=\"GET\",route=\"/api/notes\",status=\"200\"}"),
        "{text}"
    );
}
