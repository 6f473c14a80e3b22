//! `stack`: the monitoring services the compose file runs beside the app, and their settings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Duration, EnvString};

/// The monitoring stack.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// Compose profile the monitoring services belong to (e.g. `observability`); omitted:
    /// they start with the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Prometheus.
    #[serde(default)]
    pub prometheus: PrometheusStack,
    /// Alertmanager.
    #[serde(default)]
    pub alertmanager: StackService,
    /// Grafana.
    #[serde(default)]
    pub grafana: GrafanaStack,
    /// Loki; on by default when `logging.loki` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loki: Option<StackService>,
    /// Jaeger all-in-one, receiving OTLP traces (`tracing.otlp_endpoint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jaeger: Option<StackService>,
    /// Elasticsearch, receiving shipped logs (`logging.elasticsearch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elasticsearch: Option<StackService>,
}

/// Prometheus settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusStack {
    /// Image, e.g. `prom/prometheus:v2.53.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Host port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// How often targets are scraped.
    #[serde(default = "PrometheusStack::default_interval")]
    pub scrape_interval: Duration,
    /// How often rules are evaluated; defaults to the scrape interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_interval: Option<Duration>,
    /// How long samples are kept.
    #[serde(default = "PrometheusStack::default_retention")]
    pub retention: Duration,
}

impl PrometheusStack {
    fn default_interval() -> Duration {
        Duration::from_secs(15)
    }
    fn default_retention() -> Duration {
        Duration::from_secs(15 * 86_400)
    }
}

impl Default for PrometheusStack {
    fn default() -> Self {
        Self {
            image: None,
            port: None,
            scrape_interval: Self::default_interval(),
            evaluation_interval: None,
            retention: Self::default_retention(),
        }
    }
}

/// A monitoring service with an image and a port.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackService {
    /// Whether compose runs it.
    #[serde(default = "crate::model::yes")]
    pub enabled: bool,
    /// Image and tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Host port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl Default for StackService {
    fn default() -> Self {
        Self {
            enabled: true,
            image: None,
            port: None,
        }
    }
}

/// Grafana settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrafanaStack {
    /// Whether compose runs it.
    #[serde(default = "crate::model::yes")]
    pub enabled: bool,
    /// Image and tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Host port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Admin user name.
    #[serde(default = "GrafanaStack::default_admin_user")]
    pub admin_user: String,
    /// Admin password: `${VAR}` only; compose refuses to start without it.
    #[serde(default = "GrafanaStack::default_admin_password")]
    pub admin_password: EnvString,
}

impl GrafanaStack {
    fn default_admin_user() -> String {
        "admin".into()
    }
    fn default_admin_password() -> EnvString {
        EnvString::Env {
            var: "GRAFANA_ADMIN_PASSWORD".into(),
            default: None,
        }
    }
}

impl Default for GrafanaStack {
    fn default() -> Self {
        Self {
            enabled: true,
            image: None,
            port: None,
            admin_user: Self::default_admin_user(),
            admin_password: Self::default_admin_password(),
        }
    }
}
