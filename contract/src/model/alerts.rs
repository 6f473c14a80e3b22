//! `alerts`: rule groups of alerts written as PromQL or as templates, with their own
//! promtool test cases.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Decimal, Duration};

/// One Prometheus rule group.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertGroup {
    /// Group name, e.g. `analytics_alerts`.
    pub group: String,
    /// Evaluation interval of this group; defaults to the global one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// The alerts.
    pub rules: Vec<AlertRule>,
}

/// Alert severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Someone acts now (pages).
    Critical,
    /// Someone looks during working hours.
    Warning,
    /// Context for other alerts; notifies nobody on its own.
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }
}

/// One alert. Exactly one of `expr`, `threshold`, `absent`, `error_ratio`, `latency`,
/// `no_traffic` says when it fires.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// Alert name, CamelCase, at most 40 characters.
    pub name: String,
    /// PromQL that returns a series for each firing instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// Fires when a query is above or below a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<ThresholdTemplate>,
    /// Fires when a series is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absent: Option<AbsentTemplate>,
    /// Fires when errors / total over a window is above a ratio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_ratio: Option<ErrorRatioTemplate>,
    /// Fires when a histogram quantile is above a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyTemplate>,
    /// Fires when a counter stops increasing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_traffic: Option<NoTrafficTemplate>,
    /// How long the condition must hold before the alert fires.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<Duration>,
    /// Severity label.
    pub severity: Severity,
    /// One plain sentence: what is wrong.
    pub summary: String,
    /// What it means and what to look at; may use `{{ $value }}` and `{{ $labels.x }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Runbook URL; defaults to `service.runbook_url` with `{alert}` replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// Extra labels on the alert.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// promtool unit-test cases.
    #[serde(default)]
    pub tests: Vec<AlertTest>,
}

/// `query > above` or `query < below`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdTemplate {
    /// PromQL whose value is compared.
    pub query: String,
    /// Fire when the value is above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<Decimal>,
    /// Fire when the value is below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<Decimal>,
}

/// `absent(selector)`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbsentTemplate {
    /// Series selector that must exist, e.g. `up{job="api"}`.
    pub selector: String,
}

/// `sum(rate(errors[w])) / sum(rate(total[w])) > above`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorRatioTemplate {
    /// Selector of failed events, e.g. `http_requests_total{status=~"5.."}`.
    pub errors: String,
    /// Selector of all events, e.g. `http_requests_total`.
    pub total: String,
    /// Ratio (0–1) above which the alert fires.
    pub above: Decimal,
    /// Rate window.
    #[serde(default = "default_window")]
    pub window: Duration,
    /// Labels kept in the result (one alert per combination).
    #[serde(default)]
    pub by: Vec<String>,
}

/// `histogram_quantile(q, sum by (le) (rate(metric_bucket[w]))) > above`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyTemplate {
    /// Histogram metric name (without `_bucket`).
    pub metric: String,
    /// Quantile, 0–1 (0.95 for p95).
    pub quantile: Decimal,
    /// Value (in the histogram's unit) above which the alert fires.
    pub above: Decimal,
    /// Rate window.
    #[serde(default = "default_window")]
    pub window: Duration,
    /// Label matchers narrowing the histogram, e.g. `route!="/metrics"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Labels kept in the result besides `le`.
    #[serde(default)]
    pub by: Vec<String>,
}

/// `sum(rate(selector[w])) == 0`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoTrafficTemplate {
    /// Counter selector expected to keep increasing.
    pub selector: String,
    /// Rate window.
    #[serde(default = "default_window")]
    pub window: Duration,
    /// Labels kept in the result.
    #[serde(default)]
    pub by: Vec<String>,
}

pub(crate) fn default_window() -> Duration {
    Duration::from_secs(300)
}

/// One promtool test case for an alert.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertTest {
    /// What the case shows, e.g. `fires after a minute of silence`.
    pub name: String,
    /// Input series: selector → promtool expanding notation (`0+10x60`, `1x5 0x10`).
    pub series: BTreeMap<String, String>,
    /// Time between samples of the input series.
    #[serde(default = "AlertTest::default_interval")]
    pub interval: Duration,
    /// When the alert is evaluated, from the start of the series.
    pub at: Duration,
    /// Whether the alert must be firing at `at`.
    pub fires: bool,
    /// Labels the firing alert carries from its expression (severity and the rule's labels
    /// are added).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl AlertTest {
    fn default_interval() -> Duration {
        Duration::from_secs(60)
    }
}
