//! WebSocket session accounting: a guard counts the connection open while it lives and,
//! when dropped for any reason (close frame, error, a client that vanished, shutdown),
//! takes it off the gauge, observes its duration and logs the disconnect. Also the close a
//! server sends its clients when it shuts down.

use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};

use crate::builtins::WebSocketMetrics;
use crate::events::RuntimeEvent;

/// Read buffer of an upgraded socket. tungstenite allocates its default (128 KiB) when the
/// socket opens, which makes it nearly all of an idle connection's memory (BENCHMARKS.md);
/// a message larger than the buffer is still read whole, in more reads.
pub const READ_BUFFER_BYTES: usize = 4 * 1024;

/// The upgrade with a small read buffer: for services holding many mostly idle sockets.
pub fn lean(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade.read_buffer_size(READ_BUFFER_BYTES)
}

/// The upgrade as the spec limits it: [`lean`], and messages (and frames) no larger than
/// `service.limits.websocket_message_bytes`; a larger one fails the read, which
/// [`close_after_error`] answers with 1009 and [`close_frame_for`] names `too_large`.
pub fn limited(upgrade: WebSocketUpgrade, obs: &crate::Observability) -> WebSocketUpgrade {
    let max = usize::try_from(obs.config.spec.service.limits.websocket_message_bytes).unwrap_or(usize::MAX);
    lean(upgrade).max_message_size(max).max_frame_size(max)
}

/// The span of a WebSocket session, in the trace of the request that upgraded it (the
/// caller's `traceparent` continues into the session) and carrying that request's context
/// (its id, `client_ip`, fields a handler recorded) on every line of the session. It is not
/// the request span's child in the log tree, so the request's span ends when the upgrade is
/// answered rather than when the session closes. Create it in the upgrade handler, before
/// `on_upgrade`: the callback runs in a task of its own, outside the request. An empty
/// `session_id` leaves the field off, for a service whose spec has no session ids.
pub fn session_span(session_id: &str) -> tracing::Span {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let span = tracing::info_span!(parent: None, "websocket", session_id = tracing::field::Empty);
    if !session_id.is_empty() {
        span.record("session_id", session_id);
    }
    crate::context::inherit(&span, crate::context::current_fields());
    let _ = span.set_parent(tracing::Span::current().context());
    span
}

/// How long a server waits for the client's answer to its close frame, and for the close
/// frame itself to leave.
pub const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(1);

/// How long one message may wait for the client to take it. A client that stops reading
/// fills the socket's buffers, after which a send waits for as long as the client lives,
/// and holds up the session's shutdown with it.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Why [`send`] failed; either way the session should end (count it as `send_failed`).
#[derive(Debug)]
pub enum SendError {
    /// The connection is gone or broken.
    Closed(axum::Error),
    /// The client took nothing for [`SEND_TIMEOUT`]: it does not read.
    TimedOut,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Closed(error) => write!(f, "sending failed: {error}"),
            Self::TimedOut => write!(f, "the client took nothing for {SEND_TIMEOUT:?}"),
        }
    }
}

impl std::error::Error for SendError {}

/// Sends a message, giving up after [`SEND_TIMEOUT`]. What is queued is bounded by the
/// socket's buffers and this one message, so a client that never reads costs a bounded
/// amount of memory and, at most, this long.
pub async fn send(socket: &mut WebSocket, message: Message) -> Result<(), SendError> {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(SendError::Closed(error)),
        Err(_) => Err(SendError::TimedOut),
    }
}

/// Says goodbye as a shutting-down server should: close code 1001 (going away), then up to
/// [`CLOSE_REPLY_WAIT`] for the client to answer the close handshake. A client that does
/// not read gets no more than that wait either.
pub async fn close_going_away(socket: &mut WebSocket) {
    let close = CloseFrame {
        code: axum::extract::ws::close_code::AWAY,
        reason: "server shutting down".into(),
    };
    let sent = tokio::time::timeout(CLOSE_REPLY_WAIT, socket.send(Message::Close(Some(close)))).await;
    if matches!(sent, Ok(Ok(()))) {
        let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, socket.recv()).await;
    }
}

/// The close a server owes a client after reading failed with `error`: 1009 (message too
/// big) for a message past the size limit, 1002 (protocol error) for a frame that breaks
/// the protocol; `None` when the connection itself is gone (a reset, a closed stream) and
/// there is nobody to tell.
pub fn close_frame_for(error: &axum::Error) -> Option<CloseFrame> {
    // axum wraps tungstenite's error without exposing its type: its text says which it is.
    let text = error.to_string().to_ascii_lowercase();
    let (code, reason) = if text.contains("space limit") || text.contains("too long") || text.contains("too big") {
        (axum::extract::ws::close_code::SIZE, "message too big")
    } else if text.contains("protocol") || text.contains("utf-8") || text.contains("utf8") {
        (axum::extract::ws::close_code::PROTOCOL, "protocol error")
    } else {
        return None;
    };
    Some(CloseFrame {
        code,
        reason: reason.into(),
    })
}

/// Ends a session whose reading failed with `error` the way RFC 6455 asks: with a close
/// frame saying why, when the connection can still carry one (instead of dropping the TCP
/// connection, which the client sees as 1006, abnormal closure). Bounded by
/// [`CLOSE_REPLY_WAIT`].
pub async fn close_after_error(socket: &mut WebSocket, error: &axum::Error) {
    if let Some(frame) = close_frame_for(error) {
        let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, socket.send(Message::Close(Some(frame)))).await;
    }
}

/// One open WebSocket session.
#[derive(Debug)]
pub struct Session {
    metrics: Option<WebSocketMetrics>,
    started: Instant,
    pub id: String,
    messages: u64,
}

impl Session {
    pub fn open(metrics: Option<WebSocketMetrics>, id: String) -> Self {
        if let Some(m) = &metrics {
            m.active.inc();
        }
        crate::runtime_event!(INFO, RuntimeEvent::WebsocketConnected, session_id = %id);
        Self {
            metrics,
            started: Instant::now(),
            id,
            messages: 0,
        }
    }

    /// Counts a processed message; returns how many this session has had.
    pub fn message(&mut self) -> u64 {
        self.messages += 1;
        if let Some(m) = &self.metrics {
            m.messages.inc();
        }
        self.messages
    }

    pub fn error(&self, kind: &str) {
        if let Some(m) = &self.metrics {
            m.error(kind);
        }
        crate::runtime_event!(WARN, RuntimeEvent::WebsocketError, session_id = %self.id, error_type = kind);
    }

    pub fn messages(&self) -> u64 {
        self.messages
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let seconds = self.started.elapsed().as_secs_f64();
        if let Some(m) = &self.metrics {
            m.active.dec();
            m.duration.observe(seconds);
        }
        crate::runtime_event!(
            INFO,
            RuntimeEvent::WebsocketDisconnected,
            session_id = %self.id,
            messages = self.messages,
            duration_seconds = seconds
        );
    }
}
