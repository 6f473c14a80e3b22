//! PromQL checks: every expression in the spec parses, and every metric it selects is
//! declared, recorded by a generated rule, or one Prometheus itself provides; label
//! matchers on declared metrics use declared labels.

use crate::catalog::{Catalog, PROMETHEUS_SERIES};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model::{PanelDatasource, PanelType};
use crate::promql;

use super::Checker;

/// Labels every scraped series has besides its own.
const TARGET_LABELS: [&str; 2] = ["job", "instance"];

pub(super) fn check_all(checker: &mut Checker) {
    let queries = written_queries(checker.spec, checker.catalog);
    let known = KnownSeries::new(
        checker.catalog,
        checker.rules.recorded_names().map(String::from).collect(),
    );
    for (path, query) in queries {
        for diagnostic in check_query(&known, &path, &query) {
            checker.push(diagnostic);
        }
    }
}

/// Every PromQL expression written in the spec, with its spec path: alert conditions and
/// their test series, SLIs, and dashboard queries that read Prometheus.
pub(super) fn written_queries(spec: &crate::model::Spec, catalog: &Catalog) -> Vec<(String, String)> {
    // A latency filter is checked on a series of its histogram: `_bucket` or `_count` of a
    // classic one, the native one itself.
    let series = |metric: &str, classic_suffix: &str| match catalog.get(metric) {
        Some(family) if family.is_native() => metric.to_string(),
        _ => format!("{metric}{classic_suffix}"),
    };
    let mut queries: Vec<(String, String)> = Vec::new();
    for (g, group) in spec.alerts.iter().enumerate() {
        for (r, rule) in group.rules.iter().enumerate() {
            let path = format!("alerts[{g}].rules[{r}]");
            if let Some(expr) = &rule.expr {
                queries.push((format!("{path}.expr"), expr.clone()));
            }
            if let Some(t) = &rule.threshold {
                queries.push((format!("{path}.threshold.query"), t.query.clone()));
            }
            if let Some(t) = &rule.absent {
                queries.push((format!("{path}.absent.selector"), t.selector.clone()));
            }
            if let Some(t) = &rule.error_ratio {
                queries.push((format!("{path}.error_ratio.errors"), t.errors.clone()));
                queries.push((format!("{path}.error_ratio.total"), t.total.clone()));
            }
            if let Some(t) = &rule.latency {
                if let Some(filter) = &t.filter {
                    queries.push((
                        format!("{path}.latency.filter"),
                        format!("{}{{{filter}}}", series(&t.metric, "_bucket")),
                    ));
                }
            }
            if let Some(t) = &rule.no_traffic {
                queries.push((format!("{path}.no_traffic.selector"), t.selector.clone()));
            }
            for (k, case) in rule.tests.iter().enumerate() {
                for selector in case.series.keys() {
                    queries.push((format!("{path}.tests[{k}].series"), selector.clone()));
                }
            }
        }
    }
    for (i, slo) in spec.slos.iter().enumerate() {
        if let Some(errors) = &slo.sli.errors {
            queries.push((format!("slos[{i}].sli.errors"), errors.clone()));
        }
        if let Some(total) = &slo.sli.total {
            queries.push((format!("slos[{i}].sli.total"), total.clone()));
        }
        if let Some(latency) = &slo.sli.latency {
            if let Some(filter) = &latency.filter {
                queries.push((
                    format!("slos[{i}].sli.latency.filter"),
                    format!("{}{{{filter}}}", series(&latency.metric, "_count")),
                ));
            }
        }
    }
    for (d, dashboard) in spec.dashboards.iter().enumerate() {
        for (p, panel) in dashboard.panels.iter().enumerate() {
            if panel.kind == PanelType::Logs || panel.datasource == PanelDatasource::Loki {
                continue;
            }
            let path = format!("dashboards[{d}].panels[{p}]");
            if let Some(query) = &panel.query {
                queries.push((format!("{path}.query"), query.clone()));
            }
            for (q, query) in panel.queries.iter().enumerate() {
                queries.push((format!("{path}.queries[{q}].expr"), query.expr.clone()));
            }
        }
    }
    queries
}

/// Metric names a PromQL expression selects that the spec neither declares nor records,
/// or the parse error. For checking generated queries (dashboards) the same way as written ones.
pub fn unknown_series(resolved: &crate::resolve::Resolved, expr: &str) -> Result<Vec<String>, String> {
    let known = KnownSeries::new(
        &resolved.catalog,
        resolved.rules.recorded_names().map(String::from).collect(),
    );
    let parsed = promql::parse(expr)?;
    Ok(promql::selected_metrics(&parsed)
        .into_iter()
        .filter(|name| !known.contains(name))
        .collect())
}

/// Every series name a query may select.
pub(crate) struct KnownSeries<'a> {
    catalog: &'a Catalog,
    recorded: Vec<String>,
}

impl<'a> KnownSeries<'a> {
    pub fn new(catalog: &'a Catalog, recorded: Vec<String>) -> Self {
        Self { catalog, recorded }
    }

    fn contains(&self, name: &str) -> bool {
        self.catalog.family_of_sample(name).is_some()
            || self.recorded.iter().any(|r| r == name)
            || PROMETHEUS_SERIES.contains(&name)
    }

    fn all_names(&self) -> Vec<String> {
        self.catalog
            .families
            .iter()
            .flat_map(|f| f.stored_names())
            .chain(self.recorded.iter().cloned())
            .chain(PROMETHEUS_SERIES.iter().map(|s| s.to_string()))
            .collect()
    }
}

pub(crate) fn check_query(known: &KnownSeries, path: &str, query: &str) -> Vec<Diagnostic> {
    let expr = match promql::parse(query) {
        Ok(expr) => expr,
        Err(error) => {
            let error = error.trim().trim_end_matches('.').to_string();
            return vec![Diagnostic::new(
                Code::PromqlSyntax,
                path,
                format!("`{}` is not valid PromQL: {error}", query.trim()),
            )
            .with_help(if query.contains("holt_winters") {
                "Prometheus 3 removed `holt_winters`: write `double_exponential_smoothing` (same arguments; Prometheus 3 needs `--enable-feature=promql-experimental-functions` for it)"
            } else {
                "check it with `promtool query instant` or the Prometheus expression browser"
            })];
        }
    };
    let mut found = Vec::new();
    let mut reported: Vec<String> = Vec::new();
    for selected in promql::selected_series(&expr) {
        if reported.contains(&selected.metric) {
            continue;
        }
        if !known.contains(&selected.metric) {
            reported.push(selected.metric.clone());
            let names = known.all_names();
            let histogram = known
                .catalog
                .get(&selected.metric)
                .is_some_and(|f| f.kind == crate::model::MetricType::Histogram);
            let native_base = ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
                let base = selected.metric.strip_suffix(suffix)?;
                known.catalog.get(base).filter(|f| f.is_native())
            });
            let (message, help) = if let Some(native) = native_base {
                (
                    format!(
                        "`{}` is a native histogram, stored as one series under its own name, with no `{}`",
                        native.name,
                        selected.metric
                    ),
                    format!(
                        "select `{0}` itself: `histogram_quantile(0.95, sum(rate({0}[5m])))`, `histogram_count(rate({0}[5m]))`, `histogram_sum(…)`, `histogram_fraction(0, 0.3, …)`",
                        native.name
                    ),
                )
            } else if histogram {
                (
                    format!(
                        "`{}` is a histogram, which has no series under its bare name",
                        selected.metric
                    ),
                    format!(
                        "select `{0}_bucket` (with `histogram_quantile`), `{0}_sum` or `{0}_count`",
                        selected.metric
                    ),
                )
            } else {
                let help = match crate::suggest::closest(&selected.metric, names.iter().map(String::as_str)) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => "declare it under `metrics.custom`, or switch on the builtin group that provides it".into(),
                };
                (
                    format!(
                        "`{}` is not a declared metric, a recorded series or a Prometheus series",
                        selected.metric
                    ),
                    help,
                )
            };
            found.push(Diagnostic::new(Code::PromqlUnknownMetric, path, message).with_help(help));
            continue;
        }
        let Some(family) = known.catalog.family_of_sample(&selected.metric) else {
            continue;
        };
        for label in &selected.labels {
            let is_bucket_le = label == "le" && selected.metric.ends_with("_bucket");
            let declared =
                family.label_names().any(|l| l == label) || TARGET_LABELS.contains(&label.as_str()) || is_bucket_le;
            if !declared && !reported.contains(label) {
                reported.push(label.clone());
                let mut labels: Vec<&str> = family.label_names().collect();
                labels.extend(TARGET_LABELS);
                let help = match crate::suggest::closest(label, labels.iter().copied()) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!("`{}` has the labels {}", family.name, labels.join(", ")),
                };
                found.push(
                    Diagnostic::new(
                        Code::PromqlUnknownLabel,
                        path,
                        format!("`{}` has no label `{label}`", family.name),
                    )
                    .with_help(help),
                );
            }
        }
    }
    found
}
