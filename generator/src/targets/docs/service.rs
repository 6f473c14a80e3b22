//! The service sections of OBSERVABILITY.md: components, endpoints with example bodies,
//! health checks and shutdown, the services the app depends on, the UIs of the running
//! stack, and the variables it reads.

use contract::model::Spec;
use contract::probe_bodies::{self, CheckResult, ProbeState};
use contract::Duration;
use serde::Serialize;
use serde_json::Value;

use super::{EnvRow, EnvValue};
use crate::plan::Plan;

/// Example values used in documentation, fixed so the document is reproducible.
const EXAMPLE_TIME: &str = "2024-01-15T10:30:00Z";

#[derive(Serialize)]
pub(super) struct ServiceView {
    components: Vec<ComponentRow>,
    endpoints: Vec<Endpoint>,
    /// Components declared with `readiness: false`, which serve no readiness endpoint.
    without_readiness: Vec<String>,
    checks: Vec<CheckRow>,
    container: ContainerCheck,
    drain: Duration,
    grace: Duration,
    profile: Option<String>,
    dependencies: Vec<DependencyRow>,
    uis: Vec<Ui>,
    environment: Vec<EnvRow>,
    monitor: Monitor,
    /// Every app container the monitor watches.
    instances: Vec<String>,
    loadtest: Option<Loadtest>,
}

#[derive(Serialize)]
struct ComponentRow {
    name: String,
    job: String,
    /// `host:port` of every scrape target.
    hosts: Vec<String>,
    port: u16,
    metrics_port: u16,
    description: String,
}

#[derive(Serialize)]
struct Endpoint {
    path: String,
    purpose: String,
    example: Option<String>,
    code: u16,
}

#[derive(Serialize)]
struct CheckRow {
    name: String,
    kind: String,
    /// `None`: the check is registered in code.
    target: Option<EnvValue>,
    timeout: Duration,
    gates: bool,
    description: String,
}

#[derive(Serialize)]
struct ContainerCheck {
    interval: Duration,
    timeout: Duration,
    retries: u32,
    start_period: Duration,
}

/// A service the app depends on, as the running section lists it.
#[derive(Serialize)]
struct DependencyRow {
    name: String,
    image: String,
    /// `host:port` the app connects to inside the compose network.
    address: String,
    /// Host port it is published on.
    publish: Option<u16>,
    description: String,
    used_by: Vec<String>,
}

/// Where to look once the stack runs: an app container (its component and liveness path),
/// Grafana (its user and password variable), or another server with a note.
#[derive(Serialize, Default)]
struct Ui {
    name: String,
    port: u16,
    component: Option<String>,
    path: Option<String>,
    user: Option<String>,
    password_var: Option<String>,
    note: Option<String>,
}

#[derive(Serialize)]
struct Monitor {
    interval: Duration,
    duration: Duration,
}

#[derive(Serialize)]
struct Loadtest {
    sockets: u32,
    rate: String,
    duration_seconds: u64,
    host: String,
    send_rate: String,
}

pub(super) fn view(plan: &Plan<'_>) -> ServiceView {
    let spec = &plan.loaded.spec;
    let container = &spec.health.container;
    ServiceView {
        components: plan
            .resolved
            .components
            .iter()
            .map(|c| ComponentRow {
                hosts: c
                    .instances()
                    .iter()
                    .map(|i| format!("{}:{}", i.host, c.metrics_port))
                    .collect(),
                name: c.name.clone(),
                job: c.job.clone(),
                port: c.port,
                metrics_port: c.metrics_port,
                description: c.description.clone().unwrap_or_default(),
            })
            .collect(),
        endpoints: endpoints(spec),
        without_readiness: spec
            .service
            .components
            .iter()
            .filter(|c| !c.readiness)
            .map(|c| c.name.clone())
            .collect(),
        checks: spec
            .health
            .checks
            .iter()
            .map(|c| CheckRow {
                name: c.name.clone(),
                kind: format!("{:?}", c.kind).to_lowercase(),
                target: c.target.as_ref().map(EnvValue::of),
                timeout: c.timeout,
                gates: c.gates_readiness,
                description: c.description.clone().unwrap_or_default(),
            })
            .collect(),
        container: ContainerCheck {
            interval: container.interval,
            timeout: container.timeout,
            retries: container.retries,
            start_period: container.start_period,
        },
        drain: spec.shutdown.drain,
        grace: spec.shutdown.grace,
        profile: spec.stack.profile.clone(),
        dependencies: plan
            .resolved
            .stack
            .dependencies
            .iter()
            .map(|d| DependencyRow {
                name: d.name.clone(),
                image: d.image.clone(),
                address: format!("{}:{}", d.name, d.port),
                publish: d.publish,
                description: d.description.clone().unwrap_or_default(),
                used_by: d.used_by.clone(),
            })
            .collect(),
        uis: uis(plan),
        environment: environment(plan),
        monitor: Monitor {
            interval: spec.monitor.interval,
            duration: spec.monitor.duration,
        },
        instances: plan.resolved.stack.published.iter().map(|p| p.host.clone()).collect(),
        loadtest: spec.loadtest.as_ref().map(|l| Loadtest {
            sockets: l.sockets,
            rate: l.rate.to_string(),
            duration_seconds: l.duration.as_millis() / 1000,
            host: l.host.to_string(),
            send_rate: l.send_rate.to_string(),
        }),
    }
}

fn example_state(spec: &Spec) -> ProbeState {
    ProbeState {
        timestamp: EXAMPLE_TIME.into(),
        uptime_seconds: 3600.5,
        version: spec.service.version.default_value().unwrap_or("1.0.0").into(),
        shutting_down: false,
        checks: spec
            .health
            .checks
            .iter()
            .map(|c| CheckResult {
                name: c.name.clone(),
                kind: c.kind,
                up: true,
                latency_ms: 1.2,
                gates_readiness: c.gates_readiness,
                error: None,
            })
            .collect(),
    }
}

fn endpoints(spec: &Spec) -> Vec<Endpoint> {
    let health = &spec.health;
    let state = example_state(spec);
    let mut out = Vec::new();
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    for path in std::iter::once(&health.liveness.path).chain(&health.liveness.aliases) {
        out.push(Endpoint {
            path: path.clone(),
            purpose: "Liveness: 200 whenever the process serves; it checks no dependency.".into(),
            example: Some(pretty(&probe_bodies::liveness_body(&health.liveness, &state))),
            code: 200,
        });
    }
    let (code, ready) = probe_bodies::readiness_body(&health.readiness, &state);
    let stopping = ProbeState {
        shutting_down: true,
        ..state.clone()
    };
    let (stop_code, stop_body) = probe_bodies::readiness_body(&health.readiness, &stopping);
    for path in std::iter::once(&health.readiness.path).chain(&health.readiness.aliases) {
        out.push(Endpoint {
            path: path.clone(),
            purpose: "Readiness: 200 when every gating check passes; 503 from the moment shutdown begins.".into(),
            example: Some(pretty(&ready)),
            code,
        });
        out.push(Endpoint {
            path: path.clone(),
            purpose: "Readiness during graceful shutdown.".into(),
            example: Some(pretty(&stop_body)),
            code: stop_code,
        });
    }
    if let Some(detailed) = &health.detailed {
        let (code, body) = probe_bodies::detailed_body(&state);
        out.push(Endpoint {
            path: detailed.path.clone(),
            purpose: "Detailed health: every dependency check with its status and latency.".into(),
            example: Some(pretty(&body)),
            code,
        });
    }
    for path in std::iter::once(&spec.metrics.endpoint.path).chain(&spec.metrics.endpoint.aliases) {
        out.push(Endpoint {
            path: path.clone(),
            purpose: "Prometheus metrics (text exposition format).".into(),
            example: None,
            code: 200,
        });
    }
    out
}

fn environment(plan: &Plan<'_>) -> Vec<EnvRow> {
    let spec = &plan.loaded.spec;
    let mut rows: Vec<EnvRow> = Vec::new();
    rows.extend(EnvRow::of(
        &spec.service.environment,
        "`environment` log field and external label",
    ));
    rows.extend(EnvRow::of(&spec.service.version, "`version` log field"));
    for component in &plan.resolved.components {
        if let Some(var) = &component.port_env {
            rows.push(EnvRow::valued(
                var,
                component.port,
                format!("port of {}", component.name),
            ));
        }
    }
    rows.push(EnvRow::valued(
        "LOG_LEVEL",
        spec.logging.level.as_str(),
        "minimum log level",
    ));
    rows.push(EnvRow::noted(
        "RUST_LOG",
        "unset: the spec's",
        "per-target levels (`info,hyper=debug`), replacing `LOG_LEVEL` and `logging.targets`",
    ));
    if let Some(var) = &spec.metrics.endpoint.bearer_token_env {
        rows.push(EnvRow::noted(
            var,
            "required: unset, the service does not start",
            "bearer token `/metrics` requires",
        ));
    }
    for check in &spec.health.checks {
        if let Some(target) = &check.target {
            rows.extend(EnvRow::of(target, &format!("target of the `{}` check", check.name)));
        }
    }
    if let Some(var) = spec.stack.grafana.admin_password.env_var() {
        rows.push(EnvRow::noted(
            var,
            "unset: `admin`",
            "Grafana admin password; while unset, Grafana asks for a new one at the first sign-in",
        ));
    }
    rows
}

fn uis(plan: &Plan<'_>) -> Vec<Ui> {
    let spec = &plan.loaded.spec;
    let (stack, decided) = (&spec.stack, &plan.resolved.stack);
    let note = |name: &str, port: u16, note: &str| Ui {
        name: name.into(),
        port,
        note: Some(note.into()),
        ..Ui::default()
    };
    let mut uis = Vec::new();
    for published in &decided.published {
        uis.push(Ui {
            name: published.host.clone(),
            port: published.http,
            component: Some(published.component.clone()),
            path: Some(spec.health.liveness.path.clone()),
            ..Ui::default()
        });
    }
    for server in &decided.monitoring {
        let port = server.host_port;
        uis.push(match server.name {
            "grafana" => Ui {
                name: "Grafana".into(),
                port,
                user: Some(stack.grafana.admin_user.clone()),
                password_var: stack.grafana.admin_password.env_var().map(String::from),
                ..Ui::default()
            },
            "prometheus" => note("Prometheus", port, "targets, rules, alerts"),
            "victoriametrics" => note(
                "VictoriaMetrics",
                port,
                "the samples every vmagent member writes, one per series per scrape interval; Prometheus' query API and /vmui",
            ),
            "vmalert" => note("vmalert", port, "rules and alerts, evaluated against VictoriaMetrics"),
            "alertmanager" => note("Alertmanager", port, "silences, routing"),
            "loki" => note("Loki", port, "queried from Grafana"),
            "jaeger" => note("Jaeger", port, "traces (OTLP on 4317)"),
            "pushgateway" => note(
                "Pushgateway",
                port,
                "start-up and shutdown times pushed by each replica, scraped with honor_labels",
            ),
            _ => note("Elasticsearch", port, "shipped logs"),
        });
    }
    uis
}
