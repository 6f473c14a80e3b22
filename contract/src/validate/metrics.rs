//! Metric declaration checks: Prometheus naming rules, suffix conventions, reserved and
//! duplicate labels, buckets, and worst-case cardinality against the series budget.

use crate::catalog::Origin;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model::MetricType;

use super::{report_duplicates, Checker};

use crate::catalog::BASE_UNITS;

pub(super) fn check_all(checker: &mut Checker) {
    check_metric_names(checker);
    check_suffixes(checker);
    check_labels(checker);
    check_buckets(checker);
    check_cardinality(checker);
    check_duplicates(checker);
    check_components(checker);
}

pub(crate) fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub(crate) fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_metric_names(checker: &mut Checker) {
    for (i, decl) in checker.spec.metrics.custom.iter().enumerate() {
        let path = format!("metrics.custom[{i}].name");
        if !is_metric_name(&decl.name) {
            checker.push(
                Diagnostic::new(
                    Code::MetricNameInvalid,
                    path,
                    format!("`{}` is not a valid metric name", decl.name),
                )
                .with_help("use letters, digits and `_`, not starting with a digit"),
            );
        } else if decl.name.contains(':') {
            checker.push(
                Diagnostic::new(
                    Code::MetricNameColon,
                    path,
                    format!("`{}` contains `:`, which is reserved for recording rules", decl.name),
                )
                .with_help("use `_` between words"),
            );
        } else if decl.name.starts_with("__") {
            checker.push(Diagnostic::new(
                Code::MetricNameReserved,
                path,
                format!("`{}` starts with `__`, which Prometheus reserves", decl.name),
            ));
        }
        if decl.help.trim().is_empty() {
            checker.push(
                Diagnostic::new(
                    Code::MetricHelpMissing,
                    format!("metrics.custom[{i}].help"),
                    format!("metric `{}` has an empty help text", decl.name),
                )
                .with_help("say in one sentence what one unit of the metric is"),
            );
        }
    }
}

fn check_suffixes(checker: &mut Checker) {
    for (i, decl) in checker.spec.metrics.custom.iter().enumerate() {
        let path = format!("metrics.custom[{i}].name");
        let name = decl.name.as_str();
        match decl.kind {
            MetricType::Counter if !name.ends_with("_total") => checker.push(
                Diagnostic::new(
                    Code::MetricCounterSuffix,
                    path.clone(),
                    format!("counter `{name}` must end in `_total`"),
                )
                .with_help(format!("rename it to `{name}_total`")),
            ),
            MetricType::Gauge | MetricType::Histogram if name.ends_with("_total") => checker.push(
                Diagnostic::new(
                    Code::MetricTotalSuffix,
                    path.clone(),
                    format!(
                        "{} `{name}` ends in `_total`, which Prometheus reserves for counters",
                        decl.kind.as_str()
                    ),
                )
                .with_help("drop `_total` unless the name is fixed by existing dashboards"),
            ),
            _ => {}
        }
        if decl.kind == MetricType::Histogram && ["_bucket", "_sum", "_count"].iter().any(|s| name.ends_with(s)) {
            checker.push(Diagnostic::new(
                Code::MetricHistogramSuffix,
                path.clone(),
                format!("histogram `{name}` ends in a suffix the exposition adds itself"),
            ));
        }
        let stem = name.strip_suffix("_total").unwrap_or(name);
        match &decl.unit {
            Some(unit) => {
                if !stem.ends_with(&format!("_{unit}")) {
                    let suggestion = if decl.kind == MetricType::Counter {
                        format!("{stem}_{unit}_total")
                    } else {
                        format!("{stem}_{unit}")
                    };
                    checker.push(
                        Diagnostic::new(
                            Code::MetricUnitSuffix,
                            path.clone(),
                            format!("metric `{name}` has unit `{unit}` but its name does not end in `_{unit}`"),
                        )
                        .with_help(format!("rename it to `{suggestion}`")),
                    );
                }
                for (wrong, base) in [
                    ("milliseconds", "seconds"),
                    ("ms", "seconds"),
                    ("kilobytes", "bytes"),
                    ("megabytes", "bytes"),
                    ("percent", "ratio"),
                ] {
                    if unit == wrong {
                        checker.push(
                            Diagnostic::new(
                                Code::MetricUnitBase,
                                format!("metrics.custom[{i}].unit"),
                                format!("unit `{unit}` is not a base unit"),
                            )
                            .with_help(format!("record {base} instead; dashboards convert for display")),
                        );
                    }
                }
            }
            None => {
                if let Some(unit) = BASE_UNITS.iter().find(|u| stem.ends_with(&format!("_{u}"))) {
                    checker.push(
                        Diagnostic::new(
                            Code::MetricUnitMissing,
                            format!("metrics.custom[{i}]"),
                            format!("metric `{name}` ends in `_{unit}` but declares no unit"),
                        )
                        .with_help(format!("add `unit: {unit}`")),
                    );
                } else if ["_duration", "_latency", "_time"].iter().any(|s| stem.ends_with(s)) {
                    checker.push(
                        Diagnostic::new(Code::MetricUnitMissing, format!("metrics.custom[{i}]"), format!("metric `{name}` sounds like a duration but has no unit"))
                            .with_help(format!("declare `unit: seconds` and name it `{stem}_seconds`, unless the name is fixed by existing dashboards")),
                    );
                }
            }
        }
    }
}

fn check_labels(checker: &mut Checker) {
    for (i, decl) in checker.spec.metrics.custom.iter().enumerate() {
        for (j, label) in decl.labels.iter().enumerate() {
            let path = format!("metrics.custom[{i}].labels[{j}]");
            let name = label.name.as_str();
            if !is_label_name(name) {
                checker.push(
                    Diagnostic::new(
                        Code::LabelNameInvalid,
                        format!("{path}.name"),
                        format!("`{name}` is not a valid label name"),
                    )
                    .with_help("use letters, digits and `_`, not starting with a digit"),
                );
            } else if name.starts_with("__") || name == "le" || name == "quantile" {
                checker.push(
                    Diagnostic::new(
                        Code::LabelReserved,
                        format!("{path}.name"),
                        format!("label `{name}` is reserved by Prometheus"),
                    )
                    .with_help("`__*` labels are internal; `le` and `quantile` belong to histograms and summaries"),
                );
            } else if name == "job" || name == "instance" {
                checker.push(
                    Diagnostic::new(
                        Code::LabelScrapeCollision,
                        format!("{path}.name"),
                        format!("label `{name}` is set by Prometheus on scrape; yours becomes `exported_{name}`"),
                    )
                    .with_help("pick another name"),
                );
            }
            match (&label.values, label.max_series) {
                (None, None) => checker.push(
                    Diagnostic::new(Code::LabelUnbounded, path.clone(), format!("label `{name}` of `{}` has neither `values` nor `max_series`", decl.name))
                        .with_help("list the values it takes, or cap it with `max_series` so hostile input cannot create unbounded series"),
                ),
                (Some(_), Some(_)) => checker.push(
                    Diagnostic::new(Code::LabelValuesAndBudget, path.clone(), format!("label `{name}` has both `values` and `max_series`"))
                        .with_help("a closed set needs no budget: keep one of them"),
                ),
                (Some(values), None) => {
                    if values.is_empty() {
                        checker.push(Diagnostic::new(Code::LabelValuesEmpty, format!("{path}.values"), format!("label `{name}` has an empty value list")));
                    }
                    report_duplicates(
                        checker,
                        Code::LabelValueDuplicate,
                        "label value",
                        values.iter().enumerate().map(|(k, v)| (format!("{path}.values[{k}]"), v.as_str())),
                    );
                }
                (None, Some(0)) => checker.push(Diagnostic::new(Code::LabelBudgetZero, format!("{path}.max_series"), format!("label `{name}` allows no values"))),
                (None, Some(_)) => {}
            }
        }
        report_duplicates(
            checker,
            Code::LabelDuplicate,
            "label",
            decl.labels
                .iter()
                .enumerate()
                .map(|(j, l)| (format!("metrics.custom[{i}].labels[{j}].name"), l.name.as_str())),
        );
    }
}

fn check_buckets(checker: &mut Checker) {
    let custom = checker
        .spec
        .metrics
        .custom
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("metrics.custom[{i}].buckets"), d.kind, d.buckets.clone()));
    let builtin = &checker.spec.metrics.builtin;
    let builtins = [
        (
            "metrics.builtin.http.buckets",
            builtin.http.as_ref().and_then(|h| h.buckets.clone()),
        ),
        (
            "metrics.builtin.websocket.buckets",
            builtin.websocket.as_ref().and_then(|w| w.buckets.clone()),
        ),
        (
            "metrics.builtin.jobs.buckets",
            builtin.jobs.as_ref().and_then(|j| j.buckets.clone()),
        ),
    ]
    .map(|(path, buckets)| (path.to_string(), MetricType::Histogram, buckets));
    let all: Vec<_> = custom.chain(builtins).collect();
    for (path, kind, buckets) in all {
        let Some(buckets) = buckets else { continue };
        if kind != MetricType::Histogram {
            checker.push(
                Diagnostic::new(
                    Code::BucketsNotHistogram,
                    path,
                    format!("buckets are given for a {}", kind.as_str()),
                )
                .with_help("only histograms have buckets; remove them or make it a histogram"),
            );
            continue;
        }
        if buckets.is_empty() {
            checker.push(
                Diagnostic::new(Code::BucketsEmpty, path, "the bucket list is empty")
                    .with_help("list upper bounds, e.g. `[0.1, 0.5, 1, 5]`"),
            );
            continue;
        }
        for (k, pair) in buckets.windows(2).enumerate() {
            if pair[1] == pair[0] {
                checker.push(
                    Diagnostic::new(
                        Code::BucketsDuplicate,
                        format!("{path}[{}]", k + 1),
                        format!("bucket {} is listed twice", pair[1]),
                    )
                    .with_help("remove the repeated bound"),
                );
            } else if pair[1] < pair[0] {
                checker.push(
                    Diagnostic::new(
                        Code::BucketsUnsorted,
                        format!("{path}[{}]", k + 1),
                        format!("bucket {} comes after the larger {}", pair[1], pair[0]),
                    )
                    .with_help("list bucket bounds in increasing order"),
                );
            }
        }
    }
}

fn check_cardinality(checker: &mut Checker) {
    let mut found = Vec::new();
    for family in &checker.catalog.families {
        let Origin::Custom(i) = family.origin else { continue };
        let Some(worst) = family.worst_case_series() else {
            continue;
        };
        if worst > family.max_series {
            let detail: Vec<String> = family
                .labels
                .iter()
                .map(|l| format!("{} ({})", l.name, l.cardinality().unwrap_or(0)))
                .collect();
            found.push(
                Diagnostic::new(
                    Code::CardinalityOverBudget,
                    format!("metrics.custom[{i}].labels"),
                    format!(
                        "`{}` can reach {worst} series ({}), more than its budget of {}",
                        family.name,
                        detail.join(" × "),
                        family.max_series
                    ),
                )
                .with_help(
                    "lower a label's `max_series`, drop a label, or raise the metric's `max_series` deliberately",
                ),
            );
        }
    }
    found.into_iter().for_each(|d| checker.push(d));
}

fn check_duplicates(checker: &mut Checker) {
    use std::collections::HashMap;
    let families = &checker.catalog.families;
    // Maps, not scans: a spec of thousands of metrics made the pairwise search quadratic.
    let mut first_by_name: HashMap<&str, &str> = HashMap::new();
    // A histogram also owns name_bucket/_sum/_count: a metric with one of those names clashes.
    let mut sample_owners: HashMap<String, Vec<&str>> = HashMap::new();
    for family in families {
        for sample in family.sample_names().into_iter().filter(|s| *s != family.name) {
            sample_owners.entry(sample).or_default().push(&family.spec_path);
        }
    }
    let mut reported = Vec::new();
    for family in families {
        let (path, name) = (&family.spec_path, family.name.as_str());
        if let Some(first) = first_by_name.get(name) {
            reported.push(
                Diagnostic::new(
                    Code::MetricDuplicate,
                    format!("{path}.name"),
                    format!("metric `{name}` is declared twice (first at {first})"),
                )
                .with_help(
                    "a builtin group already provides metrics with standard names; remove the custom copy or rename it",
                ),
            );
            continue;
        }
        first_by_name.insert(name, path);
        let owner = sample_owners
            .get(name)
            .and_then(|owners| owners.iter().find(|owner| **owner != path.as_str()));
        if let Some(owner) = owner {
            reported.push(Diagnostic::new(
                Code::MetricDuplicate,
                format!("{path}.name"),
                format!("metric `{name}` clashes with a series of the histogram at {owner}"),
            ));
        }
    }
    reported.into_iter().for_each(|d| checker.push(d));
}

fn check_components(checker: &mut Checker) {
    let known: Vec<String> = checker.components.iter().map(|c| c.name.clone()).collect();
    let mut found = Vec::new();
    let scopes = checker
        .catalog
        .families
        .iter()
        .filter_map(|f| f.components.as_ref().map(|c| (f.spec_path.clone(), c)));
    for (path, components) in scopes {
        for name in components {
            if !known.contains(name) {
                found.push(
                    Diagnostic::new(
                        Code::ComponentUnknown,
                        format!("{path}.components"),
                        format!("component `{name}` is not declared"),
                    )
                    .with_help(format!("declared components: {}", known.join(", "))),
                );
            }
        }
    }
    found.dedup();
    found.into_iter().for_each(|d| checker.push(d));
}
