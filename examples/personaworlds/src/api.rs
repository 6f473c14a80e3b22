//! The api component: worlds stored in PostgreSQL and jobs enqueued for the worker, each job
//! continuing the enqueuing request's trace. The runtime logs every request once as the
//! seed's `request` (obs.yaml binds it) with route, method, status, latency, and the user
//! this module puts on the request's context when the `X-User-ID` header names one.

use axum::extract::{FromRef, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use runtime::Observability;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::db::{Database, DbError};
use crate::jobs;

/// Longest world name accepted.
const MAX_NAME: usize = 200;

#[derive(Clone, FromRef)]
pub struct Api {
    pub obs: Observability,
    pub db: Database,
}

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/worlds", post(create_world).get(list_worlds))
        .route("/worlds/{id}", get(get_world))
        .route("/jobs", post(enqueue))
        .route("/jobs/{id}", get(job_status))
        .layer(axum::middleware::from_fn(log_request))
}

fn user_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-user-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .map(str::to_string)
}

/// The user on the request's context, so that the runtime's `request` line (the seed's,
/// bound in obs.yaml) and the handler's lines carry it.
async fn log_request(request: Request, next: Next) -> Response {
    if let Some(user) = user_id(request.headers()) {
        crate::obs::log_fields::user_id(user);
    }
    next.run(request).await
}

/// 503 while the database cannot be reached, 500 when it refused the query.
fn unavailable(error: DbError) -> Response {
    tracing::error!(error = %error, "database query failed");
    let status = match error {
        DbError::Query(_) => StatusCode::INTERNAL_SERVER_ERROR,
        DbError::Unavailable(_) | DbError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(json!({ "error": error.to_string() }))).into_response()
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

#[derive(Deserialize)]
struct NewWorld {
    name: String,
}

async fn create_world(State(api): State<Api>, headers: HeaderMap, Json(world): Json<NewWorld>) -> Response {
    if world.name.trim().is_empty() || world.name.len() > MAX_NAME {
        return bad_request("name must be 1 to 200 bytes");
    }
    let owner = user_id(&headers);
    let rows = match api
        .db
        .query(
            "INSERT INTO worlds (name, owner) VALUES ($1, $2) RETURNING id",
            &[&world.name, &owner],
        )
        .await
    {
        Ok(rows) => rows,
        Err(error) => return unavailable(error),
    };
    let id: i64 = rows[0].get(0);
    // Rendering a new world is the worker's job; it continues this request's trace.
    let trace = runtime::jobs::current_trace();
    let payload = json!({ "world_id": id });
    if let Err(error) = jobs::enqueue(&api.db, "render", &payload, trace.as_deref()).await {
        return unavailable(error);
    }
    (StatusCode::CREATED, Json(json!({ "id": id, "name": world.name }))).into_response()
}

async fn list_worlds(State(api): State<Api>) -> Response {
    match api
        .db
        .query("SELECT id, name FROM worlds ORDER BY id DESC LIMIT 100", &[])
        .await
    {
        Ok(rows) => {
            let worlds: Vec<Value> = rows
                .iter()
                .map(|r| json!({ "id": r.get::<_, i64>(0), "name": r.get::<_, String>(1) }))
                .collect();
            Json(worlds).into_response()
        }
        Err(error) => unavailable(error),
    }
}

async fn get_world(State(api): State<Api>, Path(id): Path<i64>) -> Response {
    match api.db.query("SELECT id, name FROM worlds WHERE id = $1", &[&id]).await {
        Ok(rows) => match rows.first() {
            Some(r) => Json(json!({ "id": r.get::<_, i64>(0), "name": r.get::<_, String>(1) })).into_response(),
            None => (StatusCode::NOT_FOUND, Json(json!({ "error": "no such world" }))).into_response(),
        },
        Err(error) => unavailable(error),
    }
}

#[derive(Deserialize)]
struct NewJob {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Value,
}

async fn enqueue(State(api): State<Api>, Json(job): Json<NewJob>) -> Response {
    if !jobs::TYPES.contains(&job.kind.as_str()) {
        return bad_request(&format!("type must be one of {:?}", jobs::TYPES));
    }
    let trace = runtime::jobs::current_trace();
    match jobs::enqueue(&api.db, &job.kind, &job.payload, trace.as_deref()).await {
        Ok(id) => (
            StatusCode::ACCEPTED,
            Json(json!({ "job_id": id, "trace_id": runtime::traces::current_trace_id() })),
        )
            .into_response(),
        Err(error) => unavailable(error),
    }
}

async fn job_status(State(api): State<Api>, Path(id): Path<i64>) -> Response {
    match api
        .db
        .query("SELECT status, attempts, trace_id FROM jobs WHERE id = $1", &[&id])
        .await
    {
        Ok(rows) => match rows.first() {
            Some(r) => Json(json!({
                "job_id": id,
                "status": r.get::<_, String>(0),
                "attempts": r.get::<_, i32>(1),
                "trace_id": r.get::<_, Option<String>>(2),
            }))
            .into_response(),
            None => (StatusCode::NOT_FOUND, Json(json!({ "error": "no such job" }))).into_response(),
        },
        Err(error) => unavailable(error),
    }
}
