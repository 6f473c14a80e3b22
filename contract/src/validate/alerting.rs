//! Alert, SLO and Alertmanager checks: one condition per alert, mixtool-style naming and
//! annotations, test cases that can run, SLO objectives and windows, routes that reach
//! declared receivers.

use std::collections::BTreeMap;

use crate::catalog::Catalog;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model::{AlertRule, MetricType, Receiver};
use crate::rules::{self, burn_windows};

use super::metrics::is_label_name;
use super::{report_duplicates, Checker};

const MAX_ALERT_NAME: usize = 40;

pub(super) fn check_all(checker: &mut Checker) {
    check_alert_rules(checker);
    check_alert_names(checker);
    check_alert_tests(checker);
    check_slos(checker);
    check_alertmanager(checker);
}

fn conditions(rule: &AlertRule) -> Vec<&'static str> {
    [
        ("expr", rule.expr.is_some()),
        ("threshold", rule.threshold.is_some()),
        ("absent", rule.absent.is_some()),
        ("error_ratio", rule.error_ratio.is_some()),
        ("latency", rule.latency.is_some()),
        ("no_traffic", rule.no_traffic.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect()
}

fn check_alert_rules(checker: &mut Checker) {
    report_duplicates(
        checker,
        Code::AlertGroupDuplicate,
        "alert group",
        checker
            .spec
            .alerts
            .iter()
            .enumerate()
            .map(|(g, group)| (format!("alerts[{g}].group"), group.group.as_str())),
    );
    for (g, group) in checker.spec.alerts.iter().enumerate() {
        if group.rules.is_empty() {
            checker.push(Diagnostic::new(
                Code::AlertGroupEmpty,
                format!("alerts[{g}].rules"),
                format!("alert group `{}` has no rules", group.group),
            ));
        }
        for (r, rule) in group.rules.iter().enumerate() {
            let path = format!("alerts[{g}].rules[{r}]");
            let set = conditions(rule);
            match set.len() {
                0 => checker.push(
                    Diagnostic::new(
                        Code::AlertConditionMissing,
                        path.clone(),
                        format!("alert `{}` says nothing about when it fires", rule.name),
                    )
                    .with_help("give one of `expr`, `threshold`, `absent`, `error_ratio`, `latency`, `no_traffic`"),
                ),
                1 => {}
                _ => checker.push(
                    Diagnostic::new(
                        Code::AlertConditionAmbiguous,
                        path.clone(),
                        format!("alert `{}` has several conditions: {}", rule.name, set.join(", ")),
                    )
                    .with_help("keep exactly one"),
                ),
            }
            if let Some(threshold) = &rule.threshold {
                if threshold.above.is_some() == threshold.below.is_some() {
                    checker.push(Diagnostic::new(
                        Code::AlertThresholdBound,
                        format!("{path}.threshold"),
                        "a threshold needs exactly one of `above` and `below`",
                    ));
                }
            }
            if let Some(ratio) = &rule.error_ratio {
                if !ratio.above.is_positive() || ratio.above >= crate::Decimal::from_int(1) {
                    checker.push(
                        Diagnostic::new(
                            Code::AlertRatioRange,
                            format!("{path}.error_ratio.above"),
                            format!("an error ratio threshold must be between 0 and 1, got {}", ratio.above),
                        )
                        .with_help("5% is written `0.05`"),
                    );
                }
            }
            if let Some(latency) = &rule.latency {
                check_quantile(checker, format!("{path}.latency.quantile"), latency.quantile);
                check_histogram(
                    checker.catalog,
                    &mut checker.found,
                    format!("{path}.latency.metric"),
                    &latency.metric,
                );
            }
            for key in rule.labels.keys() {
                if !is_label_name(key) {
                    checker.push(Diagnostic::new(
                        Code::LabelNameInvalid,
                        format!("{path}.labels.{key}"),
                        format!("`{key}` is not a valid label name"),
                    ));
                } else if key == "severity" || key == "service" {
                    checker.push(Diagnostic::new(
                        Code::LabelReserved,
                        format!("{path}.labels.{key}"),
                        format!("`{key}` is set by obs; use the `severity` field or `service.labels`"),
                    ));
                }
            }
            let summary = rule.summary.trim();
            if summary.is_empty() {
                checker.push(
                    Diagnostic::new(
                        Code::AlertSummaryMissing,
                        format!("{path}.summary"),
                        format!("alert `{}` has an empty summary", rule.name),
                    )
                    .with_help("one plain sentence saying what is wrong"),
                );
            } else if summary.contains('\n') || summary.len() > 160 {
                checker.push(Diagnostic::new(
                    Code::AlertSummaryStyle,
                    format!("{path}.summary"),
                    "the summary should be one short sentence; details go in `description`",
                ));
            }
            if rule.description.as_deref().is_none_or(|d| d.trim().is_empty()) {
                checker.push(
                    Diagnostic::new(
                        Code::AlertDescriptionMissing,
                        path.clone(),
                        format!("alert `{}` has no description", rule.name),
                    )
                    .with_help("say what it means and where to look first"),
                );
            }
            if rule.runbook.is_none() && checker.spec.service.runbook_url.is_none() {
                checker.push(
                    Diagnostic::new(
                        Code::AlertRunbookMissing,
                        path.clone(),
                        format!("alert `{}` links no runbook", rule.name),
                    )
                    .with_help("set `runbook` or a `service.runbook_url` pattern with `{alert}`"),
                );
            }
        }
    }
}

pub(super) fn check_quantile(checker: &mut Checker, path: String, quantile: crate::Decimal) {
    if !quantile.is_positive() || quantile >= crate::Decimal::from_int(1) {
        checker.push(
            Diagnostic::new(
                Code::QuantileRange,
                path,
                format!("quantile {quantile} is not between 0 and 1"),
            )
            .with_help("p95 is written `0.95`"),
        );
    }
}

pub(super) fn check_histogram(catalog: &Catalog, found: &mut Vec<Diagnostic>, path: String, metric: &str) {
    match catalog.get(metric) {
        Some(family) if family.kind == MetricType::Histogram => {}
        Some(family) => found.push(Diagnostic::new(
            Code::MetricNotHistogram,
            path,
            format!("`{metric}` is a {}, not a histogram", family.kind.as_str()),
        )),
        None => {
            let names = catalog
                .families
                .iter()
                .filter(|f| f.kind == MetricType::Histogram)
                .map(|f| f.name.as_str());
            let mut diagnostic = Diagnostic::new(
                Code::MetricUnknown,
                path,
                format!("histogram `{metric}` is not declared"),
            );
            if let Some(close) = crate::suggest::closest(metric.trim_end_matches("_bucket"), names) {
                diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
            }
            found.push(diagnostic);
        }
    }
}

fn check_alert_names(checker: &mut Checker) {
    let alerts: Vec<(String, String)> = checker
        .rules
        .alerts()
        .map(|a| (a.spec_path.clone(), a.name.clone()))
        .collect();
    for (path, name) in &alerts {
        let is_spec_alert = path.starts_with("alerts");
        let field = format!("{path}.name");
        let camel =
            name.starts_with(|c: char| c.is_ascii_uppercase()) && name.chars().all(|c| c.is_ascii_alphanumeric());
        if !camel {
            checker.push(
                Diagnostic::new(
                    Code::AlertNameStyle,
                    field.clone(),
                    format!("alert name `{name}` is not CamelCase"),
                )
                .with_help("e.g. `HighErrorRate`: letters and digits, starting upper-case"),
            );
        }
        if name.len() > MAX_ALERT_NAME {
            let help = if is_spec_alert {
                "shorten it".to_string()
            } else {
                "shorten the SLO name: burn-rate alert names are `<SloName>BurnRate<window>`".to_string()
            };
            checker.push(
                Diagnostic::new(
                    Code::AlertNameLength,
                    field,
                    format!(
                        "alert name `{name}` has {} characters, more than {MAX_ALERT_NAME}",
                        name.len()
                    ),
                )
                .with_help(help),
            );
        }
    }
    report_duplicates(
        checker,
        Code::AlertDuplicate,
        "alert",
        alerts.iter().map(|(p, n)| (format!("{p}.name"), n.as_str())),
    );
}

fn check_alert_tests(checker: &mut Checker) {
    let alerts: BTreeMap<String, crate::rules::AlertView> = checker
        .rules
        .alerts()
        .map(|a| (a.spec_path.clone(), a.clone()))
        .collect();
    for (g, group) in checker.spec.alerts.iter().enumerate() {
        for (r, rule) in group.rules.iter().enumerate() {
            for (t, case) in rule.tests.iter().enumerate() {
                let path = format!("alerts[{g}].rules[{r}].tests[{t}]");
                if case.series.is_empty() {
                    checker.push(Diagnostic::new(
                        Code::AlertTestEmpty,
                        format!("{path}.series"),
                        "a test case needs at least one input series",
                    ));
                }
                for (selector, values) in &case.series {
                    if crate::promql::selector_metric(selector).is_err() {
                        checker.push(Diagnostic::new(
                            Code::AlertTestSeries,
                            format!("{path}.series"),
                            format!("`{selector}` is not a series like `metric{{label=\"value\"}}`"),
                        ));
                    }
                    if !is_series_notation(values) {
                        checker.push(
                            Diagnostic::new(Code::AlertTestValues, format!("{path}.series"), format!("`{values}` is not promtool series notation"))
                                .with_help("e.g. `0+10x60` (start, step, count), `1x5`, `_x3` for gaps, `stale`, separated by spaces"),
                        );
                    }
                }
                if case.interval.as_millis() == 0 {
                    checker.push(Diagnostic::new(
                        Code::AlertTestInterval,
                        format!("{path}.interval"),
                        "the sample interval must be positive",
                    ));
                }
                let predictable = alerts
                    .get(&format!("alerts[{g}].rules[{r}]"))
                    .is_some_and(rules::alert_annotations_predictable);
                if case.fires && !predictable {
                    checker.push(
                        Diagnostic::new(Code::AlertTestAnnotations, path.clone(), format!("alert `{}` has labels or annotations using `$value`, template functions or blocks, which a test cannot predict", rule.name))
                            .with_help("use only `{{ $labels.name }}` in annotations of tested alerts"),
                    );
                }
            }
        }
    }
}

/// promtool expanding notation: space-separated `a`, `a+bxn`, `a-bxn`, `axn`, `_`, `_xn`,
/// `stale`.
fn is_series_notation(values: &str) -> bool {
    let number = |s: &str| !s.is_empty() && (s.parse::<f64>().is_ok() || matches!(s, "Inf" | "+Inf" | "-Inf" | "NaN"));
    let count = |s: &str| s.parse::<u64>().is_ok();
    let item = |item: &str| {
        if item == "_" || item == "stale" || number(item) {
            return true;
        }
        let Some((head, times)) = item.rsplit_once('x') else {
            return false;
        };
        if !count(times) {
            return false;
        }
        if head == "_" || number(head) {
            return true;
        }
        if head.len() < 2 {
            return false;
        }
        let split = head[1..].find(['+', '-']).map(|i| i + 1);
        split.is_some_and(|i| number(&head[..i]) && number(&head[i + 1..]))
    };
    let items: Vec<&str> = values.split_whitespace().collect();
    !items.is_empty() && items.iter().all(|i| item(i))
}

fn check_slos(checker: &mut Checker) {
    report_duplicates(
        checker,
        Code::SloDuplicate,
        "SLO",
        checker
            .spec
            .slos
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("slos[{i}].name"), s.name.as_str())),
    );
    let mut not_selectors: Vec<usize> = Vec::new();
    for (i, slo) in checker.spec.slos.iter().enumerate() {
        let path = format!("slos[{i}]");
        let kebab = slo.name.starts_with(|c: char| c.is_ascii_lowercase())
            && slo
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !kebab {
            checker.push(
                Diagnostic::new(
                    Code::SloNameStyle,
                    format!("{path}.name"),
                    format!("SLO name `{}` is not kebab-case", slo.name),
                )
                .with_help("e.g. `http-availability`"),
            );
        }
        let hundred = crate::Decimal::from_int(100);
        if !slo.objective.is_positive() || slo.objective >= hundred {
            checker.push(
                Diagnostic::new(
                    Code::SloObjectiveRange,
                    format!("{path}.objective"),
                    format!("objective {} is not strictly between 0 and 100", slo.objective),
                )
                .with_help("objectives are percentages: `99.9` for three nines"),
            );
        } else if slo.alerting.enabled {
            let budget = rules::error_budget(slo.objective);
            let fastest = burn_windows(slo.period)[0];
            if fastest
                .factor
                .checked_mul(budget)
                .is_none_or(|t| t >= crate::Decimal::from_int(1))
            {
                checker.push(
                    Diagnostic::new(
                        Code::SloObjectiveLow,
                        format!("{path}.objective"),
                        format!(
                            "with objective {}% the {}x page alert can never fire (it needs more than 100% bad events)",
                            slo.objective, fastest.factor
                        ),
                    )
                    .with_help("burn-rate paging suits objectives above about 93%"),
                );
            }
        }
        let day = 86_400_000;
        if slo.period.as_millis() < day || slo.period.as_millis() > 366 * day {
            checker.push(
                Diagnostic::new(
                    Code::SloPeriodRange,
                    format!("{path}.period"),
                    format!("period {} is outside 1d to 366d", slo.period),
                )
                .with_help("30d is usual"),
            );
        }
        let sli = &slo.sli;
        match (&sli.errors, &sli.total, &sli.latency) {
            (Some(errors), Some(total), None) => {
                for (field, selector) in [("errors", errors), ("total", total)] {
                    // Text that is not PromQL at all is promql-syntax's to report.
                    if crate::promql::parse(selector).is_ok() && crate::promql::selector_metric(selector).is_err() {
                        not_selectors.push(i);
                        checker.push(
                            Diagnostic::new(
                                Code::SloSliSelector,
                                format!("{path}.sli.{field}"),
                                format!(
                                    "`{selector}` is not a series selector; it is placed inside `sum(rate(...[window]))`"
                                ),
                            )
                            .with_help("write the counter's selector, e.g. `http_requests_total{status=~\"5..\"}`; obs aggregates it"),
                        );
                    }
                }
            }
            (None, None, Some(latency)) => {
                check_histogram(
                    checker.catalog,
                    &mut checker.found,
                    format!("{path}.sli.latency.metric"),
                    &latency.metric,
                );
                if let Some(family) = checker.catalog.get(&latency.metric) {
                    // A native histogram has no fixed bounds: `histogram_fraction` takes any
                    // threshold, interpolating within the bucket it falls in.
                    if family.kind == MetricType::Histogram
                        && !family.is_native()
                        && !family.buckets.contains(&latency.threshold)
                    {
                        let buckets: Vec<String> = family.buckets.iter().map(|b| b.to_string()).collect();
                        checker.push(
                            Diagnostic::new(
                                Code::SloThresholdBucket,
                                format!("{path}.sli.latency.threshold"),
                                format!(
                                    "threshold {} is not a bucket of `{}`",
                                    latency.threshold, latency.metric
                                ),
                            )
                            .with_help(format!("use one of its buckets: {}", buckets.join(", "))),
                        );
                    }
                }
            }
            (None, None, None) => checker.push(
                Diagnostic::new(Code::SloSliMissing, format!("{path}.sli"), "the SLI counts nothing")
                    .with_help("give `errors` and `total` selectors, or `latency`"),
            ),
            (Some(_), None, _) | (None, Some(_), _) => checker.push(Diagnostic::new(
                Code::SloSliIncomplete,
                format!("{path}.sli"),
                "an error-ratio SLI needs both `errors` and `total`",
            )),
            _ => checker.push(Diagnostic::new(
                Code::SloSliAmbiguous,
                format!("{path}.sli"),
                "give either `errors`/`total` or `latency`, not both",
            )),
        }
        for label in slo.labels.keys() {
            if !is_label_name(label) || matches!(label.as_str(), "slo" | "severity" | "window" | "service") {
                checker.push(
                    Diagnostic::new(
                        Code::LabelReserved,
                        format!("{path}.labels.{label}"),
                        format!("`{label}` cannot be an SLO label"),
                    )
                    .with_help("`slo`, `severity`, `window` and `service` are set by obs"),
                );
            }
        }
        if let Some(min) = &slo.min_traffic {
            if !min.count.is_positive() {
                checker.push(
                    Diagnostic::new(
                        Code::SloMinTraffic,
                        format!("{path}.min_traffic"),
                        "a minimum traffic of zero guards nothing",
                    )
                    .with_help("remove it, or give e.g. `1/min`"),
                );
            }
        }
    }
    let untested: Vec<(usize, String)> = checker.rules.untested_slos.clone();
    // An SLI that is no selector is already an error; that it is untested says nothing more.
    for (i, reason) in untested.into_iter().filter(|(i, _)| !not_selectors.contains(i)) {
        checker.push(
            Diagnostic::new(
                Code::SloUntested,
                format!("slos[{i}].sli"),
                format!("no promtool tests are generated for this SLO: {reason}"),
            )
            .with_help("use selectors with plain matchers (`=`, `!=`, simple regexes such as `5..`)"),
        );
    }
}

/// Whether an image tag such as `prom/alertmanager:v0.25.0` is older than `0.<minor>`.
fn alertmanager_older_than(image: &str, minor: u32) -> bool {
    let Some((_, tag)) = image.rsplit_once(':') else {
        return false;
    };
    let mut parts = tag.trim_start_matches('v').split('.');
    match (
        parts.next().and_then(|p| p.parse::<u32>().ok()),
        parts.next().and_then(|p| p.parse::<u32>().ok()),
    ) {
        (Some(0), Some(found)) => found < minor,
        _ => false,
    }
}

fn receiver_integrations(receiver: &Receiver) -> usize {
    [
        receiver.webhook.is_some(),
        receiver.slack.is_some(),
        receiver.pagerduty.is_some(),
        receiver.email.is_some(),
    ]
    .iter()
    .filter(|set| **set)
    .count()
}

fn check_alertmanager(checker: &mut Checker) {
    let Some(am) = &checker.spec.alertmanager else { return };
    report_duplicates(
        checker,
        Code::ReceiverDuplicate,
        "receiver",
        am.receivers
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("alertmanager.receivers[{i}].name"), r.name.as_str())),
    );
    let names: Vec<&str> = am.receivers.iter().map(|r| r.name.as_str()).collect();
    let mut referenced = vec![(String::from("alertmanager.route.receiver"), am.route.receiver.as_str())];
    referenced.extend(
        am.routes
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("alertmanager.routes[{i}].receiver"), r.receiver.as_str())),
    );
    for (path, name) in &referenced {
        if !names.contains(name) {
            let mut diagnostic = Diagnostic::new(
                Code::ReceiverUnknown,
                path.clone(),
                format!("receiver `{name}` is not declared"),
            );
            if let Some(close) = crate::suggest::closest(name, names.iter().copied()) {
                diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
            }
            checker.push(diagnostic);
        }
    }
    for (i, receiver) in am.receivers.iter().enumerate() {
        let path = format!("alertmanager.receivers[{i}]");
        if receiver_integrations(receiver) == 0 && receiver.name != "null" && receiver.name != "blackhole" {
            checker.push(
                Diagnostic::new(
                    Code::ReceiverEmpty,
                    path.clone(),
                    format!("receiver `{}` notifies nobody", receiver.name),
                )
                .with_help("add webhook, slack, pagerduty or email (name it `null` if dropping alerts is the point)"),
            );
        }
        if !referenced.iter().any(|(_, n)| *n == receiver.name) {
            checker.push(Diagnostic::new(
                Code::ReceiverUnused,
                format!("{path}.name"),
                format!("receiver `{}` is not used by any route", receiver.name),
            ));
        }
        if let Some(webhook) = &receiver.webhook {
            if webhook.url.is_some() == webhook.url_file.is_some() {
                checker.push(Diagnostic::new(
                    Code::WebhookUrl,
                    format!("{path}.webhook"),
                    "a webhook needs exactly one of `url` and `url_file`",
                ));
            }
            let image = checker.spec.stack.alertmanager.image.as_deref().unwrap_or_default();
            if webhook.url_file.is_some() && alertmanager_older_than(image, 26) {
                checker.push(
                    Diagnostic::new(
                        Code::WebhookUrlFile,
                        format!("{path}.webhook.url_file"),
                        format!("`url_file` needs Alertmanager 0.26 or later; the stack runs `{image}`"),
                    )
                    .with_help("upgrade `stack.alertmanager.image`, or give `url`"),
                );
            }
        }
        if let Some(pagerduty) = &receiver.pagerduty {
            if pagerduty.routing_key_file.is_some() == pagerduty.service_key_file.is_some() {
                checker.push(Diagnostic::new(
                    Code::PagerdutyKey,
                    format!("{path}.pagerduty"),
                    "PagerDuty needs exactly one of `routing_key_file` (Events v2) and `service_key_file` (v1)",
                ));
            }
        }
        if let Some(slack) = &receiver.slack {
            // A channel id (`C0123ABCD`) names a channel as well as `#name` does.
            let channel_id = slack.channel.len() >= 9
                && slack.channel.starts_with(['C', 'G', 'D'])
                && slack
                    .channel
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if !slack.channel.starts_with('#') && !slack.channel.starts_with('@') && !channel_id {
                checker.push(Diagnostic::new(
                    Code::SlackChannel,
                    format!("{path}.slack.channel"),
                    format!(
                        "channel `{}` is neither `#channel`, `@user` nor a channel id",
                        slack.channel
                    ),
                ));
            }
        }
    }
    let known_labels = ["severity", "service", "alertname", "slo", "window"];
    for (i, route) in am.routes.iter().enumerate() {
        if route.match_.is_empty() && route.match_re.is_empty() {
            checker.push(Diagnostic::new(
                Code::RouteMatchesAll,
                format!("alertmanager.routes[{i}]"),
                "this route has no `match`, so it catches every alert and later routes never run",
            ));
        }
        for (label, value) in &route.match_ {
            if label == "severity" && !matches!(value.as_str(), "critical" | "warning" | "info") {
                checker.push(
                    Diagnostic::new(
                        Code::RouteSeverity,
                        format!("alertmanager.routes[{i}].match.severity"),
                        format!("no alert has severity `{value}`"),
                    )
                    .with_help("severities are critical, warning and info"),
                );
            }
            let declared = checker.spec.service.labels.contains_key(label)
                || checker
                    .spec
                    .alerts
                    .iter()
                    .flat_map(|g| &g.rules)
                    .any(|r| r.labels.contains_key(label))
                || known_labels.contains(&label.as_str());
            if !declared {
                checker.push(Diagnostic::new(
                    Code::RouteLabelUnknown,
                    format!("alertmanager.routes[{i}].match.{label}"),
                    format!("no alert carries the label `{label}`, so this route never matches"),
                ));
            }
        }
        for (label, pattern) in &route.match_re {
            if regex::Regex::new(&format!("^(?:{pattern})$")).is_err() {
                checker.push(Diagnostic::new(
                    Code::RouteRegex,
                    format!("alertmanager.routes[{i}].match_re.{label}"),
                    format!("`{pattern}` is not a valid regular expression"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_alertmanager_image_versions() {
        assert!(alertmanager_older_than("prom/alertmanager:v0.25.0", 26));
        assert!(!alertmanager_older_than("prom/alertmanager:v0.27.0", 26));
        assert!(!alertmanager_older_than("prom/alertmanager:latest", 26));
        assert!(!alertmanager_older_than("", 26));
    }

    #[test]
    fn reads_promtool_notation() {
        for good in ["0+10x60", "1x5 0x10", "_x3 1", "stale", "1 2 3", "-1-2x4", "0.5+0.25x4"] {
            assert!(is_series_notation(good), "{good}");
        }
        for bad in ["", "x5", "1+x", "ten", "1+2y3"] {
            assert!(!is_series_notation(bad), "{bad}");
        }
    }
}
