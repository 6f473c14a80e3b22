//! The monitor's command line, in the library so that a test can run exactly the command a
//! generated OBSERVABILITY.md prints: the flags, and the instances to watch — every replica
//! of every component, found as containers when the service runs under Docker (with the
//! host ports they really publish), else on the host ports the generated stack gives them.

use std::path::PathBuf;

use clap::Parser;

use crate::monitor::{LogSource, MonitorConfig, Target};

#[derive(Parser, Debug)]
#[command(
    name = "monitor",
    version,
    about = "Errors from the logs, the busiest metrics and health of every instance, every few seconds",
    // A later flag replaces an earlier one, so a printed command can be run with changes.
    args_override_self = true
)]
pub struct Cli {
    /// One instance's base URL; default: every instance of the spec (see --help).
    #[arg(long)]
    pub url: Option<String>,
    /// JSON log lines to follow: a file, `-` for stdin, or `docker` for the output of
    /// every watched container.
    #[arg(long)]
    pub logs: Option<String>,
    /// Time between snapshots, e.g. `3s` (default: the spec's monitor.interval).
    #[arg(long)]
    pub interval: Option<String>,
    /// How long to run, e.g. `60s` (default: the spec's monitor.duration).
    #[arg(long)]
    pub duration: Option<String>,
    /// How many metrics each snapshot shows per instance (default: the spec's monitor.top).
    #[arg(long)]
    pub top: Option<usize>,
    /// The service's obs.yaml (default: ./obs.yaml).
    #[arg(long)]
    pub spec: Option<PathBuf>,
}

/// Every instance of the spec: under Docker, the newest running container of each compose
/// service with the service's image and the ports it publishes; otherwise the host ports
/// the generated compose file publishes.
pub fn instances(spec: &contract::Spec, resolved: &contract::Resolved) -> Vec<Target> {
    let image = spec.service.image_name();
    let mut published = resolved.stack.published.iter();
    let mut targets = Vec::new();
    for component in &resolved.components {
        for instance in component.instances() {
            let Some(ports) = published.next() else { break };
            let container = crate::docker::container(&instance.host, &image);
            let host_port = |container_port: u16, fallback: u16| {
                container
                    .as_deref()
                    .and_then(|c| crate::docker::published_port(c, container_port))
                    .unwrap_or(fallback)
            };
            let http = host_port(component.port, ports.http);
            let metrics_base_url = ports
                .metrics
                .map(|metrics| format!("http://127.0.0.1:{}", host_port(component.metrics_port, metrics)));
            targets.push(Target {
                name: instance.host.clone(),
                base_url: format!("http://127.0.0.1:{http}"),
                metrics_base_url,
                readiness: component.readiness,
                container,
            });
        }
    }
    targets
}

/// The run a command line asks for.
pub fn config(cli: Cli) -> anyhow::Result<MonitorConfig> {
    let (spec, resolved) = crate::spec_file::load_resolved(cli.spec.as_deref())?;
    let duration = |text: Option<String>, default: contract::Duration| -> anyhow::Result<std::time::Duration> {
        Ok(match text {
            Some(text) => contract::Duration::parse(&text)?.to_std(),
            None => default.to_std(),
        })
    };
    let logs = cli.logs.map(|source| match source.as_str() {
        "-" => LogSource::Stdin,
        "docker" => LogSource::Docker,
        _ => LogSource::File(source.into()),
    });
    let targets = match &cli.url {
        Some(url) => vec![Target {
            name: "service".into(),
            base_url: url.clone(),
            metrics_base_url: None,
            readiness: true,
            container: None,
        }],
        None => instances(&spec, &resolved),
    };
    if targets.is_empty() {
        anyhow::bail!("the spec has no instance to watch");
    }
    Ok(MonitorConfig {
        targets,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_flag_replaces_an_earlier_one() {
        let cli = Cli::try_parse_from(["monitor", "--duration", "1m", "--logs", "docker", "--duration", "3s"]).unwrap();
        assert_eq!(cli.duration.as_deref(), Some("3s"));
        assert_eq!(cli.logs.as_deref(), Some("docker"));
    }
}
