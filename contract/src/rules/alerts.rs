//! The spec's alerts as Prometheus rules: templates expanded to PromQL, labels and
//! annotations filled in, and each alert's own test cases turned into promtool tests.

use std::collections::BTreeMap;

use promql_parser::parser::Expr;

use crate::model::{AlertRule, Spec};
use crate::promql;

use super::{sum_by, AlertCheck, AlertContext, AlertView, ExpectedAlert, InputSeries, Rule, RuleGroup, RuleTest};

/// Comparison-level (or looser) operators: a query whose top operator is one of these
/// must be parenthesised before another comparison is appended.
fn needs_parentheses(query: &str) -> bool {
    match promql::parse(query) {
        Ok(Expr::Binary(binary)) => binary.op.is_set_operator() || binary.op.is_comparison_operator(),
        _ => false,
    }
}

fn compare(query: &str, op: &str, value: &str) -> String {
    if needs_parentheses(query) {
        format!("({query}) {op} {value}")
    } else {
        format!("{query} {op} {value}")
    }
}

/// Adds label matchers (`route!="/metrics"`) to a metric name.
fn with_filter(metric: &str, filter: Option<&str>) -> String {
    match filter {
        Some(filter) if !filter.trim().is_empty() => format!("{metric}{{{filter}}}"),
        _ => metric.to_string(),
    }
}

/// The PromQL of an alert: `expr` as written, or its template expanded. `None` when the
/// rule has no condition (a validation error).
pub fn alert_expr(rule: &AlertRule, context: &AlertContext) -> Option<String> {
    if let Some(expr) = &rule.expr {
        return Some(expr.trim().to_string());
    }
    if let Some(t) = &rule.threshold {
        return match (t.above, t.below) {
            (Some(above), _) => Some(compare(t.query.trim(), ">", &above.to_string())),
            (None, Some(below)) => Some(compare(t.query.trim(), "<", &below.to_string())),
            (None, None) => None,
        };
    }
    if let Some(t) = &rule.absent {
        return Some(format!("absent({})", t.selector.trim()));
    }
    if let Some(t) = &rule.error_ratio {
        let rate = |selector: &str| sum_by(&t.by, &format!("rate({}[{}])", selector.trim(), t.window));
        return Some(format!("{} / {} > {}", rate(&t.errors), rate(&t.total), t.above));
    }
    if let Some(t) = &rule.latency {
        // A native histogram is one series per label set; a classic one is summed by `le`.
        let (series, by) = if context.is_native(&t.metric) {
            (with_filter(&t.metric, t.filter.as_deref()), t.by.clone())
        } else {
            let mut by = vec!["le".to_string()];
            by.extend(t.by.iter().cloned());
            (with_filter(&format!("{}_bucket", t.metric), t.filter.as_deref()), by)
        };
        let summed = sum_by(&by, &format!("rate({series}[{}])", t.window));
        return Some(format!("histogram_quantile({}, {summed}) > {}", t.quantile, t.above));
    }
    if let Some(t) = &rule.no_traffic {
        return Some(format!(
            "{} == 0",
            sum_by(&t.by, &format!("rate({}[{}])", t.selector.trim(), t.window))
        ));
    }
    None
}

/// One spec alert as a Prometheus alerting rule.
pub fn expand_alert(rule: &AlertRule, context: &AlertContext, spec_path: String) -> AlertView {
    let mut labels = context.static_labels.clone();
    labels.extend(rule.labels.clone());
    labels.insert("severity".into(), rule.severity.as_str().into());
    let mut annotations = BTreeMap::new();
    annotations.insert("summary".to_string(), rule.summary.trim().to_string());
    if let Some(description) = &rule.description {
        annotations.insert("description".into(), description.trim().to_string());
    }
    if let Some(runbook) = rule.runbook.clone().or_else(|| context.runbook_for(&rule.name)) {
        annotations.insert("runbook_url".into(), runbook);
    }
    AlertView {
        name: rule.name.clone(),
        expr: alert_expr(rule, context).unwrap_or_default(),
        for_: rule.for_,
        labels,
        annotations,
        spec_path,
    }
}

/// The text Prometheus makes of a label or annotation template for an alert whose series
/// has `labels`; `None` when it depends on `$value`, functions or blocks, or does not parse.
fn expected_text(text: &str, labels: &BTreeMap<String, String>) -> Option<String> {
    crate::go_template::parse(text).ok()?.expand(labels)
}

/// Whether every label and annotation of an alert can be predicted for a test.
pub fn annotations_predictable(alert: &AlertView) -> bool {
    alert
        .annotations
        .values()
        .chain(alert.labels.values())
        .all(|text| expected_text(text, &BTreeMap::new()).is_some())
}

fn alert_tests(rule: &AlertRule, alert: &AlertView) -> Vec<RuleTest> {
    rule.tests
        .iter()
        .map(|case| {
            // Prometheus expands a rule's labels and annotations with the labels of the
            // series that fired, which are the test's expected labels; its own labels join them.
            let series_labels = &case.labels;
            let mut labels: BTreeMap<String, String> = series_labels.clone();
            for (key, text) in &alert.labels {
                let filled = expected_text(text, series_labels).unwrap_or_else(|| text.clone());
                labels.insert(key.clone(), filled);
            }
            let annotations = alert
                .annotations
                .iter()
                .map(|(key, text)| {
                    let filled = expected_text(text, series_labels).unwrap_or_else(|| text.clone());
                    (key.clone(), filled)
                })
                .collect();
            RuleTest {
                name: format!("{}: {}", rule.name, case.name),
                interval: case.interval,
                input_series: case
                    .series
                    .iter()
                    .map(|(series, values)| InputSeries {
                        series: series.clone(),
                        values: values.clone(),
                    })
                    .collect(),
                checks: vec![AlertCheck {
                    eval_time: case.at,
                    alertname: rule.name.clone(),
                    expected: if case.fires {
                        vec![ExpectedAlert { labels, annotations }]
                    } else {
                        Vec::new()
                    },
                }],
            }
        })
        .collect()
}

/// The spec's alert groups and their tests.
pub(super) fn alert_groups(spec: &Spec, context: &AlertContext) -> (Vec<RuleGroup>, Vec<RuleTest>) {
    let mut groups = Vec::new();
    let mut tests = Vec::new();
    for (g, group) in spec.alerts.iter().enumerate() {
        let mut rules = Vec::new();
        for (r, rule) in group.rules.iter().enumerate() {
            let alert = expand_alert(rule, context, format!("alerts[{g}].rules[{r}]"));
            tests.extend(alert_tests(rule, &alert));
            rules.push(Rule::Alert(alert));
        }
        groups.push(RuleGroup {
            name: group.group.clone(),
            interval: group.interval,
            rules,
        });
    }
    (groups, tests)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(yaml: &str) -> AlertRule {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn expands_each_template() {
        let threshold = rule("{name: A, severity: warning, summary: s, threshold: {query: 'a / b', above: 0.9}}");
        assert_eq!(alert_expr(&threshold, &AlertContext::default()).unwrap(), "a / b > 0.9");
        let set_op = rule("{name: A, severity: warning, summary: s, threshold: {query: 'a > 1 or b', below: 3}}");
        assert_eq!(
            alert_expr(&set_op, &AlertContext::default()).unwrap(),
            "(a > 1 or b) < 3"
        );
        let ratio = rule(
            r#"{name: A, severity: critical, summary: s, error_ratio: {errors: 'h_total{status=~"5.."}', total: h_total, above: 0.05, by: [job]}}"#,
        );
        assert_eq!(
            alert_expr(&ratio, &AlertContext::default()).unwrap(),
            r#"sum by (job) (rate(h_total{status=~"5.."}[5m])) / sum by (job) (rate(h_total[5m])) > 0.05"#
        );
        let latency = rule("{name: A, severity: warning, summary: s, latency: {metric: d_seconds, quantile: 0.95, above: 0.5, window: 10m, filter: 'route!=\"/metrics\"'}}");
        assert_eq!(
            alert_expr(&latency, &AlertContext::default()).unwrap(),
            r#"histogram_quantile(0.95, sum by (le) (rate(d_seconds_bucket{route!="/metrics"}[10m]))) > 0.5"#
        );
        let native = AlertContext {
            native_histograms: vec!["d_seconds".into()],
            ..AlertContext::default()
        };
        assert_eq!(
            alert_expr(&latency, &native).unwrap(),
            r#"histogram_quantile(0.95, sum(rate(d_seconds{route!="/metrics"}[10m]))) > 0.5"#
        );
        let absent = rule("{name: A, severity: critical, summary: s, absent: {selector: 'up{job=\"x\"}'}}");
        assert_eq!(
            alert_expr(&absent, &AlertContext::default()).unwrap(),
            r#"absent(up{job="x"})"#
        );
        let quiet = rule("{name: A, severity: warning, summary: s, no_traffic: {selector: r_total}}");
        assert_eq!(
            alert_expr(&quiet, &AlertContext::default()).unwrap(),
            "sum(rate(r_total[5m])) == 0"
        );
    }

    #[test]
    fn fills_label_templates_in_expected_annotations() {
        let labels = BTreeMap::from([("job".to_string(), "api".to_string())]);
        assert_eq!(
            expected_text("{{ $labels.job }} is down", &labels).unwrap(),
            "api is down"
        );
        assert!(expected_text("value {{ $value }}", &labels).is_none());
    }
}
