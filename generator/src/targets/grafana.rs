//! `generated/grafana/`: classic dashboard JSON for every dashboard of the spec (panels laid
//! out on the grid, queries bound to a `datasource` variable) and the provisioning files
//! that load them and the data sources into Grafana.

use contract::model::{PanelDatasource, PanelType};
use minijinja::Environment;
use serde::Serialize;
use serde_json::{json, Value};

use super::{header, render_into, Rendered};
use crate::output::Tree;
use crate::plan::dashboards::layout::{default_size, place, GridPos, Slot};
use crate::plan::dashboards::model::{DashboardModel, PanelModel};
use crate::plan::dashboards::{dashboard_path, DASHBOARDS_DIR};
use crate::plan::Plan;

/// Grafana's dashboard JSON schema version written (Grafana 11).
pub const SCHEMA_VERSION: u32 = 39;
/// Provisioned data source uids, also the defaults of the dashboard variables.
pub const PROMETHEUS_UID: &str = "prometheus";
pub const LOKI_UID: &str = "loki";

#[derive(Serialize)]
struct DatasourceRef {
    #[serde(rename = "type")]
    kind: &'static str,
    uid: &'static str,
}

fn datasource_ref(source: PanelDatasource) -> DatasourceRef {
    match source {
        PanelDatasource::Prometheus => DatasourceRef {
            kind: "prometheus",
            uid: "${datasource}",
        },
        PanelDatasource::Loki => DatasourceRef {
            kind: "loki",
            uid: "${loki_datasource}",
        },
    }
}

fn options(panel: &PanelModel) -> Value {
    let reduce = json!({ "calcs": ["lastNotNull"], "fields": "", "values": false });
    match panel.kind {
        PanelType::Stat => {
            json!({ "reduceOptions": reduce, "colorMode": "value", "graphMode": "area", "justifyMode": "auto", "textMode": "auto" })
        }
        PanelType::Gauge => {
            json!({ "reduceOptions": reduce, "showThresholdLabels": false, "showThresholdMarkers": true })
        }
        PanelType::Bargauge => {
            json!({ "reduceOptions": reduce, "displayMode": "gradient", "orientation": "horizontal" })
        }
        PanelType::Timeseries => json!({
            "legend": { "displayMode": "list", "placement": "bottom", "showLegend": true },
            "tooltip": { "mode": "multi", "sort": "desc" },
        }),
        PanelType::Heatmap => json!({
            "calculate": false,
            "cellGap": 1,
            "color": { "mode": "scheme", "scheme": "Oranges", "steps": 64 },
            "yAxis": { "axisPlacement": "left", "unit": panel.unit.clone().unwrap_or_default() },
            "tooltip": { "mode": "single", "yHistogram": false },
        }),
        PanelType::Table => json!({ "showHeader": true }),
        PanelType::Logs => {
            json!({ "showTime": true, "wrapLogMessage": true, "sortOrder": "Descending", "enableLogDetails": true })
        }
        PanelType::Text => json!({ "mode": "markdown", "content": panel.content.clone().unwrap_or_default() }),
    }
}

fn field_config(panel: &PanelModel) -> Value {
    let steps: Vec<Value> = if panel.thresholds.is_empty() {
        vec![json!({ "value": null, "color": "green" })]
    } else {
        panel
            .thresholds
            .iter()
            .enumerate()
            .map(|(i, step)| {
                // Grafana's first step is the base color and has no value.
                let value = if i == 0 {
                    Value::Null
                } else {
                    serde_json::to_value(step.value).unwrap_or(Value::Null)
                };
                json!({ "value": value, "color": step.color })
            })
            .collect()
    };
    let mut defaults = json!({ "thresholds": { "mode": "absolute", "steps": steps } });
    if let Some(unit) = &panel.unit {
        defaults["unit"] = json!(unit);
    }
    if let Some(min) = panel.min {
        defaults["min"] = serde_json::to_value(min).unwrap_or(Value::Null);
    }
    if let Some(max) = panel.max {
        defaults["max"] = serde_json::to_value(max).unwrap_or(Value::Null);
    }
    let color_mode = if matches!(panel.kind, PanelType::Stat | PanelType::Gauge | PanelType::Bargauge)
        && !panel.thresholds.is_empty()
    {
        "thresholds"
    } else {
        "palette-classic"
    };
    defaults["color"] = json!({ "mode": color_mode });
    json!({ "defaults": defaults, "overrides": [] })
}

fn ref_id(index: usize) -> String {
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if index < letters.len() {
        (letters[index] as char).to_string()
    } else {
        format!("Q{index}")
    }
}

fn targets(panel: &PanelModel) -> Vec<Value> {
    panel
        .targets
        .iter()
        .enumerate()
        .map(|(i, target)| {
            let mut value = json!({
                "refId": ref_id(i),
                "datasource": datasource_ref(panel.datasource),
                "expr": target.expr,
            });
            if let Some(legend) = &target.legend {
                value["legendFormat"] = json!(legend);
            }
            match panel.datasource {
                PanelDatasource::Prometheus => {
                    value["range"] = json!(!matches!(
                        panel.kind,
                        PanelType::Stat | PanelType::Gauge | PanelType::Bargauge | PanelType::Table
                    ));
                    value["instant"] = json!(matches!(
                        panel.kind,
                        PanelType::Stat | PanelType::Gauge | PanelType::Bargauge | PanelType::Table
                    ));
                    if target.heatmap {
                        value["format"] = json!("heatmap");
                    }
                }
                PanelDatasource::Loki => {
                    value["queryType"] = json!("range");
                }
            }
            value
        })
        .collect()
}

fn panel_json(id: u32, panel: &PanelModel, grid: GridPos) -> Value {
    let mut value = json!({
        "id": id,
        "type": panel.kind.as_str(),
        "title": panel.title,
        "gridPos": grid,
    });
    if let Some(description) = &panel.description {
        value["description"] = json!(description);
    }
    if panel.kind != PanelType::Text {
        value["datasource"] = serde_json::to_value(datasource_ref(panel.datasource)).unwrap_or(Value::Null);
        value["targets"] = json!(targets(panel));
    }
    value["fieldConfig"] = field_config(panel);
    value["options"] = options(panel);
    value
}

fn row_json(id: u32, title: &str, grid: GridPos) -> Value {
    json!({ "id": id, "type": "row", "title": title, "collapsed": false, "gridPos": grid, "panels": [] })
}

/// Panels with ids and grid positions, row headers inserted where the row changes.
pub fn laid_out(dashboard: &DashboardModel) -> Vec<Value> {
    let mut slots = Vec::new();
    let mut entries: Vec<Result<&PanelModel, &str>> = Vec::new();
    let mut current_row: Option<&str> = None;
    for panel in &dashboard.panels {
        if let Some(row) = panel.row.as_deref() {
            if current_row != Some(row) {
                slots.push(Slot::Row);
                entries.push(Err(row));
                current_row = Some(row);
            }
        }
        let (w, h) = default_size(panel.kind);
        slots.push(Slot::Panel {
            w: panel.width.unwrap_or(w),
            h: panel.height.unwrap_or(h),
        });
        entries.push(Ok(panel));
    }
    place(&slots)
        .into_iter()
        .zip(entries)
        .enumerate()
        .map(|(i, (grid, entry))| {
            let id = u32::try_from(i + 1).unwrap_or(u32::MAX);
            match entry {
                Ok(panel) => panel_json(id, panel, grid),
                Err(row) => row_json(id, row, grid),
            }
        })
        .collect()
}

fn templating(dashboard: &DashboardModel) -> Value {
    let mut list = vec![json!({
        "type": "datasource",
        "name": "datasource",
        "label": "Prometheus",
        "query": "prometheus",
        "current": { "text": "Prometheus", "value": PROMETHEUS_UID },
        "hide": 0,
        "refresh": 1,
    })];
    if dashboard.uses_loki() {
        list.push(json!({
            "type": "datasource",
            "name": "loki_datasource",
            "label": "Loki",
            "query": "loki",
            "current": { "text": "Loki", "value": LOKI_UID },
            "hide": 0,
            "refresh": 1,
        }));
    }
    for variable in &dashboard.variables {
        list.push(json!({
            "type": "textbox",
            "name": variable.name,
            "label": variable.label.clone().unwrap_or_else(|| variable.name.clone()),
            "query": variable.default,
            "current": { "text": variable.default, "value": variable.default },
            "hide": 0,
        }));
    }
    json!({ "list": list })
}

fn annotations(service: &str) -> Value {
    json!({ "list": [
        {
            "builtIn": 1,
            "datasource": { "type": "grafana", "uid": "-- Grafana --" },
            "enable": true,
            "hide": true,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        },
        {
            "datasource": { "type": "prometheus", "uid": "${datasource}" },
            "enable": true,
            "hide": false,
            "iconColor": "red",
            "name": "Firing alerts",
            "expr": format!("ALERTS{{alertstate=\"firing\", service=\"{service}\"}}"),
            "titleFormat": "{{alertname}}",
            "textFormat": "{{severity}}",
            "step": "60s",
            "useValueForTime": false,
        },
    ]})
}

#[derive(Serialize)]
struct DashboardView {
    uid: String,
    title: String,
    description: Option<String>,
    tags: Vec<String>,
    refresh: Option<String>,
    time_from: String,
    schema_version: u32,
    annotations: Value,
    templating: Value,
    panels: Vec<Value>,
}

#[derive(Serialize)]
struct DatasourcesView {
    header: String,
    scrape_interval: String,
    alertmanager: bool,
    loki: bool,
}

#[derive(Serialize)]
struct ProviderView {
    header: String,
    folder: String,
    path: &'static str,
}

pub fn render(env: &Environment<'_>, plan: &Plan<'_>, tree: &mut Tree) -> Rendered {
    let loaded = plan.loaded;
    let spec = &loaded.spec;
    let dashboards = &plan.dashboards;
    for dashboard in dashboards {
        let view = DashboardView {
            uid: dashboard.uid.clone(),
            title: dashboard.title.clone(),
            description: dashboard.description.clone(),
            tags: dashboard.tags.clone(),
            refresh: dashboard.refresh.clone(),
            time_from: format!("now-{}", dashboard.time),
            schema_version: SCHEMA_VERSION,
            annotations: annotations(&spec.service.name),
            templating: templating(dashboard),
            panels: laid_out(dashboard),
        };
        render_into(
            env,
            tree,
            &dashboard_path(&dashboard.uid),
            "grafana/dashboard.json.j2",
            &view,
        )?;
    }
    let datasources = DatasourcesView {
        header: header(loaded),
        scrape_interval: spec.stack.prometheus.scrape_interval.to_string(),
        alertmanager: plan.stack.alertmanager,
        loki: plan.stack.loki,
    };
    render_into(
        env,
        tree,
        "grafana/provisioning/datasources/datasources.yml",
        "grafana/datasources.yml.j2",
        &datasources,
    )?;
    if !dashboards.is_empty() {
        let provider = ProviderView {
            header: header(loaded),
            folder: spec.service.name.clone(),
            path: DASHBOARDS_DIR,
        };
        render_into(
            env,
            tree,
            "grafana/provisioning/dashboards/dashboards.yml",
            "grafana/dashboards.yml.j2",
            &provider,
        )?;
    }
    Ok(())
}
