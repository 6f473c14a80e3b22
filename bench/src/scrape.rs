//! Target 2: encoding `/metrics` with N series of one labelled counter, obs' registry
//! against the `prometheus` crate's `TextEncoder` over an `IntCounterVec` and against
//! `prometheus-client`.

use std::time::Duration;

use prometheus::Encoder;

use crate::{interleaved, seconds_per_call, Effort};

/// Median seconds per full exposition for each implementation.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeResult {
    pub series: usize,
    pub obs: f64,
    pub prometheus: f64,
    pub prometheus_client: f64,
    /// Bytes of obs' exposition, to show all three do comparable work.
    pub bytes: usize,
}

/// obs' registry with a counter family of `budget` allowed ids and the first `series` of
/// them counted.
pub(crate) fn obs_registry(series: usize, budget: usize) -> runtime::metrics::Registry {
    let yaml = format!(
        "service: {{name: bench}}\nmetrics:\n  custom:\n    - {{name: bench_requests_total, type: counter, help: Requests., max_series: {}, labels: [{{name: id, max_series: {series}}}]}}\n",
        budget.max(series) + 1,
        series = budget.max(series)
    );
    let spec: contract::Spec = spec_from(&yaml);
    let registry = runtime::metrics::Registry::from_catalog(&contract::Catalog::from_spec(&spec), "app");
    let family = registry
        .counter("bench_requests_total", &["id"])
        .expect("declared above");
    for i in 0..series {
        family.with(&[&i.to_string()]).inc_by(i as u64);
    }
    registry
}

fn spec_from(text: &str) -> contract::Spec {
    contract::load_bytes(text.as_bytes(), "bench.yaml")
        .expect("the bench spec loads")
        .spec
}

pub fn run(series: usize, effort: Effort) -> ScrapeResult {
    let ours = obs_registry(series, series);
    let prom = prometheus::Registry::new();
    let vec = prometheus::IntCounterVec::new(prometheus::Opts::new("bench_requests_total", "Requests."), &["id"])
        .expect("valid");
    prom.register(Box::new(vec.clone())).expect("registered once");
    let mut client = prometheus_client::registry::Registry::default();
    let family = prometheus_client::metrics::family::Family::<
        crate::series_memory::IdLabel,
        prometheus_client::metrics::counter::Counter,
    >::default();
    client.register("bench_requests", "Requests.", family.clone());
    for i in 0..series {
        vec.with_label_values(&[&i.to_string()]).inc_by(i as u64);
        family
            .get_or_create(&crate::series_memory::IdLabel { id: i.to_string() })
            .inc_by(i as u64);
    }
    let min = effort.pick(Duration::from_millis(300), Duration::from_millis(5));
    let bytes = ours.encode(runtime::metrics::Format::Text).len();
    let mut obs = || {
        seconds_per_call(min, || {
            drop(std::hint::black_box(ours.encode(runtime::metrics::Format::Text)))
        })
    };
    let mut prometheus = || {
        seconds_per_call(min, || {
            let mut out = Vec::new();
            prometheus::TextEncoder::new()
                .encode(&prom.gather(), &mut out)
                .expect("encodes");
            std::hint::black_box(out);
        })
    };
    let mut prometheus_client = || {
        seconds_per_call(min, || {
            let mut out = String::new();
            prometheus_client::encoding::text::encode(&mut out, &client).expect("encodes");
            std::hint::black_box(out);
        })
    };
    let medians = interleaved(effort.rounds, &mut [&mut obs, &mut prometheus, &mut prometheus_client]);
    ScrapeResult {
        series,
        obs: medians[0],
        prometheus: medians[1],
        prometheus_client: medians[2],
        bytes,
    }
}
