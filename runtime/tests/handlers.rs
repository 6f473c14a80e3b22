//! Handlers and middleware through `oneshot`: probe bodies and status codes, readiness
//! during shutdown, the exposition formats, the bearer token, route templates as labels,
//! request ids, and the drift check of the exposition against the spec.

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use runtime::{Observability, ServiceConfig};
use tower::ServiceExt;

fn demo_spec() -> contract::Spec {
    contract::load_file(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../obs.yaml"))
        .unwrap()
        .spec
}

fn observability(spec: contract::Spec, env: &'static [(&'static str, &'static str)]) -> Observability {
    let lookup = move |var: &str| env.iter().find(|(k, _)| *k == var).map(|(_, v)| v.to_string());
    let config = ServiceConfig::resolve(spec, lookup).unwrap();
    let obs = Observability::new(config, lookup).unwrap();
    obs.health.register("job-queue", || async { Ok(()) });
    obs
}

fn app(obs: &Observability) -> Router {
    let routes = Router::new().route("/api/items/{id}", get(|| async { "item" })).route(
        "/api/boom",
        get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
    );
    runtime::server::app(obs, routes, obs.clone())
}

async fn call(app: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn get_req(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn probes_answer_with_the_spec_bodies() {
    let obs = observability(demo_spec(), &[]);
    let app = app(&obs);
    let (status, _, body) = call(&app, get_req("/healthz")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, r#"{"status":"ok"}"#));
    let (status, _, body) = call(&app, get_req("/readyz")).await;
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["shutting_down"], false);
    assert!(ready["timestamp"].as_str().unwrap().ends_with('Z'));
    let (status, _, body) = call(&app, get_req("/health/detailed")).await;
    let detailed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "the cache check does not gate, so down means degraded: {body}"
    );
    let names: Vec<&str> = detailed["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["job-queue", "cache"]);
    assert!(detailed["checks"][1]["latency_ms"].is_number());
}

#[tokio::test]
async fn a_component_without_readiness_serves_liveness_only() {
    let spec = contract::load_bytes(
        b"service:\n  name: jobs\n  components:\n    - {name: api, port: 8000}\n    - {name: worker, port: 9091, readiness: false}\n",
        "obs.yaml",
    )
    .unwrap()
    .spec;
    for (component, readiness) in [("api", StatusCode::OK), ("worker", StatusCode::NOT_FOUND)] {
        let env = move |var: &str| (var == "OBS_COMPONENT").then(|| component.to_string());
        let obs = Observability::new(ServiceConfig::resolve(spec.clone(), env).unwrap(), env).unwrap();
        let app = runtime::server::app(&obs, Router::new(), obs.clone());
        assert_eq!(call(&app, get_req("/healthz")).await.0, StatusCode::OK, "{component}");
        assert_eq!(call(&app, get_req("/readyz")).await.0, readiness, "{component}");
    }
}

#[tokio::test]
async fn readiness_turns_503_the_moment_shutdown_begins_while_liveness_stays_200() {
    let obs = observability(demo_spec(), &[]);
    let app = app(&obs);
    obs.shutdown.begin();
    let (status, _, body) = call(&app, get_req("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (body["status"].as_str(), body["shutting_down"].as_bool()),
        (Some("shutting_down"), Some(true))
    );
    assert_eq!(call(&app, get_req("/healthz")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_failing_gating_check_makes_readiness_503() {
    let obs = observability(demo_spec(), &[]);
    obs.health
        .register("job-queue", || async { Err("queue full".to_string()) });
    let (status, _, body) = call(&app(&obs), get_req("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("not_ready"));
}

#[tokio::test]
async fn metrics_are_served_as_text_or_openmetrics() {
    let obs = observability(demo_spec(), &[]);
    let app = app(&obs);
    let (status, headers, text) = call(&app, get_req("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    assert!(text.contains("# TYPE websocket_messages_total counter\n"));
    assert!(text.contains("# TYPE process_resident_memory_bytes gauge\n"));
    let request = Request::get("/metrics")
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .body(Body::empty())
        .unwrap();
    let (_, headers, open) = call(&app, request).await;
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert!(
        open.contains("# TYPE websocket_messages counter\nwebsocket_messages_total 0\n"),
        "counters drop _total in OpenMetrics TYPE lines"
    );
    assert!(open.ends_with("# EOF\n"));
}

#[tokio::test]
async fn the_exposition_matches_the_spec_exactly() {
    let obs = observability(demo_spec(), &[]);
    let (_, _, text) = call(&app(&obs), get_req("/metrics")).await;
    let families = contract::exposition::parse(&text).unwrap();
    let findings = contract::conformance::compare(&obs.config.catalog, &obs.config.component.name, &families);
    assert!(findings.is_empty(), "{findings:#?}");
}

#[tokio::test]
async fn a_bearer_token_protects_metrics_when_configured() {
    let mut spec = demo_spec();
    spec.metrics.endpoint.bearer_token_env = Some("METRICS_TOKEN".into());
    let obs = observability(spec, &[("METRICS_TOKEN", "s3cret")]);
    let app = app(&obs);
    assert_eq!(call(&app, get_req("/metrics")).await.0, StatusCode::UNAUTHORIZED);
    let wrong = Request::get("/metrics")
        .header("authorization", "Bearer nope")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, wrong).await.0, StatusCode::UNAUTHORIZED);
    let right = Request::get("/metrics")
        .header("authorization", "Bearer s3cret")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, right).await.0, StatusCode::OK);
    // A token read from a file keeps its newline; it still matches what scrapers send.
    let mut spec = demo_spec();
    spec.metrics.endpoint.bearer_token_env = Some("METRICS_TOKEN".into());
    let from_file = observability(spec, &[("METRICS_TOKEN", "s3cret\n")]);
    let request = Request::get("/metrics")
        .header("authorization", "Bearer s3cret")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&self::app(&from_file), request).await.0, StatusCode::OK);
    for header in ["bearer s3cret", "BEARER s3cret"] {
        let request = Request::get("/metrics")
            .header("authorization", header)
            .body(Body::empty())
            .unwrap();
        assert_eq!(call(&app, request).await.0, StatusCode::OK, "{header}");
    }
    for header in ["Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "Bearers3cret"] {
        let request = Request::get("/metrics")
            .header("authorization", header)
            .body(Body::empty())
            .unwrap();
        assert_eq!(call(&app, request).await.0, StatusCode::UNAUTHORIZED, "{header}");
    }
}

#[test]
fn a_declared_token_that_is_unset_or_empty_stops_the_start() {
    for value in [None, Some(""), Some("  ")] {
        let mut spec = demo_spec();
        spec.metrics.endpoint.bearer_token_env = Some("METRICS_TOKEN".into());
        let env = move |var: &str| (var == "METRICS_TOKEN").then(|| value.map(String::from)).flatten();
        let error = ServiceConfig::resolve(spec, env).unwrap_err().to_string();
        assert!(error.contains("METRICS_TOKEN, which is unset or empty"), "{error}");
    }
}

#[tokio::test]
async fn routes_are_labelled_by_template_and_unmatched_paths_share_one_label() {
    let obs = observability(demo_spec(), &[]);
    let app = app(&obs);
    for id in 0..20 {
        call(&app, get_req(&format!("/api/items/{id}"))).await;
    }
    for probe in 0..50 {
        call(&app, get_req(&format!("/wp-admin/{probe}.php"))).await;
    }
    call(&app, get_req("/api/boom")).await;
    call(&app, get_req("/healthz")).await;
    let text = obs.registry.encode(runtime::metrics::Format::Text);
    assert!(
        text.contains(r#"http_requests_total{route="/api/items/{id}",method="GET",status="200"} 20"#),
        "{text}"
    );
    assert!(text.contains(r#"http_requests_total{route="unmatched",method="GET",status="404"} 50"#));
    assert!(text.contains(r#"http_requests_total{route="/api/boom",method="GET",status="500"} 1"#));
    assert!(
        !text.contains(r#"route="/healthz""#),
        "probes are excluded from the RED metrics"
    );
    assert!(text.contains(r#"http_requests_in_progress{route="/api/items/{id}",method="GET"} 0"#));
}

#[tokio::test]
async fn handlers_see_the_request_id_the_response_carries() {
    let obs = observability(demo_spec(), &[]);
    let routes = Router::new().route(
        "/id",
        get(|runtime::http::RequestId(id): runtime::http::RequestId| async move { id }),
    );
    let app = runtime::server::app(&obs, routes, obs.clone());
    let sane = Request::get("/id")
        .header("x-request-id", "req-7")
        .body(Body::empty())
        .unwrap();
    let (_, headers, body) = call(&app, sane).await;
    assert_eq!(
        (headers["x-request-id"].to_str().unwrap(), body.as_str()),
        ("req-7", "req-7")
    );
    // A hostile first value and a sane second: neither reaches the handler, one new id does.
    let mixed = Request::get("/id")
        .header("x-request-id", "bad id")
        .header("x-request-id", "good-id")
        .body(Body::empty())
        .unwrap();
    let (_, headers, body) = call(&app, mixed).await;
    assert_eq!(headers.get_all("x-request-id").iter().count(), 1);
    assert_eq!(headers["x-request-id"].to_str().unwrap(), body);
    assert!(uuid::Uuid::parse_str(&body).is_ok(), "{body}");
    // Without the layer the extractor refuses rather than inventing an id.
    let bare = Router::new().route(
        "/id",
        get(|runtime::http::RequestId(id): runtime::http::RequestId| async move { id }),
    );
    let (status, _, _) = call(&bare, get_req("/id")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn request_ids_are_kept_when_sane_and_replaced_otherwise() {
    let obs = observability(demo_spec(), &[]);
    let app = app(&obs);
    let sane = Request::get("/api/items/1")
        .header("x-request-id", "req-42")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, sane).await.1["x-request-id"], "req-42");
    let huge = "a".repeat(1024 * 1024);
    for hostile in [huge.as_str(), "x\"}{\"admin\":true", "has space"] {
        let request = Request::get("/api/items/1")
            .header("x-request-id", hostile)
            .body(Body::empty())
            .unwrap();
        let id = call(&app, request).await.1["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(id.len(), 36, "replaced by a UUID: {id}");
        assert!(uuid::Uuid::parse_str(&id).is_ok());
    }
    let binary = Request::get("/api/items/1")
        .header(
            "x-request-id",
            axum::http::HeaderValue::from_bytes(&[0xff, 0xfe]).unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, binary).await.1["x-request-id"].len(), 36);
}

#[tokio::test]
async fn metrics_can_live_on_their_own_port() {
    let spec: contract::Spec = serde_yaml::from_str(
        "service: {name: pw, components: [{name: worker, port: 9091, metrics_port: 9092}]}\nmetrics: {builtin: {jobs: {types: [render]}}}",
    )
    .unwrap();
    let obs = observability(spec, &[]);
    assert_eq!(obs.config.metrics_port, Some(9092));
    let app_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (app_addr, metrics_addr) = (
        app_listener.local_addr().unwrap(),
        metrics_listener.local_addr().unwrap(),
    );
    let shutdown = obs.shutdown.clone();
    let server = tokio::spawn(runtime::serve_on(
        obs.clone(),
        Router::new(),
        obs,
        app_listener,
        Some(metrics_listener),
    ));
    assert!(runtime::server::wait_until_listening(metrics_addr, std::time::Duration::from_secs(5)).await);
    let timeout = std::time::Duration::from_secs(5);
    let on_app = runtime::http_client::get(&format!("http://{app_addr}/metrics"), timeout)
        .await
        .unwrap();
    assert_eq!(on_app.status, 404);
    let on_metrics = runtime::http_client::get(&format!("http://{metrics_addr}/metrics"), timeout)
        .await
        .unwrap();
    assert_eq!(on_metrics.status, 200);
    assert!(on_metrics.text().contains("# TYPE jobs_processed_total counter"));
    shutdown.begin();
    let report = tokio::time::timeout(std::time::Duration::from_secs(20), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(report.clean);
}

#[tokio::test]
async fn per_route_series_count_every_method_status_and_overflow() {
    // The layer keeps each route's series aside after its first request; this proves what
    // it counts is what the family lookups counted: per method, per status (common and
    // rare), the in-progress gauge back to zero, and routes past `max_routes` in `other`,
    // every overflowing request counted as a drop.
    let spec: contract::Spec =
        serde_yaml::from_str("service: {name: shop, port: 8080}\nmetrics:\n  builtin:\n    http: {max_routes: 2}\n")
            .unwrap();
    let obs = observability(spec, &[]);
    let status_of = |code: u16| StatusCode::from_u16(code).unwrap();
    let routes = Router::new()
        .route(
            "/a/{code}",
            get(move |axum::extract::Path(code): axum::extract::Path<u16>| async move { status_of(code) })
                .post(|| async { StatusCode::CREATED }),
        )
        .route("/b", get(|| async { "b" }))
        .route("/c", get(|| async { "c" }))
        .route("/d", get(|| async { "d" }));
    let app = runtime::server::app(&obs, routes, obs.clone());
    for _ in 0..3 {
        for code in [200, 200, 404, 418, 500] {
            call(&app, get_req(&format!("/a/{code}"))).await;
        }
        call(&app, Request::post("/a/1").body(Body::empty()).unwrap()).await;
        call(&app, Request::head("/a/200").body(Body::empty()).unwrap()).await;
        let propfind = Request::builder()
            .method("PROPFIND")
            .uri("/a/200")
            .body(Body::empty())
            .unwrap();
        assert_eq!(call(&app, propfind).await.0, StatusCode::METHOD_NOT_ALLOWED);
        for path in ["/b", "/c", "/d", "/nowhere"] {
            call(&app, get_req(path)).await;
        }
    }
    let text = obs.registry.encode(runtime::metrics::Format::Text);
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .parse()
            .unwrap()
    };
    let requests = |route: &str, method: &str, status: u16| {
        value(&format!(
            r#"http_requests_total{{route="{route}",method="{method}",status="{status}"}}"#
        ))
    };
    assert_eq!(requests("/a/{code}", "GET", 200), 6.0);
    assert_eq!(requests("/a/{code}", "GET", 404), 3.0);
    assert_eq!(requests("/a/{code}", "GET", 418), 3.0, "a status outside the kept ones");
    assert_eq!(requests("/a/{code}", "GET", 500), 3.0);
    assert_eq!(requests("/a/{code}", "POST", 201), 3.0);
    assert_eq!(requests("/a/{code}", "HEAD", 200), 3.0);
    assert_eq!(requests("/a/{code}", "OTHER", 405), 3.0);
    assert_eq!(requests("/b", "GET", 200), 3.0);
    // Two routes fit the budget of two: the third and later share `other`.
    assert_eq!(requests("other", "GET", 200), 6.0, "/c and /d past max_routes");
    assert_eq!(requests("other", "GET", 404), 3.0, "unmatched is past the budget too");
    assert_eq!(
        value(r#"http_request_duration_seconds_count{route="/a/{code}",method="GET"}"#),
        15.0
    );
    assert_eq!(
        value(r#"http_request_duration_seconds_count{route="other",method="GET"}"#),
        9.0
    );
    for line in text.lines().filter(|l| l.starts_with("http_requests_in_progress{")) {
        assert!(line.ends_with(" 0"), "{line}");
    }
    for family in [
        "http_requests_total",
        "http_request_duration_seconds",
        "http_requests_in_progress",
    ] {
        assert_eq!(
            value(&format!(r#"obs_series_dropped_total{{metric="{family}"}}"#)),
            9.0,
            "each of the 9 overflowing requests counted as a drop in {family}"
        );
    }
}
