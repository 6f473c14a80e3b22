//! `/ws?workspace_id=…`: the analytics WebSocket. A client subscribes to one workspace and
//! receives each event as it is ingested; every message it sends is acknowledged. Counted in
//! the builtin WebSocket metrics; closed with 1001 when the service shuts down.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use runtime::websocket::Session;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tracing::Instrument;

use crate::api::Api;

/// Events a slow client may fall behind by before it skips some.
const BACKLOG: usize = 256;

/// Where ingested events are published.
#[derive(Clone)]
pub struct Live {
    sender: broadcast::Sender<Arc<(String, Value)>>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(BACKLOG).0,
        }
    }
}

impl Live {
    pub fn publish(&self, workspace_id: &str, event: Value) {
        // No subscriber is no error.
        let _ = self.sender.send(Arc::new((workspace_id.to_string(), event)));
    }
}

#[derive(Deserialize)]
pub struct Subscribe {
    workspace_id: String,
}

pub async fn upgrade(socket: WebSocketUpgrade, State(api): State<Api>, Query(subscribe): Query<Subscribe>) -> Response {
    let workspace = subscribe.workspace_id;
    if workspace.is_empty() || workspace.len() > 64 {
        return (StatusCode::BAD_REQUEST, "workspace_id is 1 to 64 bytes").into_response();
    }
    // Made here, inside the request: the session continues its trace and carries its
    // context (request id, user), with the workspace it follows.
    let session_id = uuid::Uuid::new_v4().to_string();
    let span = runtime::websocket::session_span(&session_id);
    span.in_scope(|| crate::obs::log_fields::workspace_id(workspace.as_str()));
    runtime::websocket::limited(socket, &api.obs).on_upgrade(move |socket| {
        let shutdown = api.obs.shutdown.clone();
        shutdown.spawn(session(socket, api, workspace, session_id).instrument(span));
        std::future::ready(())
    })
}

async fn session(mut socket: WebSocket, api: Api, workspace: String, id: String) {
    let mut session = Session::open(api.obs.builtins.websocket.clone(), id);
    let mut events = api.live.sender.subscribe();
    let mut draining = std::pin::pin!(api.obs.shutdown.draining());
    loop {
        let outgoing = tokio::select! {
            _ = &mut draining => {
                runtime::websocket::close_going_away(&mut socket).await;
                return;
            }
            event = events.recv() => match event {
                Ok(event) if event.0 == workspace => json!({ "event": event.1 }),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            message = socket.recv() => match message {
                None | Some(Ok(Message::Close(_))) => return,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Err(error)) => {
                    let text = error.to_string().to_ascii_lowercase();
                    session.error(if text.contains("reset") || text.contains("without closing") { "abnormal_close" } else { "protocol" });
                    runtime::websocket::close_after_error(&mut socket, &error).await;
                    return;
                }
                Some(Ok(_)) => json!({ "ack": session.message() }),
            },
        };
        if runtime::websocket::send(&mut socket, Message::Text(outgoing.to_string().into()))
            .await
            .is_err()
        {
            session.error("send_failed");
            return;
        }
    }
}
