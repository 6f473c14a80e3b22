//! Target 3: the cost of counting: `inc()` on a handle, a labelled lookup (closed labels by
//! index, open labels by value, with or without taking a handle), against the `prometheus`
//! crate's `with_label_values` and a cached child; single-threaded and with two threads
//! contending.

use std::time::Instant;

use crate::{interleaved, Effort};

/// Median nanoseconds per operation.
#[derive(Debug, Clone, PartialEq)]
pub struct HotResult {
    pub threads: usize,
    pub obs_handle_inc: f64,
    pub obs_closed_lookup_inc: f64,
    pub obs_open_lookup_inc: f64,
    pub obs_open_apply_inc: f64,
    pub prometheus_cached_inc: f64,
    pub prometheus_lookup_inc: f64,
}

fn nanos_per_op(threads: usize, ops: u64, op: &(dyn Fn() + Sync)) -> f64 {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..ops {
                    op();
                }
            });
        }
    });
    started.elapsed().as_nanos() as f64 / ops as f64
}

pub fn run(threads: usize, effort: Effort) -> HotResult {
    let spec = contract::load_bytes(
        b"service: {name: bench}\nmetrics:\n  custom:\n    - {name: hits_total, type: counter, help: H., labels: [{name: method, values: [GET, POST]}, {name: route, values: [/a, /b]}]}\n    - {name: calls_total, type: counter, help: C., labels: [{name: method, max_series: 8}, {name: route, max_series: 8}]}\n",
        "bench.yaml",
    )
    .expect("loads")
    .spec;
    let registry = runtime::metrics::Registry::from_catalog(&contract::Catalog::from_spec(&spec), "app");
    let closed = registry.counter("hits_total", &["method", "route"]).expect("declared");
    let open = registry.counter("calls_total", &["method", "route"]).expect("declared");
    let handle = closed.at(&[0, 1]);
    let prom = prometheus::IntCounterVec::new(prometheus::Opts::new("calls_total", "C."), &["method", "route"])
        .expect("valid");
    let cached = prom.with_label_values(&["GET", "/a"]);
    let ops = effort.pick(2_000_000u64, 1_000);
    let mut a = || nanos_per_op(threads, ops, &|| handle.inc());
    let mut b = || nanos_per_op(threads, ops, &|| closed.get(&[0, 1]).inc());
    let mut c = || nanos_per_op(threads, ops, &|| open.with(&["GET", "/a"]).inc());
    let mut d = || nanos_per_op(threads, ops, &|| cached.inc());
    let mut e = || nanos_per_op(threads, ops, &|| prom.with_label_values(&["GET", "/a"]).inc());
    let mut f = || {
        nanos_per_op(threads, ops, &|| {
            open.apply(&["GET", "/a"], runtime::metrics::Counter::inc)
        })
    };
    let m = interleaved(effort.rounds, &mut [&mut a, &mut b, &mut c, &mut d, &mut e, &mut f]);
    HotResult {
        threads,
        obs_handle_inc: m[0],
        obs_closed_lookup_inc: m[1],
        obs_open_lookup_inc: m[2],
        prometheus_cached_inc: m[3],
        prometheus_lookup_inc: m[4],
        obs_open_apply_inc: m[5],
    }
}
