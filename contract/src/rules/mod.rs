//! Rules derived from a spec: recording rules that aggregate the catalog across replicas,
//! the spec's alerts with templates expanded, SLO burn-rate rules, and the promtool tests
//! for both. Pure data; the generator only formats it.

mod alerts;
mod matching_labels;
pub mod recording;
mod slo;

use std::collections::BTreeMap;

pub use alerts::{annotations_predictable as alert_annotations_predictable, expand_alert};
pub use recording::{recording_rules, HTTP_ERROR_RATIO};
pub use slo::{
    burn_windows, error_budget, slo_alert_name, BurnKind, BurnWindow, SLO_ERROR_BUDGET_REMAINING,
    SLO_ERROR_RATIO_PREFIX, SLO_OBJECTIVE,
};

use crate::catalog::Catalog;
use crate::model::Spec;
use crate::Duration;

/// A Prometheus recording rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRule {
    pub record: String,
    pub expr: String,
    pub labels: BTreeMap<String, String>,
}

/// A Prometheus alerting rule, fully expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertView {
    pub name: String,
    pub expr: String,
    pub for_: Option<Duration>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Where the alert comes from in the spec, for diagnostics.
    pub spec_path: String,
}

/// One rule of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    Record(RecordingRule),
    Alert(AlertView),
}

/// A rule group as Prometheus evaluates it: rules run in order, each seeing the previous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleGroup {
    pub name: String,
    pub interval: Option<Duration>,
    pub rules: Vec<Rule>,
}

/// A rules file: `generated/prometheus/rules/<name>.yml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFile {
    pub name: String,
    pub groups: Vec<RuleGroup>,
}

/// An input series of a promtool test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSeries {
    pub series: String,
    pub values: String,
}

/// An alert promtool must find firing (with these labels and annotations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedAlert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// What one alert must look like at one evaluation time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertCheck {
    pub eval_time: Duration,
    pub alertname: String,
    /// Empty: the alert must not fire.
    pub expected: Vec<ExpectedAlert>,
}

/// One promtool test case: input series, then alert checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTest {
    pub name: String,
    pub interval: Duration,
    pub input_series: Vec<InputSeries>,
    pub checks: Vec<AlertCheck>,
}

/// A promtool test file: `generated/prometheus/tests/<name>.yml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTestFile {
    pub name: String,
    /// Rule evaluation step; no longer than the shortest input interval.
    pub evaluation_interval: Duration,
    pub tests: Vec<RuleTest>,
}

impl RuleTestFile {
    /// Evaluates rules as often as the shortest sample interval, at most every minute.
    fn new(name: &str, tests: Vec<RuleTest>) -> Self {
        let evaluation_interval = tests
            .iter()
            .map(|t| t.interval)
            .chain(std::iter::once(Duration::from_secs(60)))
            .min()
            .unwrap_or(Duration::from_secs(60));
        Self {
            name: name.into(),
            evaluation_interval,
            tests,
        }
    }
}

/// Every rule file and test file of a spec.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub files: Vec<RuleFile>,
    pub tests: Vec<RuleTestFile>,
    /// SLOs whose tests could not be derived, with the reason (validation warns about them).
    pub untested_slos: Vec<(usize, String)>,
}

impl RuleSet {
    /// Every alert in every file, in order.
    pub fn alerts(&self) -> impl Iterator<Item = &AlertView> {
        self.files
            .iter()
            .flat_map(|f| &f.groups)
            .flat_map(|g| &g.rules)
            .filter_map(|rule| match rule {
                Rule::Alert(alert) => Some(alert),
                Rule::Record(_) => None,
            })
    }

    /// Every recording rule's name.
    pub fn recorded_names(&self) -> impl Iterator<Item = &str> {
        self.files
            .iter()
            .flat_map(|f| &f.groups)
            .flat_map(|g| &g.rules)
            .filter_map(|rule| match rule {
                Rule::Record(record) => Some(record.record.as_str()),
                Rule::Alert(_) => None,
            })
    }
}

/// What alerts need from the service: the labels every alert carries, the runbook pattern,
/// which histograms are native (queried by their own name, not `_bucket`) and the
/// Prometheus release the rules and tests are for.
#[derive(Debug, Clone, Default)]
pub struct AlertContext {
    pub static_labels: BTreeMap<String, String>,
    pub runbook_pattern: Option<String>,
    pub native_histograms: Vec<String>,
    pub prometheus: Option<crate::prometheus_version::PrometheusVersion>,
}

impl AlertContext {
    pub fn new(spec: &Spec, catalog: &Catalog) -> Self {
        let mut static_labels = spec.service.labels.clone();
        static_labels.insert("service".into(), spec.service.name.clone());
        Self {
            static_labels,
            runbook_pattern: spec.service.runbook_url.clone(),
            native_histograms: catalog
                .families
                .iter()
                .filter(|f| f.is_native())
                .map(|f| f.name.clone())
                .collect(),
            prometheus: Some(crate::prometheus_version::PrometheusVersion::target(
                &spec.stack.prometheus,
            )),
        }
    }

    /// Whether `metric` is a native histogram.
    pub fn is_native(&self, metric: &str) -> bool {
        self.native_histograms.iter().any(|n| n == metric)
    }

    pub fn runbook_for(&self, alert: &str) -> Option<String> {
        self.runbook_pattern
            .as_ref()
            .map(|pattern| pattern.replace("{alert}", alert))
    }
}

/// Derives every rule and test of a spec. Expects a spec that passed validation; on one
/// that did not, expressions may be nonsense but nothing panics.
pub fn rule_set(spec: &Spec, catalog: &Catalog) -> RuleSet {
    let context = AlertContext::new(spec, catalog);
    let mut set = RuleSet::default();
    let recording = recording_rules(catalog);
    if !recording.is_empty() {
        set.files.push(RuleFile {
            name: "recording".into(),
            groups: vec![RuleGroup {
                name: format!("{}.recording", spec.service.name),
                interval: None,
                rules: recording.into_iter().map(Rule::Record).collect(),
            }],
        });
    }
    if !spec.alerts.is_empty() {
        let (groups, tests) = alerts::alert_groups(spec, &context);
        set.files.push(RuleFile {
            name: "alerts".into(),
            groups,
        });
        if !tests.is_empty() {
            set.tests.push(RuleTestFile::new("alerts", tests));
        }
    }
    if !spec.slos.is_empty() {
        let derived = slo::slo_rules(spec, &context);
        set.files.push(RuleFile {
            name: "slos".into(),
            groups: derived.groups,
        });
        if !derived.tests.is_empty() {
            let mut file = RuleTestFile::new("slos", derived.tests);
            // Burn-rate rules change no faster than their shortest window.
            file.evaluation_interval = derived.evaluation_interval;
            set.tests.push(file);
        }
        set.untested_slos = derived.untested;
    }
    set
}

/// `http-availability` → `HttpAvailability` (SLO names are kebab-case, so nothing is lost).
pub fn camel_case(name: &str) -> String {
    heck::ToUpperCamelCase::to_upper_camel_case(name)
}

/// `sum by (a, b) (inner)`, or `sum(inner)` when no labels are kept.
pub(crate) fn sum_by(labels: &[String], inner: &str) -> String {
    if labels.is_empty() {
        format!("sum({inner})")
    } else {
        format!("sum by ({}) ({inner})", labels.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_cases_slo_names() {
        assert_eq!(camel_case("http-availability"), "HttpAvailability");
        assert_eq!(camel_case("api_latency-p95"), "ApiLatencyP95");
    }
}
