//! `generated/OBSERVABILITY.md`: the document teams used to write by hand, generated from
//! the spec — endpoints with example responses, metrics, log fields with an example line,
//! alerts, SLOs with their budgets, dashboards and panels, routing, and how to run it all.

use contract::catalog::{Family, Origin};
use contract::model::{LevelCase, PanelType, Spec};
use contract::probe_bodies::{self, CheckResult, ProbeState};
use contract::rules::{burn_windows, error_budget, slo_alert_name, BurnKind, Rule, RuleSet};
use contract::{Decimal, EnvString};
use minijinja::Environment;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{header, render_into, Rendered};
use crate::output::Tree;
use crate::plan::dashboards::dashboard_path;
use crate::plan::dashboards::model::DashboardModel;
use crate::plan::stack::Stack;
use crate::plan::Plan;

pub const PATH: &str = "OBSERVABILITY.md";

/// Example values used in documentation, fixed so the document is reproducible.
const EXAMPLE_TIME: &str = "2024-01-15T10:30:00Z";
const EXAMPLE_UUID: &str = "9f1c2b4e-6a7d-4f3e-8b21-5c0d7e9a1f36";

#[derive(Serialize)]
struct Endpoint {
    path: String,
    purpose: String,
    example: Option<String>,
    code: u16,
}

#[derive(Serialize)]
struct MetricRow {
    name: String,
    kind: &'static str,
    labels: String,
    help: String,
    source: String,
}

#[derive(Serialize)]
struct FieldRow {
    name: String,
    meaning: String,
}

#[derive(Serialize)]
struct EventRow {
    message: String,
    level: String,
    description: String,
}

#[derive(Serialize)]
struct AlertRow {
    name: String,
    severity: String,
    for_: String,
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
    windows: String,
    factor: String,
    severity: String,
}

#[derive(Serialize)]
struct SloView {
    name: String,
    description: String,
    objective: String,
    period: String,
    budget: String,
    indicator: String,
    min_traffic: String,
    burns: Vec<BurnRow>,
}

#[derive(Serialize)]
struct PanelRow {
    title: String,
    kind: &'static str,
    shows: String,
}

#[derive(Serialize)]
struct DashboardView {
    title: String,
    uid: String,
    file: String,
    refresh: String,
    time: String,
    panels: Vec<PanelRow>,
}

#[derive(Serialize)]
struct ComponentRow {
    name: String,
    job: String,
    hosts: String,
    port: u16,
    metrics_port: u16,
    description: String,
}

#[derive(Serialize)]
struct CheckRow {
    name: String,
    kind: String,
    target: String,
    timeout: String,
    gates: bool,
    description: String,
}

#[derive(Serialize)]
struct Ui {
    name: String,
    url: String,
    note: String,
}

#[derive(Serialize)]
struct EnvRow {
    name: String,
    default: String,
    used_for: String,
}

#[derive(Serialize)]
struct DocsView {
    header: String,
    service: String,
    description: String,
    components: Vec<ComponentRow>,
    endpoints: Vec<Endpoint>,
    metrics_path: String,
    metrics_auth: Option<String>,
    scrape_interval: String,
    retention: String,
    metrics: Vec<MetricRow>,
    recorded: Vec<(String, String)>,
    log_format: String,
    log_level: String,
    fields: Vec<FieldRow>,
    example_log: String,
    redact: String,
    events: Vec<EventRow>,
    loki: Option<LokiView>,
    elasticsearch: Option<ElasticView>,
    tracing: Vec<EnvRow>,
    errors: Vec<EnvRow>,
    checks: Vec<CheckRow>,
    container: String,
    drain: String,
    grace: String,
    alert_groups: Vec<AlertGroupView>,
    slos: Vec<SloView>,
    dashboards: Vec<DashboardView>,
    routing: Vec<String>,
    receivers: Vec<String>,
    secrets: Vec<String>,
    profile: Option<String>,
    uis: Vec<Ui>,
    environment: Vec<EnvRow>,
    monitor: String,
    loadtest: Option<String>,
}

#[derive(Serialize)]
struct LokiView {
    url: String,
    enabled: String,
    labels: String,
    queries: Vec<(String, String)>,
}

#[derive(Serialize)]
struct ElasticView {
    endpoint: String,
    indices: Vec<String>,
    variables: Vec<EnvRow>,
}

fn env_text(value: &EnvString) -> String {
    match value {
        EnvString::Literal(text) => format!("`{text}`"),
        EnvString::Env { var, default: Some(d) } => format!("`${var}` (default `{d}`)"),
        EnvString::Env { var, default: None } => format!("`${var}`"),
    }
}

fn env_row(value: &EnvString, used_for: &str) -> Option<EnvRow> {
    let var = value.env_var()?;
    Some(EnvRow {
        name: var.to_string(),
        default: value
            .default_value()
            .map(|d| format!("`{d}`"))
            .unwrap_or_else(|| "—".into()),
        used_for: used_for.to_string(),
    })
}

fn labels_text(family: &Family) -> String {
    if family.labels.is_empty() {
        return "—".into();
    }
    family
        .labels
        .iter()
        .map(|l| match (&l.values, l.max_values) {
            (Some(values), _) => format!("`{}` ∈ {{{}}}", l.name, values.join(", ")),
            (None, Some(max)) => format!("`{}` (≤ {max} values, then `other`)", l.name),
            (None, None) => format!("`{}`", l.name),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn source_text(family: &Family) -> String {
    match family.origin {
        Origin::Builtin(group) => format!("builtin `{}`", group.as_str()),
        Origin::Custom(_) => "service".into(),
        Origin::Runtime => "obs runtime".into(),
    }
}

fn field_meaning(name: &str) -> &'static str {
    match name {
        "service" => "Service (or component) name",
        "environment" => "Deployment environment",
        "version" => "Service version",
        "request_id" => {
            "Id of the HTTP request (from a sane `X-Request-ID`, else a new UUID); returned in `X-Request-ID`"
        }
        "session_id" => "Id of the WebSocket session",
        "trace_id" => "Trace id; a job carries the request id of the request that enqueued it",
        "span_id" => "Span id within the trace",
        "route" => "Matched route template (never the raw path)",
        "method" => "HTTP method",
        "status" => "HTTP status code",
        "latency_ms" => "Time to answer, in milliseconds",
        "user_id" => "Authenticated user, when known",
        "workspace_id" => "Workspace of the request",
        "job_id" => "Background job id",
        "client_ip" => "Address of the client",
        "message_count" => "Messages received on the session so far",
        "message_length" => "Length of the message in bytes",
        "duration_ms" => "Time spent on the operation, in milliseconds",
        _ => "Service-specific context",
    }
}

fn field_example(spec: &Spec, name: &str) -> Value {
    match name {
        "service" => json!(spec.service.name),
        "environment" => json!(spec.service.environment.default_value().unwrap_or("production")),
        "version" => json!(spec.service.version.default_value().unwrap_or("1.0.0")),
        "request_id" | "session_id" => json!(EXAMPLE_UUID),
        "trace_id" => json!("4bf92f3577b34da6a3ce929d0e0e4736"),
        "span_id" => json!("00f067aa0ba902b7"),
        "route" => json!("/api/items/{id}"),
        "method" => json!("GET"),
        "status" => json!(200),
        "latency_ms" | "duration_ms" => json!(12.3),
        "message_count" => json!(5),
        "message_length" => json!(128),
        "client_ip" => json!("203.0.113.7"),
        "job_id" => json!("job-42"),
        _ => json!("…"),
    }
}

fn example_log(spec: &Spec) -> String {
    let keys = &spec.logging.keys;
    let level = match spec.logging.level_case {
        LevelCase::Lower => "info",
        LevelCase::Upper => "INFO",
    };
    let message = spec
        .logging
        .events
        .first()
        .map(|e| e.message.clone())
        .unwrap_or_else(|| "request finished".into());
    let mut line = Map::new();
    line.insert(keys.timestamp.clone(), json!("2024-01-15T10:30:00.123Z"));
    line.insert(keys.level.clone(), json!(level));
    line.insert(keys.message.clone(), json!(message));
    line.insert(
        keys.target.clone(),
        json!(format!("{}::http", spec.service.name.replace('-', "_"))),
    );
    line.insert(keys.filename.clone(), json!("src/http.rs"));
    line.insert(keys.line.clone(), json!(42));
    for field in &spec.logging.fields {
        line.insert(field.clone(), field_example(spec, field));
    }
    serde_json::to_string_pretty(&Value::Object(line)).unwrap_or_default()
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
                        for_: a.for_.map(|d| d.to_string()).unwrap_or_else(|| "—".into()),
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

fn percent(ratio: Decimal) -> String {
    format!("{}%", ratio.checked_mul(Decimal::from_int(100)).unwrap_or(ratio))
}

fn slos(spec: &Spec) -> Vec<SloView> {
    spec.slos
        .iter()
        .map(|slo| {
            let budget = error_budget(slo.objective);
            let indicator = match (&slo.sli.errors, &slo.sli.total, &slo.sli.latency) {
                (Some(e), Some(t), _) => format!("bad `{e}` out of `{t}`"),
                (_, _, Some(l)) => format!("`{}` slower than {}s", l.metric, l.threshold),
                _ => String::new(),
            };
            let burns = if slo.alerting.enabled {
                burn_windows(slo.period)
                    .iter()
                    .map(|w| BurnRow {
                        alert: slo_alert_name(&slo.name, w),
                        windows: format!("{} and {}", w.long, w.short),
                        factor: format!(
                            "{}× (over {} bad)",
                            w.factor,
                            percent(w.factor.checked_mul(budget).unwrap_or(budget))
                        ),
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
                description: slo.description.clone().unwrap_or_default(),
                objective: format!("{}%", slo.objective),
                period: slo.period.to_string(),
                budget: percent(budget),
                indicator,
                min_traffic: slo.min_traffic.map(|m| m.to_string()).unwrap_or_else(|| "—".into()),
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
            refresh: d.refresh.clone().unwrap_or_else(|| "off".into()),
            time: format!("last {}", d.time),
            panels: d
                .panels
                .iter()
                .map(|p| PanelRow {
                    title: p.title.clone(),
                    kind: p.kind.as_str(),
                    shows: match (p.kind, &p.description) {
                        (PanelType::Text, _) => "notes".into(),
                        (_, Some(description)) => description.clone(),
                        _ => p
                            .targets
                            .iter()
                            .map(|t| format!("`{}`", t.expr))
                            .collect::<Vec<_>>()
                            .join(", "),
                    },
                })
                .collect(),
            title: d.title.clone(),
            uid: d.uid.clone(),
        })
        .collect()
}

fn routing(spec: &Spec) -> (Vec<String>, Vec<String>) {
    let Some(am) = &spec.alertmanager else {
        return (Vec::new(), Vec::new());
    };
    let mut routes = Vec::new();
    for route in &am.routes {
        let matchers: Vec<String> = route
            .match_
            .iter()
            .map(|(k, v)| format!("`{k}={v}`"))
            .chain(route.match_re.iter().map(|(k, v)| format!("`{k}=~{v}`")))
            .collect();
        let then = if route.continue_ {
            " (and on to later routes)"
        } else {
            ""
        };
        routes.push(format!("{} → **{}**{then}", matchers.join(", "), route.receiver));
    }
    routes.push(format!("anything else → **{}**", am.route.receiver));
    if am.inhibit_warning_by_critical {
        routes.push("a firing `critical` mutes the `warning` of the same alert and service".into());
    }
    let receivers = am
        .receivers
        .iter()
        .map(|r| {
            let mut how = Vec::new();
            if let Some(w) = &r.webhook {
                how.push(match (&w.url, &w.url_file) {
                    (Some(url), _) => format!("webhook {}", env_text(url)),
                    (None, Some(file)) => format!("webhook (URL in `{file}`)"),
                    _ => "webhook".into(),
                });
            }
            if let Some(s) = &r.slack {
                how.push(format!("Slack `{}` (webhook URL in `{}`)", s.channel, s.api_url_file));
            }
            if let Some(p) = &r.pagerduty {
                let file = p
                    .routing_key_file
                    .as_deref()
                    .or(p.service_key_file.as_deref())
                    .unwrap_or_default();
                how.push(format!("PagerDuty (key in `{file}`)"));
            }
            if let Some(e) = &r.email {
                how.push(format!("email to `{}` via `{}`", e.to, e.smarthost));
            }
            format!(
                "**{}**: {}",
                r.name,
                if how.is_empty() {
                    "nobody".into()
                } else {
                    how.join(", ")
                }
            )
        })
        .collect();
    (routes, receivers)
}

fn uis(spec: &Spec, plan: &Stack) -> Vec<Ui> {
    let stack = &spec.stack;
    let mut uis = Vec::new();
    for published in plan.published.iter().cloned() {
        uis.push(Ui {
            name: published.host,
            url: format!("http://localhost:{}", published.http),
            note: format!("{} `{}`", published.component, spec.health.liveness.path),
        });
    }
    uis.push(Ui {
        name: "Prometheus".into(),
        url: format!("http://localhost:{}", stack.prometheus.port.unwrap_or(9090)),
        note: "targets, rules, alerts".into(),
    });
    if plan.alertmanager {
        uis.push(Ui {
            name: "Alertmanager".into(),
            url: format!("http://localhost:{}", stack.alertmanager.port.unwrap_or(9093)),
            note: "silences, routing".into(),
        });
    }
    if stack.grafana.enabled {
        let note = match stack.grafana.admin_password.env_var() {
            Some(var) => format!("user `{}`, password from `${var}`", stack.grafana.admin_user),
            None => format!("user `{}`", stack.grafana.admin_user),
        };
        uis.push(Ui {
            name: "Grafana".into(),
            url: format!("http://localhost:{}", stack.grafana.port.unwrap_or(3000)),
            note,
        });
    }
    if plan.loki {
        let port = stack.loki.as_ref().and_then(|l| l.port).unwrap_or(3100);
        uis.push(Ui {
            name: "Loki".into(),
            url: format!("http://localhost:{port}"),
            note: "queried from Grafana".into(),
        });
    }
    if let Some(j) = stack.jaeger.as_ref().filter(|j| j.enabled) {
        uis.push(Ui {
            name: "Jaeger".into(),
            url: format!("http://localhost:{}", j.port.unwrap_or(16686)),
            note: "traces (OTLP on 4317)".into(),
        });
    }
    if let Some(e) = stack.elasticsearch.as_ref().filter(|e| e.enabled) {
        uis.push(Ui {
            name: "Elasticsearch".into(),
            url: format!("http://localhost:{}", e.port.unwrap_or(9200)),
            note: "shipped logs".into(),
        });
    }
    uis
}

fn environment(spec: &Spec) -> Vec<EnvRow> {
    let mut rows: Vec<EnvRow> = Vec::new();
    rows.extend(env_row(
        &spec.service.environment,
        "`environment` log field and external label",
    ));
    rows.extend(env_row(&spec.service.version, "`version` log field"));
    for component in contract::topology::components(spec) {
        if let Some(var) = &component.port_env {
            rows.push(EnvRow {
                name: var.clone(),
                default: format!("`{}`", component.port),
                used_for: format!("port of {}", component.name),
            });
        }
    }
    rows.push(EnvRow {
        name: "LOG_LEVEL".into(),
        default: format!("`{}`", spec.logging.level.as_str()),
        used_for: "minimum log level".into(),
    });
    if let Some(var) = &spec.metrics.endpoint.bearer_token_env {
        rows.push(EnvRow {
            name: var.clone(),
            default: "unset: open".into(),
            used_for: "bearer token `/metrics` requires".into(),
        });
    }
    for check in &spec.health.checks {
        if let Some(target) = &check.target {
            rows.extend(env_row(target, &format!("target of the `{}` check", check.name)));
        }
    }
    if let Some(var) = spec.stack.grafana.admin_password.env_var() {
        rows.push(EnvRow {
            name: var.into(),
            default: "required".into(),
            used_for: "Grafana admin password (compose refuses to start without it)".into(),
        });
    }
    rows
}

fn view(plan: &Plan<'_>) -> DocsView {
    let (loaded, catalog, rules) = (plan.loaded, &plan.catalog, &plan.rules);
    let spec = &loaded.spec;
    let service = &spec.service;
    let components = contract::topology::components(spec)
        .into_iter()
        .map(|c| ComponentRow {
            hosts: c
                .instances()
                .iter()
                .map(|i| format!("`{}:{}`", i.host, c.metrics_port))
                .collect::<Vec<_>>()
                .join(", "),
            name: c.name,
            job: c.job,
            port: c.port,
            metrics_port: c.metrics_port,
            description: c.description.unwrap_or_default(),
        })
        .collect();
    let metrics = catalog
        .families
        .iter()
        .map(|f| MetricRow {
            name: f.name.clone(),
            kind: f.kind.as_str(),
            labels: labels_text(f),
            help: f.help.clone(),
            source: source_text(f),
        })
        .collect();
    let recorded = rules
        .files
        .iter()
        .filter(|f| f.name == "recording")
        .flat_map(|f| &f.groups)
        .flat_map(|g| &g.rules)
        .filter_map(|r| match r {
            Rule::Record(r) => Some((r.record.clone(), r.expr.clone())),
            Rule::Alert(_) => None,
        })
        .collect();
    let logging = &spec.logging;
    let loki = logging.loki.as_ref().map(|l| {
        let selector = format!("{{service=\"{}\"}}", service.name);
        let level = match logging.level_case {
            LevelCase::Lower => "error",
            LevelCase::Upper => "ERROR",
        };
        LokiView {
            url: env_text(&l.url),
            enabled: env_text(&l.enabled),
            labels: l.labels.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", "),
            queries: vec![
                ("All logs of the service".into(), selector.clone()),
                (
                    "Errors only".into(),
                    format!("{{service=\"{}\", level=\"{level}\"}}", service.name),
                ),
                ("One request".into(), format!("{selector} | json | request_id=\"<id>\"")),
                (
                    "Error lines per minute".into(),
                    format!(
                        "sum(count_over_time({{service=\"{}\", level=\"{level}\"}}[1m]))",
                        service.name
                    ),
                ),
            ],
        }
    });
    let elasticsearch = logging.elasticsearch.as_ref().map(|e| {
        let mut indices = vec![
            format!("`{}-YYYY.MM.DD`: every line", e.index_prefix),
            format!("`{}-errors-YYYY.MM.DD`: errors only", e.index_prefix),
        ];
        indices.extend(e.streams.iter().map(|s| format!("`{}-{s}-YYYY.MM.DD`", e.index_prefix)));
        let mut variables: Vec<EnvRow> = Vec::new();
        variables.extend(env_row(&e.host, "Elasticsearch host"));
        variables.extend(env_row(&e.port, "Elasticsearch port"));
        variables.extend(env_row(&e.scheme, "`http` or `https`"));
        if let Some(u) = &e.user {
            variables.extend(env_row(u, "user, when authentication is on"));
        }
        if let Some(p) = &e.password {
            variables.extend(env_row(p, "password (never in obs.yaml)"));
        }
        ElasticView {
            endpoint: format!("{}://{}:{}", env_text(&e.scheme), env_text(&e.host), env_text(&e.port)),
            indices,
            variables,
        }
    });
    let mut tracing_rows = Vec::new();
    if let Some(t) = &spec.tracing {
        tracing_rows.extend(env_row(
            &t.otlp_endpoint,
            &format!("OTLP collector endpoint; {} of traces sampled", percent(t.sample_ratio)),
        ));
        if let Some(v) = &t.insecure {
            tracing_rows.extend(env_row(v, "plain-text connection to the collector"));
        }
        if let Some(v) = &t.console_export {
            tracing_rows.extend(env_row(v, "also print spans to the console"));
        }
    }
    let mut error_rows = Vec::new();
    if let Some(e) = &spec.error_tracking {
        error_rows.extend(env_row(&e.sentry.dsn, "Sentry DSN"));
        if let Some(v) = &e.sentry.traces_sample_rate {
            error_rows.extend(env_row(v, "share of transactions traced"));
        }
        if let Some(v) = &e.sentry.profiles_sample_rate {
            error_rows.extend(env_row(v, "share of transactions profiled"));
        }
    }
    let container = &spec.health.container;
    let (routing, receivers) = routing(spec);
    let loadtest = spec.loadtest.as_ref().map(|l| {
        format!(
            "cargo run -p obs-tools --release --bin loadtest -- --spec {} --sockets {} --rate {} --duration {} --host {} --send-rate {}",
            loaded.file,
            l.sockets,
            l.rate,
            l.duration.as_millis() / 1000,
            l.host,
            l.send_rate
        )
    });
    DocsView {
        header: header(loaded),
        service: service.name.clone(),
        description: service.description.clone().unwrap_or_default(),
        components,
        endpoints: endpoints(spec),
        metrics_path: spec.metrics.endpoint.path.clone(),
        metrics_auth: spec
            .metrics
            .endpoint
            .bearer_token_env
            .as_ref()
            .map(|v| format!("When `{v}` is set, scrapers must send `Authorization: Bearer <token>`.")),
        scrape_interval: spec.stack.prometheus.scrape_interval.to_string(),
        retention: spec.stack.prometheus.retention.to_string(),
        metrics,
        recorded,
        log_format: format!("{:?}", logging.format).to_lowercase(),
        log_level: logging.level.as_str().into(),
        fields: logging
            .fields
            .iter()
            .map(|f| FieldRow {
                name: f.clone(),
                meaning: field_meaning(f).into(),
            })
            .collect(),
        example_log: example_log(spec),
        redact: logging
            .redact
            .iter()
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>()
            .join(", "),
        events: logging
            .events
            .iter()
            .map(|e| EventRow {
                message: e.message.clone(),
                level: e.level.as_str().into(),
                description: e.description.clone().unwrap_or_else(|| {
                    if e.fields.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "with {}",
                            e.fields.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                        )
                    }
                }),
            })
            .collect(),
        loki,
        elasticsearch,
        tracing: tracing_rows,
        errors: error_rows,
        checks: spec
            .health
            .checks
            .iter()
            .map(|c| CheckRow {
                name: c.name.clone(),
                kind: format!("{:?}", c.kind).to_lowercase(),
                target: c.target.as_ref().map(env_text).unwrap_or_else(|| "in code".into()),
                timeout: c.timeout.to_string(),
                gates: c.gates_readiness,
                description: c.description.clone().unwrap_or_default(),
            })
            .collect(),
        container: format!(
            "every {} (timeout {}, unhealthy after {} failures, {} start period)",
            container.interval, container.timeout, container.retries, container.start_period
        ),
        drain: spec.shutdown.drain.to_string(),
        grace: spec.shutdown.grace.to_string(),
        alert_groups: alert_groups(rules),
        slos: slos(spec),
        dashboards: dashboards(&plan.dashboards),
        routing,
        receivers,
        secrets: plan.stack.secrets.iter().map(|s| s.name.clone()).collect(),
        profile: spec.stack.profile.clone(),
        uis: uis(spec, &plan.stack),
        environment: environment(spec),
        monitor: format!(
            "cargo run -p obs-tools --bin monitor -- --spec {} --interval {} --duration {}",
            loaded.file, spec.monitor.interval, spec.monitor.duration
        ),
        loadtest,
    }
}

pub fn render(env: &Environment<'_>, plan: &Plan<'_>, tree: &mut Tree) -> Rendered {
    render_into(env, tree, PATH, "docs/OBSERVABILITY.md.j2", &view(plan))
}
