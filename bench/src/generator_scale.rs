//! Target 5: the generator end to end (load, validate, render, write) on specs of growing
//! size: N metrics, one alert per ten metrics, one dashboard panel per five. Each round
//! runs the library's `generate` in this process and the `generator` command as a user
//! runs it (its own process and allocator), side by side.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{median, Effort};

/// A valid spec with `metrics` custom metrics and proportional alerts and panels.
pub fn synthetic_spec(metrics: usize) -> String {
    let mut text = String::from("service:\n  name: scale\n  runbook_url: https://runbooks.example.com/{alert}\nmetrics:\n  default_max_series: 100\n  custom:\n");
    for i in 0..metrics {
        let _ = writeln!(
            text,
            "    - {{name: scale_events_{i}_total, type: counter, help: Events of kind {i}., labels: [{{name: outcome, values: [ok, failed, retried]}}]}}"
        );
    }
    text.push_str("alerts:\n  - group: scale\n    rules:\n");
    for i in (0..metrics).step_by(10) {
        let _ = writeln!(
            text,
            "      - {{name: ScaleEvents{i}Failing, severity: warning, summary: Kind {i} fails., description: More than 10% of kind {i} fail., error_ratio: {{errors: 'scale_events_{i}_total{{outcome=\"failed\"}}', total: scale_events_{i}_total, above: 0.1}}}}"
        );
    }
    text.push_str("dashboards:\n  - title: Scale\n    panels:\n");
    for i in (0..metrics).step_by(5) {
        let _ = writeln!(
            text,
            "      - {{title: Kind {i}, type: timeseries, metric: scale_events_{i}_total, by: [outcome]}}"
        );
    }
    text
}

/// Median seconds of one full generate per size: in this process, and as the command.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleResult {
    pub metrics: usize,
    pub bytes: usize,
    /// `generator::generate` called in the bench's process (the system allocator).
    pub seconds: f64,
    /// `generator --spec … --out …` from spawn to exit.
    pub command_seconds: f64,
    pub files: usize,
}

/// The `generator` command beside this binary, or the one `OBS_GENERATOR_BIN` names. When
/// cargo runs a release bench (`cargo run --release -p bench`), the command is built
/// first, with the bench's features and into this binary's target directory, so
/// the one measured matches the tree; run directly, the bench measures whatever is there.
pub fn generator_binary() -> anyhow::Result<PathBuf> {
    let current = std::env::current_exe()?;
    let profile_dir = current.parent().filter(|dir| dir.ends_with("release"));
    if let (Some(cargo), Some(profile_dir), None) = (
        std::env::var_os("CARGO"),
        profile_dir,
        std::env::var_os("OBS_GENERATOR_BIN"),
    ) {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let target_dir = profile_dir.parent().unwrap_or(profile_dir);
        // With the bench selected too, features resolve as for the bench's own build
        // (the generator is already in its graph), so nothing is compiled a second way.
        // The workspace shares one version, and a crates.io `generator` is in the graph.
        let generator = format!("generator@{}", env!("CARGO_PKG_VERSION"));
        // What `cargo run` told this process about the bench package must not reach the
        // build: ring's build script reruns when `CARGO_PKG_NAME` or `CARGO_MANIFEST_DIR`
        // differ, and would then be compiled again on every run, both ways.
        let inherited = std::env::vars_os().filter_map(|(name, _)| {
            let text = name.to_string_lossy();
            let about_the_bench = [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
                "CARGO_PRIMARY_",
            ]
            .iter()
            .any(|prefix| text.starts_with(prefix));
            about_the_bench.then_some(name)
        });
        let mut build = Command::new(cargo);
        for name in inherited {
            build.env_remove(name);
        }
        let status = build
            .arg("build")
            .args([
                "--release",
                "--quiet",
                "-p",
                "bench",
                "-p",
                &generator,
                "--bin",
                "generator",
            ])
            .arg("--manifest-path")
            .arg(&workspace)
            .arg("--target-dir")
            .arg(target_dir)
            .status()?;
        anyhow::ensure!(status.success(), "building the generator failed: {status}");
    }
    crate::sibling_binary("generator", "OBS_GENERATOR_BIN")
}

pub fn run(sizes: &[usize], effort: Effort, command: &Path) -> anyhow::Result<Vec<ScaleResult>> {
    let mut results = Vec::new();
    for &metrics in sizes {
        let dir = tempfile::tempdir()?;
        let spec_path = dir.path().join("obs.yaml");
        let text = synthetic_spec(metrics);
        std::fs::write(&spec_path, &text)?;
        let (mut in_process, mut spawned) = (Vec::new(), Vec::new());
        let mut files = 0;
        for round in 0..effort.rounds.max(1) {
            let out = dir.path().join(format!("generated-{round}"));
            let started = Instant::now();
            let (_, written) = generator::generate(&spec_path, &out).map_err(|e| anyhow::anyhow!("{e}"))?;
            in_process.push(started.elapsed().as_secs_f64());
            files = written.changed.len();

            let out = dir.path().join(format!("command-{round}"));
            let started = Instant::now();
            let output = Command::new(command)
                .arg("--spec")
                .arg(&spec_path)
                .arg("--out")
                .arg(&out)
                .stdin(Stdio::null())
                .output()?;
            spawned.push(started.elapsed().as_secs_f64());
            anyhow::ensure!(
                output.status.success(),
                "{} failed on {metrics} metrics: {}",
                command.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            let wrote = String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter(|l| l.starts_with("wrote"))
                .count();
            anyhow::ensure!(wrote == files, "the command wrote {wrote} files, the library {files}");
        }
        results.push(ScaleResult {
            metrics,
            bytes: text.len(),
            seconds: median(&in_process),
            command_seconds: median(&spawned),
            files,
        });
    }
    Ok(results)
}
