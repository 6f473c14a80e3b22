//! What the targets must agree on about the running stack, decided once from the spec:
//! which monitoring servers run and on which host ports, the host port of every app
//! container, the services the app depends on and which containers wait for them, the
//! secret files compose mounts, and where the metrics bearer token is read from.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Spec, StackDependency};
use crate::topology::ComponentView;
use crate::{Duration, EnvString};

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
    /// The services the app depends on (`stack.dependencies`), in the spec's order.
    pub dependencies: Vec<Dependency>,
    /// The VictoriaMetrics scale-out that replaces Prometheus, when the spec asks for it.
    pub scale_out: Option<ScaleOut>,
    /// The Prometheus release the generated files are written for.
    pub prometheus: crate::prometheus_version::PrometheusVersion,
    /// Some histogram is native, so Prometheus must scrape native histograms.
    pub native_histograms: bool,
}

/// vmagent members scraping, VictoriaMetrics storing and deduplicating, vmalert evaluating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleOut {
    /// vmagent members: compose services `vmagent-0` … `vmagent-<n-1>`.
    pub scrapers: u32,
    /// Members scraping each target.
    pub replication: u32,
    pub retention: Duration,
    /// VictoriaMetrics keeps one sample per series per this interval: the scrape interval,
    /// so the copies replicated scrapers send collapse into one.
    pub dedup_interval: Duration,
}

impl ScaleOut {
    /// The compose service of each vmagent member, in member order.
    pub fn scraper_services(&self) -> Vec<String> {
        (0..self.scrapers).map(|i| format!("{VMAGENT_PREFIX}{i}")).collect()
    }
}

/// Compose services of vmagent members are this prefix and the member number.
pub const VMAGENT_PREFIX: &str = "vmagent-";
/// The port VictoriaMetrics serves its HTTP API on (queries and `/api/v1/write`).
pub const VICTORIAMETRICS_PORT: u16 = 8428;
/// The port vmalert serves its API and UI on.
pub const VMALERT_PORT: u16 = 8880;

/// A service the app depends on, as compose runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// Compose service name and the host name the app connects to.
    pub name: String,
    pub image: String,
    /// The port it listens on inside the compose network.
    pub port: u16,
    /// The host port it is published on, if any.
    pub publish: Option<u16>,
    pub environment: BTreeMap<String, EnvString>,
    pub command: Option<Vec<String>>,
    /// Compose `healthcheck.test`, starting with `CMD` or `CMD-SHELL`; `None`: no healthcheck,
    /// so the app waits only for the container to start.
    pub healthcheck: Option<Vec<String>>,
    /// The named volume holding its data and where it is mounted.
    pub volume: Option<DataVolume>,
    /// Components that use it, in declaration order (every one unless `used_by` says).
    pub used_by: Vec<String>,
    /// App containers (compose services) that depend on it, in compose order.
    pub dependents: Vec<String>,
    /// Secret files its environment names under `/run/secrets/`, sorted and distinct.
    pub secrets: Vec<Secret>,
    pub description: Option<String>,
}

/// A named volume and the path it is mounted at inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataVolume {
    pub name: String,
    pub path: String,
}

impl Dependency {
    fn of(dependency: &StackDependency, components: &[ComponentView]) -> Self {
        let used = |component: &ComponentView| {
            dependency
                .used_by
                .as_ref()
                .is_none_or(|names| names.contains(&component.name))
        };
        let users: Vec<&ComponentView> = components.iter().filter(|c| used(c)).collect();
        let healthcheck = dependency.healthcheck.as_ref().filter(|t| !t.is_empty()).map(|test| {
            if matches!(test[0].as_str(), "CMD" | "CMD-SHELL") {
                test.clone()
            } else {
                std::iter::once("CMD".to_string()).chain(test.iter().cloned()).collect()
            }
        });
        let secret_paths = dependency
            .environment
            .iter()
            .filter(|(key, _)| key.ends_with("_FILE"))
            .filter_map(|(_, value)| value.default_value());
        Self {
            name: dependency.name.clone(),
            image: dependency.image.clone(),
            port: dependency.port,
            publish: dependency.publish,
            environment: dependency.environment.clone(),
            command: dependency.command.clone(),
            healthcheck,
            volume: dependency.data.as_ref().map(|path| DataVolume {
                name: format!("{}-data", dependency.name),
                path: path.clone(),
            }),
            used_by: users.iter().map(|c| c.name.clone()).collect(),
            dependents: users.iter().flat_map(|c| c.instances()).map(|i| i.host).collect(),
            secrets: run_secrets(secret_paths),
            description: dependency.description.clone(),
        }
    }
}

/// The port the Pushgateway listens on inside its container.
pub const PUSHGATEWAY_PORT: u16 = 9091;

/// A monitoring server of the stack and the host port compose publishes it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitoring {
    /// `prometheus`, `alertmanager`, `grafana`, `loki`, `pushgateway`, `jaeger` or
    /// `elasticsearch`.
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
        let pushes = spec
            .metrics
            .builtin
            .lifecycle
            .as_ref()
            .is_some_and(|l| l.pushgateway.is_some());
        let pushgateway = match &stack.pushgateway {
            Some(pushgateway) => pushgateway.enabled && pushes,
            None => pushes,
        };
        let jaeger = stack.jaeger.as_ref().filter(|j| j.enabled);
        let elasticsearch = stack.elasticsearch.as_ref().filter(|e| e.enabled);
        let scale_out = stack
            .storage
            .as_ref()
            .and_then(|s| s.victoriametrics.as_ref())
            .map(|vm| ScaleOut {
                scrapers: vm.scrapers,
                replication: vm.replication,
                retention: vm.retention.unwrap_or(stack.prometheus.retention),
                dedup_interval: stack.prometheus.scrape_interval,
            });
        let victoriametrics = stack.storage.as_ref().and_then(|s| s.victoriametrics.as_ref());
        let candidates = [
            ("prometheus", 9090, scale_out.is_none(), stack.prometheus.port),
            (
                "victoriametrics",
                VICTORIAMETRICS_PORT,
                scale_out.is_some(),
                victoriametrics.and_then(|vm| vm.port),
            ),
            ("vmalert", VMALERT_PORT, scale_out.is_some(), None),
            ("alertmanager", 9093, alertmanager, stack.alertmanager.port),
            ("grafana", 3000, stack.grafana.enabled, stack.grafana.port),
            ("loki", 3100, loki, stack.loki.as_ref().and_then(|l| l.port)),
            (
                "pushgateway",
                PUSHGATEWAY_PORT,
                pushgateway,
                stack.pushgateway.as_ref().and_then(|p| p.port),
            ),
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
            dependencies: stack
                .dependencies
                .iter()
                .map(|d| Dependency::of(d, components))
                .collect(),
            scale_out,
            prometheus: crate::prometheus_version::PrometheusVersion::target(&stack.prometheus),
            // Known once the catalog is: `Resolved::of` sets it.
            native_histograms: false,
        }
    }

    /// The secret files compose declares: the dependencies', sorted and distinct. The
    /// receivers' are read from the `secrets/` directory Alertmanager mounts instead, so
    /// that a key not written yet cannot stop the stack from starting.
    pub fn dependency_secrets(&self) -> Vec<Secret> {
        let mut all: Vec<Secret> = self.dependencies.iter().flat_map(|d| &d.secrets).cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all.dedup_by(|a, b| a.name == b.name);
        all
    }

    /// The URL Grafana and vmalert query inside the stack: Prometheus, or VictoriaMetrics.
    pub fn query_url(&self) -> String {
        match self.scale_out {
            Some(_) => format!("http://victoriametrics:{VICTORIAMETRICS_PORT}"),
            None => "http://prometheus:9090".into(),
        }
    }

    /// The compose service that answers queries: `prometheus` or `victoriametrics`.
    pub fn query_service(&self) -> &'static str {
        if self.scale_out.is_some() {
            "victoriametrics"
        } else {
            "prometheus"
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
    run_secrets(paths)
}

/// The secrets behind paths under `/run/secrets/` (others are ignored), each read from
/// `./secrets/<name>`, sorted and distinct.
fn run_secrets<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<Secret> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology;

    fn plan(yaml: &str) -> StackPlan {
        let spec: Spec = serde_yaml::from_str(yaml).unwrap();
        StackPlan::of(&spec, &topology::components(&spec))
    }

    #[test]
    fn dependencies_know_their_dependents_healthcheck_and_secrets() {
        let plan = plan(
            "service: {name: shop, components: [{name: api, replicas: [a, b]}, {name: worker, port: 9091}]}
stack:
  dependencies:
    - {name: db, image: 'postgres:16', port: 5432, healthcheck: [pg_isready], data: /var/lib/postgresql/data,
       environment: {POSTGRES_PASSWORD_FILE: /run/secrets/pg}}
    - {name: cache, image: 'redis:7', port: 6379, used_by: [worker], healthcheck: [CMD-SHELL, redis-cli ping]}
",
        );
        let [db, cache] = &plan.dependencies[..] else { panic!() };
        assert_eq!(db.dependents, ["api_a", "api_b", "worker"]);
        assert_eq!(db.used_by, ["api", "worker"]);
        assert_eq!(
            db.healthcheck.as_deref(),
            Some(&["CMD".to_string(), "pg_isready".into()][..])
        );
        assert_eq!(db.volume.as_ref().map(|v| v.name.as_str()), Some("db-data"));
        assert_eq!(cache.dependents, ["worker"]);
        assert_eq!(cache.healthcheck.as_ref().map(|t| t[0].as_str()), Some("CMD-SHELL"));
        assert_eq!(
            plan.dependency_secrets()
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            ["pg"]
        );
        assert!(plan.secrets.is_empty(), "receiver secrets stay the receivers' own");
    }
}
