//! Dashboards the spec declares, resolved: metric references become PromQL, an
//! `overview: true` dashboard gets the automatic panels first.

use contract::catalog::{Catalog, Family};
use contract::model::{Dashboard, MetricType, MetricView, Panel, PanelDatasource, PanelType, Spec};
use contract::resolve::DashboardIdentity;
use contract::{Decimal, Resolved};

use super::model::*;

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
            let buckets = if family.is_native() {
                sum_by(by, &format!("rate({name}[$__rate_interval])"))
            } else {
                let mut le_by = vec!["le".to_string()];
                le_by.extend(by.iter().cloned());
                sum_by(&le_by, &format!("rate({name}_bucket[$__rate_interval])"))
            };
            if panel.kind == PanelType::Heatmap {
                return vec![TargetModel {
                    expr: buckets,
                    legend: (!family.is_native()).then(|| "{{le}}".into()),
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

fn duration_text(duration: Option<contract::Duration>, default: &str) -> String {
    duration.map(|d| d.to_string()).unwrap_or_else(|| default.to_string())
}

fn dashboard_model(
    spec: &Spec,
    catalog: &Catalog,
    dashboard: &Dashboard,
    identity: &DashboardIdentity,
) -> DashboardModel {
    let mut panels = Vec::new();
    if dashboard.overview {
        panels.extend(super::overview::panels(spec, catalog));
    }
    panels.extend(dashboard.panels.iter().map(|p| panel_model(p, catalog)));
    let mut tags = vec![spec.service.name.clone()];
    tags.extend(dashboard.tags.iter().cloned());
    tags.dedup();
    DashboardModel {
        uid: identity.uid.clone(),
        title: identity.title.clone(),
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
pub fn dashboards(spec: &Spec, resolved: &Resolved) -> Vec<DashboardModel> {
    spec.dashboards
        .iter()
        .zip(&resolved.dashboards)
        .map(|(d, identity)| dashboard_model(spec, &resolved.catalog, d, identity))
        .collect()
}
