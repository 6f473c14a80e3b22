//! Seed 004 end to end: `examples/personaworlds` built into its image, its generated compose
//! stack up with the `observability` profile: the api (`backend`), the worker, PostgreSQL
//! (a local build standing in for `postgres:16-alpine`) and Prometheus. The api becomes
//! ready once its migrations are applied (the `migrations` check has code behind it); HTTP
//! traffic creates worlds whose render jobs carry the request id as trace id, failing jobs
//! retry and fail, the worker's digest runs with no trace; then every declared metric of
//! both components is scraped with its type and labels and moved, every dashboard query
//! answers, both expositions equal the spec, the worker's logs carry the api's request id
//! as trace id. Stopping PostgreSQL turns requests into 503s, the readiness into 503 naming
//! the database, and fires ApiErrorRateSpike; after a SIGTERM every declared log event of
//! both processes was written with its fields.

use std::time::Duration;

use integration_tests::compose::{Example, Tuning};
use integration_tests::*;
use runtime::http_client;
use serde_json::Value;

const API_PORT: u16 = 8000;
const WORKER_PORT: u16 = 9091;

async fn call(method: &str, url: &str, body: Option<&str>, user: Option<&str>) -> (u16, Value, Option<String>) {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(user) = user {
        headers.push(("X-User-ID", user));
    }
    let response = http_client::request(method, url, &headers, body.map(str::as_bytes), Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let request_id = response.header("x-request-id").map(str::to_string);
    let value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, value, request_id)
}

/// Waits until every job of `ids` has ended; returns their final states.
async fn jobs_done(api: &str, ids: &[i64]) -> Vec<Value> {
    let done = eventually(Duration::from_secs(60), "jobs finished", || async {
        let mut states = Vec::new();
        for id in ids {
            let (_, job, _) = call("GET", &format!("{api}/jobs/{id}"), None, None).await;
            if !["succeeded", "failed"].contains(&job["status"].as_str().unwrap_or_default()) {
                return Ok(None);
            }
            states.push(job);
        }
        Ok(Some(states))
    })
    .await;
    done.unwrap()
}

#[tokio::test]
async fn personaworlds_api_and_worker_run_over_postgres_and_keep_their_spec() {
    let example = Example::load("personaworlds");
    let tuning = Tuning {
        fast_alerts: vec![("ApiErrorRateSpike".into(), "5s".into())],
        env: vec![("LOG_LEVEL".into(), "debug".into())],
        service_env: vec![("worker".into(), "DIGEST_INTERVAL_SECONDS".into(), "2".into())],
        ..Tuning::default()
    };
    let stack = example.up(tuning, &["backend", "worker", "db", "prometheus"]);
    let prometheus = stack.wait_ready(&["backend", "worker"], 2).await;
    let api = format!("http://127.0.0.1:{}", stack.port("backend", API_PORT));

    let ready = eventually(Duration::from_secs(60), "api ready (migrations applied)", || async {
        let (status, body, _) = call("GET", &format!("{api}/readyz"), None, None).await;
        Ok((status == 200).then_some(body))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", stack.logs(Some("backend"))));
    assert_eq!(ready["status"], "ready", "{ready}");
    expect::checks_have_code(&format!("{api}/readyz"), &example.spec).await;

    // Worlds, each with a render job that continues the request's trace.
    let mut jobs = Vec::new();
    let mut traced = None;
    for i in 0..10 {
        let body = format!(r#"{{"name": "world {i}"}}"#);
        let (status, world, request_id) = call("POST", &format!("{api}/worlds"), Some(&body), Some("user-7")).await;
        assert_eq!(status, 201, "{world}");
        traced = request_id;
    }
    assert_eq!(call("GET", &format!("{api}/worlds"), None, Some("user-7")).await.0, 200);
    http_load(&format!("{api}/worlds")).await;
    assert_eq!(call("GET", &format!("{api}/worlds/999999"), None, None).await.0, 404);
    // A queue deep enough for the worker to see it, a job that retries once, one that fails.
    for payload in
        std::iter::repeat_n(r#"{"work_ms": 100}"#, 20).chain([r#"{"fail_attempts": 1}"#, r#"{"fail_attempts": 5}"#])
    {
        let body = format!(r#"{{"type": "notify", "payload": {payload}}}"#);
        let (status, job, _) = call("POST", &format!("{api}/jobs"), Some(&body), None).await;
        assert_eq!(status, 202, "{job}");
        jobs.push(job["job_id"].as_i64().unwrap());
    }
    let states = jobs_done(&api, &jobs).await;
    assert_eq!(states.last().unwrap()["status"], "failed", "{states:?}");
    assert_eq!(states[states.len() - 2]["status"], "succeeded", "{states:?}");
    assert_eq!(states[states.len() - 2]["attempts"], 2, "{states:?}");
    // Give the digest (no trace) a few rounds and Prometheus a few scrapes.
    tokio::time::sleep(Duration::from_secs(5)).await;

    // The trace of the last POST /worlds is the trace of its render job's lines.
    let traced = traced.expect("the api answers with X-Request-ID");
    let backend_lines = stack.output_lines("backend");
    let trace_id = expect::request_lines(&backend_lines, &traced)
        .iter()
        .find_map(|l| l.get("trace_id").and_then(Value::as_str).map(String::from))
        .unwrap_or_else(|| panic!("no line of request {traced} carries a trace id"));
    let worker_lines = stack.output_lines("worker");
    assert!(
        worker_lines
            .iter()
            .any(|l| l.contains("\"job started\"") && l.contains(&format!("\"trace_id\":\"{trace_id}\""))),
        "no worker line carries trace id {trace_id} of request {traced}"
    );

    // A request's lines carry the spec's request fields, the user among them; probes are
    // not requests; the printed monitor command sees api and worker healthy.
    let missing = expect::request_lines_carry(&example.spec, &backend_lines, &traced, &["request_id", "user_id"]);
    assert!(missing.is_empty(), "{missing:#?}");
    expect::probes_not_counted(&prometheus, &example.spec, &api).await;
    expect::printed_monitor_passes(&example).await;

    // PostgreSQL goes away: requests fail with 503, readiness names the database, and the
    // 5xx ratio fires ApiErrorRateSpike (its `for` cut to 5s).
    stack.stop("db", Duration::from_secs(10)).await;
    for _ in 0..20 {
        let (status, _, _) = call("GET", &format!("{api}/worlds"), None, None).await;
        assert_eq!(status, 503);
    }
    let (status, readiness, _) = call("GET", &format!("{api}/readyz"), None, None).await;
    assert_eq!(status, 503, "{readiness}");
    assert_eq!(readiness["checks"]["database"], "down", "{readiness}");
    assert_eq!(readiness["checks"]["migrations"], "down", "{readiness}");
    // The failures go on while Prometheus watches: a counter's first sample is no increase.
    let firing = eventually(Duration::from_secs(45), "ApiErrorRateSpike firing", || async {
        for _ in 0..5 {
            call("GET", &format!("{api}/worlds"), None, None).await;
        }
        let alerts = prometheus.firing("ApiErrorRateSpike").await?;
        Ok((!alerts.is_empty()).then_some(alerts))
    })
    .await;
    let alerts = firing.unwrap_or_else(|e| panic!("{e}\n{}", stack.logs(None)));
    assert_eq!(alerts[0]["metric"]["severity"], "critical", "{:?}", alerts[0]);

    // Every declared metric of both components, now that errors exist too (the 5xx ratio's
    // recording rule answers only once some request has failed).
    let still = [(
        "http_requests_in_progress",
        "requests finish between one-second scrapes, so the gauge is 0 whenever it is read",
    )];
    let api_metrics = stack.urls(&["backend"], API_PORT, "/metrics");
    expect::component_matches_spec(&prometheus, &example, "api", &still, &api_metrics).await;
    let worker_metrics = stack.urls(&["worker"], WORKER_PORT, "/metrics");
    expect::component_matches_spec(&prometheus, &example, "worker", &[], &worker_metrics).await;
    let missing = prometheus
        .query(r#"jobs_trace_total{trace="missing"} > 0"#)
        .await
        .unwrap();
    assert!(!missing.is_empty(), "the digest ran without a trace");

    // SIGTERM: both exit 0 and between them wrote every declared event with its fields.
    stack.stop("backend", Duration::from_secs(40)).await;
    stack.stop("worker", Duration::from_secs(40)).await;
    for service in ["backend", "worker"] {
        assert_eq!(stack.exit_code(service), Some(0), "{}", stack.logs(Some(service)));
    }
    let mut lines = stack.output_lines("backend");
    lines.extend(stack.output_lines("worker"));
    let missing = expect::missing_log_events(&example.spec, &lines);
    assert!(missing.is_empty(), "{missing:#?}\n{}", lines.join("\n"));
}
