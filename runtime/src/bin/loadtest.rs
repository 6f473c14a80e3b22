//! loadtest: drive load at a service and report what it did.
//!
//!   loadtest --sockets 1000 --rate 10 --duration 300 --host ws://localhost:8080 --send-rate 0.1
//!   loadtest --mode http --url http://localhost:8000/api/notes --concurrency 16 --duration 30
//!
//! WebSocket mode opens `--sockets` sockets at `--rate` per second, each sending
//! `--send-rate` messages per second and timing the reply, until `--duration` seconds have
//! passed. A progress bar runs on a terminal; `--json` prints the summary as JSON. Exit 1
//! when anything failed.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use runtime::loadtest::{run_http, run_ws, HttpLoad, Progress, Summary, WsLoad};

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
    /// WebSocket server, e.g. ws://localhost:8080.
    #[arg(long, default_value = "ws://localhost:8000")]
    host: String,
    /// WebSocket path on the host.
    #[arg(long, default_value = "/ws")]
    path: String,
    /// Sockets to open.
    #[arg(long, default_value_t = 100)]
    sockets: u32,
    /// Sockets opened per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Seconds the test runs.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Messages per second each socket sends (0: idle sockets; inf: the next as soon as the
    /// reply to the last arrives).
    #[arg(long, default_value_t = 1.0)]
    send_rate: f64,
    /// HTTP mode: the URL to GET.
    #[arg(long, default_value = "http://localhost:8000/healthz")]
    url: String,
    /// HTTP mode: concurrent request loops.
    #[arg(long, default_value_t = 8)]
    concurrency: u32,
    /// HTTP mode: total requests per second (default: as fast as answers come).
    #[arg(long)]
    rps: Option<f64>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
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

async fn run(cli: Cli) -> Result<Summary, String> {
    let progress = Arc::new(Progress::default());
    let bar = progress_bar(cli.mode, cli.duration, progress.clone());
    let duration = Duration::from_secs(cli.duration);
    let summary = match cli.mode {
        Mode::Ws => {
            let url = format!("{}{}", cli.host.trim_end_matches('/'), cli.path);
            run_ws(
                &WsLoad {
                    url,
                    sockets: cli.sockets,
                    rate: cli.rate,
                    duration,
                    send_rate: cli.send_rate,
                },
                progress,
            )
            .await
        }
        Mode::Http => {
            run_http(
                &HttpLoad {
                    url: cli.url,
                    concurrency: cli.concurrency,
                    duration,
                    rps: cli.rps,
                },
                progress,
            )
            .await
        }
    };
    if let Some(bar) = bar {
        bar.abort();
    }
    summary
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("loadtest: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
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
