//! Handles for the builtin metric groups the runtime updates (HTTP in its layer, WebSocket
//! in `websocket::Session`, jobs through the `jobs` API, lifecycle in `serve`), bound by
//! their standard names when the spec switches the group on.

use contract::catalog::{BuiltinGroup, Catalog, Origin};

use crate::metrics::{Counter, CounterFamily, Gauge, GaugeFamily, Histogram, HistogramFamily, MetricError, Registry};

/// HTTP RED metrics.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    pub requests: CounterFamily,
    pub duration: HistogramFamily,
    pub in_progress: GaugeFamily,
    /// Paths left out of the metrics (probes, the exposition).
    pub exclude: Vec<String>,
}

/// WebSocket metrics.
#[derive(Debug, Clone)]
pub struct WebSocketMetrics {
    pub active: Gauge,
    pub messages: Counter,
    pub errors: CounterFamily,
    pub duration: Histogram,
}

impl WebSocketMetrics {
    /// Counts an error of a kind the spec lists (others count as a dropped value).
    pub fn error(&self, kind: &str) {
        self.errors.with(&[kind]).inc();
    }
}

/// Background job metrics.
#[derive(Debug, Clone)]
pub struct JobMetrics {
    pub processed: CounterFamily,
    pub duration: HistogramFamily,
    pub retries: CounterFamily,
    pub queue_depth: GaugeFamily,
    pub trace: CounterFamily,
}

/// Start-up and shutdown durations.
#[derive(Debug, Clone)]
pub struct LifecycleMetrics {
    pub startup: Gauge,
    pub shutdown: Gauge,
    /// Their names, for a push.
    pub names: (String, String),
}

/// The builtin groups this component exposes.
#[derive(Debug, Clone, Default)]
pub struct Builtins {
    pub http: Option<HttpMetrics>,
    pub websocket: Option<WebSocketMetrics>,
    pub jobs: Option<JobMetrics>,
    pub lifecycle: Option<LifecycleMetrics>,
}

fn has(catalog: &Catalog, component: &str, group: BuiltinGroup) -> bool {
    catalog
        .for_component(component)
        .any(|f| f.origin == Origin::Builtin(group))
}

impl Builtins {
    pub fn bind(
        spec: &contract::Spec,
        catalog: &Catalog,
        component: &str,
        registry: &Registry,
    ) -> Result<Self, MetricError> {
        let mut builtins = Builtins::default();
        if has(catalog, component, BuiltinGroup::Http) {
            let route = spec
                .metrics
                .builtin
                .http
                .as_ref()
                .map_or(contract::model::HttpBuiltin::DEFAULT_ROUTE_LABEL, |h| h.route_label());
            // Probes and the exposition always, aliases included; the spec may add more.
            let mut exclude = spec.served_probe_paths();
            if let Some(extra) = spec
                .metrics
                .builtin
                .http
                .as_ref()
                .and_then(|h| h.exclude_paths.as_ref())
            {
                exclude.extend(extra.iter().cloned());
            }
            exclude.sort();
            exclude.dedup();
            builtins.http = Some(HttpMetrics {
                requests: registry.counter("http_requests_total", &[route, "method", "status"])?,
                duration: registry.histogram("http_request_duration_seconds", &[route, "method"])?,
                in_progress: registry.gauge("http_requests_in_progress", &[route, "method"])?,
                exclude,
            });
        }
        if has(catalog, component, BuiltinGroup::WebSocket) {
            builtins.websocket = Some(WebSocketMetrics {
                active: registry.gauge("websocket_active_connections", &[])?.single(),
                messages: registry.counter("websocket_messages_total", &[])?.single(),
                errors: registry.counter("websocket_errors_total", &["type"])?,
                duration: registry
                    .histogram("websocket_connection_duration_seconds", &[])?
                    .single(),
            });
        }
        if has(catalog, component, BuiltinGroup::Jobs) {
            builtins.jobs = Some(JobMetrics {
                processed: registry.counter("jobs_processed_total", &["type", "status"])?,
                duration: registry.histogram("job_duration_seconds", &["type"])?,
                retries: registry.counter("job_retries_total", &["type"])?,
                queue_depth: registry.gauge("queue_depth", &["type"])?,
                trace: registry.counter("jobs_trace_total", &["type", "status", "trace"])?,
            });
        }
        let lifecycle: Vec<&str> = catalog
            .for_component(component)
            .filter(|f| f.origin == Origin::Builtin(BuiltinGroup::Lifecycle))
            .map(|f| f.name.as_str())
            .collect();
        if let [startup, shutdown] = lifecycle[..] {
            builtins.lifecycle = Some(LifecycleMetrics {
                startup: registry.gauge(startup, &[])?.single(),
                shutdown: registry.gauge(shutdown, &[])?.single(),
                names: (startup.to_string(), shutdown.to_string()),
            });
        }
        Ok(builtins)
    }
}
