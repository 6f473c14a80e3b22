//! The metric catalog: every family a service exposes, builtin groups expanded with their
//! standard names, labels and buckets, beside the custom declarations. Validation, the
//! generator and the runtime all read metrics from here, never from the raw spec.

use crate::model::{LabelDecl, MetricDecl, MetricType, Spec};
use crate::Decimal;

/// Value of an open label past its budget, and of an unmatched HTTP route.
pub const OVERFLOW_VALUE: &str = "other";
/// `route` value of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// The runtime's own counter of label values folded into `other`.
pub const SERIES_DROPPED: &str = "obs_series_dropped_total";
/// The runtime's count of log lines that never reached Loki or Elasticsearch.
pub const LOG_LINES_DROPPED: &str = "obs_log_lines_dropped_total";
/// The runtime's count of log lines the throttle held back.
pub const LOG_LINES_SUPPRESSED: &str = "obs_log_lines_suppressed_total";
/// Why a line was dropped: the shipping queue was full, or the store refused it.
pub const LOG_DROP_REASONS: [&str; 2] = ["queue_full", "rejected"];
/// The runtime's count of connections it closed on its own, by reason.
pub const CONNECTIONS_CLOSED: &str = "obs_http_connections_closed_total";
pub const CONNECTION_CLOSE_REASONS: [&str; 2] = ["header_timeout", "shed"];
/// Units whose names Prometheus conventions put at the end of a metric name.
pub const BASE_UNITS: [&str; 9] = [
    "seconds", "bytes", "ratio", "meters", "volts", "amperes", "joules", "grams", "celsius",
];
/// HTTP methods with a value of their own; the rest count as `OTHER`.
pub const HTTP_METHODS: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"];

/// Series every Prometheus server has without the service declaring them.
pub const PROMETHEUS_SERIES: [&str; 8] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
    "ALERTS",
    "ALERTS_FOR_STATE",
    "prometheus_notifications_dropped_total",
];

/// Where a family comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Builtin(BuiltinGroup),
    /// `metrics.custom[index]`.
    Custom(usize),
    /// The runtime's own bookkeeping.
    Runtime,
}

/// The builtin metric groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinGroup {
    Http,
    WebSocket,
    Lifecycle,
    Process,
    Jobs,
}

impl BuiltinGroup {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::WebSocket => "websocket",
            Self::Lifecycle => "lifecycle",
            Self::Process => "process",
            Self::Jobs => "jobs",
        }
    }
}

/// A label of a family: a closed set of values, or an open set with a budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub name: String,
    pub help: Option<String>,
    pub values: Option<Vec<String>>,
    pub max_values: Option<u64>,
}

impl Label {
    fn closed(name: &str, values: &[&str]) -> Self {
        Self {
            name: name.into(),
            help: None,
            values: Some(values.iter().map(|v| v.to_string()).collect()),
            max_values: None,
        }
    }

    fn open(name: &str, max_values: u64) -> Self {
        Self {
            name: name.into(),
            help: None,
            values: None,
            max_values: Some(max_values),
        }
    }

    fn from_decl(decl: &LabelDecl) -> Self {
        Self {
            name: decl.name.clone(),
            help: decl.help.clone(),
            values: decl.values.clone(),
            max_values: decl.max_series,
        }
    }

    /// Distinct values the label can take, `other` included for open sets; `None` when
    /// unbounded (a spec error).
    pub fn cardinality(&self) -> Option<u64> {
        match (&self.values, self.max_values) {
            (Some(values), _) => Some(values.len() as u64),
            (None, Some(max)) => Some(max + 1),
            (None, None) => None,
        }
    }
}

/// One metric family as exposed.
#[derive(Debug, Clone)]
pub struct Family {
    pub name: String,
    pub kind: MetricType,
    pub help: String,
    pub unit: Option<String>,
    pub labels: Vec<Label>,
    /// Histogram bucket bounds (empty for other types, and for native-only histograms).
    pub buckets: Vec<Decimal>,
    /// A native histogram's schema; `None` for classic histograms and other types.
    pub native_schema: Option<i8>,
    /// Most label combinations before values fold into `other`.
    pub max_series: u64,
    /// Components exposing it; `None` means all.
    pub components: Option<Vec<String>>,
    pub origin: Origin,
    /// Where it is declared in the spec, for diagnostics.
    pub spec_path: String,
}

impl Family {
    /// Worst-case label combinations; `None` if a label is unbounded.
    pub fn worst_case_series(&self) -> Option<u64> {
        self.labels.iter().try_fold(1u64, |product, label| {
            label.cardinality().map(|c| product.saturating_mul(c))
        })
    }

    pub fn label_names(&self) -> impl Iterator<Item = &str> {
        self.labels.iter().map(|l| l.name.as_str())
    }

    pub fn exposed_by(&self, component: &str) -> bool {
        self.components
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == component))
    }

    /// Whether this is a histogram with native buckets.
    pub fn is_native(&self) -> bool {
        self.native_schema.is_some()
    }

    /// Whether Prometheus stores the classic `_bucket`, `_sum` and `_count` series: every
    /// classic histogram, and a native one that keeps classic buckets beside.
    pub fn has_classic_series(&self) -> bool {
        self.kind == MetricType::Histogram && (!self.is_native() || !self.buckets.is_empty())
    }

    /// Series names Prometheus stores for this family: a native histogram's own name, and
    /// the classic `_bucket`, `_sum` and `_count` where it has them.
    pub fn stored_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if self.kind != MetricType::Histogram || self.is_native() {
            names.push(self.name.clone());
        }
        if self.has_classic_series() {
            names.extend(
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .map(|s| format!("{}{s}", self.name)),
            );
        }
        names
    }

    /// Series names this family puts in the text exposition (`_bucket`, `_sum`, `_count`
    /// for histograms, native ones included: their text form has only the `+Inf` bucket).
    pub fn sample_names(&self) -> Vec<String> {
        match self.kind {
            MetricType::Histogram => ["_bucket", "_sum", "_count"]
                .iter()
                .map(|suffix| format!("{}{suffix}", self.name))
                .collect(),
            _ => vec![self.name.clone()],
        }
    }
}

/// Every family of a spec, builtins first, in declaration order.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub families: Vec<Family>,
    /// Each family's position by name: validation and rendering look names up once per
    /// reference, which a scan made quadratic in the size of the spec.
    by_name: std::collections::HashMap<String, usize>,
}

fn buckets(values: &[&str]) -> Vec<Decimal> {
    values.iter().filter_map(|v| Decimal::parse(v)).collect()
}

pub fn default_http_buckets() -> Vec<Decimal> {
    buckets(&[
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
    ])
}

fn default_websocket_buckets() -> Vec<Decimal> {
    buckets(&["0.5", "1", "5", "15", "30", "60", "300", "900", "1800", "3600"])
}

fn default_job_buckets() -> Vec<Decimal> {
    buckets(&["0.01", "0.05", "0.1", "0.5", "1", "5", "10", "30", "60", "300"])
}

pub const DEFAULT_WEBSOCKET_ERROR_TYPES: [&str; 4] = ["protocol", "abnormal_close", "send_failed", "internal"];
pub const DEFAULT_MAX_ROUTES: u64 = 100;
pub const DEFAULT_MAX_STATUS_CODES: u64 = 30;
pub const DEFAULT_MAX_JOB_TYPES: u64 = 20;

struct Builder<'a> {
    families: Vec<Family>,
    spec: &'a Spec,
}

impl Builder<'_> {
    #[allow(clippy::too_many_arguments)]
    fn builtin(
        &mut self,
        group: BuiltinGroup,
        name: String,
        kind: MetricType,
        help: &str,
        unit: Option<&str>,
        labels: Vec<Label>,
        buckets: Vec<Decimal>,
        components: &Option<Vec<String>>,
    ) {
        let mut family = Family {
            name,
            kind,
            help: help.into(),
            unit: unit.map(String::from),
            labels,
            buckets,
            native_schema: None,
            max_series: 1,
            components: components.clone(),
            origin: Origin::Builtin(group),
            spec_path: format!("metrics.builtin.{}", group.as_str()),
        };
        // A builtin's budget is its worst case: every combination is legitimate.
        family.max_series = family.worst_case_series().unwrap_or(1).max(1);
        self.families.push(family);
    }

    /// Marks the family just added native when its group asks for it.
    fn last_is_native(&mut self, native: Option<crate::model::NativeHistogram>) {
        if let Some(family) = self.families.last_mut() {
            family.native_schema = native.map(|n| n.schema);
        }
    }

    fn http(&mut self) {
        let Some(http) = &self.spec.metrics.builtin.http else {
            return;
        };
        let routes = Label::open(http.route_label(), http.max_routes.unwrap_or(DEFAULT_MAX_ROUTES));
        let methods = Label::closed("method", &HTTP_METHODS);
        let status = Label::open("status", DEFAULT_MAX_STATUS_CODES);
        let g = BuiltinGroup::Http;
        let scope = &http.components;
        self.builtin(
            g,
            "http_requests_total".into(),
            MetricType::Counter,
            "HTTP requests answered, by route template, method and status code.",
            None,
            vec![routes.clone(), methods.clone(), status],
            vec![],
            scope,
        );
        self.builtin(
            g,
            "http_request_duration_seconds".into(),
            MetricType::Histogram,
            "Time from receiving an HTTP request to sending the response.",
            Some("seconds"),
            vec![routes.clone(), methods.clone()],
            classic_buckets(http.buckets.as_ref(), http.native.as_ref(), default_http_buckets),
            scope,
        );
        self.last_is_native(http.native);
        self.builtin(
            g,
            "http_requests_in_progress".into(),
            MetricType::Gauge,
            "HTTP requests being handled right now.",
            None,
            vec![routes, methods],
            vec![],
            scope,
        );
    }

    fn websocket(&mut self) {
        let Some(ws) = &self.spec.metrics.builtin.websocket else {
            return;
        };
        let g = BuiltinGroup::WebSocket;
        let scope = &ws.components;
        let error_types: Vec<&str> = match &ws.error_types {
            Some(types) => types.iter().map(String::as_str).collect(),
            None => DEFAULT_WEBSOCKET_ERROR_TYPES.to_vec(),
        };
        self.builtin(
            g,
            "websocket_active_connections".into(),
            MetricType::Gauge,
            "WebSocket connections open right now.",
            None,
            vec![],
            vec![],
            scope,
        );
        self.builtin(
            g,
            "websocket_messages_total".into(),
            MetricType::Counter,
            "WebSocket messages received and processed.",
            None,
            vec![],
            vec![],
            scope,
        );
        self.builtin(
            g,
            "websocket_errors_total".into(),
            MetricType::Counter,
            "WebSocket errors, by kind.",
            None,
            vec![Label::closed("type", &error_types)],
            vec![],
            scope,
        );
        self.builtin(
            g,
            "websocket_connection_duration_seconds".into(),
            MetricType::Histogram,
            "How long WebSocket connections stayed open, counted when they close.",
            Some("seconds"),
            vec![],
            classic_buckets(ws.buckets.as_ref(), ws.native.as_ref(), default_websocket_buckets),
            scope,
        );
        self.last_is_native(ws.native);
    }

    fn lifecycle(&mut self) {
        let Some(lifecycle) = &self.spec.metrics.builtin.lifecycle else {
            return;
        };
        let prefix = lifecycle.prefix.as_deref().unwrap_or("app");
        let g = BuiltinGroup::Lifecycle;
        let scope = &lifecycle.components;
        self.builtin(
            g,
            format!("{prefix}_startup_time_seconds"),
            MetricType::Gauge,
            "Seconds from process start until the service was ready to serve.",
            Some("seconds"),
            vec![],
            vec![],
            scope,
        );
        self.builtin(
            g,
            format!("{prefix}_shutdown_time_seconds"),
            MetricType::Gauge,
            "Seconds the graceful shutdown in progress has taken so far (0 while serving).",
            Some("seconds"),
            vec![],
            vec![],
            scope,
        );
    }

    fn process(&mut self) {
        let Some(process) = &self.spec.metrics.builtin.process else {
            return;
        };
        let g = BuiltinGroup::Process;
        let scope = &process.components;
        // Exactly what the prometheus crate's process collector exposes on Linux.
        let families: [(&str, MetricType, &str, Option<&str>); 7] = [
            (
                "process_cpu_seconds_total",
                MetricType::Counter,
                "Total user and system CPU time spent in seconds.",
                Some("seconds"),
            ),
            (
                "process_open_fds",
                MetricType::Gauge,
                "Number of open file descriptors.",
                None,
            ),
            (
                "process_max_fds",
                MetricType::Gauge,
                "Maximum number of open file descriptors.",
                None,
            ),
            (
                "process_virtual_memory_bytes",
                MetricType::Gauge,
                "Virtual memory size in bytes.",
                Some("bytes"),
            ),
            (
                "process_resident_memory_bytes",
                MetricType::Gauge,
                "Resident memory size in bytes.",
                Some("bytes"),
            ),
            (
                "process_start_time_seconds",
                MetricType::Gauge,
                "Start time of the process since unix epoch in seconds.",
                Some("seconds"),
            ),
            (
                "process_threads",
                MetricType::Gauge,
                "Number of OS threads in the process.",
                None,
            ),
        ];
        for (name, kind, help, unit) in families {
            self.builtin(g, name.into(), kind, help, unit, vec![], vec![], scope);
        }
    }

    fn jobs(&mut self) {
        let Some(jobs) = &self.spec.metrics.builtin.jobs else {
            return;
        };
        let g = BuiltinGroup::Jobs;
        let scope = &jobs.components;
        let types = match &jobs.types {
            Some(types) => Label::closed("type", &types.iter().map(String::as_str).collect::<Vec<_>>()),
            None => Label::open("type", jobs.max_types.unwrap_or(DEFAULT_MAX_JOB_TYPES)),
        };
        let status = Label::closed("status", &["succeeded", "failed"]);
        let trace = Label::closed("trace", &["present", "missing"]);
        self.builtin(
            g,
            "jobs_processed_total".into(),
            MetricType::Counter,
            "Background jobs finished, by type and outcome.",
            None,
            vec![types.clone(), status.clone()],
            vec![],
            scope,
        );
        self.builtin(
            g,
            "job_duration_seconds".into(),
            MetricType::Histogram,
            "Time a job takes from dequeue to completion.",
            Some("seconds"),
            vec![types.clone()],
            classic_buckets(jobs.buckets.as_ref(), jobs.native.as_ref(), default_job_buckets),
            scope,
        );
        self.last_is_native(jobs.native);
        self.builtin(
            g,
            "job_retries_total".into(),
            MetricType::Counter,
            "Job attempts that failed and were scheduled again.",
            None,
            vec![types.clone()],
            vec![],
            scope,
        );
        self.builtin(
            g,
            "queue_depth".into(),
            MetricType::Gauge,
            "Jobs waiting in the queue, by type.",
            None,
            vec![types.clone()],
            vec![],
            scope,
        );
        self.builtin(
            g,
            "jobs_trace_total".into(),
            MetricType::Counter,
            "Jobs finished, by whether they carried a trace id from the request that enqueued them.",
            None,
            vec![types, status, trace],
            vec![],
            scope,
        );
    }

    fn custom(&mut self) {
        for (index, decl) in self.spec.metrics.custom.iter().enumerate() {
            self.families
                .push(custom_family(decl, index, self.spec.metrics.default_max_series));
        }
    }

    fn runtime(&mut self) {
        let capped_families: Vec<&Family> = self
            .families
            .iter()
            .filter(|f| f.labels.iter().any(|l| l.values.is_none()))
            .collect();
        if capped_families.is_empty() {
            return; // nothing can overflow, so there is nothing to count
        }
        // Only the components that expose a capped family count drops: elsewhere the
        // counter would be a family of zeros for metrics the process does not have.
        let components = if capped_families.iter().any(|f| f.components.is_none()) {
            None
        } else {
            // Declared components only: a misspelt one is validation's to report, once, on
            // the family that names it.
            let declared: Vec<String> = crate::topology::components(self.spec)
                .into_iter()
                .map(|c| c.name)
                .collect();
            let named: Vec<&String> = capped_families
                .iter()
                .flat_map(|f| f.components.iter().flatten())
                .collect();
            let union: Vec<String> = declared.iter().filter(|c| named.contains(c)).cloned().collect();
            (union.len() < declared.len()).then_some(union)
        };
        let capped: Vec<String> = capped_families.iter().map(|f| f.name.clone()).collect();
        let label = Label {
            name: "metric".into(),
            help: Some("The metric whose label value was folded into `other`.".into()),
            values: Some(capped),
            max_values: None,
        };
        self.runtime_counter(
            SERIES_DROPPED,
            "Label values folded into `other` because their metric reached its series budget.",
            vec![label],
            "metrics",
        );
        if let Some(family) = self.families.last_mut() {
            family.components = components;
        }
    }

    /// A counter of the runtime's own bookkeeping, on every component, its budget the
    /// product of its closed labels.
    fn runtime_counter(&mut self, name: &str, help: &str, labels: Vec<Label>, spec_path: &str) {
        let mut family = Family {
            name: name.into(),
            kind: MetricType::Counter,
            help: help.into(),
            unit: None,
            labels,
            buckets: vec![],
            native_schema: None,
            max_series: 1,
            components: None,
            origin: Origin::Runtime,
            spec_path: spec_path.into(),
        };
        family.max_series = family.worst_case_series().unwrap_or(1).max(1);
        self.families.push(family);
    }
}

impl Builder<'_> {
    /// Shipping logs can lose lines (a full queue, a refusal); the runtime counts them here,
    /// one series per store the spec ships to.
    fn log_shipping(&mut self) {
        let logging = &self.spec.logging;
        let sinks: Vec<&str> = [
            ("loki", logging.loki.is_some()),
            ("elasticsearch", logging.elasticsearch.is_some()),
        ]
        .into_iter()
        .filter_map(|(sink, shipped)| shipped.then_some(sink))
        .collect();
        if sinks.is_empty() {
            return;
        }
        let mut sink = Label::closed("sink", &sinks);
        sink.help = Some("The store the line was bound for.".into());
        let mut reason = Label::closed("reason", &LOG_DROP_REASONS);
        reason.help = Some(
            "`queue_full`: the store was slow or down and the queue full; `rejected`: the store refused it.".into(),
        );
        self.runtime_counter(
            LOG_LINES_DROPPED,
            "Log lines that never reached their store (for Elasticsearch, documents: an error line is two).",
            vec![sink, reason],
            "logging",
        );
    }
}

impl Builder<'_> {
    /// A throttle suppresses lines; the runtime counts them here, by level.
    fn log_throttle(&mut self) {
        let Some(throttle) = &self.spec.logging.throttle else {
            return;
        };
        let levels: Vec<&str> = throttle.levels.iter().map(|l| l.as_str()).collect();
        let mut level = Label::closed("level", &levels);
        level.help = Some("The level of the lines suppressed.".into());
        self.runtime_counter(
            LOG_LINES_SUPPRESSED,
            "Log lines the throttle held back: identical to one written in the same window.",
            vec![level],
            "logging.throttle",
        );
    }
}

impl Builder<'_> {
    /// The server closes connections on its own (a header read timeout, the connection
    /// limit); with the HTTP group on, the runtime counts them here.
    fn connections(&mut self) {
        if self.spec.metrics.builtin.http.is_none() {
            return;
        }
        let mut reason = Label::closed("reason", &CONNECTION_CLOSE_REASONS);
        reason.help = Some(
            "`header_timeout`: no complete request head in time (idle or trickling); `shed`: closed while idle to make room under the connection limit.".into(),
        );
        self.runtime_counter(
            CONNECTIONS_CLOSED,
            "HTTP connections the server closed on its own.",
            vec![reason],
            "metrics.builtin.http",
        );
    }
}

/// A histogram's classic bounds: those listed; else none when it is native, else the
/// group's default.
fn classic_buckets(
    listed: Option<&Vec<Decimal>>,
    native: Option<&crate::model::NativeHistogram>,
    default: fn() -> Vec<Decimal>,
) -> Vec<Decimal> {
    match (listed, native) {
        (Some(listed), _) => listed.clone(),
        (None, Some(_)) => Vec::new(),
        (None, None) => default(),
    }
}

fn custom_family(decl: &MetricDecl, index: usize, default_max_series: u64) -> Family {
    Family {
        name: decl.name.clone(),
        kind: decl.kind,
        help: decl.help.clone(),
        unit: decl.unit.clone(),
        labels: decl.labels.iter().map(Label::from_decl).collect(),
        buckets: if decl.kind == MetricType::Histogram {
            classic_buckets(decl.buckets.as_ref(), decl.native.as_ref(), default_http_buckets)
        } else {
            Vec::new()
        },
        native_schema: decl
            .native
            .filter(|_| decl.kind == MetricType::Histogram)
            .map(|n| n.schema),
        max_series: decl.max_series.unwrap_or(default_max_series),
        components: decl.components.clone(),
        origin: Origin::Custom(index),
        spec_path: format!("metrics.custom[{index}]"),
    }
}

impl Catalog {
    pub fn from_spec(spec: &Spec) -> Self {
        let mut builder = Builder {
            families: Vec::new(),
            spec,
        };
        builder.http();
        builder.websocket();
        builder.lifecycle();
        builder.process();
        builder.jobs();
        builder.custom();
        builder.runtime();
        builder.log_shipping();
        builder.log_throttle();
        builder.connections();
        let by_name = builder
            .families
            .iter()
            .enumerate()
            .rev()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        Self {
            families: builder.families,
            by_name,
        }
    }

    /// The first family of this name.
    pub fn get(&self, name: &str) -> Option<&Family> {
        if self.by_name.len() != self.families.len() {
            // Families were added since the index was built (or names repeat): scan.
            return self.families.iter().find(|f| f.name == name);
        }
        self.by_name.get(name).map(|&i| &self.families[i])
    }

    /// The family a series name Prometheus stores belongs to (`x_bucket` → histogram `x`).
    /// A classic histogram has no series under its own name, only `_bucket`, `_sum` and
    /// `_count`, so its bare name selects nothing; a native one is its bare name, with the
    /// three classic series only when it keeps classic buckets.
    pub fn family_of_sample(&self, sample: &str) -> Option<&Family> {
        self.get(sample)
            .filter(|f| f.kind != MetricType::Histogram || f.is_native())
            .or_else(|| {
                ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
                    let base = sample.strip_suffix(suffix)?;
                    self.get(base).filter(|f| f.has_classic_series())
                })
            })
    }

    pub fn for_component<'a>(&'a self, component: &'a str) -> impl Iterator<Item = &'a Family> + 'a {
        self.families.iter().filter(move |f| f.exposed_by(component))
    }

    pub fn has_group(&self, group: BuiltinGroup) -> bool {
        self.families.iter().any(|f| f.origin == Origin::Builtin(group))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Spec {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn expands_builtin_groups_with_standard_names() {
        let catalog = Catalog::from_spec(&spec(
            "service: {name: s}\nmetrics:\n  builtin: {http: {}, websocket: {}, lifecycle: {prefix: sigiq}}",
        ));
        let plain = Catalog::from_spec(&spec("service: {name: s}\nmetrics:\n  builtin: {websocket: {}}"));
        assert!(plain.get(SERIES_DROPPED).is_none(), "no open label, nothing to drop");
        for name in [
            "http_requests_total",
            "http_request_duration_seconds",
            "websocket_active_connections",
            "websocket_errors_total",
            "sigiq_startup_time_seconds",
            "sigiq_shutdown_time_seconds",
            SERIES_DROPPED,
        ] {
            assert!(catalog.get(name).is_some(), "{name} missing");
        }
        assert!(catalog.get("queue_depth").is_none());
    }

    #[test]
    fn the_drop_counter_is_on_the_components_with_capped_families() {
        let two = "service:\n  name: s\n  components: [{name: api}, {name: worker}, {name: cron}]\nmetrics:\n  builtin:\n    http: {components: [api]}\n";
        let catalog = Catalog::from_spec(&spec(two));
        let dropped = catalog.get(SERIES_DROPPED).unwrap();
        assert_eq!(dropped.components, Some(vec!["api".to_string()]));
        let jobs = two.replace(
            "components: [api]}",
            "components: [api]}\n    jobs: {components: [worker, cron]}",
        );
        let catalog = Catalog::from_spec(&spec(&jobs));
        assert_eq!(
            catalog.get(SERIES_DROPPED).unwrap().components,
            None,
            "every component has one"
        );
    }

    #[test]
    fn resolves_histogram_sample_names() {
        let catalog = Catalog::from_spec(&spec("service: {name: s}\nmetrics: {builtin: {http: {}}}"));
        let family = catalog
            .family_of_sample("http_request_duration_seconds_bucket")
            .unwrap();
        assert_eq!(family.name, "http_request_duration_seconds");
        assert!(catalog.family_of_sample("http_requests_total_bucket").is_none());
        assert!(catalog.family_of_sample("http_request_duration_seconds").is_none());
        assert!(catalog.family_of_sample("http_requests_total").is_some());
    }

    #[test]
    fn open_labels_count_the_overflow_value() {
        let catalog = Catalog::from_spec(&spec(
            "service: {name: s}\nmetrics:\n  custom:\n    - {name: a_total, type: counter, help: h, labels: [{name: k, max_series: 9}, {name: v, values: [x, y]}]}",
        ));
        assert_eq!(catalog.get("a_total").unwrap().worst_case_series(), Some(20));
        let dropped = catalog.get(SERIES_DROPPED).unwrap();
        assert_eq!(dropped.labels[0].values.as_deref(), Some(&["a_total".to_string()][..]));
    }
}
