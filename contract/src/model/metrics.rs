//! `metrics`: builtin metric groups a service switches on, and its own metric declarations.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Decimal;

/// The metrics the service exposes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Where the exposition is served.
    #[serde(default)]
    pub endpoint: MetricsEndpoint,
    /// Builtin groups with standard names, labels and buckets.
    #[serde(default)]
    pub builtin: Builtins,
    /// The service's own metrics.
    #[serde(default)]
    pub custom: Vec<MetricDecl>,
    /// Series budget of a metric that sets no `max_series` of its own.
    #[serde(default = "Metrics::default_max_series")]
    pub default_max_series: u64,
}

impl Metrics {
    pub(crate) fn default_max_series() -> u64 {
        1000
    }
}

// By hand, so that a spec with no `metrics` section gets the same budget as one with
// `metrics: {}`.
impl Default for Metrics {
    fn default() -> Self {
        Self {
            endpoint: MetricsEndpoint::default(),
            builtin: Builtins::default(),
            custom: Vec::new(),
            default_max_series: Self::default_max_series(),
        }
    }
}

/// Where `/metrics` is served and who may read it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsEndpoint {
    /// Path of the exposition (`/metrics`, or `/metrics/` as some frameworks write it).
    #[serde(default = "MetricsEndpoint::default_path")]
    pub path: String,
    /// Further paths serving the same exposition (e.g. `/api/v1/metrics`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Environment variable holding a bearer token that scrapers must send; unset: open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_env: Option<String>,
}

impl MetricsEndpoint {
    fn default_path() -> String {
        "/metrics".into()
    }
}

impl Default for MetricsEndpoint {
    fn default() -> Self {
        Self {
            path: Self::default_path(),
            aliases: Vec::new(),
            bearer_token_env: None,
        }
    }
}

/// Builtin metric groups; writing a group (even as `{}`) switches it on.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Builtins {
    /// HTTP RED: `http_requests_total{route,method,status}`,
    /// `http_request_duration_seconds{route,method}`, `http_requests_in_progress{route,method}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpBuiltin>,
    /// WebSocket: `websocket_active_connections`, `websocket_messages_total`,
    /// `websocket_errors_total{type}`, `websocket_connection_duration_seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket: Option<WebSocketBuiltin>,
    /// Start-up and graceful-shutdown durations: `<prefix>_startup_time_seconds`,
    /// `<prefix>_shutdown_time_seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<LifecycleBuiltin>,
    /// The process collector: `process_cpu_seconds_total`, `process_resident_memory_bytes`,
    /// `process_start_time_seconds`, open/max fds, virtual memory, threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<GroupScope>,
    /// Background jobs: `jobs_processed_total{type,status}`, `job_duration_seconds{type}`,
    /// `job_retries_total{type}`, `queue_depth{type}`, `jobs_trace_total{type,status,trace}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<JobsBuiltin>,
}

/// Which components expose a group; all of them when omitted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupScope {
    /// Components that expose this group; omitted: every component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
}

/// HTTP RED metrics settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpBuiltin {
    /// Request duration buckets in seconds; default 5ms … 10s (none with `native`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<Decimal>>,
    /// Native (exponential) buckets as well as, or instead of, classic ones: one series per
    /// label set at a resolution `schema` sets, scraped over protobuf by Prometheus 2.40+.
    /// With `native`, classic buckets are kept only when `buckets` lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<NativeHistogram>,
    /// Name of the route label (`route`, or `endpoint` as some services call it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_label: Option<String>,
    /// At most this many distinct route templates are tracked; default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_routes: Option<u64>,
    /// More paths left out of the HTTP metrics; the probes and the exposition (aliases
    /// included) are always left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_paths: Option<Vec<String>>,
    /// Components that expose this group; omitted: every component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
}

impl HttpBuiltin {
    /// The route label when the spec does not name one.
    pub const DEFAULT_ROUTE_LABEL: &'static str = "route";

    /// The route label's name: `route_label`, else `route`.
    pub fn route_label(&self) -> &str {
        self.route_label.as_deref().unwrap_or(Self::DEFAULT_ROUTE_LABEL)
    }
}

/// WebSocket metrics settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebSocketBuiltin {
    /// Connection duration buckets in seconds; default 1s … 1h (none with `native`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<Decimal>>,
    /// Native (exponential) buckets as well as, or instead of, classic ones: one series per
    /// label set at a resolution `schema` sets, scraped over protobuf by Prometheus 2.40+.
    /// With `native`, classic buckets are kept only when `buckets` lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<NativeHistogram>,
    /// Error kinds the `type` label of `websocket_errors_total` takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_types: Option<Vec<String>>,
    /// Components that expose this group; omitted: every component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
}

/// Start-up/shutdown duration gauges.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleBuiltin {
    /// Metric name prefix: `sigiq` gives `sigiq_startup_time_seconds`; default `app`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// A Pushgateway the runtime pushes both to, so that the shutdown duration, set as the
    /// process exits and after its last scrape, still reaches Prometheus:
    /// `${PUSHGATEWAY_URL:-http://localhost:9091}`. Pushed at start-up and when the shutdown
    /// completes, grouped by job and replica; the stack runs a Pushgateway (`stack.pushgateway`)
    /// that Prometheus scrapes with `honor_labels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushgateway: Option<crate::EnvString>,
    /// Components that expose this group; omitted: every component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
}

/// Background job metrics settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobsBuiltin {
    /// The job types (closed set); omitted: an open set capped at `max_types`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<String>>,
    /// Cap on distinct job types when `types` is not given; default 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_types: Option<u64>,
    /// Job duration buckets in seconds (none with `native`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<Decimal>>,
    /// Native (exponential) buckets as well as, or instead of, classic ones: one series per
    /// label set at a resolution `schema` sets, scraped over protobuf by Prometheus 2.40+.
    /// With `native`, classic buckets are kept only when `buckets` lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<NativeHistogram>,
    /// Components that expose this group; omitted: every component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
}

/// A native histogram's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NativeHistogram {
    /// Resolution: each bucket's upper bound is 2^(2^-schema) times the one below it. 3
    /// (about 9% apart, the Go client's default) unless set; -4 (coarsest) to 8 (0.3%).
    /// A series keeps at most 8,192 buckets a sign: at schema 8 values spanning more than
    /// 2^32 (nanoseconds to hours) count their extremes in the outermost bucket kept.
    #[serde(default = "NativeHistogram::default_schema")]
    pub schema: i8,
}

impl NativeHistogram {
    pub const DEFAULT_SCHEMA: i8 = 3;
    /// The schemas Prometheus accepts: -4 (each bucket 65,536 times the one below) to 8.
    pub const MIN_SCHEMA: i8 = -4;
    pub const MAX_SCHEMA: i8 = 8;

    fn default_schema() -> i8 {
        Self::DEFAULT_SCHEMA
    }
}

impl Default for NativeHistogram {
    fn default() -> Self {
        Self {
            schema: Self::DEFAULT_SCHEMA,
        }
    }
}

/// Prometheus metric types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    /// Only goes up (resets on restart); read it with `rate()`.
    Counter,
    /// Goes up and down: a current value.
    Gauge,
    /// Observations counted into buckets; read quantiles with `histogram_quantile()`.
    Histogram,
}

impl MetricType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// One metric the service declares.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricDecl {
    /// Full exposition name, suffixes included (`_total` on counters, a unit such as `_seconds`).
    pub name: String,
    /// The metric type.
    #[serde(rename = "type")]
    pub kind: MetricType,
    /// One sentence: what one unit of this metric is.
    pub help: String,
    /// Base unit (`seconds`, `bytes`, `ratio`…); the name must end with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Labels, each with a closed set of values or a series budget.
    #[serde(default)]
    pub labels: Vec<LabelDecl>,
    /// Histogram bucket upper bounds, strictly increasing (`+Inf` is implied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<Decimal>>,
    /// Native (exponential) buckets as well as, or instead of, classic ones: one series per
    /// label set at a resolution `schema` sets, scraped over protobuf by Prometheus 2.40+.
    /// With `native`, classic buckets are kept only when `buckets` lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<NativeHistogram>,
    /// Most label combinations (series) this metric may have; past it values go to `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_series: Option<u64>,
    /// Components that expose this metric; omitted: every component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
}

/// A metric label.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelDecl {
    /// Label name.
    pub name: String,
    /// What the label distinguishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Closed set of values: code gets an enum, cardinality is exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// Open set: at most this many distinct values, the rest become `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_series: Option<u64>,
}
