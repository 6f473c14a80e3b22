//! `generator preview`: a local web page that draws every generated Grafana dashboard from a
//! live Prometheus, without Grafana: panels in their grid positions, time series with unit,
//! legend and thresholds, stat and gauge values, the dashboard's range, refresh and
//! variables. Everything the page needs is served from here (hand-written HTML, CSS and
//! JavaScript compiled into the binary); queries go through this server to Prometheus, so
//! the page works offline and a failure reaches the panel that asked, with its reason.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/preview.js");
const STYLE: &str = include_str!("assets/preview.css");

/// Prometheus API paths the page may call; anything else is refused.
const ALLOWED: [&str; 4] = ["query", "query_range", "series", "labels"];

/// One generated dashboard.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub uid: String,
    pub title: String,
    pub json: Value,
}

/// What the server holds.
pub struct Preview {
    pub dashboards: Vec<Dashboard>,
    pub prometheus: String,
    /// The spec's scrape interval in seconds, for `$__rate_interval`.
    pub scrape_interval_seconds: f64,
    client: reqwest::Client,
}

impl Preview {
    pub fn new(dashboards: Vec<Dashboard>, prometheus: &str, scrape_interval_seconds: f64) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy()
            .build()
            .unwrap_or_default();
        Self {
            dashboards,
            prometheus: prometheus.trim_end_matches('/').to_string(),
            scrape_interval_seconds,
            client,
        }
    }
}

/// The dashboards a rendered tree holds (`grafana/dashboards/*.json`), in path order; a
/// file that is not a dashboard is an error naming it.
pub fn dashboards(tree: &crate::Tree) -> Result<Vec<Dashboard>, String> {
    tree.files
        .iter()
        .filter(|(path, _)| path.starts_with("grafana/dashboards/") && path.ends_with(".json"))
        .map(|(path, text)| {
            let json: Value = serde_json::from_str(text).map_err(|e| format!("{path}: {e}"))?;
            let field = |name: &str| json[name].as_str().map(String::from);
            Ok(Dashboard {
                uid: field("uid").ok_or_else(|| format!("{path}: no uid"))?,
                title: field("title").unwrap_or_else(|| path.clone()),
                json,
            })
        })
        .collect()
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn list(State(preview): State<Arc<Preview>>) -> Response {
    let dashboards: Vec<Value> = preview
        .dashboards
        .iter()
        .map(|d| json!({"uid": d.uid, "title": d.title}))
        .collect();
    axum::Json(json!({
        "dashboards": dashboards,
        "prometheus": preview.prometheus,
        "scrape_interval_seconds": preview.scrape_interval_seconds,
    }))
    .into_response()
}

async fn dashboard(State(preview): State<Arc<Preview>>, Path(uid): Path<String>) -> Response {
    match preview.dashboards.iter().find(|d| d.uid == uid) {
        Some(found) => axum::Json(found.json.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no dashboard has uid `{uid}`")).into_response(),
    }
}

/// A Prometheus API error in Prometheus's own shape, so the page reads every failure alike.
fn api_error(status: StatusCode, kind: &str, message: String) -> Response {
    (
        status,
        axum::Json(json!({"status": "error", "errorType": kind, "error": message})),
    )
        .into_response()
}

async fn forward(State(preview): State<Arc<Preview>>, Path(path): Path<String>, RawQuery(query): RawQuery) -> Response {
    let allowed = ALLOWED.contains(&path.as_str())
        || (path.starts_with("label/") && path.ends_with("/values") && path.matches('/').count() == 2);
    if !allowed {
        return api_error(
            StatusCode::NOT_FOUND,
            "not_forwarded",
            format!("the preview forwards only {ALLOWED:?} and label values, not `{path}`"),
        );
    }
    let url = match query {
        Some(query) => format!("{}/api/v1/{path}?{query}", preview.prometheus),
        None => format!("{}/api/v1/{path}", preview.prometheus),
    };
    let response = match preview.client.get(&url).send().await {
        Ok(response) => response,
        Err(error) => {
            return api_error(
                StatusCode::BAD_GATEWAY,
                "unreachable",
                format!(
                    "cannot reach Prometheus at {}: {}",
                    preview.prometheus,
                    crate::error_chain(&error)
                ),
            )
        }
    };
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    match response.text().await {
        Ok(body) if serde_json::from_str::<Value>(&body).is_ok() => {
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Ok(body) => api_error(
            StatusCode::BAD_GATEWAY,
            "not_prometheus",
            format!(
                "{} answered HTTP {} with something that is not Prometheus's API: {}",
                preview.prometheus,
                status.as_u16(),
                body.chars().take(120).collect::<String>()
            ),
        ),
        Err(error) => api_error(StatusCode::BAD_GATEWAY, "unreachable", error.to_string()),
    }
}

/// The preview's routes.
pub fn router(preview: Arc<Preview>) -> Router {
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX) }))
        .route(
            "/preview.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/preview.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route("/api/dashboards", get(list))
        .route("/api/dashboards/{uid}", get(dashboard))
        .route("/api/prometheus/{*path}", get(forward))
        .with_state(preview)
}

/// Serves the preview on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, preview: Arc<Preview>) -> std::io::Result<()> {
    axum::serve(listener, router(preview)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashboards_come_from_the_rendered_tree() {
        let mut tree = crate::Tree::default();
        tree.add(
            "grafana/dashboards/a.json",
            r#"{"uid": "a", "title": "A", "panels": []}"#,
        );
        tree.add("grafana/provisioning/x.yml", "not a dashboard");
        let found = dashboards(&tree).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].uid.as_str(), found[0].title.as_str()), ("a", "A"));
        tree.add("grafana/dashboards/b.json", "{");
        assert!(dashboards(&tree)
            .unwrap_err()
            .starts_with("grafana/dashboards/b.json: "));
    }

    #[tokio::test]
    async fn the_server_forwards_only_reads_and_says_when_prometheus_is_gone() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let gone = format!("http://127.0.0.1:{closed}");
        let preview = Arc::new(Preview::new(Vec::new(), &gone, 15.0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(serve(listener, preview));
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let get = |path: &str| client.get(format!("http://127.0.0.1:{port}{path}")).send();
        let answer = get("/api/prometheus/query?query=up").await.unwrap();
        assert_eq!(answer.status().as_u16(), 502);
        let body: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
        assert_eq!(body["errorType"], "unreachable");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("cannot reach Prometheus at {gone}: ")),
            "{body}"
        );
        let refused = get("/api/prometheus/admin/tsdb/delete_series").await.unwrap();
        assert_eq!(refused.status().as_u16(), 404);
        let page = get("/").await.unwrap().text().await.unwrap();
        assert!(page.contains("<script src=\"preview.js\"></script>"), "{page}");
        assert!(get("/preview.js")
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("data-state"));
        assert_eq!(get("/api/dashboards/nope").await.unwrap().status().as_u16(), 404);
    }
}
