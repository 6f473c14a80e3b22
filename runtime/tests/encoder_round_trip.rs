//! Property: whatever values and label texts a service records, the runtime's own encoder
//! writes an exposition that the exposition parser reads back to the same values, in both
//! formats. The encoder is hand-written for speed (BENCHMARKS.md); this is what keeps it
//! honest about escaping and number formatting.

use std::collections::BTreeMap;

use contract::exposition::{self, ParsedFamily};
use proptest::prelude::*;
use runtime::metrics::{Format, Registry};

const SPEC: &str = r#"
service: {name: prop}
metrics:
  custom:
    - name: events_total
      type: counter
      help: "Events, with a \\ backslash and a\nnewline in the help."
      labels: [{name: key, max_series: 64}]
    - name: level
      type: gauge
      help: A level.
      labels: [{name: key, max_series: 64}]
    - name: work_seconds
      type: histogram
      unit: seconds
      help: Work.
      buckets: [0.001, 0.1, 1, 10]
      labels: [{name: key, max_series: 64}]
"#;

const BUCKETS: [f64; 4] = [0.001, 0.1, 1.0, 10.0];

fn registry() -> Registry {
    let spec = contract::load_bytes(SPEC.as_bytes(), "prop.yaml").unwrap().spec;
    Registry::from_catalog(&contract::Resolved::of(&spec).catalog, "app")
}

/// Label values as services meet them: any text, quotes, backslashes and newlines included.
fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_]{1,12}",
        "\\PC{0,16}",
        Just("say \"hi\"\\n".to_string()),
        Just("line\nbreak\\".to_string()),
        Just("ünïcödé ✓".to_string()),
    ]
}

fn gauge_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
        -1e20..1e20f64,
        (-1_000_000i64..1_000_000).prop_map(|v| v as f64),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.1 + 0.2),
        Just(1e15),
        Just(-0.0),
    ]
}

#[derive(Debug, Clone)]
struct Recording {
    key: String,
    increments: Vec<u32>,
    gauge: f64,
    observations: Vec<f64>,
}

fn recording() -> impl Strategy<Value = Recording> {
    (
        label_value(),
        prop::collection::vec(any::<u32>(), 0..4),
        gauge_value(),
        prop::collection::vec(0.0..20.0f64, 0..8),
    )
        .prop_map(|(key, increments, gauge, observations)| Recording {
            key,
            increments,
            gauge,
            observations,
        })
}

fn value(families: &[ParsedFamily], sample: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    families
        .iter()
        .flat_map(|f| &f.samples)
        .find(|s| s.name == sample && s.labels == wanted)
        .map(|s| s.value)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_shrink_iters: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_exposition_reads_back_to_the_recorded_values(recordings in prop::collection::vec(recording(), 1..6)) {
        let registry = registry();
        let counter = registry.counter("events_total", &["key"]).unwrap();
        let gauge = registry.gauge("level", &["key"]).unwrap();
        let histogram = registry.histogram("work_seconds", &["key"]).unwrap();
        // The last recording of a key wins for the gauge; counters and histograms add up.
        let mut expected: BTreeMap<String, (u64, f64, Vec<f64>)> = BTreeMap::new();
        for r in &recordings {
            let entry = expected.entry(r.key.clone()).or_default();
            // Taking the handle creates the series, so it is exposed at 0 before any increment.
            let series = counter.with(&[&r.key]);
            let histogram_series = histogram.with(&[&r.key]);
            for n in &r.increments {
                series.inc_by(u64::from(*n));
                entry.0 += u64::from(*n);
            }
            gauge.with(&[&r.key]).set(r.gauge);
            entry.1 = r.gauge;
            for v in &r.observations {
                histogram_series.observe(*v);
                entry.2.push(*v);
            }
        }
        for format in [Format::Text, Format::OpenMetrics] {
            let text = registry.encode(format);
            let families = exposition::parse(&text)
                .map_err(|e| TestCaseError::fail(format!("{format:?} does not parse: {e}\n{text}")))?;
            let help = families.iter().find(|f| f.name == "events_total" || f.name == "events")
                .and_then(|f| f.help.clone());
            prop_assert_eq!(help.as_deref(), Some("Events, with a \\ backslash and a\nnewline in the help."));
            for (key, (count, level, observed)) in &expected {
                let labels = [("key", key.as_str())];
                prop_assert_eq!(value(&families, "events_total", &labels), Some(*count as f64), "{:?} counter {:?}", format, key);
                let read = value(&families, "level", &labels).unwrap();
                prop_assert!(read == *level || (read == 0.0 && *level == 0.0), "{:?} gauge {:?}: {} != {}", format, key, read, level);
                prop_assert_eq!(value(&families, "work_seconds_count", &labels), Some(observed.len() as f64));
                let sum: f64 = observed.iter().sum();
                let read_sum = value(&families, "work_seconds_sum", &labels).unwrap();
                prop_assert!((read_sum - sum).abs() <= 1e-9 * sum.abs().max(1.0), "{:?} sum {} != {}", format, read_sum, sum);
                for bound in BUCKETS.into_iter().chain([f64::INFINITY]) {
                    let below = observed.iter().filter(|v| **v <= bound).count() as f64;
                    prop_assert_eq!(bucket(&families, key, bound), Some(below), "{:?} bucket {}", format, bound);
                }
            }
        }
    }
}

/// The cumulative count of the bucket whose `le` reads as `bound`.
fn bucket(families: &[ParsedFamily], key: &str, bound: f64) -> Option<f64> {
    families
        .iter()
        .flat_map(|f| &f.samples)
        .find(|s| {
            s.name == "work_seconds_bucket"
                && s.labels.get("key").map(String::as_str) == Some(key)
                && s.labels.get("le").and_then(|le| le.parse::<f64>().ok()) == Some(bound)
        })
        .map(|s| s.value)
}
