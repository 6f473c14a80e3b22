//! Seed 000 end to end: `examples/ws-blue-green` (ws-app) built into its image, its generated
//! compose stack up with both colours, Prometheus and Alertmanager; the load tester and
//! misbehaving clients driving WebSocket traffic on both replicas, and then: every declared
//! metric scraped with its type and labels and moved, every dashboard query answered, the
//! expositions equal to the spec, a heartbeat reaching a connected client, the seed's
//! NoActiveWebSocketConnections alert firing once no replica has a client and reaching the
//! receiver Alertmanager routes it to, `/readyz` answering 503 during a graceful shutdown,
//! and every declared log event written with its fields.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use integration_tests::compose::{Example, Tuning};
use integration_tests::*;
use tokio_tungstenite::tungstenite::Message;

const REPLICAS: [&str; 2] = ["app_blue", "app_green"];
const PORT: u16 = 8000;

/// Waits for a heartbeat on a fresh socket, then breaks the rules: a message larger than
/// the service accepts (a protocol error that ends the session).
async fn heartbeat_then_oversized_message(port: u16) {
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws"))
        .await
        .unwrap();
    let heartbeat = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(message)) = socket.next().await {
            let Ok(text) = message.to_text() else { continue };
            let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
            if value["type"] == "heartbeat" {
                return value;
            }
        }
        panic!("the socket closed before a heartbeat arrived");
    })
    .await
    .expect("a heartbeat within 10s (interval 1s in this test)");
    assert!(heartbeat["timestamp"].is_string(), "{heartbeat}");
    let _ = socket.send(Message::Binary(vec![b'x'; 100 * 1024].into())).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(message)) = socket.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the server ended the session after an oversized message");
}

#[tokio::test]
async fn ws_app_stack_runs_both_colours_alerts_through_alertmanager_and_logs_its_events() {
    let example = Example::load("ws-blue-green");
    let heartbeat = |replica: &str| (replica.to_string(), "HEARTBEAT_INTERVAL_SECONDS".into(), "1".into());
    let tuning = Tuning {
        fast_alerts: vec![("NoActiveWebSocketConnections".into(), "5s".into())],
        env: vec![("LOG_LEVEL".into(), "debug".into())],
        service_env: REPLICAS.iter().map(|r| heartbeat(r)).collect(),
        ..Tuning::default()
    };
    let stack = example.up(
        tuning,
        &["app_blue", "app_green", "prometheus", "alertmanager", "pushgateway"],
    );
    // Both colours and the Pushgateway.
    let prometheus = stack.wait_ready(&REPLICAS, 3).await;
    for replica in REPLICAS {
        let port = stack.port(replica, PORT);
        websocket_load(&format!("ws://127.0.0.1:{port}/ws")).await;
        heartbeat_then_oversized_message(port).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let expositions = stack.urls(&REPLICAS, PORT, "/metrics");
    let still = [(
        "sigiq_shutdown_time_seconds",
        "set during a graceful shutdown, after which nothing scrapes the process",
    )];
    expect::component_matches_spec(&prometheus, &example, "app", &still, &expositions).await;

    // No replica has a client: the alert fires and Alertmanager delivers it to the
    // receiver its route names.
    let notification = stack
        .delivered("NoActiveWebSocketConnections", Duration::from_secs(60), None)
        .await;
    assert_eq!(notification["receiver"], "investigation", "{notification}");
    assert_eq!(notification["commonLabels"]["severity"], "warning", "{notification}");

    // One request's lines carry the spec's request fields; the printed monitor command
    // sees both colours healthy.
    let green = stack.port("app_green", PORT);
    websocket_request(&format!("ws://127.0.0.1:{green}/ws"), "e2e-context-bg").await;
    let lines = stack.output_lines("app_green");
    let missing = expect::request_lines_carry(&example.spec, &lines, "e2e-context-bg", &["request_id"]);
    assert!(missing.is_empty(), "{missing:#?}");
    expect::printed_monitor_passes(&example).await;

    // SIGTERM on blue with a client connected: readiness turns 503 while it drains, the
    // client gets a going-away close frame, the replica exits 0, and its log holds every
    // declared event with its fields.
    let port = stack.port("app_blue", PORT);
    let closed = held_websocket(&format!("ws://127.0.0.1:{port}/ws")).await;
    let readiness = format!("http://127.0.0.1:{port}/readyz");
    let draining = async {
        eventually(Duration::from_secs(5), "/readyz 503 after SIGTERM", || async {
            let answer = runtime::http_client::get(&readiness, Duration::from_secs(2)).await?;
            Ok((answer.status == 503).then_some(answer.text()))
        })
        .await
    };
    let (_, body) = tokio::join!(stack.stop("app_blue", Duration::from_secs(40)), draining);
    let body = body.unwrap_or_else(|e| panic!("{e}\n{}", stack.logs(Some("app_blue"))));
    assert!(body.contains(r#""shutting_down":true"#), "{body}");
    let code = tokio::time::timeout(Duration::from_secs(5), closed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, Some(1001), "close code of the held client");
    assert_eq!(stack.exit_code("app_blue"), Some(0), "{}", stack.logs(Some("app_blue")));
    let lines = stack.output_lines("app_blue");
    let missing = expect::missing_log_events(&example.spec, &lines);
    assert!(missing.is_empty(), "{missing:#?}\n{}", lines.join("\n"));

    // The shutdown duration, set as blue exited, reached Prometheus through the Pushgateway
    // under blue's own job and replica labels (honor_labels), not the Pushgateway's.
    let job = &example.resolved.components[0].job;
    let pushed = eventually(Duration::from_secs(30), "blue's pushed shutdown duration", || async {
        let result = prometheus
            .query(&format!(
                r#"sigiq_shutdown_time_seconds{{job="{job}", replica="blue", instance=""}}"#
            ))
            .await?;
        Ok(result
            .first()
            .and_then(|sample| sample["value"][1].as_str())
            .and_then(|value| value.parse::<f64>().ok()))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", stack.logs(Some("pushgateway"))));
    let drain = example.spec.shutdown.drain.as_secs_f64();
    assert!(
        pushed >= drain,
        "blue's shutdown took {pushed}s, under the {drain}s drain"
    );
    let green = prometheus
        .query(&format!(
            r#"sigiq_startup_time_seconds{{job="{job}", replica="green", instance=""}}"#
        ))
        .await
        .unwrap();
    assert_eq!(green.len(), 1, "green pushed its start-up time: {green:?}");
}
