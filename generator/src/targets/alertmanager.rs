//! `generated/alertmanager/alertmanager.yml`: the route tree by severity and labels,
//! critical-inhibits-warning, and receivers whose secrets are read from files.

use std::collections::BTreeMap;

use contract::Receiver;
use minijinja::Environment;
use serde::Serialize;

use super::{header, render_into, Rendered};
use crate::output::Tree;
use crate::plan::Plan;

pub const PATH: &str = "alertmanager/alertmanager.yml";

/// Whether the stack runs Alertmanager: the spec routes alerts and the service is on.

#[derive(Serialize)]
struct RootView {
    receiver: String,
    group_by: Vec<String>,
    timings: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct RouteView {
    receiver: String,
    matchers: Vec<String>,
    group_by: Option<Vec<String>>,
    repeat_interval: Option<String>,
    #[serde(rename = "continue")]
    continue_: bool,
}

#[derive(Serialize)]
struct WebhookView {
    url: Option<String>,
    url_file: Option<String>,
    send_resolved: bool,
}

#[derive(Serialize)]
struct SlackView<'a> {
    api_url_file: &'a str,
    channel: &'a str,
    title: Option<&'a str>,
    text: Option<&'a str>,
    send_resolved: bool,
}

#[derive(Serialize)]
struct PagerDutyView<'a> {
    routing_key_file: Option<&'a str>,
    service_key_file: Option<&'a str>,
    send_resolved: bool,
}

#[derive(Serialize)]
struct EmailView<'a> {
    to: &'a str,
    from: &'a str,
    smarthost: &'a str,
    auth_username: Option<&'a str>,
    auth_password_file: Option<&'a str>,
    require_tls: bool,
}

#[derive(Serialize)]
struct ReceiverView<'a> {
    name: &'a str,
    webhook: Option<WebhookView>,
    slack: Option<SlackView<'a>>,
    pagerduty: Option<PagerDutyView<'a>>,
    email: Option<EmailView<'a>>,
}

#[derive(Serialize)]
struct ConfigView<'a> {
    header: String,
    route: RootView,
    routes: Vec<RouteView>,
    inhibit: bool,
    receivers: Vec<ReceiverView<'a>>,
}

fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

fn receiver_view(receiver: &Receiver) -> ReceiverView<'_> {
    ReceiverView {
        name: &receiver.name,
        // Alertmanager cannot read the environment: `${VAR:-default}` writes the default.
        webhook: receiver.webhook.as_ref().map(|w| WebhookView {
            url: w.url.as_ref().and_then(|u| u.default_value().map(String::from)),
            url_file: w.url_file.clone(),
            send_resolved: w.send_resolved,
        }),
        slack: receiver.slack.as_ref().map(|s| SlackView {
            api_url_file: &s.api_url_file,
            channel: &s.channel,
            title: s.title.as_deref(),
            text: s.text.as_deref(),
            send_resolved: s.send_resolved,
        }),
        pagerduty: receiver.pagerduty.as_ref().map(|p| PagerDutyView {
            routing_key_file: p.routing_key_file.as_deref(),
            service_key_file: p.service_key_file.as_deref(),
            send_resolved: p.send_resolved,
        }),
        email: receiver.email.as_ref().map(|e| EmailView {
            to: &e.to,
            from: &e.from,
            smarthost: &e.smarthost,
            auth_username: e.auth_username.as_deref(),
            auth_password_file: e.auth_password_file.as_deref(),
            require_tls: e.require_tls,
        }),
    }
}

pub fn render(env: &Environment<'_>, plan: &Plan<'_>, tree: &mut Tree) -> Rendered {
    let loaded = plan.loaded;
    let spec = &loaded.spec;
    let Some(am) = spec.alertmanager.as_ref().filter(|_| plan.resolved.stack.alertmanager) else {
        return Ok(());
    };
    let mut timings = BTreeMap::new();
    for (name, value) in [
        ("group_wait", am.route.group_wait),
        ("group_interval", am.route.group_interval),
        ("repeat_interval", am.route.repeat_interval),
    ] {
        if let Some(value) = value {
            timings.insert(name, value.to_string());
        }
    }
    let routes = am
        .routes
        .iter()
        .map(|route| {
            let equal = route.match_.iter().map(|(k, v)| format!("{k}=\"{}\"", quote(v)));
            let regex = route.match_re.iter().map(|(k, v)| format!("{k}=~\"{}\"", quote(v)));
            RouteView {
                receiver: route.receiver.clone(),
                matchers: equal.chain(regex).collect(),
                group_by: route.group_by.clone(),
                repeat_interval: route.repeat_interval.map(|d| d.to_string()),
                continue_: route.continue_,
            }
        })
        .collect();
    let view = ConfigView {
        header: header(loaded),
        route: RootView {
            receiver: am.route.receiver.clone(),
            group_by: am.route.group_by.clone(),
            timings,
        },
        routes,
        inhibit: am.inhibit_warning_by_critical,
        receivers: am.receivers.iter().map(receiver_view).collect(),
    };
    render_into(env, tree, PATH, "alertmanager/alertmanager.yml.j2", &view)
}
