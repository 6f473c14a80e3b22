//! The HTTP API under `/api/v1`: events ingested into PostgreSQL, dashboards served from the
//! Redis cache or computed and cached, daily reports, ad-hoc queries, AI insights, exports
//! run as background jobs. Every workspace request is logged as `Processing request` with
//! its user and workspace; every answer in the 5xx range as `request failed` with its trace
//! id (the W3C `traceparent` the caller sent, or a new one). Business metrics: queries by
//! type and outcome, credits by operation, active users per workspace.

use std::time::Duration;

use axum::extract::{FromRef, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use runtime::Observability;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::activity::Activity;
use crate::cache::Cache;
use crate::jobs::{Jobs, Work};
use crate::live::Live;
use crate::obs::analytics_credits_consumed_total::Operation as Credit;
use crate::obs::analytics_exports_total::Format;
use crate::obs::analytics_queries_total::{QueryType, Status};
use crate::obs::database_queries_total::Operation;
use crate::obs::Metrics;
use crate::store::{Store, StoreError};

/// How long a computed dashboard stays in the cache.
const DASHBOARD_TTL: Duration = Duration::from_secs(30);
/// Longest workspace or user id accepted.
const MAX_ID: usize = 64;

#[derive(Clone, FromRef)]
pub struct Api {
    pub obs: Observability,
    pub metrics: Metrics,
    pub store: Store,
    pub cache: Cache,
    pub jobs: Jobs,
    pub activity: Activity,
    pub live: Live,
}

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/api/v1/events", post(ingest))
        .route("/api/v1/workspaces/{workspace}/dashboard", get(dashboard))
        .route("/api/v1/workspaces/{workspace}/reports/daily", get(daily_report))
        .route("/api/v1/workspaces/{workspace}/query", post(adhoc_query))
        .route("/api/v1/workspaces/{workspace}/insights", post(insights))
        .route("/api/v1/workspaces/{workspace}/exports", post(request_export))
        .route("/api/v1/workspaces/{workspace}/events", delete(delete_events))
        .route("/api/v1/exports/{id}", get(export_status))
        .route("/ws", get(crate::live::upgrade))
        .layer(axum::middleware::from_fn(trace_context))
}

/// Answers with the request's trace id (the runtime continues a caller's `traceparent` or
/// starts a trace), so that a caller can look the trace up.
async fn trace_context(request: Request, next: Next) -> Response {
    let trace_id = runtime::traces::current_trace_id();
    let mut response = next.run(request).await;
    if let Some(value) = trace_id.and_then(|t| HeaderValue::from_str(&t).ok()) {
        response.headers_mut().insert("x-trace-id", value);
    }
    response
}

fn id_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn failed(error: &StoreError) -> Response {
    let status = match error {
        StoreError::Connection(_) | StoreError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
        StoreError::Query(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(json!({ "error": error.to_string() }))).into_response()
}

/// A workspace id the API refuses.
struct BadWorkspace;

impl IntoResponse for BadWorkspace {
    fn into_response(self) -> Response {
        error(
            StatusCode::BAD_REQUEST,
            "workspace ids are 1 to 64 letters, digits, - or _",
        )
    }
}

/// Checks the ids, logs the request with its user and workspace, and marks the user active.
fn begin(api: &Api, headers: &HeaderMap, workspace: &str) -> Result<String, BadWorkspace> {
    if !id_ok(workspace) {
        return Err(BadWorkspace);
    }
    let user = headers
        .get("x-user-id")
        .and_then(|v| v.to_str().ok())
        .filter(|u| id_ok(u))
        .unwrap_or("anonymous")
        .to_string();
    // On the request's context: every later line of this request carries both.
    crate::obs::log_fields::user_id(user.as_str());
    crate::obs::log_fields::workspace_id(workspace);
    tracing::info!("Processing request");
    api.activity.seen(workspace, &user);
    Ok(user)
}

fn counted(api: &Api, kind: QueryType, ok: bool) {
    let status = if ok { Status::Success } else { Status::Error };
    api.metrics.analytics_queries_total.with(kind, status).inc();
}

#[derive(Deserialize)]
struct NewEvent {
    workspace_id: String,
    kind: String,
    #[serde(default = "one")]
    value: f64,
}

fn one() -> f64 {
    1.0
}

async fn ingest(State(api): State<Api>, headers: HeaderMap, Json(event): Json<NewEvent>) -> Response {
    let user = match begin(&api, &headers, &event.workspace_id) {
        Ok(user) => user,
        Err(rejected) => return rejected.into_response(),
    };
    if event.kind.is_empty() || event.kind.len() > 100 || !event.value.is_finite() {
        return error(
            StatusCode::BAD_REQUEST,
            "kind is 1 to 100 bytes and value a finite number",
        );
    }
    let inserted = api
        .store
        .query(
            Operation::Insert,
            "INSERT INTO events (workspace_id, user_id, kind, value) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&event.workspace_id, &user, &event.kind, &event.value],
        )
        .await;
    match inserted {
        Ok(rows) => {
            let id: i64 = rows[0].get(0);
            api.live.publish(
                &event.workspace_id,
                json!({ "id": id, "kind": event.kind, "value": event.value }),
            );
            (StatusCode::CREATED, Json(json!({ "id": id }))).into_response()
        }
        Err(error) => failed(&error),
    }
}

async fn dashboard(State(api): State<Api>, headers: HeaderMap, Path(workspace): Path<String>) -> Response {
    if let Err(rejected) = begin(&api, &headers, &workspace) {
        return rejected.into_response();
    }
    let key = format!("dashboard:{workspace}");
    api.metrics.analytics_credits_consumed_total.with(Credit::Query).inc();
    if let Some(cached) = api.cache.get(&key).await {
        counted(&api, QueryType::Dashboard, true);
        let body: Value = serde_json::from_str(&cached).unwrap_or(Value::Null);
        return Json(json!({ "cached": true, "summary": body })).into_response();
    }
    let rows = api
        .store
        .query(
            Operation::Select,
            "SELECT kind, count(*), coalesce(sum(value), 0) FROM events WHERE workspace_id = $1 GROUP BY kind ORDER BY 2 DESC LIMIT 50",
            &[&workspace],
        )
        .await;
    counted(&api, QueryType::Dashboard, rows.is_ok());
    match rows {
        Ok(rows) => {
            let summary: Vec<Value> = rows
                .iter()
                .map(|r| json!({ "kind": r.get::<_, String>(0), "events": r.get::<_, i64>(1), "total": r.get::<_, f64>(2) }))
                .collect();
            let summary = Value::Array(summary);
            api.cache.set(&key, &summary.to_string(), DASHBOARD_TTL).await;
            Json(json!({ "cached": false, "summary": summary })).into_response()
        }
        Err(error) => failed(&error),
    }
}

#[derive(Deserialize)]
struct Days {
    #[serde(default = "week")]
    days: i32,
}

fn week() -> i32 {
    7
}

async fn daily_report(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(workspace): Path<String>,
    Query(Days { days }): Query<Days>,
) -> Response {
    if let Err(rejected) = begin(&api, &headers, &workspace) {
        return rejected.into_response();
    }
    let days = days.clamp(1, 366);
    api.metrics
        .analytics_credits_consumed_total
        .with(Credit::Report)
        .inc_by(5);
    let rows = api
        .store
        .query(
            Operation::Select,
            "SELECT created_at::date::text, count(*), coalesce(sum(value), 0) FROM events
             WHERE workspace_id = $1 AND created_at >= now() - $2::float8 * interval '1 day' GROUP BY 1 ORDER BY 1",
            &[&workspace, &f64::from(days)],
        )
        .await;
    counted(&api, QueryType::Report, rows.is_ok());
    match rows {
        Ok(rows) => {
            let daily: Vec<Value> = rows
                .iter()
                .map(|r| json!({ "day": r.get::<_, String>(0), "events": r.get::<_, i64>(1), "total": r.get::<_, f64>(2) }))
                .collect();
            Json(json!({ "days": days, "daily": daily })).into_response()
        }
        Err(error) => failed(&error),
    }
}

#[derive(Deserialize)]
struct Adhoc {
    kind: Option<String>,
    #[serde(default = "hour")]
    minutes: i32,
}

fn hour() -> i32 {
    60
}

async fn adhoc_query(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(workspace): Path<String>,
    Json(query): Json<Adhoc>,
) -> Response {
    if let Err(rejected) = begin(&api, &headers, &workspace) {
        return rejected.into_response();
    }
    api.metrics
        .analytics_credits_consumed_total
        .with(Credit::Query)
        .inc_by(2);
    let minutes = f64::from(query.minutes.clamp(1, 60 * 24 * 31));
    let rows = api
        .store
        .query(
            Operation::Select,
            "SELECT count(*), coalesce(avg(value), 0), coalesce(max(value), 0) FROM events
             WHERE workspace_id = $1 AND ($2::text IS NULL OR kind = $2::text) AND created_at >= now() - $3::float8 * interval '1 minute'",
            &[&workspace, &query.kind, &minutes],
        )
        .await;
    counted(&api, QueryType::Adhoc, rows.is_ok());
    match rows {
        Ok(rows) => Json(json!({
            "events": rows[0].get::<_, i64>(0),
            "average": rows[0].get::<_, f64>(1),
            "max": rows[0].get::<_, f64>(2),
        }))
        .into_response(),
        Err(error) => failed(&error),
    }
}

/// The "AI insight": which kinds of event grew most over the last day against the day
/// before. The seed bills it at 10 credits.
async fn insights(State(api): State<Api>, headers: HeaderMap, Path(workspace): Path<String>) -> Response {
    if let Err(rejected) = begin(&api, &headers, &workspace) {
        return rejected.into_response();
    }
    api.metrics
        .analytics_credits_consumed_total
        .with(Credit::AiInsight)
        .inc_by(10);
    let rows = api
        .store
        .query(
            Operation::Select,
            "SELECT kind, today, before FROM (
                SELECT kind,
                       count(*) FILTER (WHERE created_at >= now() - interval '1 day') AS today,
                       count(*) FILTER (WHERE created_at < now() - interval '1 day') AS before
                FROM events WHERE workspace_id = $1 AND created_at >= now() - interval '2 days'
                GROUP BY kind) AS counts
             ORDER BY today - before DESC LIMIT 5",
            &[&workspace],
        )
        .await;
    counted(&api, QueryType::Adhoc, rows.is_ok());
    match rows {
        Ok(rows) => {
            let rising: Vec<Value> = rows
                .iter()
                .map(|r| json!({ "kind": r.get::<_, String>(0), "today": r.get::<_, i64>(1), "before": r.get::<_, i64>(2) }))
                .collect();
            Json(json!({ "rising": rising })).into_response()
        }
        Err(error) => failed(&error),
    }
}

#[derive(Deserialize)]
struct NewExport {
    format: String,
}

async fn request_export(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(workspace): Path<String>,
    Json(body): Json<NewExport>,
) -> Response {
    if let Err(rejected) = begin(&api, &headers, &workspace) {
        return rejected.into_response();
    }
    let format = match body.format.as_str() {
        "csv" => Format::Csv,
        "xlsx" => Format::Xlsx,
        "json" => Format::Json,
        "pdf" => Format::Pdf,
        _ => return error(StatusCode::BAD_REQUEST, "format is one of csv, xlsx, json, pdf"),
    };
    api.metrics
        .analytics_credits_consumed_total
        .with(Credit::Export)
        .inc_by(3);
    let created = api
        .store
        .query(
            Operation::Insert,
            "INSERT INTO exports (workspace_id, format) VALUES ($1, $2) RETURNING id",
            &[&workspace, &body.format],
        )
        .await;
    counted(&api, QueryType::Export, created.is_ok());
    let export_id: i64 = match created {
        Ok(rows) => rows[0].get(0),
        Err(error) => return failed(&error),
    };
    let work = Work::Export {
        export_id,
        workspace_id: workspace,
        format,
    };
    // The export continues this request's trace.
    match api.jobs.enqueue(work, runtime::jobs::current_trace()) {
        Ok(()) => (StatusCode::ACCEPTED, Json(json!({ "export_id": export_id }))).into_response(),
        Err(full) => {
            // The row must not stay `queued` for a job that will never run.
            let reason = full.to_string();
            let _ = api
                .store
                .query(
                    Operation::Update,
                    "UPDATE exports SET status = 'failed', error = $2 WHERE id = $1",
                    &[&export_id, &reason],
                )
                .await;
            error(StatusCode::SERVICE_UNAVAILABLE, &reason)
        }
    }
}

async fn export_status(State(api): State<Api>, Path(id): Path<i64>) -> Response {
    let rows = api
        .store
        .query(
            Operation::Select,
            "SELECT workspace_id, format, status, bytes, error FROM exports WHERE id = $1",
            &[&id],
        )
        .await;
    match rows {
        Ok(rows) => match rows.first() {
            Some(r) => Json(json!({
                "export_id": id,
                "workspace_id": r.get::<_, String>(0),
                "format": r.get::<_, String>(1),
                "status": r.get::<_, String>(2),
                "bytes": r.get::<_, Option<i64>>(3),
                "error": r.get::<_, Option<String>>(4),
            }))
            .into_response(),
            None => error(StatusCode::NOT_FOUND, "no such export"),
        },
        Err(error) => failed(&error),
    }
}

async fn delete_events(State(api): State<Api>, headers: HeaderMap, Path(workspace): Path<String>) -> Response {
    if let Err(rejected) = begin(&api, &headers, &workspace) {
        return rejected.into_response();
    }
    let deleted = api
        .store
        .query(
            Operation::Delete,
            "WITH gone AS (DELETE FROM events WHERE workspace_id = $1 RETURNING 1) SELECT count(*) FROM gone",
            &[&workspace],
        )
        .await;
    match deleted {
        Ok(rows) => {
            api.cache.delete(&format!("dashboard:{workspace}")).await;
            Json(json!({ "deleted": rows[0].get::<_, i64>(0) })).into_response()
        }
        Err(error) => failed(&error),
    }
}
