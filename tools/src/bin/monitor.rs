//! monitor: watch a running service from a terminal.
//!
//!   monitor --spec obs.yaml --logs service.log --interval 3s --duration 60s
//!   docker logs -f app_blue | monitor --spec obs.yaml --url http://localhost:8000 --logs -
//!
//! Prints error log entries as they arrive (with their request id), the busiest metrics
//! every interval, and liveness/readiness; stops after the duration. The port, paths, log
//! keys and defaults come from the service's spec (`--spec`, else `./obs.yaml`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Parser;
use obs_tools::monitor::{run, LogSource, MonitorConfig};

#[derive(Parser, Debug)]
#[command(
    name = "monitor",
    version,
    about = "Errors from the logs, the busiest metrics and health, every few seconds"
)]
struct Cli {
    /// Service base URL (default: 127.0.0.1 on the spec's port).
    #[arg(long)]
    url: Option<String>,
    /// JSON log lines to follow: a file, or `-` for stdin.
    #[arg(long)]
    logs: Option<String>,
    /// Time between snapshots, e.g. `3s` (default: the spec's monitor.interval).
    #[arg(long)]
    interval: Option<String>,
    /// How long to run, e.g. `60s` (default: the spec's monitor.duration).
    #[arg(long)]
    duration: Option<String>,
    /// How many metrics each snapshot shows (default: the spec's monitor.top).
    #[arg(long)]
    top: Option<usize>,
    /// The service's obs.yaml (default: ./obs.yaml).
    #[arg(long)]
    spec: Option<PathBuf>,
}

fn config(cli: Cli) -> anyhow::Result<MonitorConfig> {
    let spec = obs_tools::spec_file::load(cli.spec.as_deref())?;
    let duration = |text: Option<String>, default: contract::Duration| -> anyhow::Result<std::time::Duration> {
        Ok(match text {
            Some(text) => contract::Duration::parse(&text)?.to_std(),
            None => default.to_std(),
        })
    };
    let logs = cli.logs.map(|source| {
        if source == "-" {
            LogSource::Stdin
        } else {
            LogSource::File(source.into())
        }
    });
    Ok(MonitorConfig {
        metrics_base_url: match (&cli.url, contract::topology::components(&spec).first()) {
            (None, Some(component)) if component.has_separate_metrics_port() => {
                Some(format!("http://127.0.0.1:{}", component.metrics_port))
            }
            _ => None,
        },
        base_url: cli
            .url
            .clone()
            .unwrap_or_else(|| obs_tools::spec_file::local_base_url(&spec)),
        metrics_path: spec.metrics.endpoint.path.clone(),
        liveness_path: spec.health.liveness.path.clone(),
        readiness_path: spec.health.readiness.path.clone(),
        logs,
        interval: duration(cli.interval, spec.monitor.interval)?.max(std::time::Duration::from_millis(100)),
        duration: duration(cli.duration, spec.monitor.duration)?,
        top: cli.top.unwrap_or(spec.monitor.top),
        keys: spec.logging.keys.clone(),
    })
}

fn main() -> ExitCode {
    let config = match config(Cli::parse()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("monitor: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("monitor: {error}");
            return ExitCode::from(2);
        }
    };
    let out: obs_tools::monitor::Output = Arc::new(Mutex::new(Box::new(std::io::stdout())));
    let summary = runtime.block_on(run(config, out));
    println!(
        "monitor: {} snapshots, {} error entries, {} unhealthy probes",
        summary.snapshots, summary.errors_seen, summary.unhealthy_probes
    );
    // A watcher that only ever saw a dead service should say so to scripts.
    if summary.unhealthy_probes == summary.snapshots && summary.snapshots > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
