//! Criterion micro-benchmarks of counting: obs handles and lookups against the
//! `prometheus` crate's. `cargo bench -p bench --bench hot_path`.

use criterion::{criterion_group, criterion_main, Criterion};

fn counting(c: &mut Criterion) {
    let spec = contract::load_bytes(
        b"service: {name: bench}\nmetrics:\n  custom:\n    - {name: hits_total, type: counter, help: H., labels: [{name: method, values: [GET, POST]}]}\n    - {name: calls_total, type: counter, help: C., labels: [{name: method, max_series: 8}, {name: route, max_series: 8}]}\n",
        "bench.yaml",
    )
    .expect("loads")
    .spec;
    let registry = runtime::metrics::Registry::from_catalog(&contract::Catalog::from_spec(&spec), "app");
    let closed = registry.counter("hits_total", &["method"]).expect("declared");
    let open = registry.counter("calls_total", &["method", "route"]).expect("declared");
    let handle = closed.at(&[0]);
    let prom = prometheus::IntCounterVec::new(prometheus::Opts::new("calls_total", "C."), &["method", "route"])
        .expect("valid");
    let cached = prom.with_label_values(&["GET", "/a"]);
    let mut group = c.benchmark_group("count");
    group.bench_function("obs/handle_inc", |b| b.iter(|| handle.inc()));
    group.bench_function("obs/closed_index_inc", |b| b.iter(|| closed.get(&[0]).inc()));
    group.bench_function("obs/open_lookup_inc", |b| b.iter(|| open.with(&["GET", "/a"]).inc()));
    group.bench_function("obs/open_apply_inc", |b| {
        b.iter(|| open.apply(&["GET", "/a"], runtime::metrics::Counter::inc))
    });
    group.bench_function("prometheus/cached_inc", |b| b.iter(|| cached.inc()));
    group.bench_function("prometheus/with_label_values_inc", |b| {
        b.iter(|| prom.with_label_values(&["GET", "/a"]).inc())
    });
    group.finish();
}

criterion_group!(benches, counting);
criterion_main!(benches);
