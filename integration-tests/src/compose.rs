//! A generated docker-compose stack brought up by a test with `docker-compose`, as a user
//! would, from a copy of a `generated/` directory changed for this machine only: the public
//! images of the monitoring servers and of the dependencies (PostgreSQL, Redis) become local
//! builds (no registry here), host ports become free loopback ports, secret files get dummy
//! values, the alert receivers all post to a sink container and the sink also stands in for
//! Loki and Elasticsearch (neither Slack, PagerDuty, Loki nor Elasticsearch can run here),
//! and timings shrink (healthcheck
//! interval, scrape and rule evaluation every second, `for` of named alerts). App images,
//! commands, healthcheck commands, environment, rules and routes stay as generated. Torn
//! down on drop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::{alertmanager_image, copy_dir, eventually, free_port, prometheus_image, write_yaml, yaml};

/// The sink's image (`integration-tests/src/bin/sink.rs`).
pub fn sink_image() -> String {
    std::env::var("OBS_SINK_IMAGE").unwrap_or_else(|_| "obs-sink:local".into())
}
/// The service that receives Alertmanager's notifications, and its port.
const ALERT_SINK_SERVICE: &str = "alert-sink";
const ALERT_SINK_PORT: u16 = 9099;
/// Loki's service name in generated compose files, and its push port.
const LOKI_SERVICE: &str = "loki";
const LOKI_PORT: u16 = 3100;
/// Elasticsearch's service name in generated compose files, and its HTTP port.
pub const ELASTICSEARCH_SERVICE: &str = "elasticsearch";
const ELASTICSEARCH_PORT: u16 = 9200;

/// The local build standing in for a public image the generated files name, if any.
fn local_image(image: &str) -> Option<String> {
    let name = image.split(':').next().unwrap_or(image);
    match name {
        "prom/prometheus" => Some(prometheus_image()),
        "prom/alertmanager" => Some(alertmanager_image()),
        "prom/pushgateway" => {
            Some(std::env::var("OBS_PUSHGATEWAY_IMAGE").unwrap_or_else(|_| "obs-pushgateway:local".into()))
        }
        "victoriametrics/victoria-metrics" => {
            Some(std::env::var("OBS_VICTORIAMETRICS_IMAGE").unwrap_or_else(|_| "obs-victoria-metrics:local".into()))
        }
        "victoriametrics/vmagent" => {
            Some(std::env::var("OBS_VMAGENT_IMAGE").unwrap_or_else(|_| "obs-vmagent:local".into()))
        }
        "victoriametrics/vmalert" => {
            Some(std::env::var("OBS_VMALERT_IMAGE").unwrap_or_else(|_| "obs-vmalert:local".into()))
        }
        "postgres" => Some(std::env::var("OBS_POSTGRES_IMAGE").unwrap_or_else(|_| "obs-postgres:local".into())),
        "redis" => Some(std::env::var("OBS_REDIS_IMAGE").unwrap_or_else(|_| "obs-redis:local".into())),
        _ => None,
    }
}

/// A sink service answering on `port`, published on `host`.
fn sink_service(port: u16, host: u16) -> serde_yaml::Value {
    serde_yaml::from_str(&format!(
        "{{image: '{}', environment: {{SINK_PORT: '{port}'}}, ports: ['127.0.0.1:{host}:{port}'], restart: unless-stopped}}",
        sink_image()
    ))
    .unwrap()
}

/// Test-only changes to the copy.
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    /// Alerts whose `for` becomes the given duration.
    pub fast_alerts: Vec<(String, String)>,
    /// Environment for `docker-compose` (what a user would export before `up`).
    pub env: Vec<(String, String)>,
    /// Extra container environment: (service, variable, value).
    pub service_env: Vec<(String, String, String)>,
    /// Memory limits (compose `mem_limit`, e.g. `512m`) by service.
    pub memory_limits: Vec<(String, String)>,
    /// Keep Alertmanager's receivers as generated (Slack, PagerDuty…, reading keys from
    /// files nobody wrote) instead of sending everything to the sink.
    pub keep_receivers: bool,
}

/// An example service: its spec, resolved, and the directory `generated/` it renders to.
pub struct Example {
    pub spec: contract::Spec,
    pub resolved: contract::Resolved,
    pub generated: PathBuf,
}

impl Example {
    /// `examples/<name>`, validated as the generator would.
    pub fn load(name: &str) -> Example {
        let dir = crate::workspace().join("examples").join(name);
        let loaded = contract::load_file(&dir.join("obs.yaml")).unwrap_or_else(|e| panic!("{name}: {e}"));
        let contract::Analysis { resolved, report } = contract::analyse(&loaded);
        assert!(!report.has_errors(), "{name}/obs.yaml is invalid:\n{report}");
        Example {
            spec: loaded.spec,
            resolved,
            generated: dir.join("generated"),
        }
    }

    /// Prepares the example's stack and brings up `services` with the spec's profile.
    pub fn up(&self, tuning: Tuning, services: &[&str]) -> Stack {
        let stack = Stack::prepare(&self.generated, tuning);
        stack.up(self.spec.stack.profile.as_deref(), services);
        stack
    }
}

/// A compose project started from a copy of a generated directory.
pub struct Stack {
    pub name: String,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    /// (service, container port) → host port on 127.0.0.1.
    ports: BTreeMap<(String, u16), u16>,
    compose: serde_yaml::Value,
}

fn container_port(mapping: &str) -> u16 {
    let port = mapping.rsplit(':').next().unwrap_or(mapping);
    port.split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("port mapping {mapping}"))
}

impl Stack {
    /// Copies `generated` and rewrites the copy for this machine (see the module doc).
    pub fn prepare(generated: &Path, tuning: Tuning) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(generated, dir.path());
        let compose_path = dir.path().join("docker-compose.yml");
        let mut compose = yaml(&compose_path);
        let mut ports = BTreeMap::new();
        let has_alertmanager = compose["services"].get("alertmanager").is_some();
        for (name, service) in compose["services"].as_mapping_mut().unwrap() {
            let name = name.as_str().unwrap().to_string();
            let image = service["image"].as_str().unwrap_or_default().to_string();
            if let Some(local) = local_image(&image) {
                service["image"] = local.into();
            }
            // `get_mut`: indexing a missing key would insert `ports: null`, which compose refuses.
            let published = service.get_mut("ports").and_then(|p| p.as_sequence_mut());
            for port in published.into_iter().flatten() {
                let inside = container_port(port.as_str().unwrap());
                let host = free_port();
                ports.insert((name.clone(), inside), host);
                *port = format!("127.0.0.1:{host}:{inside}").into();
            }
            if let Some(check) = service.get_mut("healthcheck") {
                check["interval"] = "2s".into();
                check["start_period"] = "1s".into();
            }
            // The scale-out stack's timings live in flags: evaluate, and keep one sample per
            // series, every second, as the scrapes now come.
            for argument in service
                .get_mut("command")
                .and_then(|c| c.as_sequence_mut())
                .into_iter()
                .flatten()
            {
                let text = argument.as_str().unwrap_or_default();
                let flag = ["-evaluationInterval=", "-dedup.minScrapeInterval="]
                    .into_iter()
                    .find(|flag| text.starts_with(flag));
                if let Some(flag) = flag {
                    *argument = format!("{flag}1s").into();
                }
            }
            // VictoriaMetrics answers a query for "now" as of 30 s ago by default (samples
            // may still be arriving), so vmalert would see the test's traffic that late.
            if image.starts_with("victoriametrics/victoria-metrics") {
                if let Some(command) = service.get_mut("command").and_then(|c| c.as_sequence_mut()) {
                    command.push("-search.latencyOffset=1s".into());
                }
            }
        }
        for (service, variable, value) in &tuning.service_env {
            let service = &mut compose["services"][service.as_str()];
            assert!(!service.is_null(), "no service {service:?} to set {variable} on");
            service["environment"][variable.as_str()] = value.as_str().into();
        }
        for (service, limit) in &tuning.memory_limits {
            let service = &mut compose["services"][service.as_str()];
            assert!(!service.is_null(), "no service to limit to {limit}");
            service["mem_limit"] = limit.as_str().into();
        }
        if has_alertmanager {
            let host = free_port();
            ports.insert((ALERT_SINK_SERVICE.into(), ALERT_SINK_PORT), host);
            compose["services"][ALERT_SINK_SERVICE] = sink_service(ALERT_SINK_PORT, host);
            if !tuning.keep_receivers {
                redirect_receivers(&dir.path().join("alertmanager/alertmanager.yml"));
            }
        }
        for (stand_in, port) in [(LOKI_SERVICE, LOKI_PORT), (ELASTICSEARCH_SERVICE, ELASTICSEARCH_PORT)] {
            if let Some(service) = compose["services"].get_mut(stand_in) {
                let profiles = service.get("profiles").cloned();
                *service = sink_service(port, ports[&(stand_in.to_string(), port)]);
                if let Some(profiles) = profiles {
                    service["profiles"] = profiles;
                }
            }
        }
        // Every secret file the compose file names, with a dummy value.
        for (_, secret) in compose["secrets"].as_mapping().into_iter().flatten() {
            if let Some(file) = secret["file"].as_str() {
                let file = dir.path().join(file);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(file, "e2e-only").unwrap();
            }
        }
        write_yaml(&compose_path, &compose);
        speed_up_prometheus(&dir.path().join("prometheus"), &tuning.fast_alerts);
        Stack {
            name: format!("obs-e2e-{}-{}", std::process::id(), free_port()),
            dir,
            env: tuning.env,
            ports,
            compose,
        }
    }

    /// The directory holding the rewritten copy.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The environment `docker-compose` runs with: only what finds docker, plus the stack's
    /// own variables, so a variable the stack needs cannot come from the test's shell.
    fn compose_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = ["PATH", "HOME", "DOCKER_HOST"]
            .into_iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect();
        env.extend(self.env.iter().cloned());
        env
    }

    /// Runs `docker-compose` on the copy with the stack's environment.
    pub fn compose(&self, args: &[&str]) -> Output {
        Command::new("docker-compose")
            .args(["-p", &self.name, "-f", "docker-compose.yml"])
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .envs(self.compose_env())
            .output()
            .expect("docker-compose runs (scripts/test.sh installs it)")
    }

    /// The services of the compose file whose image this machine has (the app images, the
    /// local stand-ins); Grafana, Jaeger and Elasticsearch have none here.
    pub fn runnable_services(&self) -> Vec<String> {
        let mut runnable = Vec::new();
        for (name, service) in self.compose["services"].as_mapping().into_iter().flatten() {
            let image = service["image"].as_str().unwrap_or_default();
            let present = Command::new("docker")
                .args(["image", "inspect", image])
                .output()
                .is_ok_and(|o| o.status.success());
            if present {
                runnable.push(name.as_str().unwrap().to_string());
            }
        }
        runnable
    }

    /// The services that have a healthcheck.
    pub fn checked_services(&self) -> Vec<String> {
        self.compose["services"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter(|(_, s)| s.get("healthcheck").is_some())
            .map(|(name, _)| name.as_str().unwrap().to_string())
            .collect()
    }

    /// `up -d` of the named services (with the compose profile, if any), plus the alert
    /// sink when the stack has Alertmanager. Panics with compose's own words on failure.
    pub fn up(&self, profile: Option<&str>, services: &[&str]) {
        let mut args: Vec<&str> = Vec::new();
        if let Some(profile) = profile {
            args.extend(["--profile", profile]);
        }
        args.extend(["up", "-d"]);
        args.extend(services);
        if self.ports.keys().any(|(service, _)| service == ALERT_SINK_SERVICE) {
            args.push(ALERT_SINK_SERVICE);
        }
        for stand_in in [LOKI_SERVICE, ELASTICSEARCH_SERVICE] {
            if self.ports.keys().any(|(service, _)| service == stand_in) && !args.contains(&stand_in) {
                args.push(stand_in);
            }
        }
        let output = self.compose(&args);
        assert!(
            output.status.success(),
            "docker-compose {} failed:\n{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr),
            self.logs(None)
        );
    }

    /// The services of the compose file that run the given image name (before the tag).
    pub fn services_of_image(&self, image: &str) -> Vec<String> {
        self.compose["services"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter(|(_, s)| s["image"].as_str().is_some_and(|i| i.split(':').next() == Some(image)))
            .map(|(name, _)| name.as_str().unwrap().to_string())
            .collect()
    }

    /// The host port (on 127.0.0.1) of a service's container port.
    pub fn port(&self, service: &str, container_port: u16) -> u16 {
        *self
            .ports
            .get(&(service.to_string(), container_port))
            .unwrap_or_else(|| panic!("{service} publishes no port {container_port}: {:?}", self.ports))
    }

    /// `http://127.0.0.1:<host port>/<path>` of `container_port` on each of `services`.
    pub fn urls(&self, services: &[&str], container_port: u16, path: &str) -> Vec<String> {
        services
            .iter()
            .map(|service| format!("http://127.0.0.1:{}{path}", self.port(service, container_port)))
            .collect()
    }

    /// The last lines of the logs of one service, or of all.
    pub fn logs(&self, service: Option<&str>) -> String {
        let mut args = vec!["logs", "--no-color", "--tail", "40"];
        args.extend(service);
        let output = self.compose(&args);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Everything one service wrote to stdout, each line without compose's prefix.
    pub fn output_lines(&self, service: &str) -> Vec<String> {
        let id = self.container(service);
        let output = Command::new("docker")
            .args(["logs", &id])
            .output()
            .expect("docker runs");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(String::from)
            .collect()
    }

    /// The container id of a service.
    pub fn container(&self, service: &str) -> String {
        String::from_utf8_lossy(&self.compose(&["ps", "-q", service]).stdout)
            .trim()
            .to_string()
    }

    /// Waits until the generated healthcheck reports the service healthy.
    pub async fn wait_healthy(&self, service: &str, within: Duration) {
        let id = self.container(service);
        assert!(!id.is_empty(), "{service} has no container:\n{}", self.logs(None));
        let healthy = eventually(within, &format!("{service} healthy"), || {
            let id = id.clone();
            async move {
                let output = Command::new("docker")
                    .args(["inspect", "-f", "{{.State.Health.Status}}", &id])
                    .output()
                    .map_err(|e| e.to_string())?;
                let status = String::from_utf8_lossy(&output.stdout).trim().to_string();
                if status == "unhealthy" {
                    return Err(format!("{service} is unhealthy"));
                }
                Ok((status == "healthy").then_some(()))
            }
        })
        .await;
        if let Err(error) = healthy {
            panic!("{error}\n{}", self.logs(Some(service)));
        }
    }

    /// Waits until each of `healthy` is healthy and the stack's Prometheus (on container
    /// port 9090) scrapes `targets` targets, all up; returns that Prometheus.
    pub async fn wait_ready(&self, healthy: &[&str], targets: usize) -> crate::Prometheus {
        for service in healthy {
            self.wait_healthy(service, Duration::from_secs(90)).await;
        }
        let prometheus = crate::Prometheus::new(self.port("prometheus", 9090));
        if let Err(error) = prometheus.wait_targets_up(targets, Duration::from_secs(30)).await {
            panic!("{error}\n{}", self.logs(None));
        }
        prometheus
    }

    /// Stops a service as `docker stop` does: SIGTERM, then SIGKILL after `grace`. Async, so
    /// a test can watch the service while it shuts down.
    pub async fn stop(&self, service: &str, grace: Duration) {
        let seconds = grace.as_secs().max(1).to_string();
        self.compose_async(&["stop", "-t", &seconds, service]).await;
    }

    /// `docker-compose start` of a service stopped before.
    pub async fn start(&self, service: &str) {
        self.compose_async(&["start", service]).await;
    }

    /// `docker-compose` with `args` off the async threads; panics with its words on failure.
    async fn compose_async(&self, args: &[&str]) {
        let output = tokio::process::Command::new("docker-compose")
            .args(["-p", &self.name, "-f", "docker-compose.yml"])
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .envs(self.compose_env())
            .output()
            .await
            .expect("docker-compose runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }

    /// A service's exit code once it has stopped.
    pub fn exit_code(&self, service: &str) -> Option<i64> {
        let output = Command::new("docker")
            .args(["inspect", "-f", "{{.State.ExitCode}}", &self.container(service)])
            .output()
            .ok()?;
        String::from_utf8_lossy(&output.stdout).trim().parse().ok()
    }

    /// Every JSON body a sink service received at `path`, in arrival order.
    pub async fn received(&self, service: &str, port: u16, path: &str) -> Result<Vec<Value>, String> {
        let url = format!("http://127.0.0.1:{}/received?path={path}", self.port(service, port));
        let response = runtime::http_client::get(&url, Duration::from_secs(5)).await?;
        let all: Vec<Value> = serde_json::from_slice(&response.body).map_err(|e| format!("{url}: {e}"))?;
        Ok(all
            .into_iter()
            .filter(|r| r["path"] == path)
            .map(|mut r| r["body"].take())
            .collect())
    }

    /// Every notification Alertmanager delivered, in arrival order.
    pub async fn notifications(&self) -> Result<Vec<Value>, String> {
        self.received(ALERT_SINK_SERVICE, ALERT_SINK_PORT, "/alerts").await
    }

    /// The first notification Alertmanager delivered with `alertname` firing, waiting up to
    /// `within`; panics with the logs of `service` when none arrives.
    pub async fn delivered(&self, alertname: &str, within: Duration, service: Option<&str>) -> Value {
        let delivered = eventually(within, &format!("{alertname} delivered"), || async {
            let notifications = self.notifications().await?;
            Ok(notifications.into_iter().find(|n| {
                n["alerts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|a| a["labels"]["alertname"] == alertname && a["status"] == "firing")
            }))
        })
        .await;
        delivered.unwrap_or_else(|e| panic!("{e}\n{}", self.logs(service)))
    }

    /// Every push the app made to Loki's push API, in arrival order.
    pub async fn loki_pushes(&self) -> Result<Vec<Value>, String> {
        self.received(LOKI_SERVICE, LOKI_PORT, "/loki/api/v1/push").await
    }

    /// Every document the app sent to Elasticsearch's `_bulk`, as `{"index", "document"}`,
    /// in arrival order.
    pub async fn elasticsearch_documents(&self) -> Result<Vec<Value>, String> {
        self.received(ELASTICSEARCH_SERVICE, ELASTICSEARCH_PORT, "/_bulk").await
    }

    /// The JSON bodies the app PUT to Elasticsearch at `path` (`/_ilm/policy/<name>`).
    pub async fn elasticsearch_puts(&self, path: &str) -> Result<Vec<Value>, String> {
        self.received(ELASTICSEARCH_SERVICE, ELASTICSEARCH_PORT, path).await
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--remove-orphans", "--timeout", "5"]);
    }
}

/// Every receiver keeps its name (so routing is what is tested) and posts to the sink.
fn redirect_receivers(path: &Path) {
    let mut config = yaml(path);
    config["route"]["group_wait"] = "1s".into();
    config["route"]["group_interval"] = "1s".into();
    let url = format!("http://{ALERT_SINK_SERVICE}:{ALERT_SINK_PORT}/alerts");
    for receiver in config["receivers"].as_sequence_mut().into_iter().flatten() {
        let name = receiver["name"].clone();
        let hook: serde_yaml::Value =
            serde_yaml::from_str(&format!("[{{url: '{url}', send_resolved: true}}]")).unwrap();
        let mut only_hook = serde_yaml::Mapping::new();
        only_hook.insert("name".into(), name);
        only_hook.insert("webhook_configs".into(), hook);
        *receiver = only_hook.into();
    }
    write_yaml(path, &config);
}

/// 1s scrape and evaluation; the named alerts' `for` shortened.
fn speed_up_prometheus(dir: &Path, fast_alerts: &[(String, String)]) {
    // prometheus.yml, and the scrape-only copy the scale-out stack's vmagent members read.
    for (file, evaluates) in [("prometheus.yml", true), ("scrape.yml", false)] {
        let config_path = dir.join(file);
        if !config_path.is_file() {
            continue;
        }
        let mut config = yaml(&config_path);
        config["global"]["scrape_interval"] = "1s".into();
        if evaluates {
            config["global"]["evaluation_interval"] = "1s".into();
        }
        for job in config["scrape_configs"].as_sequence_mut().into_iter().flatten() {
            if let Some(mapping) = job.as_mapping_mut() {
                mapping.remove("scrape_interval");
                mapping.remove("scrape_timeout");
            }
        }
        write_yaml(&config_path, &config);
    }
    let Ok(entries) = std::fs::read_dir(dir.join("rules")) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let mut rules = yaml(&path);
        for group in rules["groups"].as_sequence_mut().into_iter().flatten() {
            if let Some(mapping) = group.as_mapping_mut() {
                mapping.remove("interval");
            }
            for rule in group["rules"].as_sequence_mut().into_iter().flatten() {
                let name = rule["alert"].as_str().unwrap_or_default().to_string();
                if let Some((_, duration)) = fast_alerts.iter().find(|(alert, _)| *alert == name) {
                    rule["for"] = duration.as_str().into();
                }
            }
        }
        write_yaml(&path, &rules);
    }
}
