//! `diff OLD NEW`: what a change to obs.yaml means, compared on the resolved models rather
//! than the YAML lines: metrics (type, labels, buckets, unit), alerts (expression, `for`,
//! severity, labels, annotations, the receivers their labels route to), recording rules,
//! SLOs, dashboards (panels and their queries), routes and receivers. A change is breaking
//! when code or a query written against the old spec stops working: a metric or label
//! removed or retyped (the typed handles the build generates change with it).

use std::collections::{BTreeMap, BTreeSet};

use contract::catalog::Family;
use contract::model::MetricType;
use contract::rules::Rule;
use serde::Serialize;

use crate::plan::dashboards::model::DashboardModel;
use crate::plan::Plan;
use crate::Checked;

/// What part of the spec a change is in, in the order the report lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    Metric,
    Alert,
    RecordingRule,
    Slo,
    Dashboard,
    Routing,
}

impl Area {
    fn heading(self) -> &'static str {
        match self {
            Area::Metric => "Metrics",
            Area::Alert => "Alerts",
            Area::RecordingRule => "Recording rules",
            Area::Slo => "SLOs",
            Area::Dashboard => "Dashboards",
            Area::Routing => "Routes and receivers",
        }
    }
}

/// One difference between the two specs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub area: Area,
    /// The metric, alert, rule, SLO, dashboard or receiver it concerns.
    pub subject: String,
    /// What changed, one sentence.
    pub what: String,
    pub breaking: bool,
}

/// One spec as the diff sees it: what the targets render from.
struct Side<'a>(Plan<'a>);

impl<'a> Side<'a> {
    fn of(checked: &'a Checked) -> Self {
        Self(Plan::of(&checked.loaded, &checked.resolved))
    }

    fn spec(&self) -> &contract::Spec {
        &self.0.loaded.spec
    }

    fn families(&self) -> BTreeMap<&str, &Family> {
        self.0
            .resolved
            .catalog
            .families
            .iter()
            .map(|f| (f.name.as_str(), f))
            .collect()
    }

    fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.0
            .resolved
            .rules
            .files
            .iter()
            .flat_map(|f| &f.groups)
            .flat_map(|g| &g.rules)
    }

    /// Where a metric is used: alert, recording-rule and dashboard queries naming it.
    fn users_of(&self, metric: &str) -> Vec<String> {
        let uses = |expr: &str| {
            contract::promql::parse(&contract::promql::without_grafana_variables(expr))
                .map(|e| {
                    contract::promql::selected_metrics(&e)
                        .iter()
                        .any(|m| family_of(m) == metric)
                })
                .unwrap_or(false)
        };
        let mut users = Vec::new();
        for rule in self.rules() {
            match rule {
                Rule::Alert(alert) if uses(&alert.expr) => users.push(format!("alert {}", alert.name)),
                Rule::Record(record) if uses(&record.expr) => users.push(format!("recording rule {}", record.record)),
                _ => {}
            }
        }
        for dashboard in &self.0.dashboards {
            for panel in &dashboard.panels {
                if panel.targets.iter().any(|t| uses(&t.expr)) {
                    users.push(format!("panel \"{}\" of dashboard {}", panel.title, dashboard.uid));
                }
            }
        }
        users.sort();
        users.dedup();
        users
    }
}

/// The family a sample name belongs to: `x_bucket`, `x_sum`, `x_count` → `x`.
fn family_of(sample: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| sample.strip_suffix(suffix))
        .unwrap_or(sample)
}

/// At most six items, then how many more.
fn shortened(items: &[String]) -> String {
    const SHOWN: usize = 6;
    let mut text = items.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}

fn listed(items: &[String]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

fn metrics(old: &Side, new: &Side, out: &mut Vec<Change>) {
    let (before, after) = (old.families(), new.families());
    let removed: Vec<&str> = before.keys().filter(|n| !after.contains_key(*n)).copied().collect();
    let added: Vec<&str> = after.keys().filter(|n| !before.contains_key(*n)).copied().collect();
    for name in &removed {
        let family = before[name];
        // A rename looks like a close name, or the one added metric of the same type with
        // the same labels.
        let shape = |f: &Family| (f.kind, f.label_names().map(String::from).collect::<Vec<_>>());
        let same_shape: Vec<&str> = added
            .iter()
            .copied()
            .filter(|a| shape(after[a]) == shape(family))
            .collect();
        let renamed = contract::suggest::closest(name, added.iter().copied())
            .filter(|candidate| after[candidate].kind == family.kind)
            .or_else(|| (same_shape.len() == 1).then(|| same_shape[0]));
        let users = old.users_of(name);
        let mut what = match renamed {
            Some(to) => format!("removed; `{to}` of the same type was added: a rename?"),
            None => "removed".to_string(),
        };
        what.push_str("; code using its handle no longer compiles");
        if !users.is_empty() {
            what.push_str(&format!("; the old spec queried it in {}", shortened(&users)));
        }
        out.push(change(Area::Metric, name, what, true));
    }
    for name in &added {
        let family = after[name];
        let labels: Vec<String> = family.label_names().map(String::from).collect();
        let what = if labels.is_empty() {
            format!("added ({})", family.kind.as_str())
        } else {
            format!("added ({}, labels {})", family.kind.as_str(), listed(&labels))
        };
        out.push(change(Area::Metric, name, what, false));
    }
    for (name, was) in &before {
        let Some(now) = after.get(name) else { continue };
        if was.kind != now.kind {
            let what = format!("type {} → {}", was.kind.as_str(), now.kind.as_str());
            out.push(change(Area::Metric, name, what, true));
        }
        let old_labels: BTreeSet<&str> = was.label_names().collect();
        let new_labels: BTreeSet<&str> = now.label_names().collect();
        let gone: Vec<String> = old_labels.difference(&new_labels).map(|l| l.to_string()).collect();
        let came: Vec<String> = new_labels.difference(&old_labels).map(|l| l.to_string()).collect();
        if !gone.is_empty() {
            let what = format!(
                "label {} removed: queries grouping or matching on it lose it, code setting it no longer compiles",
                listed(&gone)
            );
            out.push(change(Area::Metric, name, what, true));
        }
        if !came.is_empty() {
            // Every existing series gains a label: queries matching exact label sets and
            // code creating series must now say it.
            let what = format!(
                "label {} added: every series gains it, and code must set it",
                listed(&came)
            );
            out.push(change(Area::Metric, name, what, true));
        }
        for label in old_labels.intersection(&new_labels) {
            let value_set = |family: &Family| {
                family
                    .labels
                    .iter()
                    .find(|l| l.name == *label)
                    .and_then(|l| l.values.clone())
            };
            let (was_set, now_set) = (value_set(was), value_set(now));
            if was_set.is_some() != now_set.is_some() {
                let show = |closed: bool| {
                    if closed {
                        "a closed set of values"
                    } else {
                        "open values"
                    }
                };
                let what = format!(
                    "label `{label}` changed from {} to {}: the handle's parameter changes type",
                    show(was_set.is_some()),
                    show(now_set.is_some())
                );
                out.push(change(Area::Metric, name, what, true));
            }
            if let (Some(was_values), Some(now_values)) = (was_set, now_set) {
                let dropped: Vec<String> = was_values.iter().filter(|v| !now_values.contains(v)).cloned().collect();
                if !dropped.is_empty() {
                    let what = format!("label `{label}` no longer takes {}", listed(&dropped));
                    out.push(change(Area::Metric, name, what, true));
                }
                let new_values: Vec<String> = now_values.iter().filter(|v| !was_values.contains(v)).cloned().collect();
                if !new_values.is_empty() {
                    let what = format!("label `{label}` now also takes {}", listed(&new_values));
                    out.push(change(Area::Metric, name, what, false));
                }
            }
        }
        let order = |f: &Family| {
            f.label_names()
                .filter(|l| old_labels.contains(l) && new_labels.contains(l))
                .map(String::from)
                .collect::<Vec<_>>()
        };
        if order(was) != order(now) {
            let what = format!(
                "label order {} → {}: handles take label values by position",
                listed(&order(was)),
                listed(&order(now))
            );
            out.push(change(Area::Metric, name, what, true));
        }
        if was.components != now.components {
            let show =
                |c: &Option<Vec<String>>| c.as_ref().map_or_else(|| "every component".to_string(), |c| listed(c));
            let what = format!(
                "exposed by {} → {}: a component that loses it loses its handle",
                show(&was.components),
                show(&now.components)
            );
            out.push(change(Area::Metric, name, what, true));
        }
        if was.max_series != now.max_series {
            let what = format!("series budget {} → {}", was.max_series, now.max_series);
            out.push(change(Area::Metric, name, what, false));
        }
        // Classic buckets dropped for native ones are said once, as the breaking change below.
        let classic_dropped =
            was.has_classic_series() && now.kind == MetricType::Histogram && !now.has_classic_series();
        if was.buckets != now.buckets && !classic_dropped {
            let show = |f: &Family| f.buckets.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", ");
            let what = format!(
                "buckets [{}] → [{}]: quantiles and `le` thresholds shift",
                show(was),
                show(now)
            );
            out.push(change(Area::Metric, name, what, false));
        }
        if classic_dropped {
            let mut what = "now native only: its `_bucket` series are no longer stored, and queries over \
                            them (or on Prometheus 2.x without native histograms) select nothing"
                .to_string();
            let users = old.users_of(name);
            if !users.is_empty() {
                what.push_str(&format!("; the old spec queried it in {}", shortened(&users)));
            }
            out.push(change(Area::Metric, name, what, true));
        } else if was.kind == MetricType::Histogram && !was.is_native() && now.is_native() {
            let what = "native buckets added beside the classic ones (protobuf scrape)".to_string();
            out.push(change(Area::Metric, name, what, false));
        }
        if was.is_native() && !now.is_native() {
            let what = "native buckets removed: native queries (`histogram_quantile` over the bare \
                        name, `histogram_fraction`) select nothing"
                .to_string();
            out.push(change(Area::Metric, name, what, true));
        } else if let (Some(a), Some(b)) = (was.native_schema, now.native_schema) {
            if a != b {
                let what = format!("native schema {a} → {b}: bucket resolution changes");
                out.push(change(Area::Metric, name, what, false));
            }
        }
        if was.unit != now.unit {
            let show = |u: &Option<String>| u.clone().unwrap_or_else(|| "none".into());
            let what = format!("unit {} → {}", show(&was.unit), show(&now.unit));
            out.push(change(Area::Metric, name, what, false));
        }
    }
}

/// The receivers an alert reaches, as the spec's routes send it: matched on its labels
/// and on those Prometheus adds (`alertname`, and `service` from the external labels).
fn receivers_for(side: &Side, alert: &contract::rules::AlertView) -> Vec<String> {
    let Some(am) = side
        .spec()
        .alertmanager
        .as_ref()
        .filter(|_| side.0.resolved.stack.alertmanager)
    else {
        return Vec::new();
    };
    let mut labels = alert.labels.clone();
    labels.insert("alertname".into(), alert.name.clone());
    labels
        .entry("service".into())
        .or_insert_with(|| side.spec().service.name.clone());
    if let Some(environment) = side.spec().service.environment.default_value() {
        labels
            .entry("environment".into())
            .or_insert_with(|| environment.to_string());
    }
    let mut reached: Vec<String> = am.routes_for(&labels).into_iter().map(|r| r.receiver.clone()).collect();
    if reached.is_empty() {
        reached.push(am.route.receiver.clone());
    }
    reached
}

/// Receivers as a phrase: `team and pager`, or that no Alertmanager receives.
fn receivers_text(receivers: &[String]) -> String {
    if receivers.is_empty() {
        "no Alertmanager".into()
    } else {
        receivers.join(" and ")
    }
}

fn alerts(old: &Side, new: &Side, out: &mut Vec<Change>) {
    let collect = |side: &'_ Side| -> BTreeMap<String, contract::rules::AlertView> {
        side.rules()
            .filter_map(|r| match r {
                Rule::Alert(a) => Some((a.name.clone(), a.clone())),
                Rule::Record(_) => None,
            })
            .collect()
    };
    let (before, after) = (collect(old), collect(new));
    for name in before.keys().filter(|n| !after.contains_key(*n)) {
        out.push(change(Area::Alert, name, "removed: it no longer fires".into(), false));
    }
    for (name, alert) in after.iter().filter(|(n, _)| !before.contains_key(*n)) {
        let severity = alert.labels.get("severity").cloned().unwrap_or_default();
        let what = format!("added ({severity}, to {})", receivers_text(&receivers_for(new, alert)));
        out.push(change(Area::Alert, name, what, false));
    }
    for (name, was) in &before {
        let Some(now) = after.get(name) else { continue };
        let mut parts = Vec::new();
        if was.expr != now.expr {
            parts.push(format!("expression `{}` → `{}`", was.expr, now.expr));
        }
        if was.for_ != now.for_ {
            let show = |d: Option<contract::Duration>| d.map_or_else(|| "0s".to_string(), |d| d.to_string());
            parts.push(format!("for {} → {}", show(was.for_), show(now.for_)));
        }
        for key in was.labels.keys().chain(now.labels.keys()).collect::<BTreeSet<_>>() {
            let (a, b) = (was.labels.get(key), now.labels.get(key));
            if a != b {
                let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "none".into());
                parts.push(format!("label {key} {} → {}", show(a), show(b)));
            }
        }
        for key in ["summary", "description", "runbook_url"] {
            if was.annotations.get(key) != now.annotations.get(key) {
                parts.push(format!("{key} changed"));
            }
        }
        let (routed_before, routed_after) = (receivers_for(old, was), receivers_for(new, now));
        if routed_before != routed_after {
            parts.push(format!(
                "routed to {} → {}",
                receivers_text(&routed_before),
                receivers_text(&routed_after)
            ));
        }
        if !parts.is_empty() {
            out.push(change(Area::Alert, name, parts.join("; "), false));
        }
    }
}

fn recording_rules(old: &Side, new: &Side, out: &mut Vec<Change>) {
    let collect = |side: &'_ Side| -> BTreeMap<String, String> {
        side.rules()
            .filter_map(|r| match r {
                // The static labels tell apart the same record of several SLOs.
                Rule::Record(r) if r.labels.is_empty() => Some((r.record.clone(), r.expr.clone())),
                Rule::Record(r) => {
                    let labels: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
                    Some((format!("{}{{{}}}", r.record, labels.join(", ")), r.expr.clone()))
                }
                Rule::Alert(_) => None,
            })
            .collect()
    };
    let (before, after) = (collect(old), collect(new));
    for name in before.keys().filter(|n| !after.contains_key(*n)) {
        // A valid new spec queries no series it no longer records; queries elsewhere
        // (other dashboards, ad-hoc) are not visible from here.
        let what = "removed: queries of the recorded series elsewhere find nothing".to_string();
        out.push(change(Area::RecordingRule, name, what, false));
    }
    for name in after.keys().filter(|n| !before.contains_key(*n)) {
        out.push(change(Area::RecordingRule, name, "added".into(), false));
    }
    for (name, was) in &before {
        if let Some(now) = after.get(name).filter(|now| *now != was) {
            out.push(change(
                Area::RecordingRule,
                name,
                format!("expression `{was}` → `{now}`"),
                false,
            ));
        }
    }
}

fn slos(old: &Side, new: &Side, out: &mut Vec<Change>) {
    let collect = |side: &'_ Side| -> BTreeMap<String, contract::model::Slo> {
        side.spec().slos.iter().map(|s| (s.name.clone(), s.clone())).collect()
    };
    let (before, after) = (collect(old), collect(new));
    for name in before.keys().filter(|n| !after.contains_key(*n)) {
        out.push(change(
            Area::Slo,
            name,
            "removed with its burn-rate alerts".into(),
            false,
        ));
    }
    for (name, slo) in after.iter().filter(|(n, _)| !before.contains_key(*n)) {
        out.push(change(
            Area::Slo,
            name,
            format!("added ({}% over {})", slo.objective, slo.period),
            false,
        ));
    }
    for (name, was) in &before {
        let Some(now) = after.get(name) else { continue };
        let mut parts = Vec::new();
        if was.objective != now.objective {
            parts.push(format!("objective {}% → {}%", was.objective, now.objective));
        }
        if was.period != now.period {
            parts.push(format!("period {} → {}", was.period, now.period));
        }
        if serde_json::to_value(&was.sli).ok() != serde_json::to_value(&now.sli).ok() {
            parts.push("indicator changed".into());
        }
        if serde_json::to_value(&was.alerting).ok() != serde_json::to_value(&now.alerting).ok() {
            parts.push("burn-rate alerting changed".into());
        }
        if !parts.is_empty() {
            out.push(change(Area::Slo, name, parts.join("; "), false));
        }
    }
}

fn by_uid<'a>(side: &'a Side<'a>) -> BTreeMap<&'a str, &'a DashboardModel> {
    side.0.dashboards.iter().map(|d| (d.uid.as_str(), d)).collect()
}

fn dashboards(old: &Side, new: &Side, out: &mut Vec<Change>) {
    let (before, after) = (by_uid(old), by_uid(new));
    for uid in before.keys().filter(|u| !after.contains_key(*u)) {
        out.push(change(Area::Dashboard, uid, "removed".into(), false));
    }
    for (uid, dashboard) in after.iter().filter(|(u, _)| !before.contains_key(*u)) {
        let what = format!("added (\"{}\", {} panels)", dashboard.title, dashboard.panels.len());
        out.push(change(Area::Dashboard, uid, what, false));
    }
    for (uid, was) in &before {
        let Some(now) = after.get(uid) else { continue };
        // Titles need not be unique: the second "p95" is `p95 (2)`.
        let queries = |d: &DashboardModel| -> BTreeMap<String, Vec<String>> {
            let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
            d.panels
                .iter()
                .map(|p| {
                    let count = seen.entry(p.title.as_str()).or_default();
                    *count += 1;
                    let key = if *count == 1 {
                        p.title.clone()
                    } else {
                        format!("{} ({count})", p.title)
                    };
                    (key, p.targets.iter().map(|t| t.expr.clone()).collect())
                })
                .collect()
        };
        let (a, b) = (queries(was), queries(now));
        for title in a.keys().filter(|t| !b.contains_key(*t)) {
            out.push(change(
                Area::Dashboard,
                uid,
                format!("panel \"{title}\" removed"),
                false,
            ));
        }
        for title in b.keys().filter(|t| !a.contains_key(*t)) {
            out.push(change(Area::Dashboard, uid, format!("panel \"{title}\" added"), false));
        }
        for (title, exprs) in &a {
            if let Some(now_exprs) = b.get(title).filter(|e| *e != exprs) {
                let what = format!(
                    "panel \"{title}\": `{}` → `{}`",
                    exprs.join("`, `"),
                    now_exprs.join("`, `")
                );
                out.push(change(Area::Dashboard, uid, what, false));
            }
        }
    }
}

fn routing(old: &Side, new: &Side, out: &mut Vec<Change>) {
    let (a, b) = (&old.spec().alertmanager, &new.spec().alertmanager);
    let receivers = |am: &Option<contract::Alertmanager>| -> BTreeMap<String, serde_json::Value> {
        am.iter()
            .flat_map(|am| &am.receivers)
            .map(|r| (r.name.clone(), serde_json::to_value(r).unwrap_or_default()))
            .collect()
    };
    let (before, after) = (receivers(a), receivers(b));
    for name in before.keys().filter(|n| !after.contains_key(*n)) {
        out.push(change(Area::Routing, name, "receiver removed".into(), false));
    }
    for name in after.keys().filter(|n| !before.contains_key(*n)) {
        out.push(change(Area::Routing, name, "receiver added".into(), false));
    }
    for (name, was) in &before {
        if after.get(name).is_some_and(|now| now != was) {
            out.push(change(
                Area::Routing,
                name,
                "receiver's integrations changed".into(),
                false,
            ));
        }
    }
    let routes = |am: &Option<contract::Alertmanager>| -> Vec<String> {
        am.iter()
            .flat_map(|am| &am.routes)
            .map(|r| {
                let mut matchers: Vec<String> = r.match_.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
                matchers.extend(r.match_re.iter().map(|(k, v)| format!("{k}=~\"{v}\"")));
                let mut text = format!("{{{}}} → {}", matchers.join(", "), r.receiver);
                if r.continue_ {
                    text.push_str(" (continue)");
                }
                if let Some(group_by) = &r.group_by {
                    text.push_str(&format!(" grouped by {}", group_by.join(",")));
                }
                if let Some(repeat) = r.repeat_interval {
                    text.push_str(&format!(" repeating every {repeat}"));
                }
                text
            })
            .collect()
    };
    let (was, now) = (routes(a), routes(b));
    if was != now {
        let what = format!("routes [{}] → [{}]", was.join("; "), now.join("; "));
        out.push(change(Area::Routing, "route tree", what, false));
    }
    let grouping = |am: &Option<contract::Alertmanager>| {
        am.as_ref().map(|am| {
            let r = &am.route;
            let show = |d: Option<contract::Duration>| d.map_or_else(|| "default".to_string(), |d| d.to_string());
            format!(
                "grouped by {}, wait {}, interval {}, repeat {}, critical mutes warning: {}",
                r.group_by.join(","),
                show(r.group_wait),
                show(r.group_interval),
                show(r.repeat_interval),
                am.inhibit_warning_by_critical
            )
        })
    };
    if grouping(a) != grouping(b) {
        let show = |g: Option<String>| g.unwrap_or_else(|| "no Alertmanager".into());
        let what = format!("{} → {}", show(grouping(a)), show(grouping(b)));
        out.push(change(Area::Routing, "route tree", what, false));
    }
    let root = |am: &Option<contract::Alertmanager>| am.as_ref().map(|am| am.route.receiver.clone());
    if root(a) != root(b) {
        let show = |r: Option<String>| r.unwrap_or_else(|| "none".into());
        let what = format!("default receiver {} → {}", show(root(a)), show(root(b)));
        out.push(change(Area::Routing, "route tree", what, false));
    }
}

fn change(area: Area, subject: &str, what: String, breaking: bool) -> Change {
    Change {
        area,
        subject: subject.to_string(),
        what,
        breaking,
    }
}

/// Every difference from `old` to `new`, breaking ones first, then by area and subject.
pub fn compare(old: &Checked, new: &Checked) -> Vec<Change> {
    let (old, new) = (Side::of(old), Side::of(new));
    let mut out = Vec::new();
    metrics(&old, &new, &mut out);
    alerts(&old, &new, &mut out);
    recording_rules(&old, &new, &mut out);
    slos(&old, &new, &mut out);
    dashboards(&old, &new, &mut out);
    routing(&old, &new, &mut out);
    out.sort_by(|a, b| (!a.breaking, a.area, &a.subject).cmp(&(!b.breaking, b.area, &b.subject)));
    out
}

/// The report as Markdown for a pull-request comment: breaking changes first, then each
/// area's other changes.
pub fn markdown(changes: &[Change], old: &str, new: &str) -> String {
    let mut text = format!("### obs.yaml: {old} → {new}\n\n");
    if changes.is_empty() {
        text.push_str("No change in metrics, alerts, recording rules, SLOs, dashboards or routing.\n");
        return text;
    }
    let breaking: Vec<&Change> = changes.iter().filter(|c| c.breaking).collect();
    text.push_str(&format!("{} change(s), {} breaking.\n", changes.len(), breaking.len()));
    if !breaking.is_empty() {
        text.push_str("\n#### Breaking\n\n");
        for c in &breaking {
            text.push_str(&format!("- **{}** `{}`: {}\n", c.area.heading(), c.subject, c.what));
        }
    }
    let mut current = None;
    for c in changes.iter().filter(|c| !c.breaking) {
        if current != Some(c.area) {
            text.push_str(&format!("\n#### {}\n\n", c.area.heading()));
            current = Some(c.area);
        }
        text.push_str(&format!("- `{}`: {}\n", c.subject, c.what));
    }
    text
}
