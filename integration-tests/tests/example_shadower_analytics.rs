//! Seed 003 end to end: `examples/shadower-analytics` (analytics-backend) built into its
//! image, its generated compose stack up with PostgreSQL and Redis (local builds standing in
//! for `postgres:16-alpine` and `redis:7-alpine`), Prometheus, Alertmanager (its Slack and
//! PagerDuty receivers posting to a sink) and a 512 MiB memory limit. Traffic ingests events,
//! reads dashboards (a cache miss, then hits), reports, ad-hoc queries and insights, runs
//! csv, json and pdf exports as background jobs (pdf has no renderer and fails), deletes a
//! workspace's events and streams live events over the WebSocket. Then PostgreSQL is
//! stopped: requests answer 503, `/ready` turns 503 and `/health/detailed` names the failed
//! check, and DatabaseConnectionFailures fires and reaches both receivers its routes name.
//! Every declared metric is scraped with its type and labels and moved, every dashboard
//! query answers, the exposition equals the spec, and after a SIGTERM every declared log
//! event was written with its fields. Every line also reaches Elasticsearch (the sink
//! standing in for it, answering `_bulk` as Elasticsearch does) in its daily, error, metrics
//! and performance indices, after the ILM policy and index template; while Elasticsearch is
//! down for 30 s requests keep being answered, and their lines arrive once it is back.
//! The outage's repeated error lines are throttled, and the suppressed ones counted.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use integration_tests::compose::{Example, Stack, Tuning, ELASTICSEARCH_SERVICE};
use integration_tests::*;
use runtime::http_client;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const SERVICE: &str = "analytics-api";
const PORT: u16 = 8000;

async fn call(method: &str, url: &str, body: Option<&str>, user: &str) -> (u16, Value) {
    let headers = [("Content-Type", "application/json"), ("X-User-ID", user)];
    let response = http_client::request(method, url, &headers, body.map(str::as_bytes), Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    (
        response.status,
        serde_json::from_slice(&response.body).unwrap_or(Value::Null),
    )
}

/// One check of a `/health/detailed` body.
fn detailed_check(body: &Value, name: &str) -> Value {
    body["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("/health/detailed names no check {name}: {body}"))
}

/// Business traffic on three workspaces; returns the ids of the exports requested.
async fn business_traffic(api: &str) -> Vec<(String, i64)> {
    let mut exports = Vec::new();
    for (w, workspace) in ["acme", "globex", "initech"].iter().enumerate() {
        for i in 0..10 {
            let body = format!(r#"{{"workspace_id": "{workspace}", "kind": "page_view", "value": {i}}}"#);
            let (status, event) = call(
                "POST",
                &format!("{api}/api/v1/events"),
                Some(&body),
                &format!("user-{}", i % 3),
            )
            .await;
            assert_eq!(status, 201, "{event}");
        }
        let base = format!("{api}/api/v1/workspaces/{workspace}");
        let (_, first) = call("GET", &format!("{base}/dashboard"), None, "user-0").await;
        assert_eq!(first["cached"], false, "{first}");
        let (_, second) = call("GET", &format!("{base}/dashboard"), None, "user-0").await;
        assert_eq!(second["cached"], true, "the second read is a cache hit: {second}");
        assert_eq!(
            call("GET", &format!("{base}/reports/daily?days=7"), None, "user-1")
                .await
                .0,
            200
        );
        let (status, answer) = call(
            "POST",
            &format!("{base}/query"),
            Some(r#"{"kind": "page_view"}"#),
            "user-1",
        )
        .await;
        assert_eq!((status, answer["events"].as_i64()), (200, Some(10)), "{answer}");
        let (status, insight) = call("POST", &format!("{base}/insights"), None, "user-2").await;
        assert_eq!(status, 200, "{insight}");
        let format = ["csv", "json", "pdf"][w];
        let (status, export) = call(
            "POST",
            &format!("{base}/exports"),
            Some(&format!(r#"{{"format": "{format}"}}"#)),
            "user-2",
        )
        .await;
        assert_eq!(status, 202, "{export}");
        exports.push((format.to_string(), export["export_id"].as_i64().unwrap()));
    }
    let (status, deleted) = call(
        "DELETE",
        &format!("{api}/api/v1/workspaces/initech/events"),
        None,
        "user-0",
    )
    .await;
    assert_eq!((status, deleted["deleted"].as_i64()), (200, Some(10)), "{deleted}");
    assert_eq!(
        call("GET", &format!("{api}/api/v1/workspaces/bad%20id/dashboard"), None, "u")
            .await
            .0,
        400
    );
    exports
}

/// A live subscriber sees an event ingested after it subscribed; an oversized message ends
/// its session with a protocol error.
async fn live_events(api: &str) {
    let ws = api.replacen("http", "ws", 1);
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("{ws}/ws?workspace_id=acme"))
        .await
        .unwrap();
    let body = r#"{"workspace_id": "acme", "kind": "signup"}"#;
    assert_eq!(
        call("POST", &format!("{api}/api/v1/events"), Some(body), "user-9")
            .await
            .0,
        201
    );
    let event = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("the live event within 5s")
        .unwrap()
        .unwrap();
    let event: Value = serde_json::from_str(event.to_text().unwrap()).unwrap();
    assert_eq!(event["event"]["kind"], "signup", "{event}");
    let _ = socket.send(Message::Text("x".repeat(64 * 1024).into())).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the session ended after an oversized message");
}

/// The stream of a document's index: `analytics-2026.12.03` → `""`, `analytics-errors-…` →
/// `"errors"`; `None` for an index not named `analytics-[<stream>-]YYYY.MM.DD`.
fn stream_of(document: &Value) -> Option<String> {
    let index = document["index"].as_str()?.strip_prefix("analytics-")?;
    let (stream, date) = match index.rsplit_once('-') {
        Some((stream, date)) => (stream, date),
        None => ("", index),
    };
    let parts: Vec<&str> = date.split('.').collect();
    let is_date = parts.len() == 3
        && [4, 2, 2]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_digit()));
    is_date.then(|| stream.to_string())
}

/// Lines land in their indices after the ILM policy and the index template the generator
/// wrote; no document carries a sensitive value.
async fn lines_reach_elasticsearch(stack: &Stack, example: &Example) {
    let wanted = [
        ("", "request finished"),
        ("", "Processing request"),
        ("errors", "job failed"),
        ("metrics", "events aggregated"),
        ("performance", "export timed"),
    ];
    let documents = eventually(
        Duration::from_secs(30),
        "every kind of line in Elasticsearch",
        || async {
            let documents = stack.elasticsearch_documents().await?;
            let landed = |(stream, message): &(&str, &str)| {
                documents
                    .iter()
                    .any(|d| stream_of(d).as_deref() == Some(stream) && d["document"]["message"] == *message)
            };
            Ok(wanted.iter().all(landed).then_some(documents))
        },
    )
    .await
    .unwrap_or_else(|e| {
        panic!(
            "{e}
{}",
            stack.logs(Some(SERVICE))
        )
    });
    assert!(
        documents.iter().all(|d| stream_of(d).is_some()),
        "every index is analytics-[<stream>-]YYYY.MM.DD"
    );
    for document in &documents {
        let source = &document["document"];
        assert!(source["@timestamp"].is_string(), "{document}");
        if stream_of(document).as_deref() == Some("errors") {
            assert!(
                matches!(source["level"].as_str(), Some("error" | "critical")),
                "{document}"
            );
        }
        for key in &example.spec.logging.redact {
            if let Some(value) = source.get(key) {
                assert_eq!(value, "[REDACTED]", "{document}");
            }
        }
    }
    for (path, file) in [
        ("/_ilm/policy/analytics-logs", "ilm-policy.json"),
        ("/_index_template/analytics-logs", "index-template.json"),
    ] {
        let generated: Value =
            serde_json::from_str(&std::fs::read_to_string(example.generated.join("elasticsearch").join(file)).unwrap())
                .unwrap();
        let put = stack.elasticsearch_puts(path).await.unwrap();
        assert_eq!(put, [generated], "{path} holds the generated {file}");
    }
}

/// Elasticsearch goes away for 30 s: every request is still answered at once, and each
/// one's line arrives after it is back.
async fn elasticsearch_outage(stack: &Stack, api: &str) {
    stack.stop(ELASTICSEARCH_SERVICE, Duration::from_secs(5)).await;
    let down = std::time::Instant::now();
    let mut request_ids = Vec::new();
    while down.elapsed() < Duration::from_secs(30) {
        let id = format!("es-outage-{}", request_ids.len());
        let headers = [("X-User-ID", "user-es"), ("X-Request-ID", id.as_str())];
        let url = format!("{api}/api/v1/workspaces/acme/dashboard");
        let answer = http_client::request("GET", &url, &headers, None, Duration::from_secs(2))
            .await
            .unwrap_or_else(|e| panic!("a request while Elasticsearch is down: {e}"));
        assert_eq!(answer.status, 200, "{}", answer.text());
        request_ids.push(id);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stack.start(ELASTICSEARCH_SERVICE).await;
    // The backoff doubles up to 30 s: the first try after the restart comes within that.
    let arrived = eventually(
        Duration::from_secs(90),
        "the outage's lines in Elasticsearch",
        || async {
            let documents = stack.elasticsearch_documents().await?;
            let missing: Vec<&String> = request_ids
                .iter()
                .filter(|id| {
                    !documents.iter().any(|d| {
                        d["document"]["request_id"] == id.as_str() && d["document"]["message"] == "request finished"
                    })
                })
                .collect();
            Ok(missing.is_empty().then_some(()))
        },
    )
    .await;
    if let Err(error) = arrived {
        panic!(
            "{error}
{}",
            stack.logs(Some(SERVICE))
        );
    }
}

#[tokio::test]
async fn shadower_analytics_runs_on_postgres_and_redis_pages_on_a_database_outage_and_keeps_its_spec() {
    let example = Example::load("shadower-analytics");
    let every_2s = |var: &str| (SERVICE.to_string(), var.to_string(), "2".to_string());
    let tuning = Tuning {
        fast_alerts: vec![("DatabaseConnectionFailures".into(), "5s".into())],
        service_env: vec![
            every_2s("AGGREGATION_INTERVAL_SECONDS"),
            every_2s("CLEANUP_INTERVAL_SECONDS"),
        ],
        memory_limits: vec![(SERVICE.into(), "512m".into())],
        ..Tuning::default()
    };
    let stack = example.up(tuning, &[SERVICE, "postgres", "redis", "prometheus", "alertmanager"]);
    let prometheus = stack.wait_ready(&[SERVICE], 1).await;
    let api = format!("http://127.0.0.1:{}", stack.port(SERVICE, PORT));

    let ready = eventually(Duration::from_secs(60), "/ready with database and cache up", || async {
        let (status, body) = call("GET", &format!("{api}/ready"), None, "probe").await;
        Ok((status == 200).then_some(body))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", stack.logs(Some(SERVICE))));
    assert_eq!(ready["checks"]["database"], "up", "{ready}");
    assert_eq!(ready["checks"]["cache"], "up", "{ready}");
    expect::checks_have_code(&format!("{api}/health/detailed"), &example.spec).await;
    let (_, detailed) = call("GET", &format!("{api}/health/detailed"), None, "probe").await;
    assert_eq!(
        detailed_check(&detailed, "background-jobs")["status"],
        "up",
        "{detailed}"
    );

    let exports = business_traffic(&api).await;
    live_events(&api).await;
    http_load(&format!("{api}/api/v1/workspaces/acme/dashboard")).await;
    websocket_load(&format!("{}/ws?workspace_id=load", api.replacen("http", "ws", 1))).await;
    for (format, id) in exports {
        let done = eventually(Duration::from_secs(30), &format!("{format} export done"), || async {
            let (_, export) = call("GET", &format!("{api}/api/v1/exports/{id}"), None, "u").await;
            Ok((export["status"] != "queued").then_some(export))
        })
        .await
        .unwrap();
        let expected = if format == "pdf" { "failed" } else { "succeeded" };
        assert_eq!(done["status"], expected, "{done}");
    }
    // Scheduled aggregation and cleanup run every 2s here; let them and a few scrapes happen.
    tokio::time::sleep(Duration::from_secs(5)).await;

    // A request's lines carry the spec's request fields, its user and workspace among them;
    // probes and the metrics alias are not requests; the printed monitor command sees the
    // API healthy.
    let headers = [("X-User-ID", "user-ctx"), ("X-Request-ID", "e2e-context-sa")];
    let dashboard = format!("{api}/api/v1/workspaces/acme/dashboard");
    let answer = http_client::request("GET", &dashboard, &headers, None, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    let lines = stack.output_lines(SERVICE);
    let context = ["request_id", "user_id", "workspace_id"];
    let missing = expect::request_lines_carry(&example.spec, &lines, "e2e-context-sa", &context);
    assert!(missing.is_empty(), "{missing:#?}");
    expect::probes_not_counted(&prometheus, &example.spec, &api).await;
    expect::printed_monitor_passes(&example).await;
    lines_reach_elasticsearch(&stack, &example).await;
    elasticsearch_outage(&stack, &api).await;

    // PostgreSQL goes away.
    stack.stop("postgres", Duration::from_secs(10)).await;
    let (status, _) = call(
        "GET",
        &format!("{api}/api/v1/workspaces/newcorp/dashboard"),
        None,
        "user-0",
    )
    .await;
    assert_eq!(status, 503, "a dashboard the cache does not hold needs the database");
    let (status, ready) = call("GET", &format!("{api}/ready"), None, "probe").await;
    assert_eq!(
        (status, ready["checks"]["database"].clone()),
        (503, "down".into()),
        "{ready}"
    );
    let (status, detailed) = call("GET", &format!("{api}/health/detailed"), None, "probe").await;
    assert_eq!(status, 503, "{detailed}");
    let database = detailed_check(&detailed, "database");
    assert_eq!(database["status"], "down", "{detailed}");
    assert!(
        database["error"].as_str().is_some_and(|e| !e.is_empty()),
        "the failed check says why: {detailed}"
    );
    // Connection errors go on while Prometheus watches; the alert pages and notifies.
    let paged = eventually(
        Duration::from_secs(60),
        "DatabaseConnectionFailures at both receivers",
        || async {
            for _ in 0..5 {
                call(
                    "POST",
                    &format!("{api}/api/v1/events"),
                    Some(r#"{"workspace_id": "acme", "kind": "x"}"#),
                    "u",
                )
                .await;
            }
            // Cache reads go on too (a hit while the entry lives, a miss after), so the
            // hit-rate panel has reads to divide by.
            call("GET", &format!("{api}/api/v1/workspaces/acme/dashboard"), None, "u").await;
            let receivers: Vec<String> =
                stack
                    .notifications()
                    .await?
                    .iter()
                    .filter(|n| {
                        n["alerts"].as_array().into_iter().flatten().any(|a| {
                            a["labels"]["alertname"] == "DatabaseConnectionFailures" && a["status"] == "firing"
                        })
                    })
                    .map(|n| n["receiver"].as_str().unwrap_or_default().to_string())
                    .collect();
            let both = receivers.iter().any(|r| r == "pagerduty") && receivers.iter().any(|r| r == "slack");
            Ok(both.then_some(()))
        },
    )
    .await;
    if let Err(error) = paged {
        panic!(
            "{error}\nfiring: {:?}\n{}",
            prometheus.query("ALERTS").await,
            stack.logs(None)
        );
    }

    // The outage's repeated error lines went past the throttle's burst: counted, not written.
    let suppressed = eventually(Duration::from_secs(30), "suppressed error lines counted", || async {
        let result = prometheus
            .query("sum(obs_log_lines_suppressed_total{level=\"error\"})")
            .await?;
        let count = result
            .first()
            .and_then(|r| r["value"][1].as_str())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        Ok((count > 0.0).then_some(count))
    })
    .await;
    assert!(suppressed.is_ok(), "{suppressed:?}\n{}", stack.logs(Some(SERVICE)));

    let still = [
        (
            "http_requests_in_progress",
            "requests finish between one-second scrapes, so the gauge is 0 whenever it is read",
        ),
        (
            "queue_depth",
            "two workers take each job as it arrives; none is waiting when a scrape reads the gauge",
        ),
        (
            "process_cpu_seconds_total",
            "the process collector counts whole CPU seconds and the test's load takes less than one",
        ),
    ];
    let exposition = stack.urls(&[SERVICE], PORT, "/api/v1/metrics");
    expect::component_matches_spec(&prometheus, &example, "analytics-backend", &still, &exposition).await;
    let limit = prometheus.query("container_memory_limit_bytes").await.unwrap();
    assert_eq!(limit[0]["value"][1], "536870912", "the cgroup limit: {limit:?}");

    stack.stop(SERVICE, Duration::from_secs(40)).await;
    assert_eq!(stack.exit_code(SERVICE), Some(0), "{}", stack.logs(Some(SERVICE)));
    let lines = stack.output_lines(SERVICE);
    let missing = expect::missing_log_events(&example.spec, &lines);
    assert!(missing.is_empty(), "{missing:#?}\n{}", lines.join("\n"));
}
