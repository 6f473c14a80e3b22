//! The demo's routes: `/ws` (replies to every message with the session's running count),
//! the notes API, job submission, and two endpoints for exercising alerts (`/api/slow`,
//! `/api/error`). Custom metrics are updated through the typed handles generated from
//! obs.yaml; builtin groups through the runtime.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, FromRef, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use runtime::websocket::Session;
use runtime::Observability;
use serde::Deserialize;
use serde_json::json;
use tracing::Instrument;

use crate::jobs::{EnqueueError, JobQueue};
use crate::obs::{api_items_created_total::Kind, Metrics};

/// Notes held at most; creating more answers 507.
pub const MAX_NOTES: usize = 10_000;
/// Longest note text accepted.
pub const MAX_NOTE_BYTES: usize = 4096;
/// Largest WebSocket message accepted; larger ones end the session as `too_large`.
/// Interval of the heartbeat ping on every socket.
pub const HEARTBEAT: Duration = Duration::from_secs(30);
/// Longest `/api/slow` delay.
pub const MAX_SLOW_MS: u64 = 10_000;

#[derive(Debug, Clone, serde::Serialize)]
struct Note {
    id: u64,
    kind: &'static str,
    text: String,
}

/// The demo's state, shared by its handlers.
pub struct Demo {
    metrics: Metrics,
    notes: Mutex<BTreeMap<u64, Note>>,
    next_note: AtomicU64,
    messages: AtomicU64,
    jobs: JobQueue,
}

impl Demo {
    /// Starts the job worker and registers the spec's custom check `job-queue`.
    pub fn start(obs: &Observability, metrics: Metrics) -> Arc<Self> {
        let jobs = JobQueue::start(obs.jobs(), obs.shutdown.clone());
        let probe = jobs.clone();
        obs.health.register("job-queue", move || {
            let queued = probe.len();
            async move {
                if queued < crate::jobs::QUEUE_CAPACITY * 9 / 10 {
                    Ok(())
                } else {
                    Err(format!("{queued} jobs queued, the queue is nearly full"))
                }
            }
        });
        Arc::new(Self {
            metrics,
            notes: Mutex::default(),
            next_note: AtomicU64::new(1),
            messages: AtomicU64::new(0),
            jobs,
        })
    }
}

/// The demo's own router state: the runtime's part and the demo's, each handed to the
/// handlers that ask for it (`FromRef`), so probes, `/metrics` and the RED layer work on a
/// router that is not `Router<Observability>`.
#[derive(Clone)]
pub struct AppState {
    pub obs: Observability,
    pub demo: Arc<Demo>,
}

impl FromRef<AppState> for Observability {
    fn from_ref(state: &AppState) -> Self {
        state.obs.clone()
    }
}

impl FromRef<AppState> for Arc<Demo> {
    fn from_ref(state: &AppState) -> Self {
        state.demo.clone()
    }
}

type Shared = State<Arc<Demo>>;

/// The demo's routes, to be served by `runtime::serve` with an [`AppState`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ws", get(websocket))
        .route("/api/notes", post(create_note).get(list_notes))
        .route("/api/notes/{id}", get(get_note).delete(delete_note))
        .route("/api/tasks", post(create_task))
        .route("/api/jobs", post(submit_job))
        .route("/api/slow", get(slow))
        .route("/api/error", get(fail))
        .layer(DefaultBodyLimit::max(16 * 1024))
}

fn count_client(demo: &Demo, headers: &HeaderMap) {
    let client = match headers.get("x-client") {
        None => "anonymous",
        Some(value) => value.to_str().unwrap_or("invalid"),
    };
    demo.metrics.api_client_requests_total.with(client).inc();
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

#[derive(Deserialize)]
struct NewNote {
    text: String,
}

fn create(demo: &Demo, kind: Kind, text: String) -> Response {
    if text.len() > MAX_NOTE_BYTES {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "text is longer than 4096 bytes");
    }
    let mut notes = demo.notes.lock().unwrap_or_else(|e| e.into_inner());
    if notes.len() >= MAX_NOTES {
        return error(StatusCode::INSUFFICIENT_STORAGE, "the demo keeps at most 10000 notes");
    }
    let id = demo.next_note.fetch_add(1, Ordering::Relaxed);
    let note = Note {
        id,
        kind: kind.as_str(),
        text,
    };
    notes.insert(id, note.clone());
    demo.metrics.notes_stored.set(notes.len() as f64);
    demo.metrics.api_items_created_total.with(kind).inc();
    tracing::info!(note_id = id, kind = kind.as_str(), "item created");
    (StatusCode::CREATED, Json(note)).into_response()
}

async fn create_note(State(demo): Shared, headers: HeaderMap, Json(body): Json<NewNote>) -> Response {
    count_client(&demo, &headers);
    create(&demo, Kind::Note, body.text)
}

async fn create_task(State(demo): Shared, headers: HeaderMap, Json(body): Json<NewNote>) -> Response {
    count_client(&demo, &headers);
    create(&demo, Kind::Task, body.text)
}

async fn list_notes(State(demo): Shared, headers: HeaderMap) -> Response {
    count_client(&demo, &headers);
    let notes: Vec<Note> = demo
        .notes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .cloned()
        .collect();
    Json(notes).into_response()
}

async fn get_note(State(demo): Shared, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    count_client(&demo, &headers);
    match demo.notes.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
        Some(note) => Json(note.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "no such note"),
    }
}

async fn delete_note(State(demo): Shared, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    count_client(&demo, &headers);
    let mut notes = demo.notes.lock().unwrap_or_else(|e| e.into_inner());
    let removed = notes.remove(&id).is_some();
    demo.metrics.notes_stored.set(notes.len() as f64);
    if removed {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "no such note")
    }
}

#[derive(Deserialize)]
struct NewJob {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    fail: bool,
    #[serde(default)]
    duration_ms: Option<u64>,
}

async fn submit_job(State(demo): Shared, headers: HeaderMap, Json(body): Json<NewJob>) -> Response {
    count_client(&demo, &headers);
    let Some(kind) = crate::jobs::TYPES.iter().copied().find(|t| *t == body.kind) else {
        return error(StatusCode::BAD_REQUEST, "type must be one of: email, report");
    };
    // The job continues this request's trace.
    let trace = runtime::jobs::current_trace();
    let trace_id = runtime::traces::current_trace_id();
    let work = Duration::from_millis(body.duration_ms.unwrap_or(50).min(MAX_SLOW_MS));
    match demo.jobs.enqueue(kind, trace, body.fail, work) {
        Ok(job_id) => (
            StatusCode::ACCEPTED,
            Json(json!({ "job_id": job_id, "trace_id": trace_id })),
        )
            .into_response(),
        Err(EnqueueError::Full) => error(StatusCode::SERVICE_UNAVAILABLE, "the job queue is full"),
        Err(EnqueueError::ShuttingDown) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
    }
}

#[derive(Deserialize)]
struct SlowQuery {
    #[serde(default)]
    ms: u64,
}

async fn slow(Query(query): Query<SlowQuery>) -> Response {
    let ms = query.ms.min(MAX_SLOW_MS);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Json(json!({ "slept_ms": ms })).into_response()
}

async fn fail() -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, "failure requested by /api/error")
}

async fn websocket(ws: WebSocketUpgrade, State(obs): State<Observability>, State(demo): Shared) -> Response {
    // Made here, inside the request: the session continues its trace and carries its id.
    let session_id = uuid::Uuid::new_v4().to_string();
    let span = runtime::websocket::session_span(&session_id);
    runtime::websocket::limited(ws, &obs).on_upgrade(move |socket| {
        // axum does not track upgraded sockets; the shutdown tracker does.
        obs.shutdown
            .spawn(session(socket, obs.clone(), demo, session_id).instrument(span));
        std::future::ready(())
    })
}

fn error_kind(error: &axum::Error) -> &'static str {
    let text = error.to_string().to_ascii_lowercase();
    if text.contains("too long") || text.contains("space limit") || text.contains("size") {
        "too_large"
    } else if text.contains("reset") || text.contains("closing handshake") || text.contains("broken pipe") {
        "abnormal_close"
    } else {
        "protocol"
    }
}

async fn session(mut socket: WebSocket, obs: Observability, demo: Arc<Demo>, id: String) {
    let mut session = Session::open(obs.builtins.websocket.clone(), id);
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    let mut draining = std::pin::pin!(obs.shutdown.draining());
    loop {
        tokio::select! {
            _ = &mut draining => {
                runtime::websocket::close_going_away(&mut socket).await;
                tracing::info!("WebSocket closed for shutdown");
                return;
            }
            _ = heartbeat.tick() => {
                tracing::debug!("heartbeat");
                if runtime::websocket::send(&mut socket, Message::Ping(Vec::new().into())).await.is_err() {
                    session.error("send_failed");
                    return;
                }
            }
            message = socket.recv() => match message {
                None => return,
                Some(Err(error)) => {
                    session.error(error_kind(&error));
                    runtime::websocket::close_after_error(&mut socket, &error).await;
                    return;
                }
                Some(Ok(Message::Close(_))) => return,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(message)) => {
                    let size = match &message {
                        Message::Text(text) => text.len(),
                        Message::Binary(data) => data.len(),
                        _ => 0,
                    };
                    let count = session.message();
                    let total = demo.messages.fetch_add(1, Ordering::Relaxed) + 1;
                    demo.metrics.websocket_message_size_bytes.observe(size as f64);
                    tracing::debug!(message_count = count, message_length = size, "WebSocket message processed");
                    let reply = json!({ "count": count, "total": total }).to_string();
                    if runtime::websocket::send(&mut socket, Message::Text(reply.into())).await.is_err() {
                        session.error("send_failed");
                        return;
                    }
                }
            }
        }
    }
}
