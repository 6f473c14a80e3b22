//! monitor: watch a running service from a terminal.
//!
//!   monitor --spec obs.yaml --logs docker --interval 3s --duration 60s
//!   monitor --spec obs.yaml --logs service.log
//!   docker logs -f app_blue | monitor --spec obs.yaml --url http://localhost:8000 --logs -
//!
//! Prints error log entries as they arrive (with their request id), and every interval the
//! liveness, readiness and container health of every instance with its busiest metrics;
//! stops after the duration, exiting 0 only if every probe answered 200 throughout. The
//! instances, ports, paths, log keys and defaults come from the service's spec (`--spec`,
//! else `./obs.yaml`).

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Parser;
use obs_tools::monitor::run;
use obs_tools::monitor_cli::{config, Cli};

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
    // Scripts (and the tests) learn whether every instance stayed healthy throughout.
    if summary.all_healthy() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
