//! ws-service (seed 002): a WebSocket echo service deployed blue/green. Every JSON message a
//! client sends comes back with the connection's running count; a message that is not JSON
//! is an unhandled error, counted and logged. Live connections, messages, errors and the
//! graceful shutdown's duration are the four metrics of its obs.yaml; the runtime serves
//! them with `{"status":"ok"}` liveness, readiness for smoke tests and JSON logs carrying
//! the request id of the upgrade. `ws-service healthcheck` is its container healthcheck.

mod connections;

use std::process::ExitCode;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRef, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use runtime::Observability;
use serde_json::{json, Value};
use tracing::Instrument;

use crate::connections::Live;

mod obs {
    runtime::include_obs!();
}

#[derive(Clone, FromRef)]
struct App {
    obs: Observability,
    metrics: obs::Metrics,
    live: Live,
}

fn main() -> ExitCode {
    runtime::healthcheck::or_serve(obs::SPEC, serve)
}

#[tokio::main]
async fn serve() -> anyhow::Result<()> {
    let obs = Observability::start(obs::SPEC)?;
    let metrics = obs::Metrics::bind(&obs.registry)?;
    let live = Live::new(metrics.active_connections.clone());
    obs.shutdown.spawn(connections::time_shutdown(
        obs.clone(),
        live.clone(),
        metrics.shutdown_duration.clone(),
    ));
    let routes = Router::new().route("/ws", get(upgrade));
    runtime::serve(obs.clone(), routes, App { obs, metrics, live }).await?;
    Ok(())
}

async fn upgrade(socket: WebSocketUpgrade, State(app): State<App>) -> Response {
    // Made here, inside the request: the session continues its trace and carries its id.
    let span = runtime::websocket::session_span("");
    runtime::websocket::limited(socket, &app.obs).on_upgrade(move |socket| {
        // axum does not track upgraded sockets; the shutdown tracker does.
        let shutdown = app.obs.shutdown.clone();
        shutdown.spawn(session(socket, app).instrument(span));
        std::future::ready(())
    })
}

/// The reply to one message, or the error a handler did not handle.
fn handle(payload: &[u8], count: u64) -> Result<Value, String> {
    let message: Value = serde_json::from_slice(payload).map_err(|e| format!("message is not JSON: {e}"))?;
    Ok(json!({ "echo": message, "count": count }))
}

async fn session(mut socket: WebSocket, app: App) {
    let _connection = app.live.open();
    tracing::info!("WebSocket connected");
    let mut received = 0u64;
    let mut draining = std::pin::pin!(app.obs.shutdown.draining());
    loop {
        let message = tokio::select! {
            _ = &mut draining => {
                runtime::websocket::close_going_away(&mut socket).await;
                return;
            }
            message = socket.recv() => message,
        };
        let payload = match message {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
            Some(Ok(Message::Binary(data))) => data.to_vec(),
        };
        received += 1;
        app.metrics.total_messages_total.inc();
        let reply = match handle(&payload, received) {
            Ok(reply) => {
                tracing::debug!(
                    message_count = received,
                    message_length = payload.len(),
                    "message processed"
                );
                reply
            }
            Err(error) => {
                app.metrics.error_count_total.inc();
                tracing::error!(error = %error, "unhandled exception");
                json!({ "error": error })
            }
        };
        if runtime::websocket::send(&mut socket, Message::Text(reply.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
    }
}
