//! obs-demo: the demo service of the top-level obs.yaml — a WebSocket message counter, a
//! small notes API and a background job worker — served by the runtime with exactly the
//! declared metrics, probes, logs and graceful shutdown. Also its own container
//! healthcheck (`obs-demo healthcheck`), so its image needs no curl.
//!
//! Configuration: `--spec FILE` or `OBS_SPEC` (default: the obs.yaml embedded at build
//! time), `--port` or the spec's port variable (`PORT`), `--log-level` or `LOG_LEVEL`,
//! `OBS_REPLICA` for the replica name.

mod app;
mod jobs;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use runtime::{Observability, ServiceConfig};

/// Typed handles for the metrics obs.yaml declares and the embedded spec (build.rs).
#[allow(dead_code)]
mod obs {
    runtime::include_obs!();
}

#[derive(Parser, Debug)]
#[command(
    name = "obs-demo",
    version,
    about = "The obs demo service: WebSocket counter, notes API, job worker"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Spec to run with (default: the embedded obs.yaml; env OBS_SPEC).
    #[arg(long, global = true)]
    spec: Option<PathBuf>,
    /// Port to listen on (default: the spec's, or its port variable).
    #[arg(long, global = true)]
    port: Option<u16>,
    /// Minimum log level: debug, info, warn, error (env LOG_LEVEL).
    #[arg(long, global = true)]
    log_level: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve (the default).
    Serve,
    /// Probe this service's liveness endpoint; exit 0 when it answers 200.
    Healthcheck {
        /// Full URL to probe (default: 127.0.0.1, the service's port and liveness path).
        #[arg(long)]
        url: Option<String>,
        /// Give up after this long.
        #[arg(long, default_value = "5")]
        timeout_seconds: u64,
    },
}

fn load_spec(cli: &Cli) -> anyhow::Result<contract::Spec> {
    let path = cli
        .spec
        .clone()
        .or_else(|| std::env::var_os(runtime::embedded::SPEC_ENV).map(PathBuf::from));
    Ok(obs::SPEC.load_from(path.as_deref())?)
}

/// The environment, with the command line's overrides on top.
fn environment(cli: &Cli, spec: &contract::Spec) -> impl Fn(&str) -> Option<String> + Clone {
    let components = contract::topology::components(spec);
    let port_var = components
        .iter()
        .find(|c| c.name == obs::COMPONENT)
        .or(components.first())
        .and_then(|c| c.port_env.clone());
    let port = cli.port.map(|p| p.to_string());
    let level = cli.log_level.clone();
    move |var: &str| {
        if Some(var) == port_var.as_deref() {
            if let Some(port) = &port {
                return Some(port.clone());
            }
        }
        if var == runtime::config::LOG_LEVEL_ENV {
            if let Some(level) = &level {
                return Some(level.clone());
            }
        }
        std::env::var(var).ok()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::Healthcheck { url, timeout_seconds }) => {
            healthcheck(&cli, url.clone(), Duration::from_secs(*timeout_seconds))
        }
        Some(Command::Serve) | None => serve(&cli),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("obs-demo: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn runtime_builder() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn healthcheck(cli: &Cli, url: Option<String>, timeout: Duration) -> anyhow::Result<ExitCode> {
    let spec = load_spec(cli)?;
    let env = environment(cli, &spec);
    let config = ServiceConfig::resolve_for(spec, Some(obs::COMPONENT), env)?;
    let url = url.unwrap_or_else(|| runtime::healthcheck::liveness_url(&config));
    match runtime_builder()?.block_on(runtime::healthcheck::probe(&url, timeout)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(reason) => {
            eprintln!("{reason}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn serve(cli: &Cli) -> anyhow::Result<ExitCode> {
    let spec = load_spec(cli)?;
    let env = environment(cli, &spec);
    let config = ServiceConfig::resolve_for(spec, Some(obs::COMPONENT), env.clone())?;
    runtime_builder()?.block_on(async move {
        let obs = Observability::new(config, env.clone())?;
        obs.init_logging(runtime::logging::stdout(), env)?;
        let metrics = obs::Metrics::bind(&obs.registry)?;
        let demo = app::Demo::start(&obs, metrics);
        obs.shutdown.on_signals();
        // A graceful shutdown exits 0 even when the deadline cut work short; the log says so.
        let state = app::AppState { obs: obs.clone(), demo };
        runtime::serve(obs, app::routes(), state).await?;
        Ok(ExitCode::SUCCESS)
    })
}
