//! `dashboards`: Grafana dashboards with panels written as PromQL or as metric references,
//! and the automatic overview built from the declared metrics.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Decimal, Duration};

/// One Grafana dashboard.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// Dashboard title; an overview defaults to `<service> Overview`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Stable id (at most 40 characters of `a-z0-9-_`); defaults from the title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Build the panels from every declared metric (and SLO) instead of listing them.
    #[serde(default)]
    pub overview: bool,
    /// What the dashboard is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Grafana tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Auto-refresh interval, e.g. `5s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<Duration>,
    /// Default time range: the last this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Duration>,
    /// Free-text variables panels use as `$name` (e.g. a session id to follow).
    #[serde(default)]
    pub variables: Vec<TextVariable>,
    /// Panels, laid out left to right, top to bottom on the 24-column grid.
    #[serde(default)]
    pub panels: Vec<Panel>,
}

/// A dashboard variable typed in by the viewer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextVariable {
    /// Name used in queries as `$name`.
    pub name: String,
    /// Label shown beside the box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Initial value.
    #[serde(default)]
    pub default: String,
}

/// Grafana panel types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PanelType {
    /// Lines over time.
    Timeseries,
    /// One big number.
    Stat,
    /// A dial.
    Gauge,
    /// Horizontal bars.
    Bargauge,
    /// Histogram buckets over time.
    Heatmap,
    /// Rows of values.
    Table,
    /// Log lines from Loki.
    Logs,
    /// Markdown text.
    Text,
}

impl PanelType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeseries => "timeseries",
            Self::Stat => "stat",
            Self::Gauge => "gauge",
            Self::Bargauge => "bargauge",
            Self::Heatmap => "heatmap",
            Self::Table => "table",
            Self::Logs => "logs",
            Self::Text => "text",
        }
    }
}

/// How a metric reference becomes a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricView {
    /// Counters: per-second rate; gauges: the value; histograms: the quantile given.
    Auto,
    /// The raw value (a counter's running total).
    Value,
    /// Per-second rate.
    Rate,
    /// Increase over the dashboard interval.
    Increase,
}

/// One panel.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    /// Panel title.
    pub title: String,
    /// Panel type.
    #[serde(rename = "type")]
    pub kind: PanelType,
    /// What the panel shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// One PromQL query (LogQL for a logs panel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Several queries, each with its legend.
    #[serde(default)]
    pub queries: Vec<PanelQuery>,
    /// A declared metric; the query is derived from its type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// With `metric`: how to read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<MetricView>,
    /// With a histogram `metric`: the quantile(s) to plot, e.g. `[0.95, 0.99]`.
    #[serde(default)]
    pub quantiles: Vec<Decimal>,
    /// With `metric`: labels to split by (default: none, the total).
    #[serde(default)]
    pub by: Vec<String>,
    /// Legend format, e.g. `{{route}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legend: Option<String>,
    /// Grafana unit id: `s`, `bytes`, `percentunit`, `reqps`, `short`…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Color steps: the base color, then a color from each value up.
    #[serde(default)]
    pub thresholds: Vec<Threshold>,
    /// Lowest value on the axis / dial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Decimal>,
    /// Highest value on the axis / dial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Decimal>,
    /// Width in grid columns (1–24); default by type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u8>,
    /// Height in grid rows; default by type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u8>,
    /// Markdown, for a text panel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Row header the panel sits under; a panel with a new value starts a new row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<String>,
    /// Where the queries run; logs panels always read Loki.
    #[serde(default)]
    pub datasource: PanelDatasource,
}

/// The data source of a panel's queries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PanelDatasource {
    /// PromQL against Prometheus.
    #[default]
    Prometheus,
    /// LogQL against Loki (log volume, error rates from logs).
    Loki,
}

/// One query of a panel.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PanelQuery {
    /// PromQL.
    pub expr: String,
    /// Legend format, e.g. `p95 {{route}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legend: Option<String>,
}

/// A color step.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// From this value up (omit for the base color).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Decimal>,
    /// Grafana color name or `#rrggbb`.
    pub color: String,
}
