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

    // Every client is gone: NoActiveConnections (its `for` cut to 5s) fires per replica.
    let firing = eventually(
        Duration::from_secs(45),
        "NoActiveConnections firing on both",
        || async {
            let alerts = prometheus.firing("NoActiveConnections").await?;
            Ok((alerts.len() == 2).then_some(alerts))
        },
    )
    .await;
    for alert in firing.unwrap_or_else(|e| panic!("{e}\n{}", stack.logs(None))) {
        assert_eq!(alert["metric"]["severity"], "warning", "{alert}");
        assert_eq!(alert["metric"]["job"], "ws-service", "{alert}");
    }

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
