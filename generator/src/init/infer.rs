//! What a scraped exposition says about a service: which families are a builtin group
//! of obs, how every other family is declared (type, help, unit, labels and their budgets),
//! what the obs runtime's own families reveal, and what cannot be declared and why.

use std::collections::{BTreeMap, BTreeSet};

use contract::catalog::{
    default_http_buckets, BuiltinGroup, Catalog, Origin, CONNECTIONS_CLOSED, DEFAULT_MAX_JOB_TYPES, DEFAULT_MAX_ROUTES,
    LOG_LINES_DROPPED, LOG_LINES_SUPPRESSED, OVERFLOW_VALUE, SERIES_DROPPED, UNMATCHED_ROUTE,
};
use contract::conformance::{compare, DriftKind};
use contract::exposition::ParsedFamily;
use contract::{Decimal, MetricType};

/// A label with at most this many values seen, none of them identifier-like, is written as
/// a closed set.
pub const CLOSED_AT_MOST: usize = 10;

/// Labels holding HTTP or gRPC status codes: open, however few codes the scrape showed.
const STATUS_LABELS: [&str; 4] = ["status", "code", "status_code", "grpc_code"];

/// The budget of an open label: twice what was seen and at least ten more, rounded up to
/// a multiple of ten, so values quiet at scrape time still fit while a runaway label stops
/// at the cap.
pub fn headroom(seen: usize) -> u64 {
    let seen = seen as u64;
    let wanted = (seen * 2).max(seen + 10);
    wanted.div_ceil(10) * 10
}

/// What the obs runtime's own drop counter says about a family's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capped {
    /// `obs_series_dropped_total` lists it: at least one label is open.
    Yes,
    /// The counter is exposed and does not list it: every label is closed.
    No,
    /// No such counter: not the obs runtime, or nothing capped.
    Unknown,
}

/// How a label is declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Budget {
    /// Every value seen, as a closed set.
    Closed(Vec<String>),
    /// An open set: `seen` distinct values, capped at `max`.
    Open { seen: usize, max: u64, why: String },
}

impl Budget {
    /// Distinct values the label can take in the worst case (`other` included when open).
    fn cardinality(&self) -> u64 {
        match self {
            Self::Closed(values) => values.len() as u64,
            Self::Open { max, .. } => max + 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferredLabel {
    pub name: String,
    pub budget: Budget,
}

/// One family declared as a custom metric.
#[derive(Debug, Clone)]
pub struct CustomMetric {
    pub name: String,
    pub kind: MetricType,
    pub help: String,
    pub unit: Option<String>,
    pub labels: Vec<InferredLabel>,
    pub buckets: Option<Vec<Decimal>>,
    /// Set only when the labels' worst case is above the spec's default budget.
    pub max_series: Option<u64>,
    pub series_seen: usize,
    /// What the reader should know (untyped, no HELP, no samples…).
    pub notes: Vec<String>,
}

/// A family left out, with the reason written beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

/// The job types of the jobs group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobTypes {
    Closed(Vec<String>),
    Open { seen: usize, max: Option<u64>, why: String },
}

/// A builtin group the exposition matches, with the settings that make it match.
#[derive(Debug, Clone, PartialEq)]
pub enum Group {
    Http {
        route_label: Option<String>,
        buckets: Option<Vec<Decimal>>,
        max_routes: Option<u64>,
        routes_seen: usize,
    },
    WebSocket {
        error_types: Option<Vec<String>>,
        buckets: Option<Vec<Decimal>>,
    },
    Lifecycle {
        prefix: String,
    },
    Process,
    Jobs {
        types: JobTypes,
        buckets: Option<Vec<Decimal>>,
    },
}

impl Group {
    pub fn builtin(&self) -> BuiltinGroup {
        match self {
            Self::Http { .. } => BuiltinGroup::Http,
            Self::WebSocket { .. } => BuiltinGroup::WebSocket,
            Self::Lifecycle { .. } => BuiltinGroup::Lifecycle,
            Self::Process => BuiltinGroup::Process,
            Self::Jobs { .. } => BuiltinGroup::Jobs,
        }
    }

    /// The group as obs.yaml's `metrics.builtin` would hold it.
    fn builtins(&self) -> contract::Builtins {
        let mut builtins = contract::Builtins::default();
        match self {
            Self::Http {
                route_label,
                buckets,
                max_routes,
                ..
            } => {
                builtins.http = Some(contract::HttpBuiltin {
                    buckets: buckets.clone(),
                    route_label: route_label.clone(),
                    max_routes: *max_routes,
                    ..Default::default()
                })
            }
            Self::WebSocket { error_types, buckets } => {
                builtins.websocket = Some(contract::WebSocketBuiltin {
                    buckets: buckets.clone(),
                    error_types: error_types.clone(),
                    ..Default::default()
                })
            }
            Self::Lifecycle { prefix } => {
                builtins.lifecycle = Some(contract::LifecycleBuiltin {
                    prefix: Some(prefix.clone()),
                    ..Default::default()
                })
            }
            Self::Process => builtins.process = Some(contract::GroupScope::default()),
            Self::Jobs { types, buckets } => {
                let (types, max_types) = match types {
                    JobTypes::Closed(types) => (Some(types.clone()), None),
                    JobTypes::Open { max, .. } => (None, *max),
                };
                builtins.jobs = Some(contract::JobsBuiltin {
                    types,
                    max_types,
                    buckets: buckets.clone(),
                    ..Default::default()
                })
            }
        }
        builtins
    }

    /// The catalog of a spec holding only this group.
    fn catalog(&self) -> Catalog {
        let mut spec = minimal_spec();
        spec.metrics.builtin = self.builtins();
        Catalog::from_spec(&spec)
    }

    /// The families this group declares, as the catalog expands it.
    pub fn families(&self) -> Vec<contract::catalog::Family> {
        let group = self.builtin();
        self.catalog()
            .families
            .into_iter()
            .filter(|f| f.origin == Origin::Builtin(group))
            .collect()
    }
}

/// A group that looked present but does not match, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMiss {
    pub group: BuiltinGroup,
    pub why: String,
}

/// Log shipping and throttling the obs runtime's own counters reveal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeSignals {
    pub loki: bool,
    pub elasticsearch: bool,
    /// `Some` when the exposition has the throttle's counter: the levels it counts.
    pub throttle_levels: Option<Vec<String>>,
}

/// Everything inferred from one exposition.
#[derive(Debug, Clone, Default)]
pub struct Inference {
    pub families: usize,
    pub samples: usize,
    pub groups: Vec<Group>,
    pub near_misses: Vec<NearMiss>,
    pub custom: Vec<CustomMetric>,
    pub runtime: RuntimeSignals,
    /// Runtime families obs derives from other sections, not declared by hand.
    pub derived: Vec<String>,
    pub skipped: Vec<Skipped>,
}

fn minimal_spec() -> contract::Spec {
    serde_yaml::from_str("service: {name: init}").expect("a spec with only a name is valid YAML")
}

/// Distinct values of each label of a family, `le` of buckets left out, in first-seen order
/// of names.
fn label_values(family: &ParsedFamily) -> Vec<(String, BTreeSet<String>)> {
    let mut values: Vec<(String, BTreeSet<String>)> = Vec::new();
    for sample in &family.samples {
        for (name, value) in sample.own_labels() {
            match values.iter_mut().find(|(n, _)| n == name) {
                Some((_, set)) => {
                    set.insert(value.to_string());
                }
                None => values.push((name.to_string(), BTreeSet::from([value.to_string()]))),
            }
        }
    }
    values
}

/// Series of a family: its distinct label sets, `le` left out.
fn series_count(family: &ParsedFamily) -> usize {
    family
        .samples
        .iter()
        .map(|s| s.own_labels().collect::<Vec<_>>())
        .collect::<BTreeSet<_>>()
        .len()
}

/// A value that names one of an open population (a user, a request, an address), so a
/// label holding it is open however few values the scrape showed.
fn looks_like_identifier(value: &str) -> bool {
    let hex = value.len() >= 16 && value.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    let long_number = value.len() >= 5 && value.bytes().all(|b| b.is_ascii_digit());
    let address = value.parse::<std::net::IpAddr>().is_ok() || value.parse::<std::net::SocketAddr>().is_ok();
    hex || long_number || address || value.contains('@')
}

/// Histogram bounds of a family from its `le` values, `+Inf` left out; `Err` names a bound
/// that is not a decimal.
fn buckets(family: &ParsedFamily) -> Result<Option<Vec<Decimal>>, String> {
    let mut bounds: Vec<Decimal> = Vec::new();
    for sample in family.samples.iter().filter(|s| s.name.ends_with("_bucket")) {
        let Some(le) = sample.labels.get("le") else { continue };
        if le == "+Inf" || le == "Inf" {
            continue;
        }
        let bound = Decimal::parse(le).ok_or_else(|| format!("bucket bound `{le}` is not a decimal"))?;
        if !bounds.contains(&bound) {
            bounds.push(bound);
        }
    }
    if bounds.is_empty() {
        return Ok(None);
    }
    bounds.sort();
    Ok(Some(bounds))
}

/// The unit of a family: its OpenMetrics `UNIT` when the name ends with it, else the base
/// unit its name ends in.
fn unit(family: &ParsedFamily, name: &str) -> Option<String> {
    let stem = name.strip_suffix("_total").unwrap_or(name);
    if let Some(unit) = family.unit.as_deref().filter(|u| !u.is_empty()) {
        if stem.ends_with(&format!("_{unit}")) {
            return Some(unit.to_string());
        }
    }
    contract::catalog::BASE_UNITS
        .iter()
        .find(|unit| stem.ends_with(&format!("_{unit}")))
        .map(|unit| unit.to_string())
}

/// Why a label should be open, judged from its name and the values seen.
fn open_because(name: &str, seen: &BTreeSet<String>, capped: Capped) -> Option<String> {
    let numeric_codes = !seen.is_empty()
        && seen
            .iter()
            .all(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
    if seen.len() > CLOSED_AT_MOST {
        Some(format!("more than {CLOSED_AT_MOST} values seen"))
    } else if STATUS_LABELS.contains(&name) && numeric_codes {
        Some("status codes come and go with traffic".to_string())
    } else if seen.iter().any(|v| v.starts_with('/')) {
        Some("paths grow with the API".to_string())
    } else if seen.iter().any(|v| looks_like_identifier(v)) {
        Some("its values look like identifiers".to_string())
    } else if capped == Capped::Yes && seen.contains(OVERFLOW_VALUE) {
        Some(format!(
            "`{OVERFLOW_VALUE}` seen in a capped metric: values were already folded past its cap"
        ))
    } else {
        None
    }
}

/// Decides how each label of a family is declared: on the obs runtime its drop counter says
/// whether any label is open; elsewhere the values seen decide.
fn infer_labels(family: &ParsedFamily, capped: Capped) -> Vec<InferredLabel> {
    let values = label_values(family);
    let mut open: Vec<Option<String>> = values
        .iter()
        .map(|(name, seen)| match capped {
            Capped::No => None,
            _ => open_because(name, seen, capped),
        })
        .collect();
    if capped == Capped::Yes && open.iter().all(Option::is_none) {
        // Which label was open is not in the exposition; the one with the most values is
        // the likeliest.
        if let Some(widest) = (0..values.len()).max_by_key(|&i| (values[i].1.len(), i)) {
            open[widest] = Some(format!(
                "the runtime's `{SERIES_DROPPED}` lists this metric, so a label of it is capped"
            ));
        }
    }
    values
        .into_iter()
        .zip(open)
        .map(|((name, seen), open)| InferredLabel {
            name,
            budget: match open {
                Some(why) => Budget::Open {
                    seen: seen.len(),
                    max: headroom(seen.len()),
                    why,
                },
                None => Budget::Closed(seen.into_iter().collect()),
            },
        })
        .collect()
}

fn custom_metric(family: &ParsedFamily, capped: Capped, default_max_series: u64) -> Result<CustomMetric, Skipped> {
    let name = family.declared_name();
    let skip = |reason: String| Skipped {
        name: name.clone(),
        reason,
    };
    let mut notes = Vec::new();
    let kind = match family.kind.as_deref() {
        Some("counter") => MetricType::Counter,
        Some("gauge") => MetricType::Gauge,
        Some("histogram") => MetricType::Histogram,
        Some("summary") => {
            return Err(skip(
                "a summary: obs declares histograms, whose buckets add up across replicas where quantiles do not; instrument it as a histogram".into(),
            ))
        }
        Some(kind @ ("info" | "stateset" | "gaugehistogram")) => {
            return Err(skip(format!("an OpenMetrics {kind}, a type obs does not declare")))
        }
        other => {
            notes.push(format!(
                "exposed {}; declared a gauge, which drift will report until the service sets a TYPE",
                match other {
                    Some(kind) => format!("as `{kind}`"),
                    None => "without a TYPE".into(),
                }
            ));
            MetricType::Gauge
        }
    };
    if kind == MetricType::Counter && !name.ends_with("_total") {
        return Err(skip(
            "a counter whose name does not end in `_total`; obs names counters with it, so code and queries would have to change".into(),
        ));
    }
    let help = match family.help.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
        Some(help) => help.split_whitespace().collect::<Vec<_>>().join(" "),
        None => {
            notes.push("PROPOSAL: the service gave no HELP; say what one unit of it is".into());
            format!("{name} (the service exposed no HELP text).")
        }
    };
    let buckets = match kind {
        MetricType::Histogram => buckets(family).map_err(skip)?,
        _ => None,
    };
    if kind == MetricType::Histogram && buckets.is_none() {
        notes.push(
            "no series at scrape time, so its buckets are unknown: obs's default buckets apply until you set them"
                .into(),
        );
    }
    let label_sets: BTreeSet<Vec<&str>> = family
        .samples
        .iter()
        .map(|sample| sample.own_labels().map(|(name, _)| name).collect())
        .collect();
    if label_sets.len() > 1 {
        let sets: Vec<String> = label_sets.iter().map(|set| format!("{{{}}}", set.join(", "))).collect();
        notes.push(format!(
            "its series carry different label sets ({}); obs declares one set per metric, all of them, so `drift` reports wrong labels until every series carries each",
            sets.join(" and ")
        ));
    }
    if family.samples.is_empty() && capped == Capped::Yes {
        notes.push(format!(
            "no series at scrape time, so its labels are unknown, though the runtime's `{SERIES_DROPPED}` says one is capped: declare it, or `drift` reports the metric as an unknown value of that counter"
        ));
    } else if family.samples.is_empty() {
        notes.push("no series at scrape time, so its labels are unknown".into());
    }
    let labels = infer_labels(family, capped);
    let worst = labels.iter().fold(1u64, |product, label| {
        product.saturating_mul(label.budget.cardinality())
    });
    Ok(CustomMetric {
        unit: unit(family, &name),
        name,
        kind,
        help,
        labels,
        buckets,
        max_series: (worst > default_max_series).then_some(worst),
        series_seen: series_count(family),
        notes,
    })
}

/// The builtin groups the exposition may hold, each with settings read from it; a group
/// is only proposed when every family it declares matches (see `accept`).
fn candidate_groups(by_name: &BTreeMap<String, &ParsedFamily>, capped: &dyn Fn(&str) -> Capped) -> Vec<Group> {
    let mut groups = Vec::new();
    let http: Vec<&ParsedFamily> = [
        "http_requests_total",
        "http_request_duration_seconds",
        "http_requests_in_progress",
    ]
    .iter()
    .filter_map(|name| by_name.get(*name).copied())
    .collect();
    if !http.is_empty() {
        // The route label is the one that is neither the method nor a status, in whichever
        // of the three families has series.
        let labels: Vec<(String, BTreeSet<String>)> = http.iter().flat_map(|f| label_values(f)).collect();
        let route_label = labels
            .iter()
            .map(|(name, _)| name.clone())
            .find(|name| name != "method" && !STATUS_LABELS.contains(&name.as_str()));
        let routes: BTreeSet<&String> = labels
            .iter()
            .filter(|(name, _)| Some(name) == route_label.as_ref())
            .flat_map(|(_, values)| values)
            .filter(|v| *v != UNMATCHED_ROUTE && *v != OVERFLOW_VALUE)
            .collect();
        let routes_seen = routes.len();
        let wanted = headroom(routes_seen);
        groups.push(Group::Http {
            route_label: route_label.filter(|l| l != "route"),
            buckets: by_name
                .get("http_request_duration_seconds")
                .and_then(|f| buckets(f).ok().flatten())
                .filter(|b| *b != default_http_buckets()),
            max_routes: (wanted > DEFAULT_MAX_ROUTES).then_some(wanted),
            routes_seen,
        });
    }
    if by_name.contains_key("websocket_active_connections") {
        let error_types = by_name
            .get("websocket_errors_total")
            .and_then(|f| label_values(f).into_iter().find(|(n, _)| n == "type"))
            .map(|(_, values)| values.into_iter().collect::<Vec<_>>());
        groups.push(Group::WebSocket {
            error_types,
            buckets: by_name
                .get("websocket_connection_duration_seconds")
                .and_then(|f| buckets(f).ok().flatten()),
        });
    }
    // One lifecycle group per spec: the first pair found; any other is a custom metric.
    let lifecycle = by_name.keys().find_map(|name| {
        name.strip_suffix("_startup_time_seconds")
            .filter(|prefix| by_name.contains_key(&format!("{prefix}_shutdown_time_seconds")))
    });
    if let Some(prefix) = lifecycle {
        groups.push(Group::Lifecycle {
            prefix: prefix.to_string(),
        });
    }
    if by_name.contains_key("process_cpu_seconds_total") {
        groups.push(Group::Process);
    }
    if by_name.contains_key("jobs_processed_total") {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for name in [
            "jobs_processed_total",
            "job_duration_seconds",
            "job_retries_total",
            "queue_depth",
            "jobs_trace_total",
        ] {
            if let Some(family) = by_name.get(name) {
                if let Some((_, values)) = label_values(family).into_iter().find(|(n, _)| n == "type") {
                    seen.extend(values);
                }
            }
        }
        let why = match capped("jobs_processed_total") {
            Capped::Yes => Some(format!("the runtime's `{SERIES_DROPPED}` lists the jobs metrics")),
            _ if seen.is_empty() => Some("no job type seen yet".to_string()),
            Capped::No => None,
            Capped::Unknown if seen.len() > CLOSED_AT_MOST => Some(format!("more than {CLOSED_AT_MOST} seen")),
            Capped::Unknown => None,
        };
        let types = match why {
            Some(why) => {
                let wanted = headroom(seen.len());
                JobTypes::Open {
                    seen: seen.len(),
                    max: (wanted > DEFAULT_MAX_JOB_TYPES).then_some(wanted),
                    why,
                }
            }
            None => JobTypes::Closed(seen.into_iter().collect()),
        };
        groups.push(Group::Jobs {
            types,
            buckets: by_name
                .get("job_duration_seconds")
                .and_then(|f| buckets(f).ok().flatten()),
        });
    }
    groups
}

/// Whether every family of `group` is exposed as the group declares it; the first
/// mismatch otherwise.
fn accept(group: &Group, exposed: &[ParsedFamily]) -> Result<Vec<String>, String> {
    let catalog = group.catalog();
    let names: Vec<String> = catalog
        .families
        .iter()
        .filter(|f| f.origin == Origin::Builtin(group.builtin()))
        .map(|f| f.name.clone())
        .collect();
    let mismatch = compare(&catalog, "app", exposed)
        .into_iter()
        .find(|finding| names.contains(&finding.metric) && finding.kind != DriftKind::Undeclared);
    match mismatch {
        Some(finding) => Err(format!("{}: {}", finding.metric, finding.detail)),
        None => Ok(names),
    }
}

/// Reads an exposition into what obs.yaml should declare.
pub fn infer(exposed: &[ParsedFamily]) -> Inference {
    let default_max_series = contract::Metrics::default().default_max_series;
    let by_name: BTreeMap<String, &ParsedFamily> = exposed.iter().map(|f| (f.declared_name(), f)).collect();
    let capped: BTreeSet<String> = by_name
        .get(SERIES_DROPPED)
        .map(|f| {
            f.samples
                .iter()
                .filter_map(|s| s.labels.get("metric").cloned())
                .collect()
        })
        .unwrap_or_default();
    let mut inference = Inference {
        families: exposed.len(),
        samples: exposed.iter().map(|f| f.samples.len()).sum(),
        ..Inference::default()
    };
    let runtime_counts_drops = by_name.contains_key(SERIES_DROPPED);
    let capped_state = |name: &str| match (runtime_counts_drops, capped.contains(name)) {
        (true, true) => Capped::Yes,
        (true, false) => Capped::No,
        (false, _) => Capped::Unknown,
    };
    let mut claimed: BTreeSet<String> = BTreeSet::new();
    for group in candidate_groups(&by_name, &capped_state) {
        match accept(&group, exposed) {
            Ok(names) => {
                claimed.extend(names);
                inference.groups.push(group);
            }
            Err(why) => inference.near_misses.push(NearMiss {
                group: group.builtin(),
                why,
            }),
        }
    }
    let http = inference.groups.iter().any(|g| matches!(g, Group::Http { .. }));
    // The runtime's own counters follow from other sections; declaring them by hand
    // would clash with the families obs adds.
    if by_name.contains_key(SERIES_DROPPED) {
        claimed.insert(SERIES_DROPPED.to_string());
        inference.derived.push(SERIES_DROPPED.to_string());
    }
    if http && by_name.contains_key(CONNECTIONS_CLOSED) {
        claimed.insert(CONNECTIONS_CLOSED.to_string());
        inference.derived.push(CONNECTIONS_CLOSED.to_string());
    }
    if let Some(family) = by_name.get(LOG_LINES_DROPPED) {
        let sinks: BTreeSet<&str> = family
            .samples
            .iter()
            .filter_map(|s| s.labels.get("sink").map(String::as_str))
            .collect();
        inference.runtime.loki = sinks.contains("loki");
        inference.runtime.elasticsearch = sinks.contains("elasticsearch");
        if inference.runtime.loki || inference.runtime.elasticsearch {
            claimed.insert(LOG_LINES_DROPPED.to_string());
            inference.derived.push(LOG_LINES_DROPPED.to_string());
        }
    }
    if let Some(family) = by_name.get(LOG_LINES_SUPPRESSED) {
        let levels: BTreeSet<String> = family
            .samples
            .iter()
            .filter_map(|s| s.labels.get("level").cloned())
            .collect();
        inference.runtime.throttle_levels = Some(levels.into_iter().collect());
        claimed.insert(LOG_LINES_SUPPRESSED.to_string());
        inference.derived.push(LOG_LINES_SUPPRESSED.to_string());
    }
    for family in exposed {
        let name = family.declared_name();
        if claimed.contains(&name) {
            continue;
        }
        match custom_metric(family, capped_state(&name), default_max_series) {
            Ok(metric) => inference.custom.push(metric),
            Err(skipped) => inference.skipped.push(skipped),
        }
    }
    inference
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::exposition::parse;

    #[test]
    fn headroom_doubles_and_adds_at_least_ten() {
        assert_eq!(headroom(0), 10);
        assert_eq!(headroom(3), 20);
        assert_eq!(headroom(10), 20);
        assert_eq!(headroom(37), 80);
    }

    #[test]
    fn few_plain_values_are_closed_and_identifiers_open() {
        let text = "# HELP a_total A.\n# TYPE a_total counter\na_total{kind=\"x\",user=\"1234567\"} 1\na_total{kind=\"y\",user=\"7654321\"} 1\n";
        let inference = infer(&parse(text).unwrap());
        let labels = &inference.custom[0].labels;
        assert_eq!(labels[0].budget, Budget::Closed(vec!["x".into(), "y".into()]));
        assert!(matches!(labels[1].budget, Budget::Open { seen: 2, max: 20, .. }));
    }

    #[test]
    fn a_capped_metric_gets_its_widest_label_opened() {
        let text = "# TYPE a_total counter\na_total{client=\"web\",kind=\"x\"} 1\na_total{client=\"cli\",kind=\"x\"} 1\n# TYPE obs_series_dropped_total counter\nobs_series_dropped_total{metric=\"a_total\"} 0\n";
        let inference = infer(&parse(text).unwrap());
        let labels = &inference.custom[0].labels;
        assert!(matches!(labels[0].budget, Budget::Open { seen: 2, .. }), "{labels:?}");
        assert_eq!(labels[1].budget, Budget::Closed(vec!["x".into()]));
        assert_eq!(inference.derived, [SERIES_DROPPED]);
    }

    #[test]
    fn summaries_and_unsuffixed_counters_are_skipped_with_a_reason() {
        let text = "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count 1\n# TYPE c counter\nc 1\n";
        let inference = infer(&parse(text).unwrap());
        let reasons: Vec<&str> = inference.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons[0].contains("summary"), "{reasons:?}");
        assert!(reasons[1].contains("_total"), "{reasons:?}");
    }

    #[test]
    fn units_come_from_the_name_or_the_openmetrics_unit() {
        let text = "# TYPE d_seconds histogram\nd_seconds_bucket{le=\"0.5\"} 1\nd_seconds_bucket{le=\"+Inf\"} 1\nd_seconds_sum 1\nd_seconds_count 1\n# TYPE b_bytes_total counter\nb_bytes_total 1\n# TYPE u gauge\nu 1\n";
        let inference = infer(&parse(text).unwrap());
        let units: Vec<Option<&str>> = inference.custom.iter().map(|m| m.unit.as_deref()).collect();
        assert_eq!(units, [Some("seconds"), Some("bytes"), None]);
        assert_eq!(inference.custom[0].buckets, Some(vec![Decimal::parse("0.5").unwrap()]));
    }

    #[test]
    fn a_partial_process_group_stays_custom_and_says_why() {
        let text = "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1\n";
        let inference = infer(&parse(text).unwrap());
        assert!(inference.groups.is_empty());
        assert_eq!(inference.near_misses[0].group, BuiltinGroup::Process);
        assert!(
            inference.near_misses[0].why.contains("not exposed"),
            "{:?}",
            inference.near_misses
        );
        assert_eq!(inference.custom[0].name, "process_cpu_seconds_total");
    }
}
