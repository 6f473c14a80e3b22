//! What the targets must agree on about the running stack, decided once from the spec:
//! which monitoring servers run and on which host ports, the host port of every app
//! container, the secret files compose mounts, and where the metrics bearer token is read
//! from.

use serde::Serialize;

use crate::model::Spec;
use crate::topology::ComponentView;

/// The stack's shared decisions.
#[derive(Debug, Clone)]
pub struct StackPlan {
    /// Alertmanager runs and Prometheus sends to it.
    pub alertmanager: bool,
    /// Loki runs and Grafana has it as a data source.
    pub loki: bool,
    /// Host ports of every app container, in compose order.
    pub published: Vec<Published>,
    /// Secret files mounted at `/run/secrets/<name>`, sorted and distinct.
    pub secrets: Vec<Secret>,
    /// File Prometheus reads the metrics bearer token from, if the endpoint has one.
    pub credentials_file: Option<String>,
    /// The monitoring servers that run, in compose order, with their host ports.
    pub monitoring: Vec<Monitoring>,
}

/// A monitoring server of the stack and the host port compose publishes it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitoring {
    /// `prometheus`, `alertmanager`, `grafana`, `loki`, `jaeger` or `elasticsearch`.
    pub name: &'static str,
    /// The port it listens on inside its container, and on the host unless moved.
    pub default_port: u16,
    pub host_port: u16,
}

impl StackPlan {
    pub fn of(spec: &Spec, components: &[ComponentView]) -> Self {
        let stack = &spec.stack;
        let alertmanager = spec.alertmanager.is_some() && stack.alertmanager.enabled;
        let loki = match &stack.loki {
            Some(loki) => loki.enabled,
            None => spec.logging.loki.is_some(),
        };
        let jaeger = stack.jaeger.as_ref().filter(|j| j.enabled);
        let elasticsearch = stack.elasticsearch.as_ref().filter(|e| e.enabled);
        let candidates = [
            ("prometheus", 9090, true, stack.prometheus.port),
            ("alertmanager", 9093, alertmanager, stack.alertmanager.port),
            ("grafana", 3000, stack.grafana.enabled, stack.grafana.port),
            ("loki", 3100, loki, stack.loki.as_ref().and_then(|l| l.port)),
            ("jaeger", 16686, jaeger.is_some(), jaeger.and_then(|j| j.port)),
            (
                "elasticsearch",
                9200,
                elasticsearch.is_some(),
                elasticsearch.and_then(|e| e.port),
            ),
        ];
        let monitoring = candidates
            .into_iter()
            .filter(|(_, _, runs, _)| *runs)
            .map(|(name, default_port, _, port)| Monitoring {
                name,
                default_port,
                host_port: port.unwrap_or(default_port),
            })
            .collect();
        Self {
            alertmanager,
            loki,
            published: published_ports(components),
            secrets: receiver_secrets(spec),
            credentials_file: spec.metrics.endpoint.bearer_token_env.as_deref().map(credentials_file),
            monitoring,
        }
    }

    /// The host port of a monitoring server that runs.
    pub fn host_port(&self, name: &str) -> Option<u16> {
        self.monitoring.iter().find(|m| m.name == name).map(|m| m.host_port)
    }

    /// `host:container` for compose's `ports:` of a monitoring server that runs.
    pub fn port_mapping(&self, name: &str) -> Option<String> {
        let server = self.monitoring.iter().find(|m| m.name == name)?;
        Some(format!("{}:{}", server.host_port, server.default_port))
    }
}

/// File a bearer token for scrapes is read from, when the service protects `/metrics`:
/// relative, so Prometheus resolves it beside prometheus.yml (compose mounts the secret
/// at `/etc/prometheus/secrets/`).
pub fn credentials_file(var: &str) -> String {
    format!("secrets/{}", var.to_ascii_lowercase())
}

/// A secret file compose mounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Secret {
    pub name: String,
    pub file: String,
}

/// Host ports published for one app container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub host: String,
    pub component: String,
    pub http: u16,
    pub metrics: Option<u16>,
}

/// Hands out host ports: the preferred one, or the next free one above it.
#[derive(Default)]
struct HostPorts(std::collections::BTreeSet<u16>);

impl HostPorts {
    fn claim(&mut self, preferred: u16) -> u16 {
        let mut port = preferred;
        while !self.0.insert(port) {
            port = port.saturating_add(1);
        }
        port
    }
}

/// The host ports of every app container, in compose order: each replica gets its
/// component's port, or the next free one, so no two containers collide on the host.
pub fn published_ports(components: &[ComponentView]) -> Vec<Published> {
    let mut ports = HostPorts::default();
    let mut out = Vec::new();
    for component in components {
        for instance in component.instances() {
            let http = ports.claim(component.port);
            let metrics = component
                .has_separate_metrics_port()
                .then(|| ports.claim(component.metrics_port));
            out.push(Published {
                host: instance.host,
                component: component.name.clone(),
                http,
                metrics,
            });
        }
    }
    out
}

/// Secret files referenced as `/run/secrets/<name>`: compose mounts them there.
pub fn receiver_secrets(spec: &Spec) -> Vec<Secret> {
    let Some(am) = &spec.alertmanager else {
        return Vec::new();
    };
    let mut paths: Vec<&str> = Vec::new();
    for receiver in &am.receivers {
        if let Some(w) = &receiver.webhook {
            paths.extend(w.url_file.as_deref());
        }
        if let Some(s) = &receiver.slack {
            paths.push(&s.api_url_file);
        }
        if let Some(p) = &receiver.pagerduty {
            paths.extend(
                p.routing_key_file
                    .as_deref()
                    .into_iter()
                    .chain(p.service_key_file.as_deref()),
            );
        }
        if let Some(e) = &receiver.email {
            paths.extend(e.auth_password_file.as_deref());
        }
    }
    let mut secrets: Vec<Secret> = paths
        .into_iter()
        .filter_map(|path| path.strip_prefix("/run/secrets/"))
        .map(|name| Secret {
            name: name.to_string(),
            file: format!("./secrets/{name}"),
        })
        .collect();
    secrets.sort_by(|a, b| a.name.cmp(&b.name));
    secrets.dedup_by(|a, b| a.name == b.name);
    secrets
}
