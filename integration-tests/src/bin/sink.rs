//! sink: stands in, inside an end-to-end compose stack, for the receivers the stack pushes
//! to and that cannot run here: Alertmanager's Slack, PagerDuty and webhook receivers, and
//! Loki's push API. It keeps every JSON body POSTed to any path (at most `MAX_KEPT`) with
//! the path, and hands them back on `GET /received`, so a test on the host can read what
//! was delivered. Listens on 0.0.0.0:`SINK_PORT` (9099) inside its own container.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// Bodies kept; later ones are refused with 507 so a runaway test shows up.
const MAX_KEPT: usize = 10_000;

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

async fn received(State(received): State<Received>) -> Json<Vec<Value>> {
    Json(received.lock().unwrap_or_else(|e| e.into_inner()).clone())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::var("SINK_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9099);
    let app = Router::new()
        .route("/received", get(received))
        .fallback(post(receive))
        .with_state(Received::default());
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    println!("sink listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
