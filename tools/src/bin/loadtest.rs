//! loadtest: drive load at a service and report what it did.
//!
//!   loadtest --spec obs.yaml --sockets 1000 --rate 10 --duration 300 --host ws://localhost:8080 --send-rate 0.1
//!   loadtest --spec obs.yaml --mode http --url http://localhost:8000/api/notes --concurrency 16 --duration 30
//!   loadtest --spec obs.yaml --mode http --rps 2000 --duration 30
//!
//! WebSocket mode opens `--sockets` sockets at `--rate` per second, each sending
//! `--send-rate` messages per second and timing the reply, until `--duration` seconds have
//! passed. HTTP mode keeps one connection per worker alive; with `--rps` it sends on a
//! fixed schedule and reports latency from each request's intended send time. Defaults
//! come from the spec's `loadtest` section and its port and probe paths (`--spec`, else
//! `./obs.yaml`). A progress bar runs on a terminal; `--json` prints the summary as JSON.
//! Exit 1 when anything failed.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use obs_tools::loadtest::{run_http, run_ws, HttpLoad, Progress, Summary, WsLoad};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Ws,
    Http,
}

#[derive(Parser, Debug)]
#[command(
    name = "loadtest",
    version,
    about = "WebSocket and HTTP load for a service, with a latency summary"
)]
struct Cli {
    /// What to load.
    #[arg(long, value_enum, default_value = "ws")]
    mode: Mode,
    /// The service's obs.yaml, for its port, paths and `loadtest` defaults (default: ./obs.yaml).
    #[arg(long)]
    spec: Option<std::path::PathBuf>,
    /// WebSocket server, e.g. ws://localhost:8080 (default: the spec's loadtest.host, else
    /// 127.0.0.1 on its port).
    #[arg(long)]
    host: Option<String>,
    /// WebSocket path on the host (default: the spec's loadtest.path, else /ws).
    #[arg(long)]
    path: Option<String>,
    /// Sockets to open (default: the spec's, else 100).
    #[arg(long)]
    sockets: Option<u32>,
    /// Sockets opened per second (default: the spec's, else 10).
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds the test runs (default: the spec's, else 30).
    #[arg(long)]
    duration: Option<u64>,
    /// Messages per second each socket sends (0: idle sockets; inf: the next as soon as the
    /// reply to the last arrives; default: the spec's, else 1).
    #[arg(long)]
    send_rate: Option<f64>,
    /// HTTP mode: the URL to GET (default: the spec's liveness probe on its port).
    #[arg(long)]
    url: Option<String>,
    /// HTTP mode: workers, each with one kept-alive connection.
    #[arg(long, default_value_t = 8)]
    concurrency: u32,
    /// HTTP mode: total requests per second on a fixed schedule (default: as fast as
    /// answers come).
    #[arg(long)]
    rps: Option<f64>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// A run's settings: the command line over the spec's defaults over the built-in ones.
struct Plan {
    mode: Mode,
    seconds: u64,
    ws: WsLoad,
    http: HttpLoad,
}

fn plan(cli: Cli) -> anyhow::Result<Plan> {
    let spec = obs_tools::spec_file::load(cli.spec.as_deref())?;
    let defaults = spec.loadtest.as_ref();
    let base = obs_tools::spec_file::local_base_url(&spec);
    let host = cli
        .host
        .or_else(|| defaults.map(|d| d.host.clone()))
        .unwrap_or_else(|| base.replacen("http://", "ws://", 1));
    let path = cli
        .path
        .or_else(|| defaults.map(|d| d.path.clone()))
        .unwrap_or_else(|| "/ws".into());
    let decimal = |d: &contract::Decimal| d.to_string().parse::<f64>().unwrap_or(0.0);
    let seconds = cli
        .duration
        .or_else(|| defaults.map(|d| d.duration.as_millis() / 1000))
        .unwrap_or(30);
    let duration = Duration::from_secs(seconds);
    Ok(Plan {
        mode: cli.mode,
        seconds,
        ws: WsLoad {
            url: format!("{}{}", host.trim_end_matches('/'), path),
            sockets: cli.sockets.or_else(|| defaults.map(|d| d.sockets)).unwrap_or(100),
            rate: cli.rate.or_else(|| defaults.map(|d| decimal(&d.rate))).unwrap_or(10.0),
            duration,
            send_rate: cli
                .send_rate
                .or_else(|| defaults.map(|d| decimal(&d.send_rate)))
                .unwrap_or(1.0),
        },
        http: HttpLoad {
            url: cli
                .url
                .unwrap_or_else(|| format!("{base}{}", spec.health.liveness.path)),
            concurrency: cli.concurrency,
            duration,
            rps: cli.rps,
        },
    })
}

fn progress_bar(mode: Mode, seconds: u64, progress: Arc<Progress>) -> Option<tokio::task::JoinHandle<()>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(seconds);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len}s {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(tokio::spawn(async move {
        let started = std::time::Instant::now();
        loop {
            let message = match mode {
                Mode::Ws => format!(
                    "open {} failed {} sent {} acked {} errors {}",
                    progress.opened.load(Ordering::Relaxed),
                    progress.failed.load(Ordering::Relaxed),
                    progress.sent.load(Ordering::Relaxed),
                    progress.acknowledged.load(Ordering::Relaxed),
                    progress.errors.load(Ordering::Relaxed)
                ),
                Mode::Http => format!(
                    "requests {} answered {} errors {}",
                    progress.sent.load(Ordering::Relaxed),
                    progress.acknowledged.load(Ordering::Relaxed),
                    progress.errors.load(Ordering::Relaxed)
                ),
            };
            bar.set_message(message);
            bar.set_position(started.elapsed().as_secs().min(seconds));
            if started.elapsed().as_secs() >= seconds {
                bar.finish_and_clear();
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }))
}

async fn run(plan: Plan) -> Result<Summary, String> {
    let progress = Arc::new(Progress::default());
    let bar = progress_bar(plan.mode, plan.seconds, progress.clone());
    let summary = match plan.mode {
        Mode::Ws => run_ws(&plan.ws, progress).await,
        Mode::Http => run_http(&plan.http, progress).await,
    };
    if let Some(bar) = bar {
        bar.abort();
    }
    summary
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let plan = match plan(cli) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("loadtest: {error:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("loadtest: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(plan)) {
        Ok(summary) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
            } else {
                print!("{}", summary.text());
            }
            if summary.errors.is_empty() && summary.connections_failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("loadtest: {error}");
            ExitCode::from(2)
        }
    }
}
