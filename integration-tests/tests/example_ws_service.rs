//! Seed 002 end to end: `examples/ws-service` built into its image, its generated compose
//! stack up (both replicas healthy by the generated healthcheck, Prometheus scraping them),
//! the load tester and a misbehaving client driving WebSocket traffic, and then: every
//! declared metric scraped with its type and labels and moved by the traffic, every
//! dashboard query answered, each replica's exposition equal to the spec, the seed's
//! NoActiveConnections alert firing once the clients are gone, and after a SIGTERM every
//! declared log event written with its fields.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use integration_tests::compose::{Example, Tuning};
use integration_tests::*;
use tokio_tungstenite::tungstenite::Message;

const REPLICAS: [&str; 2] = ["app_blue", "app_green"];
const PORT: u16 = 8080;

/// A client that sends a few JSON messages and one that is not JSON (an unhandled error).
async fn misbehaving_client(port: u16) {
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws"))
        .await
        .unwrap();
    for text in [r#"{"hello": 1}"#, r#"{"hello": 2}"#, "not json"] {
        socket.send(Message::Text(text.into())).await.unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a reply within 5s")
            .unwrap()
            .unwrap();
        let reply: serde_json::Value = serde_json::from_str(reply.to_text().unwrap()).unwrap();
        if text == "not json" {
            assert!(reply["error"].is_string(), "{reply}");
        } else {
            assert!(reply["count"].is_u64(), "{reply}");
        }
    }
    socket.close(None).await.unwrap();
}

#[tokio::test]
async fn ws_service_stack_runs_counts_alerts_and_logs_what_its_spec_declares() {
    let example = Example::load("ws-service");
    let tuning = Tuning {
        fast_alerts: vec![("NoActiveConnections".into(), "5s".into())],
        env: vec![("LOG_LEVEL".into(), "debug".into())],
        ..Tuning::default()
    };
    let stack = example.up(tuning, &["app_blue", "app_green", "prometheus"]);
    let prometheus = stack.wait_ready(&REPLICAS, 2).await;
    for replica in REPLICAS {
        let port = stack.port(replica, PORT);
        websocket_load(&format!("ws://127.0.0.1:{port}/ws")).await;
        misbehaving_client(port).await;
    }
    // A few scrapes after the traffic.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let expositions = stack.urls(&REPLICAS, PORT, "/metrics");
    let still = [(
        "shutdown_duration",
        "observed during a graceful shutdown, after which nothing scrapes the process",
    )];
    expect::component_matches_spec(&prometheus, &example, "app", &still, &expositions).await;

    // One client stays on green while blue idles: the pair is serving, so NoActiveConnections
    // (its `for` cut to 5s) stays quiet well past its `for`.
    let green = held_websocket(&format!("ws://127.0.0.1:{}/ws", stack.port("app_green", PORT))).await;
    let serving = eventually(Duration::from_secs(30), "Prometheus seeing green's client", || async {
        let found = prometheus.query("sum(active_connections) == 1").await?;
        Ok((!found.is_empty()).then_some(()))
    })
    .await;
    serving.unwrap_or_else(|e| panic!("{e}\n{}", stack.logs(None)));
    tokio::time::sleep(Duration::from_secs(10)).await;
    let quiet = prometheus.firing("NoActiveConnections").await.unwrap();
    assert!(quiet.is_empty(), "fired while green serves a client: {quiet:?}");

    // Every client is gone: it fires once, for the whole pair.
    green.abort();
    let firing = eventually(
        Duration::from_secs(45),
        "NoActiveConnections firing for the pair",
        || async {
            let alerts = prometheus.firing("NoActiveConnections").await?;
            Ok((!alerts.is_empty()).then_some(alerts))
        },
    )
    .await;
    let firing = firing.unwrap_or_else(|e| panic!("{e}\n{}", stack.logs(None)));
    assert_eq!(firing.len(), 1, "{firing:?}");
    assert_eq!(firing[0]["metric"]["severity"], "warning", "{}", firing[0]);
    assert_eq!(firing[0]["metric"]["job"], "ws-service", "{}", firing[0]);

    // One request's lines carry the spec's request fields; the printed monitor command
    // sees both colours healthy.
    let green = stack.port("app_green", PORT);
    websocket_request(&format!("ws://127.0.0.1:{green}/ws"), "e2e-context-ws").await;
    let lines = stack.output_lines("app_green");
    let missing = expect::request_lines_carry(&example.spec, &lines, "e2e-context-ws", &["request_id"]);
    assert!(missing.is_empty(), "{missing:#?}");
    expect::printed_monitor_passes(&example).await;

    // SIGTERM with a client connected: it gets a going-away close frame, the replica exits
    // 0, and its log holds every declared event with its fields.
    let closed = held_websocket(&format!("ws://127.0.0.1:{}/ws", stack.port("app_blue", PORT))).await;
    stack.stop("app_blue", Duration::from_secs(40)).await;
    let code = tokio::time::timeout(Duration::from_secs(5), closed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, Some(1001), "close code of the held client");
    assert_eq!(stack.exit_code("app_blue"), Some(0), "{}", stack.logs(Some("app_blue")));
    let lines = stack.output_lines("app_blue");
    let missing = expect::missing_log_events(&example.spec, &lines);
    assert!(missing.is_empty(), "{missing:#?}\n{}", lines.join("\n"));
}
