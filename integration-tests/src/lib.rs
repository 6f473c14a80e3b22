//! Helpers for the end-to-end tests: the images to run (local builds by default, any
//! others from the environment), free loopback ports, test-only overrides of the generated
//! configuration (shorter intervals, loopback targets, a test webhook — applied to copies,
//! never to generated files), a Prometheus API client, and a webhook receiver.
//!
//! Containers started with testcontainers use host networking and listen on 127.0.0.1 only;
//! compose stacks (`compose`) run on their own bridge network and publish their ports on
//! 127.0.0.1. `expect` holds what every end-to-end test checks against the spec.

pub mod alert_history;
pub mod browser;
pub mod compose;
pub mod expect;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use testcontainers::core::{Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// Image names, overridable so the tests can run against the official images.
pub fn demo_image() -> String {
    std::env::var("OBS_DEMO_IMAGE").unwrap_or_else(|_| "obs-demo:latest".into())
}

/// Prometheus 3.5 LTS (Debian sid's build), what generated stacks target by default.
pub fn prometheus_image() -> String {
    PrometheusBuild::Lts3.image()
}

/// A Prometheus the end-to-end tests run on: the current LTS, which generated stacks target
/// by default, and Debian bookworm's 2.42, the 2.x a spec may still target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrometheusBuild {
    Lts3,
    Debian2,
}

impl PrometheusBuild {
    pub fn image(self) -> String {
        match self {
            Self::Lts3 => std::env::var("OBS_PROMETHEUS_IMAGE").unwrap_or_else(|_| "obs-prometheus3:local".into()),
            Self::Debian2 => std::env::var("OBS_PROMETHEUS2_IMAGE").unwrap_or_else(|_| "obs-prometheus:local".into()),
        }
    }

    /// The release line this build is.
    pub fn version(self) -> contract::prometheus_version::PrometheusVersion {
        match self {
            Self::Lts3 => contract::prometheus_version::PrometheusVersion::new(3, 5),
            Self::Debian2 => contract::prometheus_version::PrometheusVersion::new(2, 42),
        }
    }

    /// The feature flags the generated compose command gives this release for a stack
    /// without native histograms (on 2.x, expanding `${VAR}` in external labels).
    pub fn feature_flags(self) -> Vec<String> {
        generator::targets::compose::prometheus_feature_flags(self.version(), false)
    }
}

pub fn alertmanager_image() -> String {
    std::env::var("OBS_ALERTMANAGER_IMAGE").unwrap_or_else(|_| "obs-alertmanager:local".into())
}

fn generic(image: &str) -> GenericImage {
    let (name, tag) = image.rsplit_once(':').unwrap_or((image, "latest"));
    GenericImage::new(name, tag)
}

/// The repository root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A port nothing listens on right now.
/// Milliseconds since the Unix epoch, as Prometheus's API takes times.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A container's output, for failure messages.
pub async fn logs(container: &ContainerAsync<GenericImage>) -> String {
    let out = container.stdout_to_vec().await.unwrap_or_default();
    let err = container.stderr_to_vec().await.unwrap_or_default();
    let tail = |bytes: Vec<u8>| {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    format!("--- stdout ---\n{}\n--- stderr ---\n{}", tail(out), tail(err))
}

/// Starts one demo replica listening on 127.0.0.1:`port`.
pub async fn start_demo(port: u16, replica: &str) -> ContainerAsync<GenericImage> {
    generic(&demo_image())
        .with_wait_for(WaitFor::message_on_stdout("service started"))
        .with_network("host")
        .with_env_var("PORT", port.to_string())
        .with_env_var("OBS_REPLICA", replica)
        .with_env_var("APP_ENV", "e2e")
        .with_env_var("LOG_LEVEL", "info")
        .with_startup_timeout(Duration::from_secs(60))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{} did not start: {e}", demo_image()))
}

/// Starts Prometheus on 127.0.0.1:`port` with the configuration directory `config`.
pub async fn start_prometheus(config: &Path, port: u16) -> ContainerAsync<GenericImage> {
    start_prometheus_with(config, port, &[]).await
}

/// [`start_prometheus`] with more command-line flags (`--rules.alert.resend-delay=2s`).
pub async fn start_prometheus_with(config: &Path, port: u16, flags: &[&str]) -> ContainerAsync<GenericImage> {
    start_prometheus_on(PrometheusBuild::Lts3, config, port, flags).await
}

/// [`start_prometheus_with`] on the given Prometheus build.
pub async fn start_prometheus_on(
    build: PrometheusBuild,
    config: &Path,
    port: u16,
    flags: &[&str],
) -> ContainerAsync<GenericImage> {
    let image = build.image();
    let mut cmd = vec![
        "--config.file=/etc/prometheus/prometheus.yml".to_string(),
        "--storage.tsdb.path=/prometheus".to_string(),
        format!("--web.listen-address=127.0.0.1:{port}"),
    ];
    cmd.extend(build.feature_flags());
    cmd.extend(flags.iter().map(|flag| flag.to_string()));
    generic(&image)
        .with_wait_for(WaitFor::message_on_stderr("Server is ready to receive web requests."))
        .with_network("host")
        .with_env_var("APP_ENV", "e2e")
        .with_mount(Mount::bind_mount(config.display().to_string(), "/etc/prometheus"))
        .with_cmd(cmd)
        .with_startup_timeout(Duration::from_secs(60))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{image} did not start: {e}"))
}

/// Starts Alertmanager on 127.0.0.1:`port`, clustering off.
pub async fn start_alertmanager(config: &Path, port: u16) -> ContainerAsync<GenericImage> {
    generic(&alertmanager_image())
        .with_wait_for(WaitFor::message_on_stderr("Listening"))
        .with_network("host")
        .with_mount(Mount::bind_mount(config.display().to_string(), "/etc/alertmanager"))
        .with_cmd([
            "--config.file=/etc/alertmanager/alertmanager.yml".to_string(),
            "--storage.path=/alertmanager".to_string(),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--cluster.listen-address=".to_string(),
        ])
        .with_startup_timeout(Duration::from_secs(60))
        .start()
        .await
        .unwrap_or_else(|e| panic!("{} did not start: {e}", alertmanager_image()))
}

pub(crate) fn yaml(path: &Path) -> serde_yaml::Value {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub(crate) fn write_yaml(path: &Path, value: &serde_yaml::Value) {
    std::fs::write(path, serde_yaml::to_string(value).unwrap()).unwrap();
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of `generated/prometheus` for the test: 1s scrape and evaluation, each generated
/// target mapped to its loopback address, Alertmanager at `alertmanager`, and `for`
/// shortened on the alerts named in `fast_alerts`.
pub fn prometheus_config(
    generated: &Path,
    targets: &[(&str, String)],
    alertmanager: &str,
    fast_alerts: &[(&str, &str)],
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&generated.join("prometheus"), dir.path());
    let config_path = dir.path().join("prometheus.yml");
    let mut config = yaml(&config_path);
    config["global"]["scrape_interval"] = "1s".into();
    config["global"]["evaluation_interval"] = "1s".into();
    if let Some(jobs) = config["scrape_configs"].as_sequence_mut() {
        for job in jobs {
            for group in job["static_configs"].as_sequence_mut().into_iter().flatten() {
                for target in group["targets"].as_sequence_mut().into_iter().flatten() {
                    let host = target.as_str().unwrap().to_string();
                    let mapped = targets.iter().find(|(name, _)| *name == host).map(|(_, to)| to.clone());
                    *target = mapped
                        .unwrap_or_else(|| panic!("no loopback address for target {host}"))
                        .into();
                }
            }
        }
    }
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] =
        vec![serde_yaml::Value::from(alertmanager)].into();
    write_yaml(&config_path, &config);
    let alerts_path = dir.path().join("rules/alerts.yml");
    if alerts_path.exists() {
        let mut alerts = yaml(&alerts_path);
        for group in alerts["groups"].as_sequence_mut().into_iter().flatten() {
            for rule in group["rules"].as_sequence_mut().into_iter().flatten() {
                let name = rule["alert"].as_str().unwrap_or_default().to_string();
                if let Some((_, duration)) = fast_alerts.iter().find(|(alert, _)| *alert == name) {
                    rule["for"] = (*duration).into();
                }
            }
        }
        write_yaml(&alerts_path, &alerts);
    }
    dir
}

/// A copy of `generated/alertmanager` whose webhook receivers post to `webhook` and whose
/// routes notify after a second.
pub fn alertmanager_config(generated: &Path, webhook: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&generated.join("alertmanager"), dir.path());
    let path = dir.path().join("alertmanager.yml");
    let mut config = yaml(&path);
    config["route"]["group_wait"] = "1s".into();
    config["route"]["group_interval"] = "1s".into();
    for receiver in config["receivers"].as_sequence_mut().into_iter().flatten() {
        for hook in receiver["webhook_configs"].as_sequence_mut().into_iter().flatten() {
            hook["url"] = webhook.into();
        }
    }
    write_yaml(&path, &config);
    dir
}

/// Percent-encodes a query parameter value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prometheus' HTTP API on a port.
#[derive(Debug, Clone)]
pub struct Prometheus {
    pub base: String,
}

impl Prometheus {
    pub fn new(port: u16) -> Self {
        Self {
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// GETs an API path; returns `data` of a successful answer.
    pub async fn api(&self, path_and_query: &str) -> Result<Value, String> {
        let url = format!("{}{path_and_query}", self.base);
        let response = runtime::http_client::get(&url, Duration::from_secs(10)).await?;
        let body: Value =
            serde_json::from_slice(&response.body).map_err(|e| format!("{url}: {e}: {}", response.text()))?;
        if body["status"] != "success" {
            return Err(format!("{url}: {body}"));
        }
        Ok(body["data"].clone())
    }

    /// An instant query's result vector.
    pub async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.api(&format!("/api/v1/query?query={}", encode(expr))).await?;
        match data["resultType"].as_str() {
            Some("vector") | Some("matrix") => Ok(data["result"].as_array().cloned().unwrap_or_default()),
            Some("scalar") => Ok(vec![data["result"].clone()]),
            other => Err(format!("unexpected result type {other:?} for `{expr}`")),
        }
    }

    /// Waits until Prometheus has exactly `count` targets, all up.
    pub async fn wait_targets_up(&self, count: usize, within: Duration) -> Result<(), String> {
        eventually(within, &format!("{count} targets up"), || async {
            let targets = self.targets().await?;
            if targets.len() == count && targets.iter().all(|(_, health)| health == "up") {
                Ok(Some(()))
            } else {
                Err(format!("targets: {targets:?}"))
            }
        })
        .await
    }

    /// The alerts firing now with the given name, as `ALERTS` series.
    pub async fn firing(&self, alertname: &str) -> Result<Vec<Value>, String> {
        self.query(&format!(r#"ALERTS{{alertname="{alertname}", alertstate="firing"}}"#))
            .await
    }

    /// Scrape targets and their health.
    pub async fn targets(&self) -> Result<Vec<(String, String)>, String> {
        let data = self.api("/api/v1/targets").await?;
        Ok(data["activeTargets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                (
                    t["scrapeUrl"].as_str().unwrap_or_default().to_string(),
                    t["health"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect())
    }
}

/// A short WebSocket load from the load tester (20 sockets, 5 messages a second each, 3 s)
/// on `url`; panics unless some messages were answered.
pub async fn websocket_load(url: &str) -> obs_tools::loadtest::Summary {
    let load = obs_tools::loadtest::WsLoad {
        url: url.to_string(),
        sockets: 20,
        rate: 40.0,
        duration: Duration::from_secs(3),
        send_rate: 5.0,
    };
    let progress = std::sync::Arc::new(obs_tools::loadtest::Progress::default());
    let summary = obs_tools::loadtest::run_ws(&load, progress)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    assert!(summary.messages_acknowledged > 0, "{url}: {summary:?}");
    summary
}

/// A short HTTP load from the load tester (4 kept-alive connections for 2 s, as fast as
/// answers come) on `url`; panics unless some requests were answered 2xx.
pub async fn http_load(url: &str) -> obs_tools::loadtest::Summary {
    let load = obs_tools::loadtest::HttpLoad {
        url: url.to_string(),
        concurrency: 4,
        duration: Duration::from_secs(2),
        rps: None,
    };
    let progress = std::sync::Arc::new(obs_tools::loadtest::Progress::default());
    let summary = obs_tools::loadtest::run_http(&load, progress)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let answered: u64 = summary
        .status
        .iter()
        .filter(|(code, _)| code.starts_with('2'))
        .map(|(_, n)| n)
        .sum();
    assert!(answered > 0, "{url}: {summary:?}");
    summary
}

/// Opens a WebSocket and watches it: the task ends with the close code the server sent, or
/// `None` when the connection ended without a close frame.
pub async fn held_websocket(url: &str) -> tokio::task::JoinHandle<Option<u16>> {
    use futures_util::StreamExt;
    let (mut held, _) = tokio_tungstenite::connect_async(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    tokio::spawn(async move {
        while let Some(message) = held.next().await {
            if let Ok(tokio_tungstenite::tungstenite::Message::Close(frame)) = message {
                return frame.map(|f| u16::from(f.code));
            }
        }
        None
    })
}

/// Retries `check` every 250ms until it returns `Some`, for at most `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, String>>,
{
    let until = Instant::now() + within;
    loop {
        let last = match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => "not yet".to_string(),
            Err(error) => error,
        };
        if Instant::now() >= until {
            return Err(format!("{what} within {within:?} (last: {last})"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Receives Alertmanager's webhook posts on loopback.
pub struct Webhook {
    pub url: String,
    received: std::sync::Arc<tokio::sync::Mutex<Vec<Value>>>,
}

impl Webhook {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/alerts", listener.local_addr().unwrap());
        let received: std::sync::Arc<tokio::sync::Mutex<Vec<Value>>> = Default::default();
        let sink = received.clone();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut socket, _)) = listener.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let mut data = Vec::new();
                    let mut buf = [0u8; 8192];
                    let body = loop {
                        let Ok(n) = socket.read(&mut buf).await else { return };
                        if n == 0 {
                            return;
                        }
                        data.extend_from_slice(&buf[..n]);
                        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
                            continue;
                        };
                        let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if data.len() >= end + 4 + length {
                            break data[end + 4..end + 4 + length].to_vec();
                        }
                    };
                    if let Ok(value) = serde_json::from_slice(&body) {
                        sink.lock().await.push(value);
                    }
                    let _ = socket
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                });
            }
        });
        Self { url, received }
    }

    /// Every notification received so far.
    pub async fn notifications(&self) -> Vec<Value> {
        self.received.lock().await.clone()
    }
}

/// One WebSocket session opened with `X-Request-ID: request_id`: a text message, its reply
/// (or 5 s), then a close.
pub async fn websocket_request(url: &str, request_id: &str) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("x-request-id", request_id.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    socket
        .send(tokio_tungstenite::tungstenite::Message::text(r#"{"hello": "context"}"#))
        .await
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), socket.next()).await;
    let _ = socket.close(None).await;
    // The server logs the disconnect once it has seen the close.
    tokio::time::sleep(Duration::from_millis(500)).await;
}
