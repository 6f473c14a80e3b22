//! Alert templates: every label and annotation that lands on a Prometheus alerting rule
//! parses as a Prometheus template that can expand when the alert fires (known functions,
//! variables and data fields, closed actions and blocks); service labels, which also land
//! on series as plain text, carry no template syntax at all.

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::go_template;

use super::Checker;

pub(super) fn check_all(checker: &mut Checker) {
    let mut found: Vec<Diagnostic> = Vec::new();
    for (key, value) in &checker.spec.service.labels {
        if go_template::has_actions(value) {
            found.push(
                Diagnostic::new(
                    Code::AlertTemplateInvalid,
                    format!("service.labels.{key}"),
                    format!("`{value}` uses template syntax: service labels are copied onto series as plain text and onto alerts as templates, so the two would differ"),
                )
                .with_help("give the label a plain value; put per-alert text in an alert's own `labels`"),
            );
        }
    }
    for alert in checker.rules.alerts() {
        let fields = alert
            .labels
            .iter()
            .map(|(key, text)| {
                (
                    label_path(checker, &alert.spec_path, key),
                    format!("label `{key}`"),
                    text,
                )
            })
            .chain(alert.annotations.iter().map(|(key, text)| {
                (
                    annotation_path(checker, &alert.spec_path, key),
                    format!("annotation `{key}`"),
                    text,
                )
            }));
        for (path, what, text) in fields {
            // The service's runbook pattern is checked as written, so positions match it.
            let source = match (&checker.spec.service.runbook_url, path.as_str()) {
                (Some(pattern), "service.runbook_url") => pattern,
                _ => text,
            };
            let Err(error) = go_template::parse(source) else {
                continue;
            };
            let diagnostic = Diagnostic::new(
                Code::AlertTemplateInvalid,
                path,
                format!(
                    "the {what} of alert `{}` is not a template Prometheus can expand (at character {}): {}",
                    alert.name,
                    error.at + 1,
                    error.message
                ),
            )
            .with_help("write `{{ $labels.name }}` for a label of the firing series, `{{ $value }}` for its value; write `{{ \"{{\" }}` for a literal `{{`");
            // A service-wide runbook pattern or label is wrong once, not once per alert.
            if !found.iter().any(|d| d.path == diagnostic.path) {
                found.push(diagnostic);
            }
        }
    }
    for diagnostic in found {
        checker.push(diagnostic);
    }
}

/// Where an alert's label comes from: its own `labels`, or the service's.
fn label_path(checker: &Checker, alert_path: &str, key: &str) -> String {
    match rule_of(checker, alert_path) {
        Some(rule) if rule.labels.contains_key(key) => format!("{alert_path}.labels.{key}"),
        _ if checker.spec.service.labels.contains_key(key) => format!("service.labels.{key}"),
        _ => alert_path.to_string(),
    }
}

/// Where an alert's annotation comes from.
fn annotation_path(checker: &Checker, alert_path: &str, key: &str) -> String {
    let rule = rule_of(checker, alert_path);
    match key {
        "runbook_url" if rule.is_some_and(|r| r.runbook.is_some()) => format!("{alert_path}.runbook"),
        "runbook_url" => "service.runbook_url".into(),
        "summary" | "description" if rule.is_some() => format!("{alert_path}.{key}"),
        _ => alert_path.to_string(),
    }
}

/// The spec rule an `alerts[g].rules[r]` path names (SLO alerts have none).
fn rule_of<'a>(checker: &Checker<'a>, path: &str) -> Option<&'a crate::model::AlertRule> {
    let rest = path.strip_prefix("alerts[")?;
    let (group, rest) = rest.split_once("].rules[")?;
    let rule = rest.strip_suffix(']')?;
    checker
        .spec
        .alerts
        .get(group.parse::<usize>().ok()?)?
        .rules
        .get(rule.parse::<usize>().ok()?)
}
