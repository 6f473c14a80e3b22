//! The protobuf exposition decoded by an independent reader: prost messages declared here
//! from `io.prometheus.client`'s metrics.proto field numbers, not the runtime's encoder.
//! Families, label values (escapes included), counters, gauges, classic buckets and native
//! buckets (spans and deltas back to per-bucket counts) all read back as observed.

use prost::Message;
use runtime::metrics::{Negotiated, Registry};

#[derive(Clone, PartialEq, prost::Message)]
struct MetricFamily {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    help: Option<String>,
    #[prost(int32, optional, tag = "3")]
    kind: Option<i32>,
    #[prost(message, repeated, tag = "4")]
    metric: Vec<Metric>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Metric {
    #[prost(message, repeated, tag = "1")]
    label: Vec<LabelPair>,
    #[prost(message, optional, tag = "2")]
    gauge: Option<Value>,
    #[prost(message, optional, tag = "3")]
    counter: Option<Value>,
    #[prost(message, optional, tag = "7")]
    histogram: Option<Histogram>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct LabelPair {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    value: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Value {
    #[prost(double, optional, tag = "1")]
    value: Option<f64>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Histogram {
    #[prost(uint64, optional, tag = "1")]
    sample_count: Option<u64>,
    #[prost(double, optional, tag = "2")]
    sample_sum: Option<f64>,
    #[prost(message, repeated, tag = "3")]
    bucket: Vec<Bucket>,
    #[prost(sint32, optional, tag = "5")]
    schema: Option<i32>,
    #[prost(double, optional, tag = "6")]
    zero_threshold: Option<f64>,
    #[prost(uint64, optional, tag = "7")]
    zero_count: Option<u64>,
    #[prost(message, repeated, tag = "9")]
    negative_span: Vec<Span>,
    #[prost(sint64, repeated, packed = "false", tag = "10")]
    negative_delta: Vec<i64>,
    #[prost(message, repeated, tag = "12")]
    positive_span: Vec<Span>,
    #[prost(sint64, repeated, packed = "false", tag = "13")]
    positive_delta: Vec<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Bucket {
    #[prost(uint64, optional, tag = "1")]
    cumulative_count: Option<u64>,
    #[prost(double, optional, tag = "2")]
    upper_bound: Option<f64>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Span {
    #[prost(sint32, optional, tag = "1")]
    offset: Option<i32>,
    #[prost(uint32, optional, tag = "2")]
    length: Option<u32>,
}

fn decode(mut bytes: &[u8]) -> Vec<MetricFamily> {
    let mut families = Vec::new();
    while !bytes.is_empty() {
        families.push(MetricFamily::decode_length_delimited(&mut bytes).expect("a length-delimited MetricFamily"));
    }
    families
}

/// Per-bucket counts by key, from spans and deltas.
fn buckets(spans: &[Span], deltas: &[i64]) -> Vec<(i32, i64)> {
    let mut out = Vec::new();
    let (mut key, mut count, mut deltas) = (0i32, 0i64, deltas.iter());
    for (i, span) in spans.iter().enumerate() {
        key += span.offset.unwrap_or(0) + if i == 0 { 0 } else { 1 };
        for j in 0..span.length.unwrap_or(0) {
            count += deltas.next().expect("a delta per bucket");
            if j > 0 {
                key += 1;
            }
            if count != 0 {
                out.push((key, count));
            }
        }
    }
    assert!(deltas.next().is_none(), "more deltas than buckets");
    out
}

/// The key of a value at a schema, from the definition (away from bucket boundaries).
fn expected_key(value: f64, schema: i32) -> i32 {
    (value.log2() * 2f64.powi(schema)).ceil() as i32
}

const SPEC: &str = r#"
service: {name: shop}
metrics:
  custom:
    - name: shop_orders_total
      type: counter
      help: Orders taken.
      labels: [{name: channel, values: [web, "a\"b"]}]
    - name: shop_queue_depth
      type: gauge
      help: Orders waiting.
    - name: shop_checkout_duration_seconds
      type: histogram
      help: Time to check out.
      unit: seconds
      native: {schema: 3}
      buckets: [0.1, 1]
    - name: shop_refund_duration_seconds
      type: histogram
      help: Time to refund.
      unit: seconds
      native: {schema: 0}
"#;

fn registry() -> Registry {
    let spec = contract::load_bytes(SPEC.as_bytes(), "shop.yaml").unwrap().spec;
    Registry::from_catalog(&contract::Catalog::from_spec(&spec), "app")
}

#[test]
fn every_family_reads_back_from_the_protobuf_exposition() {
    let registry = registry();
    registry
        .counter("shop_orders_total", &["channel"])
        .unwrap()
        .with(&["a\"b"])
        .inc_by(3);
    registry.gauge("shop_queue_depth", &[]).unwrap().single().set(7.5);
    let checkout = registry
        .histogram("shop_checkout_duration_seconds", &[])
        .unwrap()
        .single();
    let observed = [0.003, 0.05, 0.05, 0.3, 0.7, 2.5, 40.0, -0.2, 0.0];
    for value in observed {
        checkout.observe(value);
    }
    let families = decode(&registry.exposition(Negotiated::Protobuf));
    let family = |name: &str| families.iter().find(|f| f.name.as_deref() == Some(name)).unwrap();

    let orders = family("shop_orders_total");
    assert_eq!(orders.kind, Some(0));
    let escaped = orders
        .metric
        .iter()
        .find(|m| m.label[0].value.as_deref() == Some("a\"b"))
        .expect("the escaped label value reads back unescaped");
    assert_eq!(escaped.counter.as_ref().unwrap().value, Some(3.0));
    assert_eq!(
        family("shop_queue_depth").metric[0].gauge.as_ref().unwrap().value,
        Some(7.5)
    );

    let histogram = family("shop_checkout_duration_seconds");
    assert_eq!(histogram.kind, Some(4));
    let h = histogram.metric[0].histogram.as_ref().unwrap();
    assert_eq!(h.sample_count, Some(observed.len() as u64));
    assert!((h.sample_sum.unwrap() - observed.iter().sum::<f64>()).abs() < 1e-9);
    // Classic buckets beside: cumulative, +Inf left out.
    let classic: Vec<(f64, u64)> = h
        .bucket
        .iter()
        .map(|b| (b.upper_bound.unwrap(), b.cumulative_count.unwrap()))
        .collect();
    assert_eq!(classic, vec![(0.1, 5), (1.0, 7)]);
    assert_eq!(h.schema, Some(3));
    assert_eq!(h.zero_threshold, Some(runtime::metrics::native::ZERO_THRESHOLD));
    assert_eq!(h.zero_count, Some(1));
    let mut expected: Vec<(i32, i64)> = Vec::new();
    for value in observed.iter().filter(|v| **v > 0.0) {
        let key = expected_key(*value, 3);
        match expected.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 += 1,
            None => expected.push((key, 1)),
        }
    }
    expected.sort();
    assert_eq!(buckets(&h.positive_span, &h.positive_delta), expected);
    assert_eq!(
        buckets(&h.negative_span, &h.negative_delta),
        vec![(expected_key(0.2, 3), 1)]
    );
}

#[test]
fn an_empty_native_histogram_is_still_native_and_has_no_classic_buckets() {
    let registry = registry();
    let families = decode(&registry.exposition(Negotiated::Protobuf));
    let refund = families
        .iter()
        .find(|f| f.name.as_deref() == Some("shop_refund_duration_seconds"))
        .unwrap();
    let h = refund.metric[0].histogram.as_ref().unwrap();
    assert_eq!(h.sample_count, Some(0));
    assert!(h.bucket.is_empty(), "native only: no classic buckets");
    assert_eq!(h.schema, Some(0));
    // The zero threshold is what tells Prometheus 2.x (and 3.x) it is native.
    assert!(h.zero_threshold.unwrap() > 0.0);
    assert!(h.positive_span.is_empty());
}

#[test]
fn the_text_exposition_of_a_native_only_histogram_has_its_count_and_sum() {
    let registry = registry();
    registry
        .histogram("shop_refund_duration_seconds", &[])
        .unwrap()
        .single()
        .observe(1.5);
    let text = registry.encode(runtime::metrics::Format::Text);
    assert!(
        text.contains("shop_refund_duration_seconds_bucket{le=\"+Inf\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("shop_refund_duration_seconds_count 1\n"), "{text}");
}

#[test]
fn counts_match_the_native_buckets_while_observations_arrive() {
    let registry = registry();
    let checkout = registry
        .histogram("shop_checkout_duration_seconds", &[])
        .unwrap()
        .single();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for worker in 0..2 {
            let (checkout, stop) = (checkout.clone(), &stop);
            scope.spawn(move || {
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 5_000_000 {
                    checkout.observe(0.001 * ((i + worker) % 4000) as f64 - 0.5);
                    i += 1;
                }
            });
        }
        for _ in 0..50 {
            let families = decode(&registry.exposition(Negotiated::Protobuf));
            let h = families
                .iter()
                .find(|f| f.name.as_deref() == Some("shop_checkout_duration_seconds"))
                .and_then(|f| f.metric[0].histogram.clone())
                .unwrap();
            let in_buckets: i64 = buckets(&h.positive_span, &h.positive_delta)
                .iter()
                .chain(&buckets(&h.negative_span, &h.negative_delta))
                .map(|(_, count)| count)
                .sum();
            assert_eq!(h.sample_count.unwrap(), h.zero_count.unwrap() + in_buckets as u64);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}
