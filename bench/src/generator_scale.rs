//! Target 5: the generator end to end (load, validate, render, write) on specs of growing
//! size: N metrics, one alert per ten metrics, one dashboard panel per five.

use std::fmt::Write;
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

/// Median seconds of one full `generate` per size.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleResult {
    pub metrics: usize,
    pub bytes: usize,
    pub seconds: f64,
    pub files: usize,
}

pub fn run(sizes: &[usize], effort: Effort) -> anyhow::Result<Vec<ScaleResult>> {
    let mut results = Vec::new();
    for &metrics in sizes {
        let dir = tempfile::tempdir()?;
        let spec_path = dir.path().join("obs.yaml");
        let text = synthetic_spec(metrics);
        std::fs::write(&spec_path, &text)?;
        let mut samples = Vec::new();
        let mut files = 0;
        for round in 0..effort.rounds.max(1) {
            let out = dir.path().join(format!("generated-{round}"));
            let started = Instant::now();
            let (_, written) = generator::generate(&spec_path, &out).map_err(|e| anyhow::anyhow!("{e}"))?;
            samples.push(started.elapsed().as_secs_f64());
            files = written.changed.len();
        }
        results.push(ScaleResult {
            metrics,
            bytes: text.len(),
            seconds: median(&samples),
            files,
        });
    }
    Ok(results)
}
