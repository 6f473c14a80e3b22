//! `alertmanager`: the route tree, inhibition and receivers. Secrets are read from files;
//! the model has no field that could hold one inline.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Duration, EnvString};

/// Alert routing and receivers.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alertmanager {
    /// The root route.
    pub route: RootRoute,
    /// Child routes, tried in order.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Mute a `warning` while a `critical` with the same alertname and service fires.
    #[serde(default = "crate::model::yes")]
    pub inhibit_warning_by_critical: bool,
    /// Receivers.
    pub receivers: Vec<Receiver>,
}

/// Alertmanager's `repeat_interval` when a spec sets none.
pub const DEFAULT_REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 3600);

impl Alertmanager {
    /// The child routes an alert with these labels takes, as Alertmanager walks them: each
    /// matching route in order until one without `continue`. Empty: the root route takes it.
    pub fn routes_for(&self, labels: &BTreeMap<String, String>) -> Vec<&Route> {
        let mut taken = Vec::new();
        for route in &self.routes {
            let equal = route.match_.iter().all(|(k, v)| labels.get(k) == Some(v));
            let regex = route.match_re.iter().all(|(k, pattern)| {
                regex::Regex::new(&format!("^(?:{pattern})$"))
                    .is_ok_and(|re| re.is_match(labels.get(k).map(String::as_str).unwrap_or("")))
            });
            if equal && regex {
                taken.push(route);
                if !route.continue_ {
                    break;
                }
            }
        }
        taken
    }

    /// How often a still-firing alert with these labels is notified again: its first
    /// route's `repeat_interval`, else the root's, else Alertmanager's default of 4h.
    pub fn repeat_interval_for(&self, labels: &BTreeMap<String, String>) -> Duration {
        self.routes_for(labels)
            .first()
            .and_then(|route| route.repeat_interval)
            .or(self.route.repeat_interval)
            .unwrap_or(DEFAULT_REPEAT_INTERVAL)
    }
}

/// The root route: where alerts go when no child route matches.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RootRoute {
    /// Default receiver.
    pub receiver: String,
    /// Labels alerts are grouped by into one notification.
    #[serde(default = "RootRoute::default_group_by")]
    pub group_by: Vec<String>,
    /// Wait before the first notification of a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<Duration>,
    /// Wait before notifying about new alerts in a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<Duration>,
    /// Wait before repeating a notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<Duration>,
}

impl RootRoute {
    fn default_group_by() -> Vec<String> {
        vec!["alertname".into(), "service".into()]
    }
}

/// A child route.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Labels that must equal these values.
    #[serde(default, rename = "match")]
    pub match_: BTreeMap<String, String>,
    /// Labels that must match these regular expressions.
    #[serde(default)]
    pub match_re: BTreeMap<String, String>,
    /// Receiver of matching alerts.
    pub receiver: String,
    /// Keep trying later routes after this one matched.
    #[serde(default, rename = "continue")]
    pub continue_: bool,
    /// Override of the root's grouping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<String>>,
    /// Override of the root's repeat interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<Duration>,
}

/// A notification receiver; set one or more integrations.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    /// Receiver name, referenced by routes.
    pub name: String,
    /// POST the alerts as JSON to a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
    /// Post to a Slack channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<Slack>,
    /// Open PagerDuty incidents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagerduty: Option<PagerDuty>,
    /// Send email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
}

/// Webhook receiver.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// URL without credentials; `${VAR:-default}` writes the default into the file
    /// (Alertmanager does not read the environment). Use `url_file` for URLs holding a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<EnvString>,
    /// File holding the URL (a mounted secret); needs Alertmanager 0.26 or later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<String>,
    /// Also notify when the alert resolves.
    #[serde(default = "crate::model::yes")]
    pub send_resolved: bool,
}

/// Slack receiver.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slack {
    /// File holding the incoming-webhook URL (a mounted secret).
    pub api_url_file: String,
    /// Channel, e.g. `#analytics-alerts`.
    pub channel: String,
    /// Message title (Alertmanager template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Message text (Alertmanager template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Also notify when the alert resolves.
    #[serde(default = "crate::model::yes")]
    pub send_resolved: bool,
}

/// PagerDuty receiver.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PagerDuty {
    /// File holding the Events API v2 routing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key_file: Option<String>,
    /// File holding the legacy (v1) service key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_key_file: Option<String>,
    /// Also notify when the alert resolves.
    #[serde(default = "crate::model::yes")]
    pub send_resolved: bool,
}

/// Email receiver.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Email {
    /// Recipient address.
    pub to: String,
    /// Sender address.
    pub from: String,
    /// SMTP server `host:port`.
    pub smarthost: String,
    /// SMTP user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_username: Option<String>,
    /// File holding the SMTP password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_password_file: Option<String>,
    /// Require STARTTLS.
    #[serde(default = "crate::model::yes")]
    pub require_tls: bool,
}
