//! The registry of diagnostic codes: every id that loading and validation can report, with
//! its level, a one-line summary and an explanation, and as examples the fixture that
//! triggers it and the one that fixes it (`generator explain CODE`, `rustc --explain` style).
//! Explanations live beside this file as `<id>.md`; the fixtures are the test suite's own
//! `contract/tests/fixtures/<id>.bad.yaml` and `<id>.good.yaml`, so every example shown is
//! one a test proves.

use std::fmt;

use serde::{Serialize, Serializer};

/// How serious a diagnostic with a given code is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The spec cannot be used; nothing is generated.
    Error,
    /// Works, but likely a mistake or against Prometheus conventions.
    Warning,
}

macro_rules! codes {
    ($($variant:ident = $id:literal, $level:ident $(, $no_fixture:ident)?;)*) => {
        /// A diagnostic's stable identifier.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, loading's first, then validation's by id.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The id printed in diagnostics: `metric-counter-suffix`.
            pub fn id(self) -> &'static str {
                match self { $(Code::$variant => $id,)* }
            }

            /// How serious a diagnostic with this code is; the same every time it is reported.
            pub fn level(self) -> Level {
                match self { $(Code::$variant => Level::$level,)* }
            }

            fn text(self) -> &'static str {
                match self { $(Code::$variant => include_str!(concat!($id, ".md")),)* }
            }

            /// The spec that triggers this code and the one that fixes it, as bytes (one
            /// fixture is not UTF-8 on purpose); `None` where no file can hold the example.
            pub fn examples(self) -> Option<(&'static [u8], &'static [u8])> {
                match self { $(Code::$variant => codes!(@examples $id $(, $no_fixture)?),)* }
            }
        }
    };
    (@examples $id:literal) => {
        Some((
            include_bytes!(concat!("../../tests/fixtures/", $id, ".bad.yaml")).as_slice(),
            include_bytes!(concat!("../../tests/fixtures/", $id, ".good.yaml")).as_slice(),
        ))
    };
    (@examples $id:literal, no_fixture) => {
        None
    };
}

codes! {
    FileTooLarge = "file-too-large", Error, no_fixture;
    FileNotUtf8 = "file-not-utf8", Error;
    FileEmpty = "file-empty", Error;
    YamlAliasesTooLarge = "yaml-aliases-too-large", Error;
    YamlSyntax = "yaml-syntax", Error;
    YamlTooDeep = "yaml-too-deep", Error;
    DuplicateKey = "duplicate-key", Error;
    UnknownField = "unknown-field", Error;
    MissingField = "missing-field", Error;
    UnknownValue = "unknown-value", Error;
    WrongType = "wrong-type", Error;
    InvalidValue = "invalid-value", Error;
    AlertConditionAmbiguous = "alert-condition-ambiguous", Error;
    AlertConditionMissing = "alert-condition-missing", Error;
    AlertDescriptionMissing = "alert-description-missing", Warning;
    AlertDuplicate = "alert-duplicate", Error;
    AlertGroupDuplicate = "alert-group-duplicate", Error;
    AlertGroupEmpty = "alert-group-empty", Warning;
    AlertNameLength = "alert-name-length", Error;
    AlertNameStyle = "alert-name-style", Error;
    AlertRatioRange = "alert-ratio-range", Error;
    AlertRunbookMissing = "alert-runbook-missing", Warning;
    AlertSummaryMissing = "alert-summary-missing", Error;
    AlertSummaryStyle = "alert-summary-style", Warning;
    AlertTemplateInvalid = "alert-template-invalid", Error;
    AlertTestAnnotations = "alert-test-annotations", Error;
    AlertTestEmpty = "alert-test-empty", Error;
    AlertTestInterval = "alert-test-interval", Error;
    AlertTestSeries = "alert-test-series", Error;
    AlertTestValues = "alert-test-values", Error;
    AlertThresholdBound = "alert-threshold-bound", Error;
    BucketsDuplicate = "buckets-duplicate", Error;
    BucketsEmpty = "buckets-empty", Error;
    BucketsNotHistogram = "buckets-not-histogram", Error;
    BucketsUnsorted = "buckets-unsorted", Error;
    CardinalityOverBudget = "cardinality-over-budget", Error;
    CheckDuplicate = "check-duplicate", Error;
    CheckTargetInvalid = "check-target-invalid", Error;
    CheckTargetMissing = "check-target-missing", Error;
    CheckTargetUnused = "check-target-unused", Warning;
    CheckTimeoutLong = "check-timeout-long", Warning;
    CheckTimeoutZero = "check-timeout-zero", Error;
    ComponentDuplicate = "component-duplicate", Error;
    ComponentNameInvalid = "component-name-invalid", Error;
    ComponentUnknown = "component-unknown", Error;
    DashboardEmpty = "dashboard-empty", Warning;
    DashboardTitleMissing = "dashboard-title-missing", Error;
    DashboardUidDuplicate = "dashboard-uid-duplicate", Error;
    DashboardUidInvalid = "dashboard-uid-invalid", Error;
    DependencyDuplicate = "dependency-duplicate", Error;
    DependencyImageEmpty = "dependency-image-empty", Error;
    DependencyNameInvalid = "dependency-name-invalid", Error;
    ElasticsearchIlmOrder = "elasticsearch-ilm-order", Error;
    ElasticsearchIndexName = "elasticsearch-index-name", Error;
    EndpointPathDuplicate = "endpoint-path-duplicate", Error;
    EndpointPathInvalid = "endpoint-path-invalid", Error;
    EvaluationIntervalZero = "evaluation-interval-zero", Error;
    HealthcheckRetries = "healthcheck-retries", Error;
    HealthcheckTimeout = "healthcheck-timeout", Error;
    KubernetesLabelInvalid = "kubernetes-label-invalid", Error;
    KubernetesNameInvalid = "kubernetes-name-invalid", Error;
    LabelBudgetZero = "label-budget-zero", Error;
    LabelDuplicate = "label-duplicate", Error;
    LabelNameInvalid = "label-name-invalid", Error;
    LabelReserved = "label-reserved", Error;
    LabelScrapeCollision = "label-scrape-collision", Warning;
    LabelUnbounded = "label-unbounded", Error;
    LabelValueDuplicate = "label-value-duplicate", Error;
    LabelValuesAndBudget = "label-values-and-budget", Error;
    LabelValuesEmpty = "label-values-empty", Error;
    LivenessChecks = "liveness-checks", Error;
    LogEventField = "log-event-field", Warning;
    LogEventRuntimeDuplicate = "log-event-runtime-duplicate", Error;
    LogFieldDuplicate = "log-field-duplicate", Error;
    LogFieldInvalid = "log-field-invalid", Error;
    LogThrottleInvalid = "log-throttle-invalid", Error;
    LokiLabelCardinality = "loki-label-cardinality", Error;
    LokiLabelUnknown = "loki-label-unknown", Error;
    LokiUnused = "loki-unused", Warning;
    MetricCounterSuffix = "metric-counter-suffix", Error;
    MetricDuplicate = "metric-duplicate", Error;
    MetricHelpMissing = "metric-help-missing", Error;
    MetricHistogramSuffix = "metric-histogram-suffix", Error;
    MetricNameColon = "metric-name-colon", Error;
    MetricNameInvalid = "metric-name-invalid", Error;
    MetricNameReserved = "metric-name-reserved", Error;
    MetricNotHistogram = "metric-not-histogram", Error;
    MetricTotalSuffix = "metric-total-suffix", Warning;
    MetricUnitBase = "metric-unit-base", Warning;
    MetricUnitMissing = "metric-unit-missing", Warning;
    MetricUnitSuffix = "metric-unit-suffix", Error;
    MetricUnknown = "metric-unknown", Error;
    NativeHistogramInvalid = "native-histogram-invalid", Error;
    NativeHistogramUnsupported = "native-histogram-unsupported", Error;
    LimitInvalid = "limit-invalid", Error;
    PagerdutyKey = "pagerduty-key", Error;
    PanelByUnknown = "panel-by-unknown", Error;
    PanelContentMissing = "panel-content-missing", Error;
    PanelHeight = "panel-height", Error;
    PanelLogsWithoutLoki = "panel-logs-without-loki", Error;
    PanelMetricUnknown = "panel-metric-unknown", Error;
    PanelQuantilesUnused = "panel-quantiles-unused", Error;
    PanelQueryAmbiguous = "panel-query-ambiguous", Error;
    PanelQueryMissing = "panel-query-missing", Error;
    PanelQueryUnused = "panel-query-unused", Warning;
    PanelViewGauge = "panel-view-gauge", Warning;
    PanelWidth = "panel-width", Error;
    PortConflict = "port-conflict", Error;
    PortInvalid = "port-invalid", Error;
    ProbeFieldDuplicate = "probe-field-duplicate", Error;
    ProbeFieldsEmpty = "probe-fields-empty", Error;
    PrometheusVersionInvalid = "prometheus-version-invalid", Error;
    PromqlFragment = "promql-fragment", Error;
    PromqlPrometheus3 = "promql-prometheus3", Warning;
    PromqlSyntax = "promql-syntax", Error;
    PromqlUnknownLabel = "promql-unknown-label", Error;
    PromqlUnknownMetric = "promql-unknown-metric", Error;
    QuantileRange = "quantile-range", Error;
    ReceiverDuplicate = "receiver-duplicate", Error;
    ReceiverEmpty = "receiver-empty", Warning;
    ReceiverUnknown = "receiver-unknown", Error;
    ReceiverUnused = "receiver-unused", Warning;
    ReplicaDuplicate = "replica-duplicate", Error;
    ReplicaNameInvalid = "replica-name-invalid", Error;
    RouteLabelUnknown = "route-label-unknown", Warning;
    RouteMatchesAll = "route-matches-all", Warning;
    RouteRegex = "route-regex", Error;
    RouteSeverity = "route-severity", Error;
    RunbookPattern = "runbook-pattern", Warning;
    ScrapeIntervalZero = "scrape-interval-zero", Error;
    SecretDefault = "secret-default", Error;
    SecretInline = "secret-inline", Error;
    SentryProfilesUnsupported = "sentry-profiles-unsupported", Warning;
    ServiceNameInvalid = "service-name-invalid", Error;
    ShutdownDrainGrace = "shutdown-drain-grace", Error;
    SlackChannel = "slack-channel", Warning;
    SloDuplicate = "slo-duplicate", Error;
    SloMinTraffic = "slo-min-traffic", Error;
    SloNameStyle = "slo-name-style", Error;
    SloObjectiveLow = "slo-objective-low", Warning;
    SloObjectiveRange = "slo-objective-range", Error;
    SloPeriodRange = "slo-period-range", Error;
    SloSliAmbiguous = "slo-sli-ambiguous", Error;
    SloSliIncomplete = "slo-sli-incomplete", Error;
    SloSliMissing = "slo-sli-missing", Error;
    SloSliSelector = "slo-sli-selector", Error;
    SloThresholdBucket = "slo-threshold-bucket", Error;
    SloUntested = "slo-untested", Warning;
    StackPortDuplicate = "stack-port-duplicate", Error;
    StackProfileInvalid = "stack-profile-invalid", Error;
    StorageInvalid = "storage-invalid", Error;
    WebhookUrl = "webhook-url", Error;
    WebhookUrlEnv = "webhook-url-env", Error;
    WebhookUrlFile = "webhook-url-file", Warning;
}

impl Code {
    /// The code with this id.
    pub fn from_id(id: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|code| code.id() == id)
    }

    /// One sentence: what is wrong.
    pub fn summary(self) -> &'static str {
        self.text().lines().next().unwrap_or_default().trim()
    }

    /// Why it matters and how to fix it, after the summary line.
    pub fn explanation(self) -> &'static str {
        let text = self.text();
        text.split_once('\n').map_or("", |(_, rest)| rest).trim()
    }

    /// What `generator explain CODE` prints: summary, explanation, and the two examples.
    pub fn explain(self) -> String {
        let level = match self.level() {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        let mut out = format!("{level}[{}]: {}\n\n{}\n", self.id(), self.summary(), self.explanation());
        match self.examples() {
            Some((bad, good)) => {
                let show = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim_end().to_string();
                out.push_str(&format!(
                    "\nReported for (contract/tests/fixtures/{id}.bad.yaml):\n\n{}\n\nFixed (contract/tests/fixtures/{id}.good.yaml):\n\n{}\n",
                    indent(&show(bad)),
                    indent(&show(good)),
                    id = self.id(),
                ));
            }
            None => out.push_str("\nNo example file ships for this code; the explanation says how to see it.\n"),
        }
        out
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| {
            if line.is_empty() {
                String::new()
            } else {
                format!("    {line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_round_trip() {
        let mut ids: Vec<&str> = Code::ALL.iter().map(|c| c.id()).collect();
        for id in &ids {
            assert!(
                id.split('-')
                    .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())),
                "{id}"
            );
            assert_eq!(Code::from_id(id).map(Code::id), Some(*id));
        }
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "an id is listed twice");
    }

    #[test]
    fn every_code_has_a_summary_sentence_and_an_explanation() {
        for code in Code::ALL {
            let summary = code.summary();
            assert!(
                summary.ends_with('.') && summary.len() <= 100,
                "{code}: summary `{summary}`"
            );
            assert!(
                summary.chars().next().is_some_and(|c| c.is_uppercase() || c == '`'),
                "{code}: `{summary}`"
            );
            assert!(code.explanation().len() >= 80, "{code}: explanation too short");
            assert!(
                !code.explanation().contains("```"),
                "{code}: examples belong in the fixtures"
            );
        }
    }

    #[test]
    fn explain_shows_both_examples() {
        let text = Code::MetricTotalSuffix.explain();
        assert!(text.starts_with("warning[metric-total-suffix]: "), "{text}");
        assert!(text.contains("metric-total-suffix.bad.yaml"), "{text}");
        assert!(text.contains("metric-total-suffix.good.yaml"), "{text}");
        assert!(Code::MetricCounterSuffix
            .explain()
            .starts_with("error[metric-counter-suffix]: "));
        assert!(Code::FileTooLarge.examples().is_none());
    }
}
