//! Error reports to Sentry (`error_tracking.sentry`): every error or critical line and every
//! panic becomes a Sentry event tagged with its request id, trace id and route, under the
//! service's environment and release, sent by the sentry crate's own transport in the
//! background; requests, WebSocket sessions and jobs become Sentry transactions for the
//! share of traces `traces_sample_rate` keeps. Nothing is built or sent when the DSN
//! resolves empty.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use contract::model::{ErrorTracking, LogKeys};
use sentry::protocol::{Context, Event, Exception, Level, SpanStatus, TraceContext, Transaction};
use serde_json::{Map, Value};

use crate::config::ServiceConfig;
use crate::http_client::HttpClient;

/// Context fields that become searchable tags (short values, one per event).
pub const TAG_FIELDS: [&str; 10] = [
    "request_id",
    "trace_id",
    "span_id",
    "route",
    "method",
    "session_id",
    "job_id",
    "job_type",
    "service",
    "replica",
];

/// Why error reporting could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ErrorsError {
    #[error("error_tracking.sentry.dsn is not a Sentry DSN (`https://<key>@<host>/<project>`): {0}")]
    Dsn(String),
    #[error("error_tracking.sentry.{field} `{value}` is not a number between 0 and 1")]
    Rate { field: &'static str, value: String },
}

/// Sends error events to Sentry; cheap to clone.
#[derive(Clone)]
pub struct ErrorReporter {
    client: Arc<sentry::Client>,
}

impl std::fmt::Debug for ErrorReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorReporter")
            .field("dsn", &self.client.dsn().map(|d| d.host().to_string()))
            .finish_non_exhaustive()
    }
}

/// A rate variable of the spec, checked; `None` when unset or empty.
fn rate(
    value: Option<&contract::EnvString>,
    field: &'static str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<f32>, ErrorsError> {
    let Some(text) = value.and_then(|v| v.resolve(env)).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    match text.trim().parse::<f32>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(Some(rate)),
        _ => Err(ErrorsError::Rate { field, value: text }),
    }
}

impl ErrorReporter {
    /// The reporter the spec asks for; `None` without an `error_tracking` section or when
    /// the DSN resolves empty (nothing is sent then).
    pub fn from_spec(
        config: &ServiceConfig,
        http: &HttpClient,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ErrorsError> {
        let Some(ErrorTracking { sentry: spec }) = &config.spec.error_tracking else {
            return Ok(None);
        };
        let Some(dsn) = spec.dsn.resolve(&env).filter(|d| !d.trim().is_empty()) else {
            return Ok(None);
        };
        let dsn: sentry::types::Dsn = dsn
            .trim()
            .parse()
            .map_err(|e: sentry::types::ParseDsnError| ErrorsError::Dsn(e.to_string()))?;
        let traces = rate(spec.traces_sample_rate.as_ref(), "traces_sample_rate", &env)?;
        // Read so that a malformed value fails the start like the others; the Rust SDK has
        // no profiler, which OBSERVABILITY.md says.
        rate(spec.profiles_sample_rate.as_ref(), "profiles_sample_rate", &env)?;
        let client = http.reqwest().clone();
        let options = sentry::ClientOptions {
            dsn: Some(dsn),
            release: Some(Cow::Owned(format!("{}@{}", config.spec.service.name, config.version))),
            environment: Some(Cow::Owned(config.environment.clone())),
            server_name: config.replica.clone().map(Cow::Owned),
            sample_rate: 1.0,
            traces_sample_rate: traces.unwrap_or(0.0),
            // The integrations read the process (contexts, panics through the global hub);
            // the runtime builds its events itself, with the request's context.
            default_integrations: false,
            send_default_pii: false,
            transport: Some(Arc::new(move |options: &sentry::ClientOptions| {
                Arc::new(sentry::transports::ReqwestHttpTransport::with_client(
                    options,
                    client.clone(),
                )) as Arc<dyn sentry::Transport>
            })),
            ..Default::default()
        };
        Ok(Some(Self {
            client: Arc::new(sentry::Client::with_options(options)),
        }))
    }

    /// Sends the event a log line makes (the line as written, redaction applied). The
    /// transport's queue holds 30 envelopes and drops beyond that: a request never waits.
    pub fn report(&self, line: &Map<String, Value>, keys: &LogKeys, severity: Severity) {
        self.client.capture_event(event(line, keys, severity), None);
    }

    /// The share of traces sent as transactions; 0 when `traces_sample_rate` is unset.
    pub fn traces_rate(&self) -> f32 {
        self.client.options().traces_sample_rate
    }

    /// Sends a finished request, WebSocket session or job as a transaction when its trace
    /// is among the share kept (decided by the trace id, so a job continuing a request's
    /// trace is kept with it).
    pub fn finished(&self, span: &Finished<'_>) {
        if !keeps_trace(span.trace_id, self.traces_rate()) {
            return;
        }
        let Some(transaction) = transaction(span, self.client.options()) else {
            return;
        };
        let mut envelope = sentry::Envelope::new();
        envelope.add_item(transaction);
        self.client.send_envelope(envelope);
    }

    /// Sends what is queued, waiting at most `within` (off the async threads).
    pub async fn flush(&self, within: Duration) {
        let client = self.client.clone();
        let _ = tokio::task::spawn_blocking(move || client.flush(Some(within))).await;
    }
}

/// How bad a reported line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    /// A `critical` line.
    Critical,
    /// A panic, with the stack where it happened.
    Panic,
}

/// The Sentry event for a log line: its message, logger (the target), tags from the
/// context fields, the rest as extra data, and the trace the line belongs to.
pub fn event(line: &Map<String, Value>, keys: &LogKeys, severity: Severity) -> Event<'static> {
    let text = |key: &str| line.get(key).and_then(Value::as_str).map(str::to_string);
    let message = text(&keys.message).unwrap_or_default();
    let mut event = Event {
        level: match severity {
            Severity::Error => Level::Error,
            Severity::Critical | Severity::Panic => Level::Fatal,
        },
        logger: text(&keys.target),
        ..Default::default()
    };
    let standard = keys.all();
    for (key, value) in line {
        if standard.contains(&key.as_str()) {
            continue;
        }
        if TAG_FIELDS.contains(&key.as_str()) {
            let tag = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            event.tags.insert(key.clone(), tag);
        } else {
            event.extra.insert(key.clone(), value.clone());
        }
    }
    if let (Some(trace_id), Some(span_id)) = (text("trace_id"), text("span_id")) {
        if let (Ok(trace_id), Ok(span_id)) = (trace_id.parse(), span_id.parse()) {
            event.contexts.insert(
                "trace".into(),
                Context::Trace(Box::new(TraceContext {
                    trace_id,
                    span_id,
                    ..Default::default()
                })),
            );
        }
    }
    if severity == Severity::Panic {
        event.exception.values.push(Exception {
            ty: "panic".into(),
            value: Some(message),
            stacktrace: sentry::integrations::backtrace::current_stacktrace(),
            ..Default::default()
        });
    } else {
        event.message = Some(message);
    }
    event
}

/// Whether a trace is among the `rate` share kept: the trace id's low 63 bits against the
/// rate, as OpenTelemetry's ratio sampler decides (random ids make it a fair share).
pub fn keeps_trace(trace_id: &str, rate: f32) -> bool {
    if rate <= 0.0 {
        return false;
    }
    if rate >= 1.0 {
        return true;
    }
    let low = trace_id.get(16..32).and_then(|h| u64::from_str_radix(h, 16).ok());
    low.is_some_and(|low| ((low >> 1) as f64) < f64::from(rate) * (1u64 << 63) as f64)
}

/// A request, WebSocket session or job that ended, as its span knew it.
#[derive(Debug)]
pub struct Finished<'a> {
    /// The span's name: `request`, `websocket` or `job`.
    pub kind: &'a str,
    /// Its context fields (`request_id`, `route`, `method`, `job_type`…).
    pub fields: &'a Map<String, Value>,
    pub trace_id: &'a str,
    pub span_id: &'a str,
    pub started: SystemTime,
    pub ended: SystemTime,
    /// An error line was written inside it.
    pub failed: bool,
}

/// The transaction for a finished span; `None` when its ids are not W3C ids.
pub fn transaction(span: &Finished<'_>, options: &sentry::ClientOptions) -> Option<Transaction<'static>> {
    let field = |key: &str| span.fields.get(key).and_then(Value::as_str);
    let (op, name) = match span.kind {
        "request" => (
            "http.server",
            format!("{} {}", field("method").unwrap_or("GET"), field("route").unwrap_or("")),
        ),
        "websocket" => ("websocket.server", "websocket session".to_string()),
        _ => ("queue.process", field("job_type").unwrap_or(span.kind).to_string()),
    };
    let mut tags = sentry::protocol::Map::new();
    for (key, value) in span.fields {
        if TAG_FIELDS.contains(&key.as_str()) {
            let tag = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            tags.insert(key.clone(), tag);
        }
    }
    let mut contexts = sentry::protocol::Map::new();
    contexts.insert(
        "trace".to_string(),
        Context::Trace(Box::new(TraceContext {
            trace_id: span.trace_id.parse().ok()?,
            span_id: span.span_id.parse().ok()?,
            op: Some(op.to_string()),
            status: Some(if span.failed {
                SpanStatus::InternalError
            } else {
                SpanStatus::Ok
            }),
            ..Default::default()
        })),
    );
    Some(Transaction {
        name: Some(name),
        release: options.release.clone(),
        environment: options.environment.clone(),
        server_name: options.server_name.clone(),
        tags,
        contexts,
        start_timestamp: span.started,
        timestamp: Some(span.ended),
        ..Default::default()
    })
}

/// What a panic payload says (`panic!("…")` carries a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>")
}

/// The target a panic's log line is written under.
pub const PANIC_TARGET: &str = "panic";

/// Makes every panic also a log line (an error under target `panic`, with its location,
/// inside the spans that were current: the request's id and trace) and so a Sentry event;
/// the previous hook still runs. Installed once per process.
pub fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            thread_local! {
                static IN_HOOK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
            }
            // A panic while logging a panic would recurse.
            if !IN_HOOK.with(|h| h.replace(true)) {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                tracing::error!(
                    target: PANIC_TARGET,
                    panic = true,
                    location = %location,
                    "{}",
                    panic_message(info.payload())
                );
                IN_HOOK.with(|h| h.set(false));
            }
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(value: serde_json::Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_line_becomes_an_event_with_tags_extra_and_trace() {
        let keys = LogKeys::default();
        let event = event(
            &line(json!({
                "timestamp": "2026-12-03T07:00:00.000Z",
                "level": "error",
                "message": "payment failed",
                "target": "shop::pay",
                "request_id": "r-1",
                "route": "/pay/{id}",
                "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                "span_id": "00f067aa0ba902b7",
                "amount": 12,
                "password": "[REDACTED]"
            })),
            &keys,
            Severity::Error,
        );
        assert_eq!(event.message.as_deref(), Some("payment failed"));
        assert_eq!(event.level, Level::Error);
        assert_eq!(event.logger.as_deref(), Some("shop::pay"));
        assert_eq!(event.tags["request_id"], "r-1");
        assert_eq!(event.tags["route"], "/pay/{id}");
        assert_eq!(event.tags["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(event.extra["amount"], json!(12));
        assert_eq!(event.extra["password"], json!("[REDACTED]"));
        assert!(!event.extra.contains_key("message") && !event.extra.contains_key("level"));
        let Some(Context::Trace(trace)) = event.contexts.get("trace") else {
            panic!("no trace context")
        };
        assert_eq!(trace.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn a_panic_is_an_exception_and_critical_is_fatal() {
        let keys = LogKeys::default();
        let panic = event(&line(json!({"message": "index out of bounds"})), &keys, Severity::Panic);
        assert_eq!(panic.level, Level::Fatal);
        assert_eq!(panic.exception.values[0].ty, "panic");
        assert_eq!(panic.exception.values[0].value.as_deref(), Some("index out of bounds"));
        assert!(panic.message.is_none());
        let critical = event(&line(json!({"message": "disk gone"})), &keys, Severity::Critical);
        assert_eq!(critical.level, Level::Fatal);
        assert_eq!(critical.message.as_deref(), Some("disk gone"));
    }

    #[test]
    fn the_kept_share_follows_the_trace_id() {
        let ids: Vec<String> = (0..10_000u64)
            .map(|n| format!("{:016x}{:016x}", n, n.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .collect();
        let kept = |rate| ids.iter().filter(|id| keeps_trace(id, rate)).count();
        assert_eq!(kept(0.0), 0);
        assert_eq!(kept(1.0), 10_000);
        let tenth = kept(0.1);
        assert!((800..1200).contains(&tenth), "{tenth} of 10,000 at 0.1");
        assert!(!keeps_trace("short", 0.5), "a malformed id is not kept");
        // The same trace gets the same answer: a job is kept with its request.
        assert!(ids.iter().all(|id| keeps_trace(id, 0.3) == keeps_trace(id, 0.3)));
    }

    #[test]
    fn a_finished_request_is_a_transaction_named_by_its_route() {
        let fields = line(json!({"request_id": "r-9", "route": "/orders/{id}", "method": "POST"}));
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let finished = Finished {
            kind: "request",
            fields: &fields,
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
            span_id: "00f067aa0ba902b7",
            started,
            ended: started + Duration::from_millis(42),
            failed: true,
        };
        let options = sentry::ClientOptions {
            release: Some("shop@1.2.3".into()),
            environment: Some("staging".into()),
            ..Default::default()
        };
        let transaction = transaction(&finished, &options).unwrap();
        assert_eq!(transaction.name.as_deref(), Some("POST /orders/{id}"));
        assert_eq!(transaction.release.as_deref(), Some("shop@1.2.3"));
        assert_eq!(transaction.tags["request_id"], "r-9");
        let Some(Context::Trace(trace)) = transaction.contexts.get("trace") else {
            panic!("no trace context")
        };
        assert_eq!(trace.op.as_deref(), Some("http.server"));
        assert_eq!(trace.status, Some(SpanStatus::InternalError));
        assert_eq!(
            transaction
                .timestamp
                .unwrap()
                .duration_since(transaction.start_timestamp)
                .unwrap(),
            Duration::from_millis(42)
        );
        let bad = Finished {
            trace_id: "nope",
            ..finished
        };
        assert!(super::transaction(&bad, &options).is_none());
    }

    #[test]
    fn panic_payloads_are_read_as_text() {
        let text: Box<dyn std::any::Any + Send> = Box::new("static");
        assert_eq!(panic_message(text.as_ref()), "static");
        let owned: Box<dyn std::any::Any + Send> = Box::new(String::from("formatted 3"));
        assert_eq!(panic_message(owned.as_ref()), "formatted 3");
        let other: Box<dyn std::any::Any + Send> = Box::new(3_u8);
        assert_eq!(panic_message(other.as_ref()), "Box<dyn Any>");
    }
}
