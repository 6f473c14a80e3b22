//! ws-app (seed 000): a WebSocket application served by two replicas, `app_blue` and
//! `app_green`, for blue/green deployments. Every message gets a reply with the session's
//! running count, and a heartbeat goes to every connected client every 30 s. The runtime
//! serves the builtin WebSocket metrics and the `sigiq_` start-up and shutdown timings from
//! its obs.yaml, `/healthz`, a `/readyz` that answers 503 once SIGTERM arrives, and JSON
//! logs keyed `event`/`lineno`. `ws-app healthcheck` is its container healthcheck.

mod heartbeat;

use std::process::ExitCode;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRef, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use runtime::websocket::Session;
use runtime::Observability;
use serde_json::json;
use tracing::Instrument;

use crate::heartbeat::Heartbeat;

mod obs {
    runtime::include_obs!();
}

#[derive(Clone, FromRef)]
struct App {
    obs: Observability,
    heartbeat: Heartbeat,
}

fn main() -> ExitCode {
    runtime::healthcheck::or_serve(obs::SPEC, serve)
}

#[tokio::main]
async fn serve() -> anyhow::Result<()> {
    let env = |var: &str| std::env::var(var).ok();
    let obs = Observability::start(obs::SPEC)?;
    let heartbeat = Heartbeat::start(&obs, Heartbeat::interval(env)?);
    let shutdown = obs.shutdown.clone();
    tokio::spawn(async move {
        shutdown.begun().await;
        tracing::info!("graceful shutdown");
    });
    let routes = Router::new().route("/ws", get(upgrade));
    runtime::serve(obs.clone(), routes, App { obs, heartbeat }).await?;
    Ok(())
}

async fn upgrade(socket: WebSocketUpgrade, State(app): State<App>) -> Response {
    // Made here, inside the request: the session continues its trace and carries its id.
    let session_id = uuid::Uuid::new_v4().to_string();
    let span = runtime::websocket::session_span(&session_id);
    runtime::websocket::limited(socket, &app.obs).on_upgrade(move |socket| {
        // axum does not track upgraded sockets; the shutdown tracker does.
        let shutdown = app.obs.shutdown.clone();
        shutdown.spawn(session(socket, app, session_id).instrument(span));
        std::future::ready(())
    })
}

/// The seed's error kinds for what ended a session badly.
fn error_kind(error: &axum::Error) -> &'static str {
    let text = error.to_string().to_ascii_lowercase();
    if text.contains("reset") || text.contains("without closing handshake") || text.contains("broken pipe") {
        "abnormal_close"
    } else {
        "protocol"
    }
}

async fn session(mut socket: WebSocket, app: App, id: String) {
    let mut session = Session::open(app.obs.builtins.websocket.clone(), id);
    let mut heartbeats = app.heartbeat.subscribe();
    let mut draining = std::pin::pin!(app.obs.shutdown.draining());
    loop {
        let outgoing = tokio::select! {
            _ = &mut draining => {
                runtime::websocket::close_going_away(&mut socket).await;
                return;
            }
            beat = heartbeats.recv() => match beat {
                Ok(beat) => beat.to_string(),
                // A client too slow for the heartbeat skips the ones it missed.
                Err(_) => continue,
            },
            message = socket.recv() => match message {
                None | Some(Ok(Message::Close(_))) => return,
                Some(Err(error)) => {
                    let kind = error_kind(&error);
                    session.error(kind);
                    tracing::error!(error_type = kind, error = %error, "error");
                    runtime::websocket::close_after_error(&mut socket, &error).await;
                    return;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(message)) => {
                    let length = match &message {
                        Message::Text(text) => text.len(),
                        other => other.clone().into_data().len(),
                    };
                    let count = session.message();
                    tracing::debug!(message_count = count, message_length = length, "message processed");
                    json!({ "type": "reply", "count": count }).to_string()
                }
            },
        };
        if runtime::websocket::send(&mut socket, Message::Text(outgoing.into()))
            .await
            .is_err()
        {
            session.error("send_failed");
            tracing::error!(error_type = "send_failed", "error");
            return;
        }
    }
}
