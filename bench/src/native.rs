//! Classic against native histograms for the same observations: the series Prometheus
//! stores, the exposition's bytes and the time to encode it. Two workloads: the demo's spec
//! with its HTTP request durations classic and native, and one histogram family with enough
//! label sets that its classic form is 1,000,000 series.

use std::time::Duration;

use runtime::metrics::{Format, Negotiated, Registry};

use crate::{interleaved, seconds_per_call, Effort};

/// One form of a workload's exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub name: &'static str,
    /// Series Prometheus stores from one scrape.
    pub stored_series: usize,
    pub bytes: usize,
    /// Median seconds per full exposition.
    pub encode: f64,
}

/// One workload in its three forms: classic in text (what Prometheus scrapes by default),
/// classic in protobuf, native in protobuf (the only format carrying native buckets).
#[derive(Debug, Clone, PartialEq)]
pub struct NativeResult {
    pub workload: String,
    /// Label sets of the histogram(s) switched between classic and native.
    pub label_sets: usize,
    pub forms: Vec<Form>,
}

/// A deterministic latency between 1ms and about 5s, spread over orders of magnitude as
/// request latencies are.
fn latency(seed: &mut u64) -> f64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let unit = (*seed >> 11) as f64 / (1u64 << 53) as f64;
    0.001 * 5000f64.powf(unit)
}

/// Lines of the text exposition that are samples, each one series in Prometheus; a native
/// histogram's text form (`+Inf` bucket, `_sum`, `_count`) is one series once scraped.
fn stored_series(registry: &Registry, native: &[&str]) -> usize {
    let text = registry.encode(Format::Text);
    let samples = text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).count();
    let native_sets: usize = native
        .iter()
        .map(|name| {
            let count = format!("{name}_count");
            text.lines()
                .filter(|l| l.starts_with(&count) && l[count.len()..].starts_with(['{', ' ']))
                .count()
        })
        .sum();
    samples - 2 * native_sets
}

fn measure(
    workload: String,
    label_sets: usize,
    classic: &Registry,
    native: &Registry,
    native_names: &[&str],
    effort: Effort,
) -> NativeResult {
    let min = effort.pick(Duration::from_millis(300), Duration::from_millis(5));
    let mut classic_text = || seconds_per_call(min, || drop(std::hint::black_box(classic.encode(Format::Text))));
    let mut classic_protobuf = || {
        seconds_per_call(min, || {
            drop(std::hint::black_box(classic.exposition(Negotiated::Protobuf)))
        })
    };
    let mut native_protobuf = || {
        seconds_per_call(min, || {
            drop(std::hint::black_box(native.exposition(Negotiated::Protobuf)))
        })
    };
    let medians = interleaved(
        effort.rounds,
        &mut [&mut classic_text, &mut classic_protobuf, &mut native_protobuf],
    );
    let classic_series = stored_series(classic, &[]);
    NativeResult {
        workload,
        label_sets,
        forms: vec![
            Form {
                name: "classic, text",
                stored_series: classic_series,
                bytes: classic.encode(Format::Text).len(),
                encode: medians[0],
            },
            Form {
                name: "classic, protobuf",
                stored_series: classic_series,
                bytes: classic.exposition(Negotiated::Protobuf).len(),
                encode: medians[1],
            },
            Form {
                name: "native, protobuf",
                stored_series: stored_series(native, native_names),
                bytes: native.exposition(Negotiated::Protobuf).len(),
                encode: medians[2],
            },
        ],
    }
}

/// The demo (obs.yaml) after the same HTTP traffic, its request durations classic as
/// declared and native: `observations` requests over 10 routes and 4 methods.
pub fn demo(observations: usize, effort: Effort) -> anyhow::Result<NativeResult> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../obs.yaml");
    let classic_spec = contract::load_file(&path)?.spec;
    let mut native_spec = classic_spec.clone();
    let http = native_spec
        .metrics
        .builtin
        .http
        .as_mut()
        .ok_or_else(|| anyhow::anyhow!("obs.yaml has no HTTP group"))?;
    http.native = Some(contract::model::NativeHistogram::default());
    http.buckets = None;
    let registry = |spec: &contract::Spec| Registry::from_catalog(&contract::Catalog::from_spec(spec), "app");
    let (classic, native) = (registry(&classic_spec), registry(&native_spec));
    let mut seed = 7;
    let mut label_sets = std::collections::BTreeSet::new();
    for i in 0..observations {
        let route = format!("/api/route-{}", i % 10);
        let method = ["GET", "POST", "PUT", "DELETE"][i / 10 % 4];
        let value = latency(&mut seed);
        for registry in [&classic, &native] {
            registry
                .histogram("http_request_duration_seconds", &["route", "method"])?
                .with(&[&route, method])
                .observe(value);
        }
        label_sets.insert((route, method));
    }
    Ok(measure(
        "demo (obs.yaml), HTTP request durations".into(),
        label_sets.len(),
        &classic,
        &native,
        &["http_request_duration_seconds"],
        effort,
    ))
}

/// One histogram family with the default 11 HTTP buckets (14 series per label set in its
/// classic form) and enough label sets for `classic_series`, each with `per_set`
/// observations.
pub fn large(classic_series: usize, per_set: usize, effort: Effort) -> anyhow::Result<NativeResult> {
    let label_sets = classic_series / 14;
    let spec = |native: &str| -> anyhow::Result<contract::Spec> {
        let yaml = format!(
            "service: {{name: bench}}\nmetrics:\n  custom:\n    - {{name: bench_duration_seconds, type: histogram, help: Durations., unit: seconds, max_series: {max}, labels: [{{name: id, max_series: {max}}}]{native}}}\n",
            max = label_sets + 1,
        );
        Ok(contract::load_bytes(yaml.as_bytes(), "bench.yaml")?.spec)
    };
    let registry = |spec: &contract::Spec| Registry::from_catalog(&contract::Catalog::from_spec(spec), "app");
    let classic = registry(&spec("")?);
    let native = registry(&spec(", native: {}")?);
    let mut seed = 11;
    for id in 0..label_sets {
        let id = id.to_string();
        let (c, n) = (
            classic.histogram("bench_duration_seconds", &["id"])?.with(&[&id]),
            native.histogram("bench_duration_seconds", &["id"])?.with(&[&id]),
        );
        for _ in 0..per_set {
            let value = latency(&mut seed);
            c.observe(value);
            n.observe(value);
        }
    }
    Ok(measure(
        format!("{classic_series} classic series"),
        label_sets,
        &classic,
        &native,
        &["bench_duration_seconds"],
        effort,
    ))
}
