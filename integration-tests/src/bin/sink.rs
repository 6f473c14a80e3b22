//! sink: stands in, inside an end-to-end compose stack, for the receivers the stack pushes
//! to and that cannot run here: Alertmanager's Slack, PagerDuty and webhook receivers,
//! Loki's push API and Elasticsearch's `_bulk`, ILM policy and index template APIs. It keeps
//! every JSON body POSTed or PUT to any path (at most `MAX_KEPT`) with the path, and each
//! document of a `_bulk` request as `{"index", "document"}` under `/_bulk`, answering as
//! Elasticsearch does (every item created; a policy or template GET finds nothing), and
//! hands them back on `GET /received`, so a test on the host can read what was delivered.
//! Listens on 0.0.0.0:`SINK_PORT` (9099) inside its own container.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// Bodies kept (a log line shipped to Elasticsearch is one); later ones are refused with 507
/// so a runaway test shows up.
const MAX_KEPT: usize = 200_000;

type Received = Arc<Mutex<Vec<Value>>>;

async fn receive(State(received): State<Received>, uri: Uri, Json(body): Json<Value>) -> StatusCode {
    let mut kept = received.lock().unwrap_or_else(|e| e.into_inner());
    if kept.len() >= MAX_KEPT {
        return StatusCode::INSUFFICIENT_STORAGE;
    }
    kept.push(json!({ "path": uri.path(), "body": body }));
    // Loki answers a push with 204; Alertmanager accepts any 2xx from a webhook.
    StatusCode::NO_CONTENT
}

/// Elasticsearch's `_bulk`: NDJSON action and source pairs, each document kept with its
/// index, each item answered `created`.
async fn bulk(State(received): State<Received>, body: String) -> (StatusCode, Json<Value>) {
    let lines: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.chunks(2).any(|pair| pair.len() != 2) {
        let error = json!({"error": {"type": "illegal_argument_exception", "reason": "odd line count"}, "status": 400});
        return (StatusCode::BAD_REQUEST, Json(error));
    }
    let mut kept = received.lock().unwrap_or_else(|e| e.into_inner());
    if kept.len() + lines.len() / 2 > MAX_KEPT {
        return (StatusCode::INSUFFICIENT_STORAGE, Json(json!({"status": 507})));
    }
    let mut items = Vec::new();
    for pair in lines.chunks(2) {
        let action: Value = serde_json::from_str(pair[0]).unwrap_or(Value::Null);
        let (op, meta) = match action.as_object().and_then(|a| a.iter().next()) {
            Some((op, meta)) => (op.clone(), meta.clone()),
            None => ("index".to_string(), Value::Null),
        };
        let document: Value = serde_json::from_str(pair[1]).unwrap_or(Value::Null);
        let index = meta["_index"].clone();
        kept.push(json!({ "path": "/_bulk", "body": { "index": index, "document": document } }));
        items.push(
            json!({ op: { "_index": index, "_id": kept.len().to_string(), "status": 201, "result": "created" } }),
        );
    }
    (
        StatusCode::OK,
        Json(json!({ "took": 1, "errors": false, "items": items })),
    )
}

/// A GET of an ILM policy or index template: none exists until PUT (kept, not served).
async fn not_found() -> (StatusCode, Json<Value>) {
    (StatusCode::NOT_FOUND, Json(json!({"status": 404})))
}

async fn put(State(received): State<Received>, uri: Uri, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let _ = receive(State(received), uri, Json(body)).await;
    (StatusCode::OK, Json(json!({"acknowledged": true})))
}

/// What was received, in arrival order; `?path=/x` keeps only what arrived at `/x`.
async fn received(
    State(received): State<Received>,
    axum::extract::Query(filter): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Json<Vec<Value>> {
    let kept = received.lock().unwrap_or_else(|e| e.into_inner());
    Json(match filter.get("path") {
        Some(path) => kept.iter().filter(|r| r["path"] == path.as_str()).cloned().collect(),
        None => kept.clone(),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::var("SINK_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9099);
    let app = Router::new()
        .route("/received", get(received))
        .route("/_bulk", post(bulk))
        .fallback(post(receive).put(put).get(not_found))
        .with_state(Received::default());
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    println!("sink listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
