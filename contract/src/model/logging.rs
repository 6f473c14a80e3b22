//! `logging`, `tracing` and `error_tracking`: the log field model, redaction, shipping,
//! and where traces and errors go.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Decimal, Duration, EnvString};

/// Log format, field model, redaction and shipping.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    /// Line format.
    #[serde(default)]
    pub format: LogFormat,
    /// Minimum level, overridable at run time by `LOG_LEVEL` / `RUST_LOG`.
    #[serde(default)]
    pub level: LogLevel,
    /// How the level is written: `info` or `INFO`.
    #[serde(default)]
    pub level_case: LevelCase,
    /// Names of the standard keys when a service uses other ones (`ts`, `msg`, `lineno`).
    #[serde(default)]
    pub keys: LogKeys,
    /// Context fields every line may carry, in order (request_id, session_id, …).
    #[serde(default = "Logging::default_fields")]
    pub fields: Vec<String>,
    /// Field names whose values are replaced by `[REDACTED]`.
    #[serde(default = "Logging::default_redact")]
    pub redact: Vec<String>,
    /// Events the service logs, for OBSERVABILITY.md and the monitor.
    #[serde(default)]
    pub events: Vec<LogEvent>,
    /// Error-log throttling: of identical lines at the throttled levels, at most `burst`
    /// per `window` are written; the rest are counted in `obs_log_lines_suppressed_total`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Throttle>,
    /// Ship logs to Grafana Loki.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loki: Option<Loki>,
    /// Ship logs to Elasticsearch (through Fluentd or directly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elasticsearch: Option<Elasticsearch>,
    /// Levels of other crates' log targets over `level` (`hyper: warn`, `tokio_postgres:
    /// info`); `RUST_LOG` (`target=level,…`), when set, replaces `level` and these. Omitted:
    /// the HTTP and WebSocket internals (`hyper`, `h2`, `tungstenite`, `tokio_tungstenite`)
    /// at `warn`.
    #[serde(default = "Logging::default_targets")]
    pub targets: BTreeMap<String, LogLevel>,
    /// How the timestamp is written: `rfc3339` (UTC with milliseconds, the default), or a
    /// pattern of the `time` crate's format description, in UTC, e.g.
    /// `[year]-[month]-[day] [hour]:[minute]:[second]` for `2025-08-06 00:33:10`.
    #[serde(default)]
    pub timestamp_format: TimestampFormat,
}

impl Logging {
    fn default_fields() -> Vec<String> {
        [
            "service",
            "environment",
            "version",
            "request_id",
            "route",
            "method",
            "status",
            "latency_ms",
        ]
        .map(String::from)
        .to_vec()
    }
    fn default_targets() -> BTreeMap<String, LogLevel> {
        ["hyper", "h2", "tungstenite", "tokio_tungstenite"]
            .map(|target| (target.to_string(), LogLevel::Warn))
            .into()
    }
    fn default_redact() -> Vec<String> {
        ["password", "token", "authorization", "secret", "cookie"]
            .map(String::from)
            .to_vec()
    }
}

impl Default for Logging {
    fn default() -> Self {
        Self {
            format: LogFormat::default(),
            level: LogLevel::default(),
            level_case: LevelCase::default(),
            keys: LogKeys::default(),
            fields: Self::default_fields(),
            redact: Self::default_redact(),
            events: Vec::new(),
            throttle: None,
            loki: None,
            elasticsearch: None,
            targets: Self::default_targets(),
            timestamp_format: TimestampFormat::default(),
        }
    }
}

/// A log timestamp format: `rfc3339`, or a format description checked when the spec loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimestampFormat(String);

impl TimestampFormat {
    /// The default's name.
    pub const RFC3339: &'static str = "rfc3339";

    /// `None` for RFC 3339, else the pattern.
    pub fn pattern(&self) -> Option<&str> {
        (self.0 != Self::RFC3339).then_some(self.0.as_str())
    }
}

impl Default for TimestampFormat {
    fn default() -> Self {
        Self(Self::RFC3339.into())
    }
}

impl TryFrom<String> for TimestampFormat {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        if text != Self::RFC3339 {
            time::format_description::parse_owned::<2>(&text).map_err(|e| {
                format!("`{text}` is not `rfc3339` nor a time format description such as `[year]-[month]-[day] [hour]:[minute]:[second]`: {e}")
            })?;
        }
        Ok(Self(text))
    }
}

impl From<TimestampFormat> for String {
    fn from(format: TimestampFormat) -> String {
        format.0
    }
}

impl JsonSchema for TimestampFormat {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TimestampFormat".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "default": "rfc3339",
            "description": "`rfc3339`, or a time format description such as `[year]-[month]-[day] [hour]:[minute]:[second]` (UTC)."
        })
    }
}

/// Log line formats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// Human-readable text, for a terminal.
    Text,
}

/// Log levels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Detailed flow information.
    Debug,
    /// Normal operations.
    #[default]
    Info,
    /// Unexpected but recoverable.
    Warn,
    /// Error conditions.
    Error,
    /// System failures (service unavailable, data corruption). Rust's `tracing` stops at
    /// ERROR: the runtime writes `critical` for an error event that carries
    /// `critical = true` (`runtime::critical!`), and for a runtime event declared critical.
    Critical,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

/// Error-log throttling (the seed services' Fluentd did it): identical lines (same level,
/// target and message) at one of `levels` beyond `burst` per `window` are suppressed and
/// counted; the next one written says how many (`suppressed`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// The window identical lines are counted in; default 60s.
    #[serde(default = "Throttle::default_window")]
    pub window: Duration,
    /// How many identical lines are written per window; default 1.
    #[serde(default = "Throttle::default_burst")]
    pub burst: u32,
    /// The levels throttled; default `error` and `critical`.
    #[serde(default = "Throttle::default_levels")]
    pub levels: Vec<LogLevel>,
}

impl Throttle {
    fn default_window() -> Duration {
        Duration::from_secs(60)
    }
    fn default_burst() -> u32 {
        1
    }
    fn default_levels() -> Vec<LogLevel> {
        vec![LogLevel::Error, LogLevel::Critical]
    }
}

/// How levels are spelled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LevelCase {
    /// `info`
    #[default]
    Lower,
    /// `INFO`
    Upper,
}

/// Names of the standard keys of a log line.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogKeys {
    /// Key of the RFC 3339 time.
    #[serde(default = "LogKeys::default_timestamp")]
    pub timestamp: String,
    /// Key of the level.
    #[serde(default = "LogKeys::default_level")]
    pub level: String,
    /// Key of the human message (`message`, `event`, `msg`).
    #[serde(default = "LogKeys::default_message")]
    pub message: String,
    /// Key of the module that logged (`target`, `logger`).
    #[serde(default = "LogKeys::default_target")]
    pub target: String,
    /// Key of the source file.
    #[serde(default = "LogKeys::default_filename")]
    pub filename: String,
    /// Key of the source line (`line`, `lineno`).
    #[serde(default = "LogKeys::default_line")]
    pub line: String,
}

impl LogKeys {
    fn default_timestamp() -> String {
        "timestamp".into()
    }
    fn default_level() -> String {
        "level".into()
    }
    fn default_message() -> String {
        "message".into()
    }
    fn default_target() -> String {
        "target".into()
    }
    fn default_filename() -> String {
        "filename".into()
    }
    fn default_line() -> String {
        "line".into()
    }

    /// Every standard key, for duplicate checks against context fields.
    pub fn all(&self) -> [&str; 6] {
        [
            &self.timestamp,
            &self.level,
            &self.message,
            &self.target,
            &self.filename,
            &self.line,
        ]
    }
}

impl Default for LogKeys {
    fn default() -> Self {
        Self {
            timestamp: Self::default_timestamp(),
            level: Self::default_level(),
            message: Self::default_message(),
            target: Self::default_target(),
            filename: Self::default_filename(),
            line: Self::default_line(),
        }
    }
}

/// An event the service logs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogEvent {
    /// The message text, e.g. `WebSocket connected`.
    pub message: String,
    /// Level it is logged at.
    #[serde(default)]
    pub level: LogLevel,
    /// When it is logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Context fields it carries beyond the standard ones.
    #[serde(default)]
    pub fields: Vec<String>,
    /// The runtime events this line is, when the runtime writes it (`[request]`,
    /// `[shutdown_started, shutdown_complete]`): the runtime then writes them with this
    /// message and level. Omitted: the service's own event, which its code must write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtime: Vec<RuntimeEvent>,
}

/// The log events the runtime writes by itself, each with a default message and level that
/// a declared event (`logging.events[].runtime`) can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeEvent {
    /// The listener is bound; readiness follows the checks.
    ServiceStarted,
    /// A request (not a probe or a scrape) was answered below 500.
    Request,
    /// A request was answered 500 or above.
    RequestFailed,
    /// SIGTERM or Ctrl-C arrived; readiness answers 503.
    ShutdownStarted,
    /// The drain delay passed: the listener closes, long-lived work is asked to finish.
    ShutdownDraining,
    /// Everything finished (or the grace ran out); carries the shutdown duration.
    ShutdownComplete,
    /// A WebSocket session opened (`runtime::websocket::Session`).
    WebsocketConnected,
    /// A WebSocket session hit an error.
    WebsocketError,
    /// A WebSocket session ended, for any reason.
    WebsocketDisconnected,
    /// A job run started (`runtime::jobs`).
    JobStarted,
    /// A job attempt failed and will run again.
    JobRetried,
    /// A job run succeeded.
    JobFinished,
    /// A job failed for good.
    JobFailed,
    /// A job run ended without an outcome (shutdown, panic).
    JobCancelled,
}

impl RuntimeEvent {
    pub const ALL: [Self; 14] = [
        Self::ServiceStarted,
        Self::Request,
        Self::RequestFailed,
        Self::ShutdownStarted,
        Self::ShutdownDraining,
        Self::ShutdownComplete,
        Self::WebsocketConnected,
        Self::WebsocketError,
        Self::WebsocketDisconnected,
        Self::JobStarted,
        Self::JobRetried,
        Self::JobFinished,
        Self::JobFailed,
        Self::JobCancelled,
    ];

    /// The name a spec uses for it.
    pub const fn key(self) -> &'static str {
        match self {
            Self::ServiceStarted => "service_started",
            Self::Request => "request",
            Self::RequestFailed => "request_failed",
            Self::ShutdownStarted => "shutdown_started",
            Self::ShutdownDraining => "shutdown_draining",
            Self::ShutdownComplete => "shutdown_complete",
            Self::WebsocketConnected => "websocket_connected",
            Self::WebsocketError => "websocket_error",
            Self::WebsocketDisconnected => "websocket_disconnected",
            Self::JobStarted => "job_started",
            Self::JobRetried => "job_retried",
            Self::JobFinished => "job_finished",
            Self::JobFailed => "job_failed",
            Self::JobCancelled => "job_cancelled",
        }
    }

    /// The message written when no declared event names it.
    pub const fn default_message(self) -> &'static str {
        match self {
            Self::ServiceStarted => "service started",
            Self::Request => "request finished",
            Self::RequestFailed => "request failed",
            Self::ShutdownStarted => "shutdown started",
            Self::ShutdownDraining => "shutdown draining",
            Self::ShutdownComplete => "shutdown complete",
            Self::WebsocketConnected => "WebSocket connected",
            Self::WebsocketError => "WebSocket error",
            Self::WebsocketDisconnected => "WebSocket disconnected",
            Self::JobStarted => "job started",
            Self::JobRetried => "job retried",
            Self::JobFinished => "job finished",
            Self::JobFailed => "job failed",
            Self::JobCancelled => "job cancelled",
        }
    }

    /// The level written when no declared event names it.
    pub fn default_level(self) -> LogLevel {
        match self {
            Self::RequestFailed | Self::JobFailed => LogLevel::Error,
            Self::WebsocketError | Self::JobRetried | Self::JobCancelled => LogLevel::Warn,
            _ => LogLevel::Info,
        }
    }

    /// The fields the runtime puts on it, beside the context of its span.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Self::ServiceStarted => &["address", "startup_seconds"],
            Self::Request | Self::RequestFailed => &["status", "latency_ms"],
            Self::ShutdownStarted => &["drain_seconds", "grace_seconds"],
            Self::ShutdownDraining => &[],
            Self::ShutdownComplete => &["shutdown_seconds", "clean"],
            Self::WebsocketConnected => &["session_id"],
            Self::WebsocketError => &["session_id", "error_type"],
            Self::WebsocketDisconnected => &["session_id", "messages", "duration_seconds"],
            Self::JobStarted | Self::JobFinished | Self::JobCancelled => &["job_id", "job_type"],
            Self::JobRetried => &["job_id", "job_type", "attempt", "error"],
            Self::JobFailed => &["job_id", "job_type", "error"],
        }
    }
}

impl Logging {
    /// Who writes each declared event, in a sentence for `check`: the runtime (those naming
    /// `runtime` events) or the service's own code. `None` when no event is declared.
    pub fn events_summary(&self) -> Option<String> {
        if self.events.is_empty() {
            return None;
        }
        let quoted = |events: &[&LogEvent]| {
            events
                .iter()
                .map(|e| {
                    let keys: Vec<&str> = e.runtime.iter().map(|r| r.key()).collect();
                    if keys.is_empty() {
                        format!("`{}`", e.message)
                    } else {
                        format!("`{}` ({})", e.message, keys.join(", "))
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (runtime, own): (Vec<&LogEvent>, Vec<&LogEvent>) = self.events.iter().partition(|e| !e.runtime.is_empty());
        let mut parts = Vec::new();
        if !runtime.is_empty() {
            parts.push(format!("the runtime writes {}", quoted(&runtime)));
        }
        if !own.is_empty() {
            parts.push(format!("the service's code must write {}", quoted(&own)));
        }
        Some(format!("log events: {}", parts.join("; ")))
    }

    /// The message and level the runtime writes `event` with: those of the declared event
    /// that names it, else its defaults.
    pub fn runtime_event(&self, event: RuntimeEvent) -> (&str, LogLevel) {
        self.events
            .iter()
            .find(|declared| declared.runtime.contains(&event))
            .map_or((event.default_message(), event.default_level()), |declared| {
                (declared.message.as_str(), declared.level)
            })
    }
}

/// Loki log shipping.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Loki {
    /// Push URL base, e.g. `${LOKI_URL:-http://loki:3100}`.
    pub url: EnvString,
    /// Whether shipping is on, e.g. `${LOKI_ENABLED:-false}`.
    #[serde(default = "Loki::default_enabled")]
    pub enabled: EnvString,
    /// Log fields promoted to Loki stream labels (keep them low-cardinality).
    #[serde(default = "Loki::default_labels")]
    pub labels: Vec<String>,
    /// Tenant of a multi-tenant Loki, sent as `X-Scope-OrgID`: `${LOKI_TENANT}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<EnvString>,
    /// Basic-auth user, when Loki sits behind a proxy that asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<EnvString>,
    /// Basic-auth password: `${VAR}` only, never inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<EnvString>,
    /// A file holding the basic-auth password (`/run/secrets/loki`), read at start-up;
    /// wins over `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<EnvString>,
}

impl Loki {
    fn default_enabled() -> EnvString {
        EnvString::Env {
            var: "LOKI_ENABLED".into(),
            default: Some("false".into()),
        }
    }
    fn default_labels() -> Vec<String> {
        ["service", "environment", "level"].map(String::from).to_vec()
    }
}

/// Elasticsearch log shipping.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Elasticsearch {
    /// Whether the runtime ships lines, e.g. `${ELASTICSEARCH_ENABLED:-true}`; default
    /// `${ELASTICSEARCH_ENABLED:-false}`, as for Loki.
    #[serde(default = "Elasticsearch::default_enabled")]
    pub enabled: EnvString,
    /// Host, e.g. `${ELASTICSEARCH_HOST:-elasticsearch}`.
    pub host: EnvString,
    /// Port, e.g. `${ELASTICSEARCH_PORT:-9200}`.
    #[serde(default = "Elasticsearch::default_port")]
    pub port: EnvString,
    /// `http` or `https`.
    #[serde(default = "Elasticsearch::default_scheme")]
    pub scheme: EnvString,
    /// Whether the server requires a user and password. Off (the default), the stack's
    /// Elasticsearch runs as a local single node without security and compose needs no
    /// password; on, compose refuses to start until the password variable is set.
    #[serde(default)]
    pub auth: bool,
    /// User, when authentication is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<EnvString>,
    /// Password: `${VAR}` only, never inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<EnvString>,
    /// Index prefix: lines go to `<prefix>-YYYY.MM.DD`, errors also to `<prefix>-errors-…`.
    pub index_prefix: String,
    /// Extra index streams beside the standard and errors ones (e.g. `metrics`, `performance`):
    /// a line whose `stream` field names one goes to `<prefix>-<stream>-YYYY.MM.DD`.
    #[serde(default)]
    pub streams: Vec<String>,
    /// How long indices live (the ILM policy the runtime installs).
    #[serde(default)]
    pub ilm: Ilm,
}

/// The index lifecycle: hot while written, warm (read-only, merged) after `warm_after`,
/// deleted after `retention`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ilm {
    /// Age at which an index turns warm; default 7d.
    #[serde(default = "Ilm::default_warm_after")]
    pub warm_after: Duration,
    /// Age at which an index is deleted; default 30d.
    #[serde(default = "Ilm::default_retention")]
    pub retention: Duration,
}

impl Ilm {
    fn default_warm_after() -> Duration {
        Duration::from_secs(7 * 86_400)
    }
    fn default_retention() -> Duration {
        Duration::from_secs(30 * 86_400)
    }
}

impl Default for Ilm {
    fn default() -> Self {
        Self {
            warm_after: Self::default_warm_after(),
            retention: Self::default_retention(),
        }
    }
}

impl Elasticsearch {
    fn default_enabled() -> EnvString {
        EnvString::Env {
            var: "ELASTICSEARCH_ENABLED".into(),
            default: Some("false".into()),
        }
    }
    fn default_port() -> EnvString {
        EnvString::Env {
            var: "ELASTICSEARCH_PORT".into(),
            default: Some("9200".into()),
        }
    }
    fn default_scheme() -> EnvString {
        EnvString::Env {
            var: "ELASTICSEARCH_SCHEME".into(),
            default: Some("http".into()),
        }
    }
}

/// OTLP trace export.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tracing {
    /// Collector endpoint, e.g. `${OTEL_EXPORTER_OTLP_ENDPOINT}`.
    pub otlp_endpoint: EnvString,
    /// Share of traces kept, 0 to 1. A request that arrives with a W3C `traceparent`
    /// follows the caller's decision instead.
    #[serde(default = "Tracing::default_sample_ratio")]
    pub sample_ratio: Decimal,
    /// Wire protocol: `grpc` (port 4317, the default) or `http/protobuf` (port 4318, POSTed
    /// to `<endpoint>/v1/traces`).
    #[serde(default)]
    pub protocol: OtlpProtocol,
    /// Plain-text connection to the collector (`${OTEL_EXPORTER_INSECURE:-false}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<EnvString>,
    /// Also print spans to the console, for debugging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_export: Option<EnvString>,
    /// Where traces are looked at (Jaeger, Tempo), for OBSERVABILITY.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_url: Option<String>,
}

/// How spans travel to the collector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum OtlpProtocol {
    /// OTLP over gRPC.
    #[default]
    #[serde(rename = "grpc")]
    Grpc,
    /// OTLP over HTTP with protobuf bodies.
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

impl OtlpProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::HttpProtobuf => "http/protobuf",
        }
    }
}

impl Tracing {
    fn default_sample_ratio() -> Decimal {
        Decimal::from_int(1)
    }
}

/// Error tracking.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorTracking {
    /// Sentry settings.
    pub sentry: Sentry,
}

/// Sentry error tracking.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sentry {
    /// DSN from the environment: `${SENTRY_DSN}`.
    pub dsn: EnvString,
    /// Share of transactions traced, e.g. `${SENTRY_TRACES_SAMPLE_RATE:-0.1}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traces_sample_rate: Option<EnvString>,
    /// Share of transactions profiled, e.g. `${SENTRY_PROFILES_SAMPLE_RATE:-0.1}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles_sample_rate: Option<EnvString>,
}
