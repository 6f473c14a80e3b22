//! The alerting sections of OBSERVABILITY.md: alert groups with their expressions, SLOs
//! with budgets and burn-rate alerts, dashboards and their panels, and alert routing.

use contract::model::{PanelType, Spec};
use contract::rules::{burn_windows, error_budget, slo_alert_name, BurnKind, Rule, RuleSet};
use contract::Duration;
use serde::Serialize;

use super::{percent, EnvValue};
use crate::plan::dashboards::dashboard_path;
use crate::plan::dashboards::model::DashboardModel;
use crate::plan::Plan;

#[derive(Serialize)]
pub(super) struct AlertingView {
    alert_groups: Vec<AlertGroupView>,
    slos: Vec<SloView>,
    dashboards: Vec<DashboardView>,
    routing: Option<RoutingView>,
    secrets: Vec<String>,
}

#[derive(Serialize)]
struct AlertRow {
    name: String,
    severity: String,
    for_: Option<Duration>,
    summary: String,
    expr: String,
    runbook: String,
}

#[derive(Serialize)]
struct AlertGroupView {
    name: String,
    alerts: Vec<AlertRow>,
}

#[derive(Serialize)]
struct BurnRow {
    alert: String,
    long: Duration,
    short: Duration,
    factor: String,
    /// The share of requests that must fail for the pair to fire.
    over: String,
    severity: String,
}

#[derive(Serialize, Default)]
struct Indicator {
    errors: Option<String>,
    total: Option<String>,
    latency_metric: Option<String>,
    latency_threshold: Option<String>,
}

#[derive(Serialize)]
struct SloView {
    name: String,
    objective: String,
    period: Duration,
    budget: String,
    indicator: Indicator,
    min_traffic: Option<String>,
    burns: Vec<BurnRow>,
}

#[derive(Serialize)]
struct PanelRow {
    title: String,
    kind: &'static str,
    notes: bool,
    description: Option<String>,
    exprs: Vec<String>,
}

#[derive(Serialize)]
struct DashboardView {
    title: String,
    uid: String,
    file: String,
    refresh: Option<String>,
    time: String,
    panels: Vec<PanelRow>,
}

#[derive(Serialize)]
struct RoutingView {
    routes: Vec<RouteRow>,
    default_receiver: String,
    inhibit_warning_by_critical: bool,
    receivers: Vec<ReceiverRow>,
}

#[derive(Serialize)]
struct RouteRow {
    #[serde(rename = "match")]
    match_: Vec<(String, String)>,
    match_re: Vec<(String, String)>,
    receiver: String,
    continues: bool,
}

#[derive(Serialize)]
struct ReceiverRow {
    name: String,
    how: Vec<How>,
}

/// One integration of a receiver.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum How {
    Webhook {
        url: Option<EnvValue>,
        file: Option<String>,
    },
    Slack {
        channel: String,
        file: String,
    },
    Pagerduty {
        file: String,
    },
    Email {
        to: String,
        smarthost: String,
    },
}

pub(super) fn view(plan: &Plan<'_>) -> AlertingView {
    let spec = &plan.loaded.spec;
    AlertingView {
        alert_groups: alert_groups(&plan.resolved.rules),
        slos: slos(spec),
        dashboards: dashboards(&plan.dashboards),
        routing: routing(spec),
        secrets: plan.resolved.stack.secrets.iter().map(|s| s.name.clone()).collect(),
    }
}

fn alert_groups(rules: &RuleSet) -> Vec<AlertGroupView> {
    rules
        .files
        .iter()
        .flat_map(|f| &f.groups)
        .filter_map(|group| {
            let alerts: Vec<AlertRow> = group
                .rules
                .iter()
                .filter_map(|rule| match rule {
                    Rule::Alert(a) => Some(AlertRow {
                        name: a.name.clone(),
                        severity: a.labels.get("severity").cloned().unwrap_or_default(),
                        for_: a.for_,
                        summary: a.annotations.get("summary").cloned().unwrap_or_default(),
                        expr: a.expr.clone(),
                        runbook: a.annotations.get("runbook_url").cloned().unwrap_or_default(),
                    }),
                    Rule::Record(_) => None,
                })
                .collect();
            (!alerts.is_empty()).then(|| AlertGroupView {
                name: group.name.clone(),
                alerts,
            })
        })
        .collect()
}

fn slos(spec: &Spec) -> Vec<SloView> {
    spec.slos
        .iter()
        .map(|slo| {
            let budget = error_budget(slo.objective);
            let indicator = match (&slo.sli.errors, &slo.sli.total, &slo.sli.latency) {
                (Some(e), Some(t), _) => Indicator {
                    errors: Some(e.clone()),
                    total: Some(t.clone()),
                    ..Indicator::default()
                },
                (_, _, Some(l)) => Indicator {
                    latency_metric: Some(l.metric.clone()),
                    latency_threshold: Some(l.threshold.to_string()),
                    ..Indicator::default()
                },
                _ => Indicator::default(),
            };
            let burns = if slo.alerting.enabled {
                burn_windows(slo.period)
                    .iter()
                    .map(|w| BurnRow {
                        alert: slo_alert_name(&slo.name, w),
                        long: w.long,
                        short: w.short,
                        factor: w.factor.to_string(),
                        over: percent(w.factor.checked_mul(budget).unwrap_or(budget)),
                        severity: match w.kind {
                            BurnKind::Page => slo.alerting.page_severity.as_str().into(),
                            BurnKind::Ticket => slo.alerting.ticket_severity.as_str().into(),
                        },
                    })
                    .collect()
            } else {
                Vec::new()
            };
            SloView {
                name: slo.name.clone(),
                objective: format!("{}%", slo.objective),
                period: slo.period,
                budget: percent(budget),
                indicator,
                min_traffic: slo.min_traffic.map(|m| m.to_string()),
                burns,
            }
        })
        .collect()
}

fn dashboards(models: &[DashboardModel]) -> Vec<DashboardView> {
    models
        .iter()
        .map(|d| DashboardView {
            file: dashboard_path(&d.uid),
            refresh: d.refresh.clone(),
            time: d.time.to_string(),
            panels: d
                .panels
                .iter()
                .map(|p| PanelRow {
                    title: p.title.clone(),
                    kind: p.kind.as_str(),
                    notes: p.kind == PanelType::Text,
                    description: p.description.clone(),
                    exprs: p.targets.iter().map(|t| t.expr.clone()).collect(),
                })
                .collect(),
            title: d.title.clone(),
            uid: d.uid.clone(),
        })
        .collect()
}

fn routing(spec: &Spec) -> Option<RoutingView> {
    let am = spec.alertmanager.as_ref()?;
    let pairs = |map: &std::collections::BTreeMap<String, String>| -> Vec<(String, String)> {
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let routes = am
        .routes
        .iter()
        .map(|route| RouteRow {
            match_: pairs(&route.match_),
            match_re: pairs(&route.match_re),
            receiver: route.receiver.clone(),
            continues: route.continue_,
        })
        .collect();
    let receivers = am
        .receivers
        .iter()
        .map(|r| {
            let mut how = Vec::new();
            if let Some(w) = &r.webhook {
                how.push(How::Webhook {
                    url: w.url.as_ref().map(EnvValue::of),
                    file: w.url_file.clone(),
                });
            }
            if let Some(s) = &r.slack {
                how.push(How::Slack {
                    channel: s.channel.clone(),
                    file: s.api_url_file.clone(),
                });
            }
            if let Some(p) = &r.pagerduty {
                let file = p.routing_key_file.as_deref().or(p.service_key_file.as_deref());
                how.push(How::Pagerduty {
                    file: file.unwrap_or_default().to_string(),
                });
            }
            if let Some(e) = &r.email {
                how.push(How::Email {
                    to: e.to.clone(),
                    smarthost: e.smarthost.clone(),
                });
            }
            ReceiverRow {
                name: r.name.clone(),
                how,
            }
        })
        .collect();
    Some(RoutingView {
        routes,
        default_receiver: am.route.receiver.clone(),
        inhibit_warning_by_critical: am.inhibit_warning_by_critical,
        receivers,
    })
}
