//! websocket-message-counter (seed 001): counts the messages each WebSocket client sends on
//! `/ws/` and replies with the running count. A client that reconnects with its
//! `?session_id=` resumes its count; more than 20 messages a second are refused; a binary
//! message is a processing error. The runtime serves `/metrics/`, `/healthz/` and `/readyz/`
//! (trailing slashes, as the seed has them) with the seed's bodies, the builtin WebSocket
//! metrics with its error types, and JSON logs with upper-case levels, shipped to Loki by
//! default. `websocket-message-counter healthcheck` is its container healthcheck.

mod sessions;

use std::process::ExitCode;
use std::time::Instant;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRef, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use runtime::websocket::Session;
use runtime::Observability;
use serde::Deserialize;
use serde_json::json;
use tracing::Instrument;

use crate::sessions::{RateLimit, Sessions, Verdict};

mod obs {
    runtime::include_obs!();
}

/// Longest session id a client may resume with.
const MAX_SESSION_ID: usize = 64;

#[derive(Clone, FromRef)]
struct App {
    obs: Observability,
    sessions: Sessions,
}

fn main() -> ExitCode {
    runtime::healthcheck::or_serve(obs::SPEC, serve)
}

#[tokio::main]
async fn serve() -> anyhow::Result<()> {
    let obs = Observability::start(obs::SPEC)?;
    let routes = Router::new().route("/ws/", get(upgrade));
    let app = App {
        obs: obs.clone(),
        sessions: Sessions::default(),
    };
    runtime::serve(obs, routes, app).await?;
    Ok(())
}

#[derive(Deserialize)]
struct Resume {
    session_id: Option<String>,
}

async fn upgrade(socket: WebSocketUpgrade, State(app): State<App>, Query(resume): Query<Resume>) -> Response {
    let resumed = resume
        .session_id
        .filter(|id| !id.is_empty() && id.len() <= MAX_SESSION_ID && id.chars().all(|c| c.is_ascii_graphic()));
    let session_id = resumed.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // In the request's trace, with its context: request_id and client_ip reach every session line.
    let span = runtime::websocket::session_span(&session_id);
    let failed_obs = app.obs.clone();
    runtime::websocket::limited(socket, &app.obs)
        .on_failed_upgrade(move |error| {
            if let Some(ws) = &failed_obs.builtins.websocket {
                ws.error("connection_failed");
            }
            tracing::error!(session_id = "", error = %error, "Connection failed");
        })
        .on_upgrade(move |socket| {
            // axum does not track upgraded sockets; the shutdown tracker does.
            let shutdown = app.obs.shutdown.clone();
            let resuming = resumed.is_some();
            shutdown.spawn(session(socket, app, session_id, resuming).instrument(span));
            std::future::ready(())
        })
}

/// The seed's error types for what broke a connection.
fn error_kind(error: &axum::Error) -> &'static str {
    let text = error.to_string().to_ascii_lowercase();
    if text.contains("without closing handshake") || text.contains("reset") {
        "abnormal_close"
    } else if text.contains("io error") || text.contains("broken pipe") {
        "connection_failed"
    } else {
        "protocol"
    }
}

async fn session(mut socket: WebSocket, app: App, id: String, resuming: bool) {
    let mut count = if resuming {
        let resumed = app.sessions.resume(&id);
        tracing::warn!(known = resumed.is_some(), "Reconnection attempt");
        resumed.unwrap_or(0)
    } else {
        0
    };
    // The runtime writes the seed's `Connection established` (obs.yaml binds it).
    let mut session = Session::open(app.obs.builtins.websocket.clone(), id.clone());
    let mut limit = RateLimit::new(Instant::now());
    let mut draining = std::pin::pin!(app.obs.shutdown.draining());
    loop {
        let message = tokio::select! {
            _ = &mut draining => {
                runtime::websocket::close_going_away(&mut socket).await;
                break;
            }
            message = socket.recv() => message,
        };
        let started = Instant::now();
        let text = match message {
            None | Some(Ok(Message::Close(_))) => break,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Err(error)) => {
                let kind = error_kind(&error);
                session.error(kind);
                tracing::error!(error_type = kind, error = %error, "Connection failed");
                runtime::websocket::close_after_error(&mut socket, &error).await;
                break;
            }
            Some(Ok(Message::Binary(data))) => {
                session.error("processing_error");
                tracing::error!(message_length = data.len(), "Processing error");
                let reply = json!({ "error": "only text messages are counted" });
                if runtime::websocket::send(&mut socket, Message::Text(reply.to_string().into()))
                    .await
                    .is_err()
                {
                    break;
                }
                continue;
            }
            Some(Ok(Message::Text(text))) => text,
        };
        if let Verdict::Refused { first } = limit.check(started) {
            if first {
                tracing::warn!(limit_per_second = sessions::RATE_LIMIT, "Rate limited");
            }
            let reply = json!({ "error": "rate limited", "limit_per_second": sessions::RATE_LIMIT });
            if runtime::websocket::send(&mut socket, Message::Text(reply.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
            continue;
        }
        count += 1;
        session.message();
        tracing::debug!(
            message_count = count,
            message_length = text.len(),
            "websocket_message_received"
        );
        let reply = json!({ "count": count, "session_id": id });
        if runtime::websocket::send(&mut socket, Message::Text(reply.to_string().into()))
            .await
            .is_err()
        {
            session.error("connection_failed");
            tracing::error!(error_type = "connection_failed", "Connection failed");
            break;
        }
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(message_count = count, duration_ms, "WebSocket message processed");
    }
    app.sessions.remember(&id, count);
}
