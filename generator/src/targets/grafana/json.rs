//! Grafana's classic dashboard JSON as typed structs, serialised directly. Fields are
//! declared in alphabetical order, the order Grafana itself exports them in, so a
//! generated file diffs cleanly against one saved from the UI.

use contract::Decimal;
use serde::Serialize;

use crate::plan::dashboards::layout::GridPos;

/// `{"list": [...]}`, the wrapper of annotations and template variables.
#[derive(Debug, Serialize)]
pub struct List<T> {
    pub list: Vec<T>,
}

/// No dashboard links and no time picker settings: Grafana still wants the keys.
#[derive(Debug, Serialize)]
pub struct Empty {}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    pub annotations: List<Annotation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub editable: bool,
    /// 1: a shared crosshair across panels.
    pub graph_tooltip: u8,
    pub links: Vec<Empty>,
    pub panels: Vec<Panel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
    pub schema_version: u32,
    pub tags: Vec<String>,
    pub templating: List<Variable>,
    pub time: TimeRange,
    pub timepicker: Empty,
    pub timezone: &'static str,
    pub title: String,
    pub uid: String,
    pub version: u32,
}

#[derive(Debug, Serialize)]
pub struct TimeRange {
    pub from: String,
    pub to: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatasourceRef {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub uid: &'static str,
}

/// Grafana's built-in annotation, or one drawn from a Prometheus query.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub built_in: Option<u8>,
    pub datasource: DatasourceRef,
    pub enable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    pub hide: bool,
    pub icon_color: &'static str,
    pub name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_format: Option<&'static str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_value_for_time: Option<bool>,
}

/// A template variable: a data source picker or a free-text box.
#[derive(Debug, Serialize)]
pub struct Variable {
    pub current: Current,
    pub hide: u8,
    pub label: String,
    pub name: String,
    pub query: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh: Option<u8>,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Current {
    pub text: String,
    pub value: String,
}

/// A panel, or a row header (which has `collapsed` and `panels` and no queries).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Panel {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collapsed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datasource: Option<DatasourceRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_config: Option<FieldConfig>,
    pub grid_pos: GridPos,
    pub id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
    /// A row's nested panels: none, rows are never collapsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub panels: Option<Vec<Empty>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<Target>>,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Serialize)]
pub struct FieldConfig {
    pub defaults: FieldDefaults,
    pub overrides: Vec<Empty>,
}

#[derive(Debug, Serialize)]
pub struct FieldDefaults {
    pub color: ColorMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<Decimal>,
    pub thresholds: Thresholds,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ColorMode {
    pub mode: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Thresholds {
    pub mode: &'static str,
    pub steps: Vec<ThresholdStep>,
}

/// The first step is the base color and has a `null` value.
#[derive(Debug, Serialize)]
pub struct ThresholdStep {
    pub color: String,
    pub value: Option<Decimal>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub datasource: DatasourceRef,
    pub expr: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instant: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legend_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<bool>,
    pub ref_id: String,
}

/// The `options` of each panel type.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Options {
    Stat(StatOptions),
    Gauge(GaugeOptions),
    Bargauge(BargaugeOptions),
    Timeseries(TimeseriesOptions),
    Heatmap(HeatmapOptions),
    Table(TableOptions),
    Logs(LogsOptions),
    Text(TextOptions),
}

/// Which value a single-value panel shows: the last one that is not null.
#[derive(Debug, Serialize)]
pub struct ReduceOptions {
    pub calcs: [&'static str; 1],
    pub fields: &'static str,
    pub values: bool,
}

impl ReduceOptions {
    pub const LAST: ReduceOptions = ReduceOptions {
        calcs: ["lastNotNull"],
        fields: "",
        values: false,
    };
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatOptions {
    pub color_mode: &'static str,
    pub graph_mode: &'static str,
    pub justify_mode: &'static str,
    pub reduce_options: ReduceOptions,
    pub text_mode: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GaugeOptions {
    pub reduce_options: ReduceOptions,
    pub show_threshold_labels: bool,
    pub show_threshold_markers: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BargaugeOptions {
    pub display_mode: &'static str,
    pub orientation: &'static str,
    pub reduce_options: ReduceOptions,
}

#[derive(Debug, Serialize)]
pub struct TimeseriesOptions {
    pub legend: Legend,
    pub tooltip: SeriesTooltip,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Legend {
    pub display_mode: &'static str,
    pub placement: &'static str,
    pub show_legend: bool,
}

#[derive(Debug, Serialize)]
pub struct SeriesTooltip {
    pub mode: &'static str,
    pub sort: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeatmapOptions {
    pub calculate: bool,
    pub cell_gap: u8,
    pub color: HeatmapColor,
    pub tooltip: HeatmapTooltip,
    pub y_axis: HeatmapAxis,
}

#[derive(Debug, Serialize)]
pub struct HeatmapColor {
    pub mode: &'static str,
    pub scheme: &'static str,
    pub steps: u16,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeatmapTooltip {
    pub mode: &'static str,
    pub y_histogram: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeatmapAxis {
    pub axis_placement: &'static str,
    pub unit: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableOptions {
    pub show_header: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsOptions {
    pub enable_log_details: bool,
    pub show_time: bool,
    pub sort_order: &'static str,
    pub wrap_log_message: bool,
}

#[derive(Debug, Serialize)]
pub struct TextOptions {
    pub content: String,
    pub mode: &'static str,
}
