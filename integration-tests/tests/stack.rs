//! The generated stack of the top-level obs.yaml against real software: two demo replicas
//! (blue, green), Prometheus and Alertmanager with the generated configuration (intervals
//! shortened and targets mapped to loopback in a test-only copy). Checks that both targets
//! are up; that every declared metric reaches Prometheus with its type and labels; that
//! every recording rule and every dashboard query returns data; that the live drift check
//! is clean; and that an alert fires and reaches a webhook with the spec's labels and
//! annotations.

use std::collections::BTreeSet;
use std::time::Duration;

use contract::model::MetricType;
use futures_util::{SinkExt, StreamExt};
use integration_tests::*;
use runtime::http_client;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

async fn request(method: &str, url: &str, body: Option<&str>) -> u16 {
    let headers = [("Content-Type", "application/json"), ("X-Client", "e2e")];
    http_client::request(method, url, &headers, body.map(str::as_bytes), Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
        .status
}

/// HTTP, WebSocket and job traffic against one replica, including errors.
async fn drive_traffic(port: u16) {
    let base = format!("http://127.0.0.1:{port}");
    for i in 0..10 {
        assert_eq!(
            request(
                "POST",
                &format!("{base}/api/notes"),
                Some(&format!(r#"{{"text": "note {i}"}}"#))
            )
            .await,
            201
        );
        assert_eq!(request("GET", &format!("{base}/api/notes"), None).await, 200);
    }
    assert_eq!(
        request("POST", &format!("{base}/api/tasks"), Some(r#"{"text": "task"}"#)).await,
        201
    );
    assert_eq!(request("GET", &format!("{base}/api/notes/1"), None).await, 200);
    assert_eq!(request("GET", &format!("{base}/api/notes/9999"), None).await, 404);
    assert_eq!(request("GET", &format!("{base}/no/such/route"), None).await, 404);
    assert_eq!(request("GET", &format!("{base}/api/slow?ms=50"), None).await, 200);
    for _ in 0..3 {
        assert_eq!(request("GET", &format!("{base}/api/error"), None).await, 500);
    }
    for body in [
        r#"{"type": "email"}"#,
        r#"{"type": "report"}"#,
        r#"{"type": "report", "fail": true, "duration_ms": 10}"#,
    ] {
        assert_eq!(request("POST", &format!("{base}/api/jobs"), Some(body)).await, 202);
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws"))
        .await
        .unwrap();
    for i in 0..5 {
        socket.send(Message::Text(format!("hello {i}").into())).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
    socket.close(None).await.unwrap();
    let (vanishing, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws"))
        .await
        .unwrap();
    drop(vanishing);
}

/// Names of recorded series with their static labels, from the generated rule files.
fn recorded_series(generated: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in ["recording.yml", "slos.yml"] {
        let text = std::fs::read_to_string(generated.join("prometheus/rules").join(file)).unwrap();
        let rules: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        for group in rules["groups"].as_sequence().unwrap() {
            for rule in group["rules"].as_sequence().unwrap() {
                let Some(record) = rule["record"].as_str() else {
                    continue;
                };
                let labels: Vec<String> = rule["labels"]
                    .as_mapping()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| format!("{}=\"{}\"", k.as_str().unwrap(), v.as_str().unwrap()))
                    .collect();
                out.push(if labels.is_empty() {
                    record.to_string()
                } else {
                    format!("{record}{{{}}}", labels.join(","))
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Every Prometheus query of every generated dashboard, Grafana variables filled in.
fn dashboard_queries(generated: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(generated.join("grafana/dashboards")).unwrap() {
        let path = entry.unwrap().path();
        let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for panel in dashboard["panels"].as_array().unwrap() {
            if panel["datasource"]["type"] != "prometheus" {
                continue;
            }
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"]
                    .as_str()
                    .unwrap()
                    .replace("$__rate_interval", "1m")
                    .replace("$__range", "1h")
                    .replace("$__interval", "15s");
                out.push((
                    format!(
                        "{} / {}",
                        dashboard["title"].as_str().unwrap(),
                        panel["title"].as_str().unwrap()
                    ),
                    expr,
                ));
            }
        }
    }
    out
}

#[tokio::test]
async fn generated_stack_scrapes_records_alerts_and_notifies() {
    let generated = workspace().join("generated");
    let spec = contract::load_file(&workspace().join("obs.yaml")).unwrap().spec;
    let resolved = contract::Resolved::of(&spec);
    let catalog = &resolved.catalog;
    let (blue_port, green_port, prometheus_port, alertmanager_port) =
        (free_port(), free_port(), free_port(), free_port());
    let webhook = Webhook::start().await;
    let am_config = alertmanager_config(&generated, &webhook.url);
    let prom_config = prometheus_config(
        &generated,
        &[
            ("app_blue:8000", format!("127.0.0.1:{blue_port}")),
            ("app_green:8000", format!("127.0.0.1:{green_port}")),
        ],
        &format!("127.0.0.1:{alertmanager_port}"),
        &[("NoActiveWebSocketConnections", "5s")],
    );
    let (blue, green, alertmanager) = tokio::join!(
        start_demo(blue_port, "blue"),
        start_demo(green_port, "green"),
        start_alertmanager(am_config.path(), alertmanager_port)
    );
    let prometheus_container = start_prometheus(prom_config.path(), prometheus_port).await;
    let prometheus = Prometheus::new(prometheus_port);
    let diagnose = || async {
        format!(
            "{}\n{}\n{}",
            logs(&prometheus_container).await,
            logs(&alertmanager).await,
            logs(&blue).await
        )
    };

    // 1. Both replicas are scraped.
    let up = eventually(Duration::from_secs(30), "both targets up", || async {
        let targets = prometheus.targets().await?;
        Ok((targets.len() == 2 && targets.iter().all(|(_, health)| health == "up")).then_some(targets))
    })
    .await;
    assert!(up.is_ok(), "{}\n{}", up.unwrap_err(), diagnose().await);

    // 2. Traffic on both replicas, then give Prometheus a few scrapes and rule evaluations.
    tokio::join!(drive_traffic(blue_port), drive_traffic(green_port));
    tokio::time::sleep(Duration::from_secs(6)).await;

    // Every declared metric arrives with its declared type and labels.
    let target_labels: BTreeSet<&str> = ["__name__", "job", "instance", "replica", "le"].into();
    for family in catalog.for_component("app") {
        let metadata_name = if family.kind == MetricType::Counter {
            family.name.trim_end_matches("_total")
        } else {
            family.name.as_str()
        };
        let metadata = prometheus
            .api(&format!("/api/v1/metadata?metric={}", encode(metadata_name)))
            .await
            .unwrap();
        let found_type = metadata[metadata_name][0]["type"]
            .as_str()
            .unwrap_or("none")
            .to_string();
        assert_eq!(
            found_type,
            family.kind.as_str(),
            "type of {} in Prometheus",
            family.name
        );
        let sample = if family.kind == MetricType::Histogram {
            format!("{}_count", family.name)
        } else {
            family.name.clone()
        };
        let series = prometheus
            .api(&format!("/api/v1/series?match[]={}", encode(&sample)))
            .await
            .unwrap();
        let series = series.as_array().unwrap();
        assert!(!series.is_empty(), "{} has no series in Prometheus", family.name);
        let declared: BTreeSet<String> = family.label_names().map(String::from).collect();
        for labels in series {
            let own: BTreeSet<String> = labels
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| !target_labels.contains(k.as_str()))
                .cloned()
                .collect();
            assert_eq!(own, declared, "labels of {} in Prometheus", family.name);
        }
    }

    // Every recording rule returns data.
    for record in recorded_series(&generated) {
        let result = prometheus
            .query(&record)
            .await
            .unwrap_or_else(|e| panic!("{record}: {e}"));
        assert!(!result.is_empty(), "recording rule {record} returned nothing");
    }

    // Every dashboard query runs and returns series.
    let queries = dashboard_queries(&generated);
    assert!(queries.len() > 40, "only {} dashboard queries", queries.len());
    for (panel, expr) in queries {
        let result = prometheus
            .query(&expr)
            .await
            .unwrap_or_else(|e| panic!("{panel}: `{expr}` failed: {e}"));
        assert!(!result.is_empty(), "{panel}: `{expr}` returned no series");
    }

    // The live drift check of a replica against the spec is clean.
    let url = format!("http://127.0.0.1:{blue_port}/metrics");
    let text = generator::drift::fetch_async(&url, Duration::from_secs(10))
        .await
        .unwrap();
    let report = generator::drift::check_text(&resolved, None, &text, &url).unwrap();
    assert!(report.findings.is_empty(), "{:#?}", report.findings);

    // 3. No WebSocket is open any more: NoActiveWebSocketConnections fires (its `for` cut
    // to 5s in the test copy) and Alertmanager posts it to the webhook.
    let notification = eventually(
        Duration::from_secs(45),
        "NoActiveWebSocketConnections at the webhook",
        || async {
            let notifications = webhook.notifications().await;
            Ok(notifications
                .into_iter()
                .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
                .find(|a| a["labels"]["alertname"] == "NoActiveWebSocketConnections"))
        },
    )
    .await;
    let alert = match notification {
        Ok(alert) => alert,
        Err(error) => panic!(
            "{error}\nfiring: {:?}\n{}",
            prometheus.query("ALERTS").await,
            diagnose().await
        ),
    };
    let rule = spec
        .alerts
        .iter()
        .flat_map(|g| &g.rules)
        .find(|r| r.name == "NoActiveWebSocketConnections")
        .unwrap();
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["labels"]["severity"], "warning");
    assert_eq!(alert["labels"]["service"], "ws-counter");
    assert_eq!(alert["labels"]["team"], "platform");
    assert_eq!(
        alert["labels"]["environment"], "e2e",
        "external label expanded from APP_ENV"
    );
    assert_eq!(alert["annotations"]["summary"], rule.summary.as_str());
    assert_eq!(
        alert["annotations"]["description"],
        rule.description.as_deref().unwrap()
    );
    assert_eq!(
        alert["annotations"]["runbook_url"],
        "https://runbooks.example.com/ws-counter/NoActiveWebSocketConnections"
    );
    drop(green);
}
