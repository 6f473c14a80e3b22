//! Target 6: the demo service's start-up (spawn to readiness 200) and SIGTERM to exit,
//! which the spec's drain delay bounds from below.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{median, Effort};

/// The obs-demo binary beside this one (build it with `cargo build --release -p obs-demo`).
pub fn demo_binary() -> anyhow::Result<std::path::PathBuf> {
    crate::sibling_binary("obs-demo", "OBS_DEMO_BIN")
}

/// Median milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleResult {
    pub startup_ms: f64,
    pub shutdown_ms: f64,
    pub drain_ms: f64,
}

fn once(binary: &std::path::Path) -> anyhow::Result<(f64, f64)> {
    let started = Instant::now();
    let mut child = Command::new(binary)
        .args(["--port", "0", "--log-level", "info"])
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut reader = BufReader::new(stdout);
    let mut port = None;
    let mut line = String::new();
    while port.is_none() && reader.read_line(&mut line)? > 0 {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
            if value["message"] == "service started" {
                port = value["address"]
                    .as_str()
                    .and_then(|a| a.rsplit(':').next())
                    .and_then(|p| p.parse::<u16>().ok());
            }
        }
        line.clear();
    }
    let port = port.ok_or_else(|| anyhow::anyhow!("obs-demo never logged `service started`"))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let ready_url = format!("http://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answered = runtime.block_on(runtime::http_client::get(&ready_url, Duration::from_secs(1)));
        if answered.is_ok_and(|r| r.status == 200) {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "obs-demo not ready within 10s");
        std::thread::sleep(Duration::from_millis(2));
    }
    let startup = started.elapsed().as_secs_f64() * 1000.0;
    std::thread::spawn(move || for _ in reader.lines() {});
    let signalled = Instant::now();
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status()?;
    anyhow::ensure!(status.success(), "kill failed");
    let exit = child.wait()?;
    anyhow::ensure!(exit.success(), "obs-demo exited with {exit}");
    Ok((startup, signalled.elapsed().as_secs_f64() * 1000.0))
}

pub fn run(effort: Effort) -> anyhow::Result<LifecycleResult> {
    let binary = demo_binary()?;
    let mut startup = Vec::new();
    let mut shutdown = Vec::new();
    for _ in 0..effort.rounds.max(1) {
        let (up, down) = once(&binary)?;
        startup.push(up);
        shutdown.push(down);
    }
    let spec = contract::load_file(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../obs.yaml"))?.spec;
    Ok(LifecycleResult {
        startup_ms: median(&startup),
        shutdown_ms: median(&shutdown),
        drain_ms: spec.shutdown.drain.as_millis() as f64,
    })
}
