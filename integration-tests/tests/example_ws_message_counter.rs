//! Seed 001 end to end: `examples/ws-message-counter` (websocket-message-counter) built into
//! its image, its generated compose stack up with Prometheus and, in Loki's place, a sink
//! that decodes Loki's push API (Loki cannot be installed here). The load tester drives
//! `/ws/`, and one client does everything the seed's log list names: floods past the rate
//! limit, sends a binary message, reconnects with its session id, sends an oversized
//! message. Then: the seed's probe bodies on `/healthz/` and `/readyz/`; every declared
//! metric scraped with its type and labels and moved (errors by each kind the client
//! caused); every dashboard query answered; the exposition on `/metrics/` equal to the spec;
//! log lines pushed to Loki by default, in streams labelled service, environment and
//! level; and after a SIGTERM every declared log event written with its fields. The seed
//! declares no alert, so none is fired.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use integration_tests::compose::{Example, Tuning};
use integration_tests::*;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const PORT: u16 = 8080;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Socket {
    tokio_tungstenite::connect_async(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .0
}

async fn reply(socket: &mut Socket) -> Value {
    let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("a reply within 5s")
        .expect("the socket is open")
        .expect("a message, not an error");
    serde_json::from_str(message.to_text().unwrap()).unwrap()
}

/// One client through every path of the seed's log list; returns its session id.
async fn eventful_client(base: &str) -> String {
    let mut socket = connect(&format!("{base}/ws/")).await;
    socket.send(Message::Text("hello".into())).await.unwrap();
    let first = reply(&mut socket).await;
    assert_eq!(first["count"], 1, "{first}");
    let session_id = first["session_id"].as_str().unwrap().to_string();
    // 30 at once: past the 20 a second the counter allows.
    for i in 0..30 {
        socket.send(Message::Text(format!("burst {i}").into())).await.unwrap();
    }
    let mut limited = 0;
    for _ in 0..30 {
        if reply(&mut socket).await["error"] == "rate limited" {
            limited += 1;
        }
    }
    assert!(limited >= 10, "{limited} of 30 were rate limited");
    socket.send(Message::Binary(vec![1, 2, 3].into())).await.unwrap();
    assert!(reply(&mut socket).await["error"].is_string());
    socket.close(None).await.unwrap();

    // Reconnecting with the session id resumes the count where it left off.
    // The server remembers the count when the first session has ended; give it a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut again = connect(&format!("{base}/ws/?session_id={session_id}")).await;
    again.send(Message::Text("back".into())).await.unwrap();
    let resumed = reply(&mut again).await;
    assert!(resumed["count"].as_u64().unwrap() > 10, "{resumed}");
    // An oversized message breaks the connection (a protocol error).
    let _ = again.send(Message::Text("x".repeat(100 * 1024).into())).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = again.next().await {}
    })
    .await;
    assert!(
        ended.is_ok(),
        "the counter ended the connection after an oversized message"
    );
    session_id
}

fn stream_labels(pushes: &[Value]) -> Vec<Value> {
    pushes
        .iter()
        .flat_map(|push| push["streams"].as_array().cloned().unwrap_or_default())
        .map(|stream| stream["stream"].clone())
        .collect()
}

#[tokio::test]
async fn ws_message_counter_stack_counts_ships_logs_to_loki_and_logs_its_events() {
    let example = Example::load("ws-message-counter");
    let tuning = Tuning {
        env: vec![("LOG_LEVEL".into(), "debug".into())],
        ..Tuning::default()
    };
    let stack = example.up(tuning, &["app", "prometheus"]);
    let prometheus = stack.wait_ready(&["app"], 1).await;
    let http = format!("http://127.0.0.1:{}", stack.port("app", PORT));
    let ws = http.replacen("http", "ws", 1);

    let live = runtime::http_client::get(&format!("{http}/healthz/"), Duration::from_secs(5))
        .await
        .unwrap();
    let live: Value = serde_json::from_slice(&live.body).unwrap();
    assert_eq!(live["status"], "healthy", "{live}");
    assert!(live["timestamp"].is_string() && live["uptime"].is_number(), "{live}");
    let ready = runtime::http_client::get(&format!("{http}/readyz/"), Duration::from_secs(5))
        .await
        .unwrap();
    let ready: Value = serde_json::from_slice(&ready.body).unwrap();
    assert_eq!(
        (ready["status"].clone(), ready["ready"].clone()),
        ("ready".into(), true.into()),
        "{ready}"
    );
    assert_eq!(ready["shutting_down"], false, "{ready}");

    websocket_load(&format!("{ws}/ws/")).await;
    let session_id = eventful_client(&ws).await;
    tokio::time::sleep(Duration::from_secs(4)).await;

    let still = [(
        "websocket_shutdown_time_seconds",
        "set during a graceful shutdown, after which nothing scrapes the process",
    )];
    let exposition = stack.urls(&["app"], PORT, "/metrics/");
    expect::component_matches_spec(&prometheus, &example, "app", &still, &exposition).await;
    for kind in ["processing_error", "protocol"] {
        let counted = prometheus
            .query(&format!(r#"websocket_errors_total{{type="{kind}"}} > 0"#))
            .await
            .unwrap();
        assert!(!counted.is_empty(), "no `{kind}` error counted");
    }

    // Loki shipping is on by default: lines arrive in streams labelled as the spec says.
    let pushed = eventually(Duration::from_secs(20), "log lines pushed to Loki", || async {
        let pushes = stack.loki_pushes().await?;
        let labels = stream_labels(&pushes);
        Ok(labels.iter().any(|l| l["level"] == "WARN").then_some((pushes, labels)))
    })
    .await;
    let (pushes, labels) = pushed.unwrap_or_else(|e| panic!("{e}\n{}", stack.logs(None)));
    for label in &labels {
        assert_eq!(label["service"], "websocket-message-counter", "{label}");
        assert_eq!(label["environment"], "production", "{label}");
        assert!(
            ["DEBUG", "INFO", "WARN", "ERROR"].contains(&label["level"].as_str().unwrap()),
            "{label}"
        );
    }
    let lines: Vec<String> = pushes
        .iter()
        .flat_map(|push| push["streams"].as_array().cloned().unwrap_or_default())
        .flat_map(|stream| stream["values"].as_array().cloned().unwrap_or_default())
        .map(|value| value[1].as_str().unwrap().to_string())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"Rate limited\"") && l.contains(&session_id)),
        "the rate-limit line of session {session_id} reached Loki"
    );

    // One request's lines, the session's included, carry the spec's request fields, the
    // client's address among them; the printed monitor command sees the counter healthy.
    websocket_request(&format!("{ws}/ws/"), "e2e-context-mc").await;
    let lines = stack.output_lines("app");
    let missing = expect::request_lines_carry(&example.spec, &lines, "e2e-context-mc", &["request_id", "client_ip"]);
    assert!(missing.is_empty(), "{missing:#?}");
    let established = expect::request_lines(&lines, "e2e-context-mc")
        .into_iter()
        .any(|l| l["event"] == "Connection established" && l["client_ip"].is_string());
    assert!(established, "Connection established carries client_ip");
    expect::printed_monitor_passes(&example).await;

    // SIGTERM with a client connected: it gets a going-away close frame, the counter exits 0,
    // and its log holds every declared event with its fields.
    let closed = held_websocket(&format!("{ws}/ws/")).await;
    stack.stop("app", Duration::from_secs(40)).await;
    let code = tokio::time::timeout(Duration::from_secs(5), closed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, Some(1001), "close code of the held client");
    assert_eq!(stack.exit_code("app"), Some(0), "{}", stack.logs(Some("app")));
    let lines = stack.output_lines("app");
    let missing = expect::missing_log_events(&example.spec, &lines);
    assert!(missing.is_empty(), "{missing:#?}\n{}", lines.join("\n"));
}
