//! What the prometheus-operator runs for the service: a ServiceMonitor per component (the
//! metrics port and path, the compose stack's job name and `service` label), one
//! PrometheusRule holding every rule group of `generated/prometheus/rules/` as rendered
//! there, and the Alertmanager routes and receivers as an AlertmanagerConfig whose
//! credentials are Secret references.

use contract::kubernetes::{component_object, object_name};
use contract::model::Receiver;
use serde_json::{json, Value};

use super::metadata;
use super::workload::{secret_name, selector, JOB_LABEL};
use crate::output::Tree;
use crate::plan::native_scrape::{NativeScrape, NATIVE_SCRAPE_PROTOCOLS};
use crate::plan::Plan;
use crate::GenerateError;

/// The operator's own labels and the spec's `stack.kubernetes.labels`.
fn operator_labels<'a>(plan: &Plan<'a>) -> Vec<(&'a str, Value)> {
    plan.loaded
        .spec
        .stack
        .kubernetes
        .iter()
        .flat_map(|k| k.labels.iter())
        .map(|(k, v)| (k.as_str(), Value::from(v.as_str())))
        .collect()
}

fn service_monitors(plan: &Plan<'_>) -> Vec<Value> {
    let spec = &plan.loaded.spec;
    let interval = spec.stack.prometheus.scrape_interval.to_string();
    plan.resolved
        .components
        .iter()
        .map(|component| {
            let port = if component.has_separate_metrics_port() {
                "metrics"
            } else {
                "http"
            };
            let mut endpoint = json!({
                "port": port,
                "path": spec.metrics.endpoint.path,
                "interval": interval,
                // The operator names the `service` label after the Kubernetes Service; alert
                // grouping and inhibition expect the spec's service name, as in compose.
                "relabelings": [
                    {"action": "replace", "targetLabel": "service", "replacement": spec.service.name},
                ],
            });
            if let Some(var) = &spec.metrics.endpoint.bearer_token_env {
                endpoint["authorization"] = json!({
                    "type": "Bearer",
                    "credentials": {"name": secret_name(spec), "key": var},
                });
            }
            let mut monitor = json!({
                "jobLabel": JOB_LABEL,
                "selector": {"matchLabels": selector(plan, component)},
                "endpoints": [endpoint],
            });
            native_histogram_settings(&mut monitor, NativeScrape::of(plan.resolved, &component.name));
            json!({
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "ServiceMonitor",
                "metadata": metadata(plan, &component_object(spec, component), &operator_labels(plan)),
                "spec": monitor,
            })
        })
        .collect()
}

/// The operator's names for what the compose stack's scrape job sets for native histograms:
/// protobuf first (whatever the Prometheus resource's feature flags), the classic buckets
/// kept beside, and the per-job switch of 3.8 and later.
fn native_histogram_settings(monitor: &mut Value, scrape: NativeScrape) {
    if !scrape.native {
        return;
    }
    monitor["scrapeProtocols"] = json!(NATIVE_SCRAPE_PROTOCOLS);
    // Whatever release the compose stack targets: the cluster's Prometheus may be 3.9 or
    // later, where only this switch turns native scraping on; the operator drops it, with
    // a warning, for releases before 3.8, which take the feature flag instead.
    monitor["scrapeNativeHistograms"] = json!(true);
    if scrape.classic_beside {
        monitor["scrapeClassicHistograms"] = json!(true);
    }
}

/// The rule groups of every rendered rule file, in file order.
fn rule_groups(tree: &Tree) -> Result<Vec<Value>, GenerateError> {
    let mut groups = Vec::new();
    for (path, text) in tree.files.range("prometheus/rules/".to_string()..) {
        if !path.starts_with("prometheus/rules/") {
            break;
        }
        let file: Value = serde_yaml::from_str(text).map_err(|e| GenerateError::Encode {
            target: "kubernetes",
            message: format!("reading back {path}: {e}"),
        })?;
        groups.extend(file["groups"].as_array().cloned().unwrap_or_default());
    }
    Ok(groups)
}

fn prometheus_rule(plan: &Plan<'_>, tree: &Tree) -> Result<Option<Value>, GenerateError> {
    let groups = rule_groups(tree)?;
    if groups.is_empty() {
        return Ok(None);
    }
    let name = format!("{}-rules", object_name(&plan.loaded.spec.service.name));
    Ok(Some(json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata(plan, &name, &operator_labels(plan)),
        "spec": {"groups": groups},
    })))
}

/// The Secret holding the receivers' credentials: the files compose mounts under
/// `/run/secrets/`, one key per file name.
pub fn receiver_secret_name(plan: &Plan<'_>) -> String {
    format!("{}-alertmanager", object_name(&plan.loaded.spec.service.name))
}

/// A key of the receivers' Secret, from a `/run/secrets/<name>` path.
fn secret_key(plan: &Plan<'_>, path: &str) -> Value {
    let key = path.rsplit('/').next().unwrap_or(path);
    json!({"name": receiver_secret_name(plan), "key": key})
}

fn receiver(plan: &Plan<'_>, receiver: &Receiver) -> Value {
    let mut out = json!({"name": receiver.name});
    if let Some(webhook) = &receiver.webhook {
        let mut config = json!({"sendResolved": webhook.send_resolved});
        if let Some(file) = &webhook.url_file {
            config["urlSecret"] = secret_key(plan, file);
        } else if let Some(url) = webhook.url.as_ref().and_then(|u| u.default_value()) {
            config["url"] = url.into();
        }
        out["webhookConfigs"] = json!([config]);
    }
    if let Some(slack) = &receiver.slack {
        let mut config = json!({
            "apiURL": secret_key(plan, &slack.api_url_file),
            "channel": slack.channel,
            "sendResolved": slack.send_resolved,
        });
        if let Some(title) = &slack.title {
            config["title"] = title.as_str().into();
        }
        if let Some(text) = &slack.text {
            config["text"] = text.as_str().into();
        }
        out["slackConfigs"] = json!([config]);
    }
    if let Some(pagerduty) = &receiver.pagerduty {
        let mut config = json!({"sendResolved": pagerduty.send_resolved});
        if let Some(file) = &pagerduty.routing_key_file {
            config["routingKey"] = secret_key(plan, file);
        }
        if let Some(file) = &pagerduty.service_key_file {
            config["serviceKey"] = secret_key(plan, file);
        }
        out["pagerdutyConfigs"] = json!([config]);
    }
    if let Some(email) = &receiver.email {
        let mut config = json!({
            "to": email.to,
            "from": email.from,
            "smarthost": email.smarthost,
            "requireTLS": email.require_tls,
        });
        if let Some(user) = &email.auth_username {
            config["authUsername"] = user.as_str().into();
        }
        if let Some(file) = &email.auth_password_file {
            config["authPassword"] = secret_key(plan, file);
        }
        out["emailConfigs"] = json!([config]);
    }
    out
}

fn matcher(name: &str, value: &str, match_type: &str) -> Value {
    json!({"name": name, "value": value, "matchType": match_type})
}

fn alertmanager_config(plan: &Plan<'_>) -> Option<Value> {
    let spec = &plan.loaded.spec;
    let am = spec.alertmanager.as_ref()?;
    let mut route = json!({
        "receiver": am.route.receiver,
        "groupBy": am.route.group_by,
    });
    for (field, value) in [
        ("groupWait", am.route.group_wait),
        ("groupInterval", am.route.group_interval),
        ("repeatInterval", am.route.repeat_interval),
    ] {
        if let Some(value) = value {
            route[field] = value.to_string().into();
        }
    }
    let routes: Vec<Value> = am
        .routes
        .iter()
        .map(|child| {
            let equal = child.match_.iter().map(|(k, v)| matcher(k, v, "="));
            let regex = child.match_re.iter().map(|(k, v)| matcher(k, v, "=~"));
            let mut out = json!({
                "receiver": child.receiver,
                "matchers": equal.chain(regex).collect::<Vec<_>>(),
            });
            if let Some(group_by) = &child.group_by {
                out["groupBy"] = json!(group_by);
            }
            if let Some(repeat) = child.repeat_interval {
                out["repeatInterval"] = repeat.to_string().into();
            }
            if child.continue_ {
                out["continue"] = true.into();
            }
            out
        })
        .collect();
    if !routes.is_empty() {
        route["routes"] = routes.into();
    }
    let mut config = json!({
        "route": route,
        "receivers": am.receivers.iter().map(|r| receiver(plan, r)).collect::<Vec<_>>(),
    });
    if am.inhibit_warning_by_critical {
        config["inhibitRules"] = json!([{
            "sourceMatch": [matcher("severity", "critical", "=")],
            "targetMatch": [matcher("severity", "warning", "=")],
            "equal": ["alertname", "service"],
        }]);
    }
    Some(json!({
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": metadata(plan, &object_name(&spec.service.name), &operator_labels(plan)),
        "spec": config,
    }))
}

/// `servicemonitors.yaml`, `prometheusrule.yaml` (when there are rules) and
/// `alertmanagerconfig.yaml` (when the spec routes alerts).
pub fn files(plan: &Plan<'_>, tree: &Tree) -> Result<Vec<(&'static str, Vec<Value>)>, GenerateError> {
    let mut files = vec![("servicemonitors.yaml", service_monitors(plan))];
    if let Some(rule) = prometheus_rule(plan, tree)? {
        files.push(("prometheusrule.yaml", vec![rule]));
    }
    if let Some(config) = alertmanager_config(plan) {
        files.push(("alertmanagerconfig.yaml", vec![config]));
    }
    Ok(files)
}
