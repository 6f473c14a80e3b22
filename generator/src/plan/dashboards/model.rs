//! Dashboards as obs understands them: titles, panels and their queries, the one model
//! that Grafana JSON and OBSERVABILITY.md are both rendered from.

use contract::model::{PanelDatasource, PanelType, TextVariable};
use contract::Decimal;

/// One query of a panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetModel {
    pub expr: String,
    pub legend: Option<String>,
    /// Bucket counts for a heatmap rather than a time series.
    pub heatmap: bool,
}

/// A color step: from `value` up (the first step has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub value: Option<Decimal>,
    pub color: String,
}

/// One panel, queries resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelModel {
    pub title: String,
    pub kind: PanelType,
    pub description: Option<String>,
    pub datasource: PanelDatasource,
    pub targets: Vec<TargetModel>,
    pub unit: Option<String>,
    pub thresholds: Vec<Step>,
    pub min: Option<Decimal>,
    pub max: Option<Decimal>,
    pub width: Option<u8>,
    pub height: Option<u8>,
    pub row: Option<String>,
    pub content: Option<String>,
}

impl PanelModel {
    pub fn new(title: impl Into<String>, kind: PanelType) -> Self {
        Self {
            title: title.into(),
            kind,
            description: None,
            datasource: if kind == PanelType::Logs {
                PanelDatasource::Loki
            } else {
                PanelDatasource::Prometheus
            },
            targets: Vec::new(),
            unit: None,
            thresholds: Vec::new(),
            min: None,
            max: None,
            width: None,
            height: None,
            row: None,
            content: None,
        }
    }

    pub fn query(mut self, expr: impl Into<String>, legend: Option<&str>) -> Self {
        self.targets.push(TargetModel {
            expr: expr.into(),
            legend: legend.map(String::from),
            heatmap: false,
        });
        self
    }

    pub fn unit(mut self, unit: Option<&str>) -> Self {
        self.unit = unit.map(String::from);
        self
    }

    pub fn row(mut self, row: &str) -> Self {
        self.row = Some(row.to_string());
        self
    }

    pub fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    pub fn steps(mut self, steps: &[(Option<&str>, &str)]) -> Self {
        self.thresholds = steps
            .iter()
            .map(|(value, color)| Step {
                value: value.and_then(Decimal::parse),
                color: color.to_string(),
            })
            .collect();
        self
    }
}

/// One dashboard, resolved.
#[derive(Debug, Clone)]
pub struct DashboardModel {
    pub uid: String,
    pub title: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub refresh: Option<String>,
    /// Default range: the last this long, e.g. `1h`.
    pub time: String,
    pub variables: Vec<TextVariable>,
    pub panels: Vec<PanelModel>,
}

impl DashboardModel {
    pub fn uses_loki(&self) -> bool {
        self.panels.iter().any(|p| p.datasource == PanelDatasource::Loki)
    }
}

/// Grafana's unit for a metric's base unit.
pub fn grafana_unit(unit: Option<&str>) -> Option<&'static str> {
    match unit? {
        "seconds" => Some("s"),
        "bytes" => Some("bytes"),
        "ratio" => Some("percentunit"),
        _ => None,
    }
}
