//! The raw obs.yaml types, exactly as written: serde + JSON Schema, unknown fields rejected.
//! Meaning (defaults, builtin expansion, derived names) lives in `crate::catalog` and `crate::resolve`.

mod alertmanager;
mod alerts;
mod dashboards;
mod health;
mod logging;
mod metrics;
mod service;
mod slos;
mod stack;

pub use alertmanager::*;
pub use alerts::*;
pub use dashboards::*;
pub use health::*;
pub use logging::*;
pub use metrics::*;
pub use service::*;
pub use slos::*;
pub use stack::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One service's observability contract. Every section but `service` is optional.
/// Problems in it are reported with a code, e.g. `error[metric-counter-suffix]`:
/// `cargo run -p generator -- explain CODE` explains one, and DIAGNOSTICS.md in the obs
/// repository lists them all.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Who the service is and where it listens.
    pub service: Service,
    /// The metrics the service exposes: builtin groups and custom metrics.
    #[serde(default)]
    pub metrics: Metrics,
    /// Liveness, readiness, detailed health and dependency checks.
    #[serde(default)]
    pub health: Health,
    /// How the service stops on SIGTERM.
    #[serde(default)]
    pub shutdown: Shutdown,
    /// Log format, field model, redaction and shipping.
    #[serde(default)]
    pub logging: Logging,
    /// Distributed tracing export (OTLP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
    /// Error tracking (Sentry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_tracking: Option<ErrorTracking>,
    /// Alert groups, each rendered as one Prometheus rule group.
    #[serde(default)]
    pub alerts: Vec<AlertGroup>,
    /// Service level objectives with multi-window multi-burn-rate alerts.
    #[serde(default)]
    pub slos: Vec<Slo>,
    /// Grafana dashboards.
    #[serde(default)]
    pub dashboards: Vec<Dashboard>,
    /// Alert routing and receivers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alertmanager: Option<Alertmanager>,
    /// The compose stack the generator writes: monitoring servers and the services the app
    /// depends on.
    #[serde(default)]
    pub stack: Stack,
    /// The terminal monitor (`monitor` binary) defaults.
    #[serde(default)]
    pub monitor: Monitor,
    /// The load profile `loadtest` runs by default, documented in OBSERVABILITY.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loadtest: Option<LoadTest>,
}

impl Spec {
    /// Every path the runtime serves for probes and the exposition, aliases included: the
    /// traffic that is not the service's own work.
    pub fn served_probe_paths(&self) -> Vec<String> {
        let health = &self.health;
        let endpoint = &self.metrics.endpoint;
        std::iter::once(&health.liveness.path)
            .chain(&health.liveness.aliases)
            .chain(std::iter::once(&health.readiness.path))
            .chain(&health.readiness.aliases)
            .chain(health.detailed.iter().map(|d| &d.path))
            .chain(std::iter::once(&endpoint.path))
            .chain(&endpoint.aliases)
            .cloned()
            .collect()
    }
}

/// A WebSocket load profile: open `sockets` connections at `rate` per second, each sending
/// `send_rate` messages per second, for `duration`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadTest {
    /// WebSocket connections to open.
    pub sockets: u32,
    /// Connections opened per second.
    pub rate: crate::Decimal,
    /// How long the test runs.
    pub duration: crate::Duration,
    /// Messages each connection sends per second.
    pub send_rate: crate::Decimal,
    /// Server to load, e.g. `ws://localhost:8080`.
    pub host: String,
    /// WebSocket path on the server.
    #[serde(default = "LoadTest::default_path")]
    pub path: String,
}

impl LoadTest {
    fn default_path() -> String {
        "/ws".into()
    }
}

/// Defaults for the `monitor` binary, which tails logs for errors and shows the busiest metrics.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitor {
    /// How often the metric snapshot refreshes.
    #[serde(default = "Monitor::default_interval")]
    pub interval: crate::Duration,
    /// How many metrics the snapshot shows, busiest first.
    #[serde(default = "Monitor::default_top")]
    pub top: usize,
    /// How long one run lasts when `--duration` is not given.
    #[serde(default = "Monitor::default_duration")]
    pub duration: crate::Duration,
}

impl Monitor {
    fn default_interval() -> crate::Duration {
        crate::Duration::from_secs(3)
    }
    fn default_top() -> usize {
        5
    }
    fn default_duration() -> crate::Duration {
        crate::Duration::from_secs(60)
    }
}

impl Default for Monitor {
    fn default() -> Self {
        Self {
            interval: Self::default_interval(),
            top: Self::default_top(),
            duration: Self::default_duration(),
        }
    }
}

/// Serde default for booleans that are on unless switched off.
pub(crate) fn yes() -> bool {
    true
}
