//! Dashboards as obs understands them: titles, panels and their queries, resolved from the
//! spec (metric references become PromQL) or built automatically for an overview. Grafana
//! JSON and OBSERVABILITY.md are both rendered from this.

use spec::catalog::{Catalog, Family};
use spec::model::{Dashboard, MetricType, MetricView, Panel, PanelDatasource, PanelType, Spec, TextVariable};
use spec::Decimal;

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

fn sum_by(by: &[String], inner: &str) -> String {
    if by.is_empty() {
        format!("sum({inner})")
    } else {
        format!("sum by ({}) ({inner})", by.join(", "))
    }
}

fn legend_for(by: &[String]) -> Option<String> {
    (!by.is_empty()).then(|| by.iter().map(|l| format!("{{{{{l}}}}}")).collect::<Vec<_>>().join(" "))
}

fn quantile_label(q: Decimal) -> String {
    let percent = q.checked_mul(Decimal::from_int(100)).unwrap_or(q);
    format!("p{percent}")
}

/// The queries a metric reference stands for.
fn metric_targets(family: &Family, panel: &Panel) -> Vec<TargetModel> {
    let name = &family.name;
    let by = &panel.by;
    let legend = panel.legend.clone().or_else(|| legend_for(by));
    let view = panel.view.unwrap_or(MetricView::Auto);
    let single = |expr: String| {
        vec![TargetModel {
            expr,
            legend: legend.clone(),
            heatmap: false,
        }]
    };
    match family.kind {
        MetricType::Counter => match view {
            MetricView::Value => single(sum_by(by, name)),
            MetricView::Increase => single(sum_by(by, &format!("increase({name}[$__range])"))),
            MetricView::Auto | MetricView::Rate => single(sum_by(by, &format!("rate({name}[$__rate_interval])"))),
        },
        MetricType::Gauge => single(sum_by(by, name)),
        MetricType::Histogram => {
            let mut le_by = vec!["le".to_string()];
            le_by.extend(by.iter().cloned());
            let buckets = sum_by(&le_by, &format!("rate({name}_bucket[$__rate_interval])"));
            if panel.kind == PanelType::Heatmap {
                return vec![TargetModel {
                    expr: buckets,
                    legend: Some("{{le}}".into()),
                    heatmap: true,
                }];
            }
            let quantiles = if panel.quantiles.is_empty() {
                ["0.5", "0.95", "0.99"]
                    .iter()
                    .filter_map(|q| Decimal::parse(q))
                    .collect()
            } else {
                panel.quantiles.clone()
            };
            quantiles
                .into_iter()
                .map(|q| {
                    let label = quantile_label(q);
                    let legend = match legend_for(by) {
                        Some(split) => format!("{label} {split}"),
                        None => label,
                    };
                    TargetModel {
                        expr: format!("histogram_quantile({q}, {buckets})"),
                        legend: Some(legend),
                        heatmap: false,
                    }
                })
                .collect()
        }
    }
}

fn panel_model(panel: &Panel, catalog: &Catalog) -> PanelModel {
    let mut model = PanelModel::new(panel.title.clone(), panel.kind);
    model.description = panel.description.clone();
    model.datasource = if panel.kind == PanelType::Logs {
        PanelDatasource::Loki
    } else {
        panel.datasource
    };
    if let Some(query) = &panel.query {
        model.targets.push(TargetModel {
            expr: query.trim().to_string(),
            legend: panel.legend.clone(),
            heatmap: panel.kind == PanelType::Heatmap,
        });
    }
    for query in &panel.queries {
        model.targets.push(TargetModel {
            expr: query.expr.trim().to_string(),
            legend: query.legend.clone(),
            heatmap: panel.kind == PanelType::Heatmap,
        });
    }
    let family = panel.metric.as_deref().and_then(|m| catalog.get(m));
    if let Some(family) = family {
        model.targets.extend(metric_targets(family, panel));
    }
    let derived_unit = family.and_then(|f| match (f.kind, panel.view) {
        (MetricType::Counter, Some(MetricView::Value | MetricView::Increase)) => None,
        (MetricType::Counter, _) => Some("ops"),
        _ => grafana_unit(f.unit.as_deref()),
    });
    model.unit = panel.unit.clone().or(derived_unit.map(String::from));
    model.thresholds = panel
        .thresholds
        .iter()
        .map(|t| Step {
            value: t.value,
            color: t.color.clone(),
        })
        .collect();
    model.min = panel.min;
    model.max = panel.max;
    model.width = panel.width;
    model.height = panel.height;
    model.row = panel.row.clone();
    model.content = panel.content.clone();
    model
}

fn duration_text(duration: Option<spec::Duration>, default: &str) -> String {
    duration.map(|d| d.to_string()).unwrap_or_else(|| default.to_string())
}

fn dashboard_model(spec: &Spec, catalog: &Catalog, dashboard: &Dashboard) -> DashboardModel {
    let mut panels = Vec::new();
    if dashboard.overview {
        panels.extend(super::overview::panels(spec, catalog));
    }
    panels.extend(dashboard.panels.iter().map(|p| panel_model(p, catalog)));
    let mut tags = vec![spec.service.name.clone()];
    tags.extend(dashboard.tags.iter().cloned());
    tags.dedup();
    DashboardModel {
        uid: spec::validate::dashboard_uid(spec, dashboard),
        title: spec::validate::dashboard_title(spec, dashboard),
        description: dashboard.description.clone().or_else(|| {
            dashboard.overview.then(|| {
                format!(
                    "Every metric {} declares in obs.yaml, with its SLOs and alerts.",
                    spec.service.name
                )
            })
        }),
        tags,
        refresh: dashboard.refresh.map(|d| d.to_string()),
        time: duration_text(dashboard.time, "6h"),
        variables: dashboard.variables.clone(),
        panels,
    }
}

/// Every dashboard of a spec, in order.
pub fn dashboards(spec: &Spec, catalog: &Catalog) -> Vec<DashboardModel> {
    spec.dashboards
        .iter()
        .map(|d| dashboard_model(spec, catalog, d))
        .collect()
}
