//! The terminal monitor: follows a service's JSON log lines (a file, like `tail -f`, stdin
//! such as `docker logs -f`, or the output of every container it watches) and prints error
//! entries as they arrive with their request id; every interval it probes liveness and
//! readiness of every instance (each replica of each component), shows its container's
//! health when it runs under Docker, scrapes the metrics and shows the series changing
//! fastest. It stops by itself after the duration.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contract::model::LogKeys;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncSeekExt};

/// Where log lines come from.
#[derive(Debug, Clone)]
pub enum LogSource {
    /// A file, followed from its current end.
    File(PathBuf),
    /// Standard input (e.g. `docker logs -f app | monitor --logs -`).
    Stdin,
    /// The output of every watched container (`--logs docker`).
    Docker,
}

/// One process to watch: a replica of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its compose service name (`app_blue`), or `service` for a `--url`.
    pub name: String,
    /// Base URL, e.g. `http://127.0.0.1:8000`.
    pub base_url: String,
    /// Base URL of the exposition when it has a port of its own (default: `base_url`).
    pub metrics_base_url: Option<String>,
    /// Whether it serves readiness (a component with `readiness: false` does not).
    pub readiness: bool,
    /// Its container, when it runs under Docker.
    pub container: Option<String>,
}

/// A monitor run.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    pub targets: Vec<Target>,
    pub metrics_path: String,
    pub liveness_path: String,
    pub readiness_path: String,
    pub logs: Option<LogSource>,
    pub interval: Duration,
    pub duration: Duration,
    pub top: usize,
    pub keys: LogKeys,
}

/// What a run saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonitorSummary {
    pub errors_seen: u64,
    pub snapshots: u64,
    /// Probes (and container health checks) that did not answer 200 / healthy.
    pub unhealthy_probes: u64,
}

impl MonitorSummary {
    /// Every probe of every instance answered 200 in every snapshot (the exit status).
    pub fn all_healthy(&self) -> bool {
        self.snapshots > 0 && self.unhealthy_probes == 0
    }
}

/// Output shared by the log follower and the snapshot loop.
pub type Output = Arc<Mutex<Box<dyn Write + Send>>>;

fn emit(out: &Output, text: &str) {
    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// The line to print for an error entry, or `None` for any other line.
pub fn error_line(line: &str, keys: &LogKeys) -> Option<String> {
    let entry: Value = serde_json::from_str(line.trim()).ok()?;
    let level = entry.get(&keys.level)?.as_str()?.to_ascii_lowercase();
    if !matches!(level.as_str(), "error" | "critical" | "fatal") {
        return None;
    }
    let text = |key: &str| {
        entry
            .get(key)
            .map(|v| v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))
    };
    let time = text(&keys.timestamp).unwrap_or_default();
    let message = text(&keys.message).unwrap_or_default();
    let mut printed = format!("{time} ERROR {message}");
    for field in ["request_id", "session_id", "job_id", "route", "status"] {
        if let Some(value) = text(field).filter(|v| !v.is_empty()) {
            printed.push_str(&format!(" {field}={value}"));
        }
    }
    Some(printed)
}

async fn follow_file(path: PathBuf, keys: LogKeys, out: Output, seen: Arc<Mutex<u64>>) {
    let Ok(mut file) = tokio::fs::File::open(&path).await else {
        emit(&out, &format!("monitor: cannot open {}", path.display()));
        return;
    };
    let mut position = file.seek(std::io::SeekFrom::End(0)).await.unwrap_or(0);
    let mut pending = String::new();
    loop {
        let length = tokio::fs::metadata(&path).await.map(|m| m.len()).unwrap_or(position);
        if length < position {
            // Truncated or rotated: start over from the beginning.
            position = 0;
            let _ = file.seek(std::io::SeekFrom::Start(0)).await;
        }
        let mut chunk = Vec::new();
        if let Ok(read) = (&mut file).take(1 << 20).read_to_end(&mut chunk).await {
            position += read as u64;
            pending.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = pending.find('\n') {
                let line: String = pending.drain(..=end).collect();
                if let Some(printed) = error_line(&line, &keys) {
                    *seen.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                    emit(&out, &printed);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn follow_reader(
    reader: impl AsyncRead + Unpin,
    prefix: String,
    keys: LogKeys,
    out: Output,
    seen: Arc<Mutex<u64>>,
) {
    let mut lines = tokio::io::BufReader::new(reader).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(printed) = error_line(&line, &keys) {
            *seen.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            emit(&out, &format!("{prefix}{printed}"));
        }
    }
}

/// Follows the output of every target's container, each line prefixed with the target.
async fn follow_containers(targets: Vec<Target>, keys: LogKeys, out: Output, seen: Arc<Mutex<u64>>) {
    let mut children = Vec::new();
    let mut followers = tokio::task::JoinSet::new();
    for target in targets {
        let Some(container) = &target.container else {
            emit(
                &out,
                &format!(
                    "monitor: {} runs in no container here; its log is not followed",
                    target.name
                ),
            );
            continue;
        };
        match crate::docker::follow_logs(container) {
            Ok(mut child) => {
                let prefix = format!("[{}] ", target.name);
                if let Some(stdout) = child.stdout.take() {
                    followers.spawn(follow_reader(
                        stdout,
                        prefix.clone(),
                        keys.clone(),
                        out.clone(),
                        seen.clone(),
                    ));
                }
                if let Some(stderr) = child.stderr.take() {
                    followers.spawn(follow_reader(stderr, prefix, keys.clone(), out.clone(), seen.clone()));
                }
                children.push(child);
            }
            Err(error) => emit(&out, &format!("monitor: docker logs {}: {error}", target.name)),
        }
    }
    while followers.join_next().await.is_some() {}
    drop(children);
}

/// Series key → value, from an exposition.
fn values(text: &str) -> BTreeMap<String, f64> {
    let Ok(families) = contract::exposition::parse(text) else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for family in families {
        for sample in family.samples {
            if sample.name.ends_with("_bucket") || !sample.value.is_finite() {
                continue;
            }
            let labels: Vec<String> = sample.labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            let key = if labels.is_empty() {
                sample.name.clone()
            } else {
                format!("{}{{{}}}", sample.name, labels.join(","))
            };
            out.insert(key, sample.value);
        }
    }
    out
}

/// The `top` series whose values changed fastest between two scrapes, per second.
pub fn busiest(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    seconds: f64,
    top: usize,
) -> Vec<(String, f64)> {
    let mut rates: Vec<(String, f64)> = after
        .iter()
        .filter_map(|(key, value)| {
            let previous = before.get(key)?;
            let rate = (value - previous) / seconds.max(1e-9);
            (rate != 0.0).then(|| (key.clone(), rate))
        })
        .collect();
    rates.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then_with(|| a.0.cmp(&b.0)));
    rates.truncate(top);
    rates
}

async fn probe(url: &str) -> String {
    match runtime::http_client::get(url, Duration::from_secs(3)).await {
        Ok(response) => {
            let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
            match body.get("status").and_then(Value::as_str) {
                Some(status) => format!("{} {status}", response.status),
                None => response.status.to_string(),
            }
        }
        Err(error) => format!("down ({error})"),
    }
}

/// One snapshot of one target: its probes, its container, its busiest series.
async fn snapshot(
    config: &MonitorConfig,
    target: &Target,
    previous: &mut Option<(Instant, BTreeMap<String, f64>)>,
    summary: &mut MonitorSummary,
) -> String {
    let base = target.base_url.trim_end_matches('/');
    let liveness = probe(&format!("{base}{}", config.liveness_path)).await;
    let mut healthy = liveness.starts_with("200");
    let mut report = format!("  {}  liveness {liveness}", target.name);
    if target.readiness {
        let readiness = probe(&format!("{base}{}", config.readiness_path)).await;
        healthy &= readiness.starts_with("200");
        report.push_str(&format!("  readiness {readiness}"));
    }
    if let Some(container) = &target.container {
        let health = crate::docker::health(container).unwrap_or_else(|| "gone".into());
        healthy &= matches!(health.as_str(), "healthy" | "running" | "starting");
        report.push_str(&format!("  container {health}"));
    }
    if !healthy {
        summary.unhealthy_probes += 1;
    }
    report.push('\n');
    let metrics_base = target.metrics_base_url.as_deref().unwrap_or(base).trim_end_matches('/');
    let scraped = runtime::http_client::get(
        &format!("{metrics_base}{}", config.metrics_path),
        Duration::from_secs(5),
    )
    .await;
    match scraped {
        Ok(response) if response.status == 200 => {
            let now = values(&response.text());
            let at = Instant::now();
            match previous.as_ref() {
                None => report.push_str("    (first snapshot: rates from the next one)\n"),
                Some((then, before)) => {
                    let rates = busiest(before, &now, at.duration_since(*then).as_secs_f64(), config.top);
                    if rates.is_empty() {
                        report.push_str("    no metric changed\n");
                    }
                    for (key, rate) in rates {
                        report.push_str(&format!("    {rate:>12.3}/s  {key}\n"));
                    }
                }
            }
            *previous = Some((at, now));
        }
        Ok(response) => report.push_str(&format!("    metrics answered {}\n", response.status)),
        Err(error) => report.push_str(&format!("    metrics unreachable: {error}\n")),
    }
    report
}

/// Runs until the duration has passed.
pub async fn run(config: MonitorConfig, out: Output) -> MonitorSummary {
    let seen = Arc::new(Mutex::new(0u64));
    let keys = config.keys.clone();
    let follower = config.logs.clone().map(|source| match source {
        LogSource::File(path) => tokio::spawn(follow_file(path, keys, out.clone(), seen.clone())),
        LogSource::Stdin => tokio::spawn(follow_reader(
            tokio::io::stdin(),
            String::new(),
            keys,
            out.clone(),
            seen.clone(),
        )),
        LogSource::Docker => tokio::spawn(follow_containers(
            config.targets.clone(),
            keys,
            out.clone(),
            seen.clone(),
        )),
    });
    let started = Instant::now();
    let mut summary = MonitorSummary::default();
    let mut previous: Vec<Option<(Instant, BTreeMap<String, f64>)>> = vec![None; config.targets.len()];
    let mut tick = tokio::time::interval(config.interval);
    while started.elapsed() < config.duration {
        tick.tick().await;
        let mut report = format!("--- {:>4.0}s\n", started.elapsed().as_secs_f64());
        for (target, previous) in config.targets.iter().zip(previous.iter_mut()) {
            report.push_str(&snapshot(&config, target, previous, &mut summary).await);
        }
        summary.snapshots += 1;
        emit(&out, report.trim_end());
    }
    if let Some(follower) = follower {
        follower.abort();
    }
    summary.errors_seen = *seen.lock().unwrap_or_else(|e| e.into_inner());
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_only_error_entries_with_their_context() {
        let keys = LogKeys::default();
        let line = r#"{"timestamp":"t","level":"error","message":"request failed","request_id":"r-1","route":"/api/error","status":500}"#;
        assert_eq!(
            error_line(line, &keys).unwrap(),
            "t ERROR request failed request_id=r-1 route=/api/error status=500"
        );
        assert!(error_line(r#"{"level":"info","message":"fine"}"#, &keys).is_none());
        assert!(error_line("not json", &keys).is_none());
        let upper = LogKeys {
            level: "lvl".into(),
            message: "msg".into(),
            ..LogKeys::default()
        };
        assert!(error_line(r#"{"lvl":"ERROR","msg":"boom"}"#, &upper)
            .unwrap()
            .contains("ERROR boom"));
    }

    #[test]
    fn ranks_series_by_rate_of_change() {
        let before = values("a_total 10\nb_total 100\nc 5\nd_bucket{le=\"1\"} 3\n");
        let after = values("a_total 40\nb_total 110\nc 5\nd_bucket{le=\"1\"} 90\n");
        assert_eq!(
            busiest(&before, &after, 10.0, 5),
            vec![("a_total".to_string(), 3.0), ("b_total".to_string(), 1.0)]
        );
        assert_eq!(busiest(&before, &after, 10.0, 1).len(), 1);
    }
}
