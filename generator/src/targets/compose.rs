//! `generated/docker-compose.yml`: the app (one service per component and replica, with the
//! spec's healthcheck and a stop grace longer than its own, waiting for the services it
//! depends on), those dependencies (databases, caches; in no profile), and the monitoring
//! stack with the generated configs mounted, named volumes, secrets from files, and the
//! spec's profile, images and ports.

use std::collections::BTreeMap;

use contract::images::StackImage;
use contract::prometheus_version::PrometheusVersion;
use contract::{EnvString, Spec};
use minijinja::Environment;
use serde::Serialize;

use super::{header, render_into, Rendered};
use crate::output::Tree;
use crate::plan::dashboards::DASHBOARDS_DIR;
use crate::plan::environment::app_variables;
use crate::plan::Plan;
use contract::resolve::stack_plan::{Dependency, ScaleOut, Secret, StackPlan, VICTORIAMETRICS_PORT};
use contract::Resolved;

pub const PATH: &str = "docker-compose.yml";
/// Where secret files are read from, beside the compose file.
const SECRETS_DIR: &str = "secrets";

/// Alertmanager as vmalert reaches it inside the compose network.
const ALERTMANAGER_HOST: &str = "alertmanager:9093";
/// Grafana's own admin password before the first sign-in changes it.
const GRAFANA_FIRST_LOGIN_PASSWORD: &str = "admin";

#[derive(Serialize)]
struct Healthcheck {
    test: Vec<String>,
    interval: String,
    timeout: String,
    retries: u32,
    start_period: Option<String>,
}

/// A dependency's healthcheck timings: frequent, and patient enough for a database's first
/// start (initdb) to finish before the app gives up waiting.
const DEPENDENCY_INTERVAL: &str = "5s";
const DEPENDENCY_TIMEOUT: &str = "3s";
const DEPENDENCY_RETRIES: u32 = 12;

/// A long-form `depends_on` entry: the service and the state it must reach first.
#[derive(Serialize)]
struct WaitFor {
    service: String,
    /// `service_healthy` or `service_started`.
    condition: &'static str,
}

#[derive(Serialize, Default)]
struct Service {
    name: String,
    image: String,
    command: Option<Vec<String>>,
    environment: BTreeMap<String, String>,
    ports: Vec<String>,
    volumes: Vec<String>,
    secrets: Vec<String>,
    /// Short-form `depends_on` (monitoring servers).
    depends_on: Vec<String>,
    /// Long-form `depends_on` (app containers waiting for their dependencies); a service
    /// uses one form or the other, never both.
    waits_for: Vec<WaitFor>,
    profiles: Vec<String>,
    healthcheck: Option<Healthcheck>,
    stop_grace_period: Option<String>,
}

#[derive(Serialize)]
struct ComposeView {
    header: String,
    notes: Vec<String>,
    profile: Option<String>,
    services: Vec<Service>,
    volumes: Vec<String>,
    secrets: Vec<Secret>,
}

/// `${VAR:-default}` as compose interpolates it; `${VAR:-}` when there is no default, so an
/// unset optional variable is empty without a warning.
fn passthrough(value: &EnvString) -> Option<(String, String)> {
    match value {
        EnvString::Env { var, default } => {
            Some((var.clone(), format!("${{{var}:-{}}}", default.as_deref().unwrap_or(""))))
        }
        EnvString::Literal(_) => None,
    }
}

/// A default that names this host (`localhost`, `127.0.0.1`), pointed at the stack's own
/// `service` instead: inside the app container, localhost is the app itself.
fn in_stack(value: &EnvString, service: &str) -> EnvString {
    let EnvString::Env {
        var,
        default: Some(default),
    } = value
    else {
        return value.clone();
    };
    let (scheme, rest) = default
        .split_once("://")
        .map_or(("", default.as_str()), |(s, r)| (s, r));
    let host_end = rest.find([':', '/']).unwrap_or(rest.len());
    if !matches!(&rest[..host_end], "localhost" | "127.0.0.1") {
        return value.clone();
    }
    let scheme = if scheme.is_empty() {
        String::new()
    } else {
        format!("{scheme}://")
    };
    EnvString::Env {
        var: var.clone(),
        default: Some(format!("{scheme}{service}{}", &rest[host_end..])),
    }
}

/// The environment variables the service reads, as the spec names them, with defaults that
/// reach the stack's own trace receiver and Loki when the stack runs them.
fn app_environment(spec: &Spec, plan: &StackPlan) -> BTreeMap<String, String> {
    let values: Vec<EnvString> = app_variables(spec, plan)
        .into_iter()
        .map(|variable| match variable.in_stack {
            Some(service) => in_stack(&variable.value, service),
            None => variable.value,
        })
        .collect();
    let mut environment: BTreeMap<String, String> = values.iter().filter_map(passthrough).collect();
    if let Some(var) = &spec.metrics.endpoint.bearer_token_env {
        // The runtime refuses to start without it; compose says so before it tries.
        environment.insert(
            var.clone(),
            format!("${{{var}:?set {var}: metrics.endpoint.bearer_token_env requires a token for /metrics}}"),
        );
    }
    environment.insert(
        "LOG_LEVEL".into(),
        format!("${{LOG_LEVEL:-{}}}", spec.logging.level.as_str()),
    );
    // Per-target levels (`info,hyper=debug`) for a look inside without a rebuild.
    environment.insert("RUST_LOG".into(), "${RUST_LOG:-}".into());
    environment
}

fn app_services(spec: &Spec, resolved: &Resolved) -> Vec<Service> {
    let image = spec.service.image_name();
    let container = &spec.health.container;
    let grace = spec.shutdown.grace.as_millis() / 1000 + 5;
    let base_environment = app_environment(spec, &resolved.stack);
    let mut services = Vec::new();
    let mut published = resolved.stack.published.iter().cloned();
    for component in &resolved.components {
        for instance in component.instances() {
            let Some(host_ports) = published.next() else { break };
            let mut environment = base_environment.clone();
            environment.insert("OBS_COMPONENT".into(), component.name.clone());
            if let Some(replica) = &instance.replica {
                environment.insert("OBS_REPLICA".into(), replica.clone());
            }
            if let Some(var) = &component.port_env {
                environment.insert(var.clone(), component.port.to_string());
            }
            let mut ports = vec![format!("{}:{}", host_ports.http, component.port)];
            if let Some(metrics) = host_ports.metrics {
                ports.push(format!("{metrics}:{}", component.metrics_port));
            }
            let mut test = vec!["CMD".to_string()];
            test.extend(component.healthcheck_command.iter().cloned());
            let waits_for = waits_for(&resolved.stack.dependencies, &instance.host);
            services.push(Service {
                name: instance.host,
                image: image.clone(),
                command: component.command.clone(),
                environment,
                ports,
                healthcheck: Some(Healthcheck {
                    test,
                    interval: container.interval.to_string(),
                    timeout: container.timeout.to_string(),
                    retries: container.retries,
                    start_period: Some(container.start_period.to_string()),
                }),
                waits_for,
                // Docker must not SIGKILL before the service's own grace period ends.
                stop_grace_period: Some(format!("{grace}s")),
                ..Service::default()
            });
        }
    }
    services
}

/// The dependencies an app container waits for, in the spec's order: until healthy when
/// the dependency has a healthcheck, until started otherwise.
fn waits_for(dependencies: &[Dependency], host: &str) -> Vec<WaitFor> {
    dependencies
        .iter()
        .filter(|d| d.dependents.iter().any(|h| h == host))
        .map(|d| WaitFor {
            service: d.name.clone(),
            condition: if d.healthcheck.is_some() {
                "service_healthy"
            } else {
                "service_started"
            },
        })
        .collect()
}

/// A dependency's environment value as compose reads it: `${VAR}` and `${VAR:-default}`
/// pass through to compose's interpolation; a literal's `$` is escaped as `$$`.
fn compose_value(value: &EnvString) -> String {
    match value {
        EnvString::Literal(text) => text.replace('$', "$$"),
        EnvString::Env { var, default: None } => format!("${{{var}}}"),
        EnvString::Env {
            var,
            default: Some(default),
        } => format!("${{{var}:-{default}}}"),
    }
}

/// One service per dependency, in the spec's order, in no profile: they start with the app.
fn dependency_services(plan: &StackPlan, volumes: &mut Vec<String>) -> Vec<Service> {
    let mut services = Vec::new();
    for dependency in &plan.dependencies {
        let mut mounts = Vec::new();
        if let Some(volume) = &dependency.volume {
            volumes.push(volume.name.clone());
            mounts.push(format!("{}:{}", volume.name, volume.path));
        }
        services.push(Service {
            name: dependency.name.clone(),
            image: dependency.image.clone(),
            command: dependency.command.clone(),
            environment: dependency
                .environment
                .iter()
                .map(|(key, value)| (key.clone(), compose_value(value)))
                .collect(),
            ports: dependency
                .publish
                .map(|host| format!("{host}:{}", dependency.port))
                .into_iter()
                .collect(),
            volumes: mounts,
            secrets: dependency.secrets.iter().map(|s| s.name.clone()).collect(),
            healthcheck: dependency.healthcheck.as_ref().map(|test| Healthcheck {
                test: test.clone(),
                interval: DEPENDENCY_INTERVAL.into(),
                timeout: DEPENDENCY_TIMEOUT.into(),
                retries: DEPENDENCY_RETRIES,
                start_period: None,
            }),
            ..Service::default()
        });
    }
    services
}

/// The Prometheus server: scrapes, evaluates the rules, sends alerts and, when the spec
/// names receivers, remote-writes.
fn prometheus_service(spec: &Spec, plan: &StackPlan, apps: &[String], volumes: &mut Vec<String>) -> Service {
    let stack = &spec.stack;
    let alertmanager = plan.alertmanager;
    let port = |name: &str| plan.port_mapping(name).into_iter().collect::<Vec<String>>();
    let profiles: Vec<String> = stack.profile.iter().cloned().collect();
    let mut prometheus_env = BTreeMap::new();
    prometheus_env.extend(passthrough(&spec.service.environment));
    let mut prometheus_volumes = vec![
        "./prometheus:/etc/prometheus:ro".to_string(),
        "prometheus-data:/prometheus".to_string(),
    ];
    if let Some(file) = &plan.credentials_file {
        prometheus_volumes.push(format!("./{file}:/etc/prometheus/{file}:ro"));
    }
    volumes.push("prometheus-data".into());
    Service {
        name: "prometheus".into(),
        image: PrometheusVersion::image(&stack.prometheus),
        command: Some(
            [
                "--config.file=/etc/prometheus/prometheus.yml".to_string(),
                "--storage.tsdb.path=/prometheus".into(),
                format!("--storage.tsdb.retention.time={}", stack.prometheus.retention),
            ]
            .into_iter()
            .chain(prometheus_feature_flags(plan.prometheus, plan.native_histograms))
            .chain(["--web.enable-lifecycle".to_string()])
            .collect(),
        ),
        environment: prometheus_env,
        ports: port("prometheus"),
        volumes: prometheus_volumes,
        depends_on: apps
            .iter()
            .cloned()
            .chain(alertmanager.then(|| "alertmanager".to_string()))
            .collect(),
        profiles: profiles.clone(),
        ..Service::default()
    }
}

/// The `--enable-feature` flags the targeted Prometheus needs for what generated files use:
/// on 2.x, `${VAR}` in external labels (3.x always expands them, and warns at a flag that
/// asks for what it does anyway); before 3.8, native histograms (from 3.8 the scrape
/// config's `scrape_native_histograms` does it, and from 3.9 the flag does nothing).
pub fn prometheus_feature_flags(version: PrometheusVersion, native_histograms: bool) -> Vec<String> {
    let mut flags = Vec::new();
    if version.needs_expand_external_labels_flag() {
        flags.push("--enable-feature=expand-external-labels".to_string());
    }
    if native_histograms && !version.native_histograms_by_setting() {
        flags.push("--enable-feature=native-histograms".to_string());
    }
    flags
}

/// VictoriaMetrics' `-retentionPeriod` takes one number and one unit (h, d, w, y): whole
/// days when the retention is, else hours rounded up.
fn retention_period(retention: contract::Duration) -> String {
    const HOUR: u64 = 3_600_000;
    const DAY: u64 = 24 * HOUR;
    let millis = retention.as_millis();
    if millis / DAY * DAY == millis {
        format!("{}d", millis / DAY)
    } else {
        format!("{}h", millis.div_ceil(HOUR))
    }
}

/// A value compose writes into a command: `${VAR:-default}` or the literal.
fn command_value(value: &EnvString) -> String {
    passthrough(value).map_or_else(|| value.default_value().unwrap_or_default().to_string(), |(_, v)| v)
}

/// The VictoriaMetrics scale-out in Prometheus' place: `scrapers` vmagent members sharing
/// the targets (each scraped by `replication` of them) and writing to VictoriaMetrics, which
/// keeps one sample per series per scrape interval; vmalert evaluating the generated rule
/// files against it, writing recording rules and alert state back, notifying Alertmanager.
fn scale_out_services(
    spec: &Spec,
    plan: &StackPlan,
    scale_out: &ScaleOut,
    apps: &[String],
    volumes: &mut Vec<String>,
) -> Vec<Service> {
    let stack = &spec.stack;
    let storage = stack.storage.as_ref().and_then(|s| s.victoriametrics.as_ref());
    let profiles: Vec<String> = stack.profile.iter().cloned().collect();
    let port = |name: &str| plan.port_mapping(name).into_iter().collect::<Vec<String>>();
    let store = format!("http://victoriametrics:{VICTORIAMETRICS_PORT}");
    let mut services = Vec::new();
    volumes.push("victoriametrics-data".into());
    services.push(Service {
        name: "victoriametrics".into(),
        image: storage
            .and_then(|s| s.image.clone())
            .unwrap_or_else(|| StackImage::VictoriaMetrics.default_image().into()),
        command: Some(vec![
            "-storageDataPath=/storage".into(),
            format!("-retentionPeriod={}", retention_period(scale_out.retention)),
            format!("-dedup.minScrapeInterval={}", scale_out.dedup_interval),
            format!("-httpListenAddr=:{VICTORIAMETRICS_PORT}"),
        ]),
        ports: port("victoriametrics"),
        volumes: vec!["victoriametrics-data:/storage".into()],
        profiles: profiles.clone(),
        ..Service::default()
    });
    for (member, name) in scale_out.scraper_services().into_iter().enumerate() {
        let data = format!("{name}-data");
        volumes.push(data.clone());
        let mut mounts = vec![
            "./prometheus:/etc/prometheus:ro".to_string(),
            format!("{data}:/vmagent-data"),
        ];
        if let Some(file) = &plan.credentials_file {
            mounts.push(format!("./{file}:/etc/prometheus/{file}:ro"));
        }
        services.push(Service {
            name,
            image: storage
                .and_then(|s| s.vmagent_image.clone())
                .unwrap_or_else(|| StackImage::Vmagent.default_image().into()),
            command: Some(vec![
                "-promscrape.config=/etc/prometheus/scrape.yml".into(),
                format!("-remoteWrite.url={store}/api/v1/write"),
                "-remoteWrite.tmpDataPath=/vmagent-data".into(),
                format!("-promscrape.cluster.membersCount={}", scale_out.scrapers),
                format!("-promscrape.cluster.memberNum={member}"),
                format!("-promscrape.cluster.replicationFactor={}", scale_out.replication),
            ]),
            volumes: mounts,
            depends_on: apps.iter().cloned().chain(["victoriametrics".to_string()]).collect(),
            profiles: profiles.clone(),
            ..Service::default()
        });
    }
    let mut command = vec![
        "-rule=/etc/prometheus/rules/*.yml".to_string(),
        format!("-datasource.url={store}"),
        format!("-remoteWrite.url={store}"),
        format!("-remoteRead.url={store}"),
        format!(
            "-evaluationInterval={}",
            stack
                .prometheus
                .evaluation_interval
                .unwrap_or(stack.prometheus.scrape_interval)
        ),
        // What Prometheus' external labels give alerts in the single-server stack.
        format!("-external.label=service={}", spec.service.name),
        format!(
            "-external.label=environment={}",
            command_value(&spec.service.environment)
        ),
    ];
    if plan.alertmanager {
        command.push(format!("-notifier.url=http://{ALERTMANAGER_HOST}"));
    }
    services.push(Service {
        name: "vmalert".into(),
        image: storage
            .and_then(|s| s.vmalert_image.clone())
            .unwrap_or_else(|| StackImage::Vmalert.default_image().into()),
        command: Some(command),
        ports: port("vmalert"),
        volumes: vec!["./prometheus:/etc/prometheus:ro".into()],
        depends_on: std::iter::once("victoriametrics".to_string())
            .chain(plan.alertmanager.then(|| "alertmanager".to_string()))
            .collect(),
        profiles,
        ..Service::default()
    });
    services
}

fn stack_services(spec: &Spec, plan: &StackPlan, apps: &[String], volumes: &mut Vec<String>) -> Vec<Service> {
    let secrets = &plan.secrets;
    let stack = &spec.stack;
    let profiles: Vec<String> = stack.profile.iter().cloned().collect();
    let port = |name: &str| plan.port_mapping(name).into_iter().collect::<Vec<String>>();
    let mut services = Vec::new();
    let alertmanager = plan.alertmanager;
    match &plan.scale_out {
        None => services.push(prometheus_service(spec, plan, apps, volumes)),
        Some(scale_out) => services.extend(scale_out_services(spec, plan, scale_out, apps, volumes)),
    }
    if alertmanager {
        volumes.push("alertmanager-data".into());
        services.push(Service {
            name: "alertmanager".into(),
            image: stack
                .alertmanager
                .image
                .clone()
                .unwrap_or_else(|| StackImage::Alertmanager.default_image().into()),
            command: Some(vec![
                "--config.file=/etc/alertmanager/alertmanager.yml".into(),
                "--storage.path=/alertmanager".into(),
            ]),
            ports: port("alertmanager"),
            // The whole directory rather than one compose secret per file: a missing file
            // fails `up`, while a missing key only fails that receiver's notifications
            // (Alertmanager reads `*_file` when it sends), which its log then names.
            volumes: ["./alertmanager:/etc/alertmanager:ro", "alertmanager-data:/alertmanager"]
                .into_iter()
                .map(String::from)
                .chain((!secrets.is_empty()).then(|| format!("./{SECRETS_DIR}:/run/secrets:ro")))
                .collect(),
            profiles: profiles.clone(),
            ..Service::default()
        });
    }
    if plan.host_port("grafana").is_some() {
        volumes.push("grafana-data".into());
        let mut environment = BTreeMap::new();
        environment.insert("GF_SECURITY_ADMIN_USER".to_string(), stack.grafana.admin_user.clone());
        // Unset, Grafana keeps its own first-login default and forces a new password at the
        // first sign-in: compose starts with an empty environment and nothing is committed.
        let password = match stack.grafana.admin_password.env_var() {
            Some(var) => format!("${{{var}:-{GRAFANA_FIRST_LOGIN_PASSWORD}}}"),
            None => String::new(),
        };
        environment.insert("GF_SECURITY_ADMIN_PASSWORD".into(), password);
        environment.insert("GF_USERS_ALLOW_SIGN_UP".into(), "false".into());
        environment.insert("GF_AUTH_ANONYMOUS_ENABLED".into(), "false".into());
        services.push(Service {
            name: "grafana".into(),
            image: stack
                .grafana
                .image
                .clone()
                .unwrap_or_else(|| StackImage::Grafana.default_image().into()),
            environment,
            ports: port("grafana"),
            volumes: vec![
                "./grafana/provisioning:/etc/grafana/provisioning:ro".into(),
                format!("./grafana/dashboards:{}:ro", DASHBOARDS_DIR),
                "grafana-data:/var/lib/grafana".into(),
            ],
            depends_on: vec![plan.query_service().into()],
            profiles: profiles.clone(),
            ..Service::default()
        });
    }
    if plan.loki {
        let loki = stack.loki.clone().unwrap_or_default();
        volumes.push("loki-data".into());
        services.push(Service {
            name: "loki".into(),
            image: loki.image.unwrap_or_else(|| StackImage::Loki.default_image().into()),
            command: Some(vec!["-config.file=/etc/loki/local-config.yaml".into()]),
            ports: port("loki"),
            volumes: vec!["loki-data:/loki".into()],
            profiles: profiles.clone(),
            ..Service::default()
        });
    }
    if plan.host_port("pushgateway").is_some() {
        let pushgateway = stack.pushgateway.clone().unwrap_or_default();
        services.push(Service {
            name: "pushgateway".into(),
            image: pushgateway
                .image
                .unwrap_or_else(|| StackImage::Pushgateway.default_image().into()),
            ports: port("pushgateway"),
            profiles: profiles.clone(),
            ..Service::default()
        });
    }
    if let Some(jaeger) = stack.jaeger.as_ref().filter(|_| plan.host_port("jaeger").is_some()) {
        // Jaeger v2 receives OTLP out of the box (v1's all-in-one needed COLLECTOR_OTLP_ENABLED).
        services.push(Service {
            name: "jaeger".into(),
            image: jaeger
                .image
                .clone()
                .unwrap_or_else(|| StackImage::Jaeger.default_image().into()),
            ports: port("jaeger").into_iter().chain(["4317:4317".into()]).collect(),
            profiles: profiles.clone(),
            ..Service::default()
        });
    }
    if let Some(es) = stack
        .elasticsearch
        .as_ref()
        .filter(|_| plan.host_port("elasticsearch").is_some())
    {
        volumes.push("elasticsearch-data".into());
        let mut environment = BTreeMap::new();
        environment.insert("discovery.type".to_string(), "single-node".to_string());
        environment.insert("ES_JAVA_OPTS".to_string(), "-Xms512m -Xmx512m".to_string());
        let shipping = spec.logging.elasticsearch.as_ref();
        let auth = shipping.is_some_and(|e| e.auth);
        environment.insert("xpack.security.enabled".to_string(), auth.to_string());
        if let Some(var) = shipping
            .filter(|_| auth)
            .and_then(|e| e.password.as_ref())
            .and_then(|p| p.env_var())
        {
            environment.insert(
                "ELASTIC_PASSWORD".into(),
                format!("${{{var}:?set {var}: logging.elasticsearch.auth is on}}"),
            );
        }
        services.push(Service {
            name: "elasticsearch".into(),
            image: es
                .image
                .clone()
                .unwrap_or_else(|| StackImage::Elasticsearch.default_image().into()),
            environment,
            ports: port("elasticsearch"),
            volumes: vec!["elasticsearch-data:/usr/share/elasticsearch/data".into()],
            profiles,
            ..Service::default()
        });
    }
    services
}

/// What a first `up` needs to know, for the header: every credential and secret file the
/// stack reads and what happens while it is not there.
fn first_start_notes(spec: &Spec, plan: &StackPlan) -> Vec<String> {
    let mut notes = Vec::new();
    if plan.host_port("grafana").is_some() {
        let user = &spec.stack.grafana.admin_user;
        notes.push(match spec.stack.grafana.admin_password.env_var() {
            Some(var) => format!(
                "Grafana: sign in as {user} with ${var}; while it is unset the password is `{GRAFANA_FIRST_LOGIN_PASSWORD}` and Grafana asks for a new one at the first sign-in."
            ),
            None => format!("Grafana: sign in as {user}."),
        });
    }
    if !plan.secrets.is_empty() {
        let files: Vec<String> = plan.secrets.iter().map(|s| s.file.clone()).collect();
        notes.push(format!(
            "Alert receivers read their keys from {}: until a file is written, only that receiver's notifications fail (Alertmanager's log names it).",
            files.join(", ")
        ));
    }
    for secret in plan.dependency_secrets() {
        notes.push(format!(
            "Write {} before the first start: compose mounts it as a secret.",
            secret.file
        ));
    }
    if let Some(es) = spec
        .logging
        .elasticsearch
        .as_ref()
        .filter(|_| plan.host_port("elasticsearch").is_some())
    {
        notes.push(if es.auth {
            "Elasticsearch requires authentication (logging.elasticsearch.auth): set its password variable first."
                .into()
        } else {
            "Elasticsearch runs as a local single node without authentication (logging.elasticsearch.auth is off)."
                .into()
        });
    }
    notes
}

pub fn render(env: &Environment<'_>, plan: &Plan<'_>, tree: &mut Tree) -> Rendered {
    let loaded = plan.loaded;
    let spec = &loaded.spec;
    let mut services = app_services(spec, plan.resolved);
    let apps: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    let secrets = plan.resolved.stack.dependency_secrets();
    let mut volumes = Vec::new();
    services.extend(dependency_services(&plan.resolved.stack, &mut volumes));
    services.extend(stack_services(spec, &plan.resolved.stack, &apps, &mut volumes));
    let view = ComposeView {
        header: header(loaded),
        notes: first_start_notes(spec, &plan.resolved.stack),
        profile: spec.stack.profile.clone(),
        services,
        volumes,
        secrets,
    };
    render_into(env, tree, PATH, "compose/docker-compose.yml.j2", &view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_written_in_one_unit_victoriametrics_reads() {
        assert_eq!(retention_period(contract::Duration::from_secs(15 * 86_400)), "15d");
        assert_eq!(retention_period(contract::Duration::from_secs(90 * 60)), "2h");
    }

    #[test]
    fn defaults_naming_this_host_point_at_the_stack_service() {
        let moved = |text: &str| match in_stack(&EnvString::parse(text).unwrap(), "jaeger") {
            EnvString::Env { default, .. } => default,
            EnvString::Literal(text) => Some(text),
        };
        assert_eq!(moved("${E:-localhost:4317}").as_deref(), Some("jaeger:4317"));
        assert_eq!(
            moved("${E:-http://127.0.0.1:4317/v1}").as_deref(),
            Some("http://jaeger:4317/v1")
        );
        assert_eq!(
            moved("${E:-http://collector:4317}").as_deref(),
            Some("http://collector:4317")
        );
        assert_eq!(
            moved("${E:-http://localhostess:1}").as_deref(),
            Some("http://localhostess:1")
        );
        assert_eq!(moved("${E}"), None);
    }

    #[test]
    fn dependency_values_pass_references_through_and_escape_literal_dollars() {
        let value = |text: &str| compose_value(&EnvString::parse(text).unwrap());
        assert_eq!(value("${PGDATA}"), "${PGDATA}");
        assert_eq!(value("${POSTGRES_DB:-orders}"), "${POSTGRES_DB:-orders}");
        assert_eq!(value("pa$h"), "pa$$h");
    }
}
