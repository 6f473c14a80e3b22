//! `generated/grafana/`: classic dashboard JSON for every dashboard of the spec (panels laid
//! out on the grid, queries bound to a `datasource` variable) and the provisioning files
//! that load them and the data sources into Grafana. Dashboards are typed structs
//! (`json`) serialised directly; only the commented YAML files use templates.

pub mod json;

use contract::model::{PanelDatasource, PanelType};
use minijinja::Environment;
use serde::Serialize;

use super::{header, render_into, Rendered};
use crate::output::Tree;
use crate::plan::dashboards::layout::{default_size, place, GridPos, Slot};
use crate::plan::dashboards::model::{DashboardModel, PanelModel};
use crate::plan::dashboards::{dashboard_path, DASHBOARDS_DIR};
use crate::plan::Plan;
use json::*;

/// Grafana's dashboard JSON schema version written (Grafana 11).
pub const SCHEMA_VERSION: u32 = 39;
/// Provisioned data source uids, also the defaults of the dashboard variables.
pub const PROMETHEUS_UID: &str = "prometheus";
pub const LOKI_UID: &str = "loki";

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

fn options(panel: &PanelModel) -> Options {
    match panel.kind {
        PanelType::Stat => Options::Stat(StatOptions {
            color_mode: "value",
            graph_mode: "area",
            justify_mode: "auto",
            reduce_options: ReduceOptions::LAST,
            text_mode: "auto",
        }),
        PanelType::Gauge => Options::Gauge(GaugeOptions {
            reduce_options: ReduceOptions::LAST,
            show_threshold_labels: false,
            show_threshold_markers: true,
        }),
        PanelType::Bargauge => Options::Bargauge(BargaugeOptions {
            display_mode: "gradient",
            orientation: "horizontal",
            reduce_options: ReduceOptions::LAST,
        }),
        PanelType::Timeseries => Options::Timeseries(TimeseriesOptions {
            legend: Legend {
                display_mode: "list",
                placement: "bottom",
                show_legend: true,
            },
            tooltip: SeriesTooltip {
                mode: "multi",
                sort: "desc",
            },
        }),
        PanelType::Heatmap => Options::Heatmap(HeatmapOptions {
            calculate: false,
            cell_gap: 1,
            color: HeatmapColor {
                mode: "scheme",
                scheme: "Oranges",
                steps: 64,
            },
            tooltip: HeatmapTooltip {
                mode: "single",
                y_histogram: false,
            },
            y_axis: HeatmapAxis {
                axis_placement: "left",
                unit: panel.unit.clone().unwrap_or_default(),
            },
        }),
        PanelType::Table => Options::Table(TableOptions { show_header: true }),
        PanelType::Logs => Options::Logs(LogsOptions {
            enable_log_details: true,
            show_time: true,
            sort_order: "Descending",
            wrap_log_message: true,
        }),
        PanelType::Text => Options::Text(TextOptions {
            content: panel.content.clone().unwrap_or_default(),
            mode: "markdown",
        }),
    }
}

/// Single values take their color from the thresholds; series from the palette.
fn single_value(kind: PanelType) -> bool {
    matches!(kind, PanelType::Stat | PanelType::Gauge | PanelType::Bargauge)
}

fn field_config(panel: &PanelModel) -> FieldConfig {
    let steps = if panel.thresholds.is_empty() {
        vec![ThresholdStep {
            color: "green".into(),
            value: None,
        }]
    } else {
        panel
            .thresholds
            .iter()
            .enumerate()
            .map(|(i, step)| ThresholdStep {
                color: step.color.clone(),
                // Grafana's first step is the base color and has no value.
                value: if i == 0 { None } else { step.value },
            })
            .collect()
    };
    let color = if single_value(panel.kind) && !panel.thresholds.is_empty() {
        "thresholds"
    } else {
        "palette-classic"
    };
    FieldConfig {
        defaults: FieldDefaults {
            color: ColorMode { mode: color },
            max: panel.max,
            min: panel.min,
            thresholds: Thresholds {
                mode: "absolute",
                steps,
            },
            unit: panel.unit.clone(),
        },
        overrides: Vec::new(),
    }
}

fn ref_id(index: usize) -> String {
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if index < letters.len() {
        (letters[index] as char).to_string()
    } else {
        format!("Q{index}")
    }
}

fn targets(panel: &PanelModel) -> Vec<Target> {
    let instant = matches!(
        panel.kind,
        PanelType::Stat | PanelType::Gauge | PanelType::Bargauge | PanelType::Table
    );
    panel
        .targets
        .iter()
        .enumerate()
        .map(|(i, target)| {
            let prometheus = panel.datasource == PanelDatasource::Prometheus;
            Target {
                datasource: datasource_ref(panel.datasource),
                expr: target.expr.clone(),
                format: (prometheus && target.heatmap).then_some("heatmap"),
                instant: prometheus.then_some(instant),
                legend_format: target.legend.clone(),
                query_type: (!prometheus).then_some("range"),
                range: prometheus.then_some(!instant),
                ref_id: ref_id(i),
            }
        })
        .collect()
}

fn panel(id: u32, panel: &PanelModel, grid_pos: GridPos) -> Panel {
    let queried = panel.kind != PanelType::Text;
    Panel {
        collapsed: None,
        datasource: queried.then(|| datasource_ref(panel.datasource)),
        description: panel.description.clone(),
        field_config: Some(field_config(panel)),
        grid_pos,
        id,
        options: Some(options(panel)),
        panels: None,
        targets: queried.then(|| targets(panel)),
        title: panel.title.clone(),
        kind: panel.kind.as_str(),
    }
}

fn row(id: u32, title: &str, grid_pos: GridPos) -> Panel {
    Panel {
        collapsed: Some(false),
        datasource: None,
        description: None,
        field_config: None,
        grid_pos,
        id,
        options: None,
        panels: Some(Vec::new()),
        targets: None,
        title: title.to_string(),
        kind: "row",
    }
}

/// Panels with ids and grid positions, row headers inserted where the row changes.
pub fn laid_out(dashboard: &DashboardModel) -> Vec<Panel> {
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
                Ok(model) => panel(id, model, grid),
                Err(title) => row(id, title, grid),
            }
        })
        .collect()
}

fn datasource_variable(name: &str, label: &str, query: &str, uid: &str) -> Variable {
    Variable {
        current: Current {
            text: label.into(),
            value: uid.into(),
        },
        hide: 0,
        label: label.into(),
        name: name.into(),
        query: query.into(),
        refresh: Some(1),
        kind: "datasource",
    }
}

fn templating(dashboard: &DashboardModel) -> List<Variable> {
    let mut list = vec![datasource_variable(
        "datasource",
        "Prometheus",
        "prometheus",
        PROMETHEUS_UID,
    )];
    if dashboard.uses_loki() {
        list.push(datasource_variable("loki_datasource", "Loki", "loki", LOKI_UID));
    }
    for variable in &dashboard.variables {
        list.push(Variable {
            current: Current {
                text: variable.default.clone(),
                value: variable.default.clone(),
            },
            hide: 0,
            label: variable.label.clone().unwrap_or_else(|| variable.name.clone()),
            name: variable.name.clone(),
            query: variable.default.clone(),
            refresh: None,
            kind: "textbox",
        });
    }
    List { list }
}

/// Grafana's own annotation, and the service's firing alerts drawn on every panel.
fn annotations(service: &str) -> List<Annotation> {
    List {
        list: vec![
            Annotation {
                built_in: Some(1),
                datasource: DatasourceRef {
                    kind: "grafana",
                    uid: "-- Grafana --",
                },
                enable: true,
                expr: None,
                hide: true,
                icon_color: "rgba(0, 211, 255, 1)",
                name: "Annotations & Alerts",
                step: None,
                text_format: None,
                title_format: None,
                kind: Some("dashboard"),
                use_value_for_time: None,
            },
            Annotation {
                built_in: None,
                datasource: datasource_ref(PanelDatasource::Prometheus),
                enable: true,
                expr: Some(format!("ALERTS{{alertstate=\"firing\", service=\"{service}\"}}")),
                hide: false,
                icon_color: "red",
                name: "Firing alerts",
                step: Some("60s"),
                text_format: Some("{{severity}}"),
                title_format: Some("{{alertname}}"),
                kind: None,
                use_value_for_time: Some(false),
            },
        ],
    }
}

/// The dashboard JSON Grafana provisions.
pub fn dashboard(model: &DashboardModel, service: &str) -> Dashboard {
    Dashboard {
        annotations: annotations(service),
        description: model.description.clone(),
        editable: true,
        graph_tooltip: 1,
        links: Vec::new(),
        panels: laid_out(model),
        refresh: model.refresh.clone(),
        schema_version: SCHEMA_VERSION,
        tags: model.tags.clone(),
        templating: templating(model),
        time: TimeRange {
            from: format!("now-{}", model.time),
            to: "now",
        },
        timepicker: Empty {},
        timezone: "browser",
        title: model.title.clone(),
        uid: model.uid.clone(),
        version: 1,
    }
}

#[derive(Serialize)]
struct DatasourcesView {
    header: String,
    scrape_interval: String,
    /// Prometheus, or VictoriaMetrics in the scale-out stack.
    query_url: String,
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
    for model in dashboards {
        let json = serde_json::to_string_pretty(&dashboard(model, &spec.service.name))
            .expect("dashboard structs always serialise");
        tree.add(dashboard_path(&model.uid), json + "\n");
    }
    let datasources = DatasourcesView {
        header: header(loaded),
        scrape_interval: spec.stack.prometheus.scrape_interval.to_string(),
        query_url: plan.resolved.stack.query_url(),
        alertmanager: plan.resolved.stack.alertmanager,
        loki: plan.resolved.stack.loki,
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
