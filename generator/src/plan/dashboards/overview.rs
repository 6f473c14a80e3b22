//! The automatic overview dashboard: every declared metric shown the way its type is read
//! (counters as rates, gauges as stat and time series, histograms as quantiles and a
//! heatmap), the HTTP error ratio, each SLO's budget, firing alerts, and error logs when
//! logs ship to Loki. Queries read the generated recording rules.

use contract::catalog::{BuiltinGroup, Catalog, Family, Origin};
use contract::model::{LevelCase, MetricType, PanelDatasource, PanelType, Spec};
use contract::rules::{HTTP_ERROR_RATIO, SLO_ERROR_BUDGET_REMAINING, SLO_ERROR_RATIO_PREFIX};

use super::model::{grafana_unit, PanelModel, TargetModel};

/// Closed labels with at most this many values split a panel into one line per value.
const MAX_SPLIT_VALUES: usize = 8;

fn row_of(family: &Family) -> String {
    match family.origin {
        Origin::Builtin(BuiltinGroup::Http) => "HTTP".into(),
        Origin::Builtin(BuiltinGroup::WebSocket) => "WebSocket".into(),
        Origin::Builtin(BuiltinGroup::Lifecycle) => "Lifecycle".into(),
        Origin::Builtin(BuiltinGroup::Process) => "Process".into(),
        Origin::Builtin(BuiltinGroup::Jobs) => "Jobs".into(),
        Origin::Custom(_) => "Service metrics".into(),
        Origin::Runtime => "Telemetry".into(),
    }
}

/// The label worth one line each: the first closed label with few values.
fn split_label(family: &Family) -> Option<String> {
    family
        .labels
        .iter()
        .find(|l| l.values.as_ref().is_some_and(|v| v.len() <= MAX_SPLIT_VALUES))
        .map(|l| l.name.clone())
}

fn by_clause(split: &Option<String>) -> (String, Option<String>) {
    match split {
        Some(label) => (format!("sum by ({label}) "), Some(format!("{{{{{label}}}}}"))),
        None => ("sum ".to_string(), None),
    }
}

fn counter_panel(family: &Family) -> PanelModel {
    let record = contract::rules::recording::counter_rate_name(&family.name);
    let split = split_label(family);
    let (sum, legend) = by_clause(&split);
    PanelModel::new(format!("{} per second", family.name), PanelType::Timeseries)
        .describe(family.help.clone())
        .query(format!("{sum}({record})"), legend.as_deref())
        .unit(Some("ops"))
}

fn gauge_panels(family: &Family) -> Vec<PanelModel> {
    let record = contract::rules::recording::gauge_sum_name(&family.name);
    let unit = grafana_unit(family.unit.as_deref());
    let split = split_label(family);
    let (sum, legend) = by_clause(&split);
    let mut stat = PanelModel::new(family.name.clone(), PanelType::Stat)
        .describe(family.help.clone())
        .query(format!("sum({record})"), None)
        .unit(unit);
    stat.width = Some(6);
    let mut series = PanelModel::new(format!("{} over time", family.name), PanelType::Timeseries)
        .describe(family.help.clone())
        .query(format!("{sum}({record})"), legend.as_deref())
        .unit(unit);
    series.width = Some(18);
    vec![stat, series]
}

fn histogram_panels(family: &Family) -> Vec<PanelModel> {
    let name = &family.name;
    let recorded = contract::rules::recording::bucket_rate_name(family);
    // Across jobs and label values: by `le` for classic buckets; a native histogram sums
    // into one.
    let buckets = if family.is_native() {
        format!("sum({recorded})")
    } else {
        format!("sum by (le) ({recorded})")
    };
    let unit = grafana_unit(family.unit.as_deref());
    let mut quantiles = PanelModel::new(format!("{name} p50 / p95 / p99"), PanelType::Timeseries)
        .describe(family.help.clone())
        .unit(unit);
    for (q, label) in [("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99")] {
        quantiles = quantiles.query(format!("histogram_quantile({q}, {buckets})"), Some(label));
    }
    let mut heatmap = PanelModel::new(format!("{name} distribution"), PanelType::Heatmap)
        .describe(family.help.clone())
        .unit(unit);
    heatmap.targets.push(TargetModel {
        expr: buckets,
        legend: (!family.is_native()).then(|| "{{le}}".into()),
        heatmap: true,
    });
    vec![quantiles, heatmap]
}

fn slo_panels(spec: &Spec) -> Vec<PanelModel> {
    let mut panels = Vec::new();
    for slo in &spec.slos {
        let selector = format!("{{slo=\"{}\"}}", slo.name);
        let mut budget = PanelModel::new(format!("{} budget remaining", slo.name), PanelType::Stat)
            .describe(format!(
                "Share of the {} error budget left for objective {}%.",
                slo.period, slo.objective
            ))
            .query(format!("{SLO_ERROR_BUDGET_REMAINING}{selector}"), None)
            .unit(Some("percentunit"))
            .steps(&[(None, "red"), (Some("0"), "orange"), (Some("0.25"), "green")]);
        budget.width = Some(6);
        let windows = contract::rules::burn_windows(slo.period);
        let short = windows[0].short;
        let long = windows[0].long;
        let mut ratio = PanelModel::new(format!("{} error ratio", slo.name), PanelType::Timeseries)
            .describe("Bad events over the fast-burn windows; the page threshold is 14.4 times the budget.")
            .query(
                format!("{SLO_ERROR_RATIO_PREFIX}{short}{selector}"),
                Some(&short.to_string()),
            )
            .query(
                format!("{SLO_ERROR_RATIO_PREFIX}{long}{selector}"),
                Some(&long.to_string()),
            )
            .unit(Some("percentunit"));
        ratio.width = Some(18);
        panels.push(budget.row("SLOs"));
        panels.push(ratio.row("SLOs"));
    }
    panels
}

fn error_level(spec: &Spec) -> &'static str {
    match spec.logging.level_case {
        LevelCase::Lower => "error",
        LevelCase::Upper => "ERROR",
    }
}

/// The overview's panels, grouped into rows.
pub fn panels(spec: &Spec, catalog: &Catalog) -> Vec<PanelModel> {
    let mut panels = Vec::new();
    let service = &spec.service.name;
    let mut alerts = PanelModel::new("Firing alerts", PanelType::Stat)
        .describe("Alerts of this service firing now.")
        .query(
            format!("count(ALERTS{{alertstate=\"firing\", service=\"{service}\"}}) or vector(0)"),
            None,
        )
        .steps(&[(None, "green"), (Some("1"), "red")])
        .row("Service");
    alerts.width = Some(6);
    let mut up = PanelModel::new("Targets up", PanelType::Timeseries)
        .describe("Scrape targets answering, per job.")
        .query("sum by (job) (up)", Some("{{job}}"))
        .row("Service");
    up.width = Some(18);
    panels.push(alerts);
    panels.push(up);
    if catalog.has_group(BuiltinGroup::Http) {
        panels.push(
            PanelModel::new("HTTP 5xx ratio", PanelType::Timeseries)
                .describe("Share of requests answered with a server error.")
                .query(HTTP_ERROR_RATIO, Some("{{job}}"))
                .unit(Some("percentunit"))
                .row("HTTP"),
        );
    }
    for family in &catalog.families {
        let row = row_of(family);
        let built = match family.kind {
            MetricType::Counter => vec![counter_panel(family)],
            MetricType::Gauge => gauge_panels(family),
            MetricType::Histogram => histogram_panels(family),
        };
        panels.extend(built.into_iter().map(|p| p.row(&row)));
    }
    panels.extend(slo_panels(spec));
    if let Some(loki) = &spec.logging.loki {
        let level = error_level(spec);
        let selector = if loki.labels.iter().any(|l| l == "level") {
            format!("{{service=\"{service}\", level=\"{level}\"}}")
        } else {
            format!("{{service=\"{service}\"}} | json | level=\"{level}\"")
        };
        let mut logs = PanelModel::new("Error logs", PanelType::Logs)
            .describe("Log lines at error level.")
            .row("Logs");
        logs.datasource = PanelDatasource::Loki;
        logs.targets.push(TargetModel {
            expr: selector,
            legend: None,
            heatmap: false,
        });
        logs.width = Some(24);
        panels.push(logs);
    }
    panels
}
