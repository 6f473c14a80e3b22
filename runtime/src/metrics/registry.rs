//! The registry: every family the spec's catalog gives this component, created at start-up
//! and nothing else, plus the process collector when the `process` group is on. Typed
//! handles (generated from obs.yaml by obs-build) look their families up here once.

use std::sync::Arc;

use contract::catalog::{BuiltinGroup, Catalog, Family as CatalogFamily, Origin, SERIES_DROPPED};
use contract::model::MetricType;
use hashbrown::HashMap;
use prometheus::core::Collector;

use super::cells::{Counter, Gauge, Histogram};
use super::encode::{push_f64, push_help, push_series, push_u64, Format, Negotiated};
use super::family::{Family, FamilyCells, LabelSchema, LabelValues};
use super::native::ZERO_THRESHOLD;
use super::protobuf::{label_pairs, FamilyWriter, HistogramValue, Kind, NativeValue, Value};

/// A family of one of the three types.
#[derive(Debug)]
pub enum Metric {
    Counter(Family<Counter>),
    Gauge(Family<Gauge>),
    Histogram(Family<Histogram>),
}

#[derive(Debug)]
struct Entry {
    name: String,
    help: String,
    metric: Arc<Metric>,
    /// Rendered `le` values of a histogram's bounds, then `+Inf`.
    le: Vec<String>,
}

/// Why a typed handle could not be bound to the registry.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetricError {
    #[error("metric `{name}` is not declared in the spec this process runs with (the binary was built against a spec that declares it)")]
    Missing { name: String },
    #[error("metric `{name}` is a {found} in the spec, but the binary was built for a {expected}")]
    WrongType {
        name: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("metric `{name}` has labels {found:?} in the spec, but the binary was built for {expected:?}")]
    WrongLabels {
        name: String,
        expected: Vec<String>,
        found: Vec<String>,
    },
}

/// Every family a component exposes.
#[derive(Debug)]
pub struct Registry {
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
    process: Option<Arc<prometheus::process_collector::ProcessCollector>>,
}

fn schema(family: &CatalogFamily) -> Vec<LabelSchema> {
    family
        .labels
        .iter()
        .map(|label| LabelSchema {
            name: label.name.clone(),
            values: match (&label.values, label.max_values) {
                (Some(values), _) => LabelValues::Closed(values.clone()),
                (None, max) => LabelValues::Open(max.unwrap_or(0)),
            },
        })
        .collect()
}

impl Registry {
    /// Creates the families of `component` (all of them when the spec has one component).
    pub fn from_catalog(catalog: &Catalog, component: &str) -> Self {
        let mut registry = Registry {
            entries: Vec::new(),
            by_name: HashMap::new(),
            process: None,
        };
        let exposed: Vec<&CatalogFamily> = catalog.for_component(component).collect();
        // The drop counter first, so every capped family can hold its own child of it.
        let own_capped: Vec<String> = exposed
            .iter()
            .filter(|f| f.labels.iter().any(|l| l.values.is_none()))
            .map(|f| f.name.clone())
            .collect();
        let dropped: Option<Arc<Metric>> = exposed.iter().find(|f| f.name == SERIES_DROPPED).map(|f| {
            // Series for this component's capped families only: another component's, at
            // zero here, would read as metrics this process has.
            let mut labels = schema(f);
            if let Some(metric) = labels.first_mut() {
                metric.values = LabelValues::Closed(own_capped.clone());
            }
            Arc::new(Metric::Counter(Family::new(
                labels,
                f.max_series,
                FamilyCells::default(),
                |_| Counter::default(),
                None,
            )))
        });
        let dropped_child = |name: &str| match dropped.as_deref() {
            Some(Metric::Counter(family)) => Some(family.series(&[name])),
            _ => None,
        };
        for family in exposed {
            if family.origin == Origin::Builtin(BuiltinGroup::Process) {
                if registry.process.is_none() {
                    registry.process = Some(Arc::new(prometheus::process_collector::ProcessCollector::for_self()));
                }
                continue;
            }
            let (metric, le) = if family.name == SERIES_DROPPED {
                match &dropped {
                    Some(metric) => (metric.clone(), Vec::new()),
                    None => continue,
                }
            } else {
                let labels = schema(family);
                let capped = family.labels.iter().any(|l| l.values.is_none());
                let drop_counter = if capped { dropped_child(&family.name) } else { None };
                match family.kind {
                    MetricType::Counter => (
                        Arc::new(Metric::Counter(Family::new(
                            labels,
                            family.max_series,
                            FamilyCells::default(),
                            |_| Counter::default(),
                            drop_counter,
                        ))),
                        Vec::new(),
                    ),
                    MetricType::Gauge => (
                        Arc::new(Metric::Gauge(Family::new(
                            labels,
                            family.max_series,
                            FamilyCells::default(),
                            |_| Gauge::default(),
                            drop_counter,
                        ))),
                        Vec::new(),
                    ),
                    MetricType::Histogram => {
                        let bounds: Arc<[f64]> = family.buckets.iter().map(|b| b.to_f64()).collect();
                        let mut le: Vec<String> = family.buckets.iter().map(|b| b.to_string()).collect();
                        le.push("+Inf".into());
                        let cells = FamilyCells {
                            bounds: Some(bounds),
                            native_schema: family.native_schema,
                        };
                        let make = |cells: &FamilyCells| {
                            Histogram::with_native(
                                cells.bounds.clone().unwrap_or_else(|| Arc::from(Vec::new())),
                                cells.native_schema,
                            )
                        };
                        (
                            Arc::new(Metric::Histogram(Family::new(
                                labels,
                                family.max_series,
                                cells,
                                make,
                                drop_counter,
                            ))),
                            le,
                        )
                    }
                }
            };
            registry.by_name.insert(family.name.clone(), registry.entries.len());
            registry.entries.push(Entry {
                name: family.name.clone(),
                help: family.help.clone(),
                metric,
                le,
            });
        }
        registry
    }

    fn lookup(&self, name: &str, expected: &'static str, labels: &[&str]) -> Result<&Arc<Metric>, MetricError> {
        let entry = self
            .by_name
            .get(name)
            .map(|i| &self.entries[*i])
            .ok_or_else(|| MetricError::Missing { name: name.into() })?;
        let (found, names) = match &*entry.metric {
            Metric::Counter(f) => ("counter", f.label_names()),
            Metric::Gauge(f) => ("gauge", f.label_names()),
            Metric::Histogram(f) => ("histogram", f.label_names()),
        };
        if found != expected {
            return Err(MetricError::WrongType {
                name: name.into(),
                expected,
                found,
            });
        }
        if names.iter().map(String::as_str).ne(labels.iter().copied()) {
            return Err(MetricError::WrongLabels {
                name: name.into(),
                expected: labels.iter().map(|s| s.to_string()).collect(),
                found: names.to_vec(),
            });
        }
        Ok(&entry.metric)
    }

    /// The counter family `name` with exactly these labels.
    pub fn counter(&self, name: &str, labels: &[&str]) -> Result<CounterFamily, MetricError> {
        let metric = self.lookup(name, "counter", labels)?.clone();
        Ok(CounterFamily(metric))
    }

    pub fn gauge(&self, name: &str, labels: &[&str]) -> Result<GaugeFamily, MetricError> {
        let metric = self.lookup(name, "gauge", labels)?.clone();
        Ok(GaugeFamily(metric))
    }

    pub fn histogram(&self, name: &str, labels: &[&str]) -> Result<HistogramFamily, MetricError> {
        let metric = self.lookup(name, "histogram", labels)?.clone();
        Ok(HistogramFamily(metric))
    }

    /// Names of the families this registry exposes (process families included).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.entries.iter().map(|e| e.name.clone()).collect();
        if let Some(process) = &self.process {
            names.extend(process.desc().iter().map(|d| d.fq_name.clone()));
        }
        names
    }

    /// The whole exposition in the negotiated format.
    pub fn exposition(&self, negotiated: Negotiated) -> Vec<u8> {
        match negotiated {
            Negotiated::Text(format) => self.encode(format).into_bytes(),
            Negotiated::Protobuf => self.encode_protobuf(),
        }
    }

    /// The whole exposition as length-delimited protobuf `MetricFamily` messages, native
    /// histograms with their exponential buckets.
    pub fn encode_protobuf(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 128);
        let mut writer = FamilyWriter::default();
        for entry in &self.entries {
            match &*entry.metric {
                Metric::Counter(family) => {
                    writer.start(&entry.name, &entry.help, Kind::Counter);
                    family.for_each(|labels, cell| {
                        writer.series(label_pairs(labels), Value::Counter(cell.get() as f64));
                    });
                }
                Metric::Gauge(family) => {
                    writer.start(&entry.name, &entry.help, Kind::Gauge);
                    family.for_each(|labels, cell| writer.series(label_pairs(labels), Value::Gauge(cell.get())));
                }
                Metric::Histogram(family) => {
                    writer.start(&entry.name, &entry.help, Kind::Histogram);
                    family.for_each(|labels, cell| {
                        let cumulative = cell.cumulative();
                        let native = cell.native().map(|native| NativeValue {
                            schema: native.schema(),
                            zero_threshold: ZERO_THRESHOLD,
                            zero_count: native.zero_count(),
                            positive: native.positive(),
                            negative: native.negative(),
                        });
                        // Prometheus refuses a native histogram whose count differs from
                        // what its buckets hold: with observations arriving while this
                        // reads, the count is taken from the very bucket counts read.
                        let count = match (&native, cell.native()) {
                            (Some(read), Some(cells)) => {
                                read.zero_count + read.positive.total + read.negative.total + cells.nan_count()
                            }
                            _ => cumulative.last().copied().unwrap_or(0),
                        };
                        let value = HistogramValue {
                            count,
                            sum: cell.sum(),
                            classic: cell.0.bounds.iter().copied().zip(cumulative.iter().copied()).collect(),
                            native,
                        };
                        writer.series(label_pairs(labels), Value::Histogram(&value));
                    });
                }
            }
            writer.finish(&mut out);
        }
        if let Some(process) = &self.process {
            for family in process.collect() {
                let is_counter = family.get_field_type() == prometheus::proto::MetricType::COUNTER;
                writer.start(
                    family.name(),
                    family.help(),
                    if is_counter { Kind::Counter } else { Kind::Gauge },
                );
                for metric in family.get_metric() {
                    let value = if is_counter {
                        Value::Counter(metric.get_counter().get_value())
                    } else {
                        Value::Gauge(metric.get_gauge().get_value())
                    };
                    writer.series(std::iter::empty(), value);
                }
                writer.finish(&mut out);
            }
        }
        out
    }

    /// The whole exposition in a text format.
    pub fn encode(&self, format: Format) -> String {
        let mut out = String::with_capacity(self.entries.len() * 256);
        for entry in &self.entries {
            encode_entry(&mut out, entry, format);
        }
        if let Some(process) = &self.process {
            encode_process(&mut out, &process.collect(), format);
        }
        if format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
        out
    }
}

/// OpenMetrics names a counter family without `_total` and its sample with it.
fn family_name(name: &str, is_counter: bool, format: Format) -> &str {
    match format {
        Format::OpenMetrics if is_counter => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    push_help(out, help);
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

fn encode_entry(out: &mut String, entry: &Entry, format: Format) {
    match &*entry.metric {
        Metric::Counter(family) => {
            let base = family_name(&entry.name, true, format);
            header(out, base, &entry.help, "counter");
            let sample = if format == Format::OpenMetrics && base != entry.name.as_str() {
                entry.name.as_str()
            } else {
                base
            };
            family.for_each(|labels, cell| {
                push_series(out, sample, "", labels, None);
                out.push(' ');
                push_u64(out, cell.get());
                out.push('\n');
            });
        }
        Metric::Gauge(family) => {
            header(out, &entry.name, &entry.help, "gauge");
            family.for_each(|labels, cell| {
                push_series(out, &entry.name, "", labels, None);
                out.push(' ');
                push_f64(out, cell.get());
                out.push('\n');
            });
        }
        Metric::Histogram(family) => {
            header(out, &entry.name, &entry.help, "histogram");
            family.for_each(|labels, cell| {
                let cumulative = cell.cumulative();
                for (le, count) in entry.le.iter().zip(&cumulative) {
                    push_series(out, &entry.name, "_bucket", labels, Some(("le", le)));
                    out.push(' ');
                    push_u64(out, *count);
                    out.push('\n');
                }
                push_series(out, &entry.name, "_sum", labels, None);
                out.push(' ');
                push_f64(out, cell.sum());
                out.push('\n');
                push_series(out, &entry.name, "_count", labels, None);
                out.push(' ');
                push_u64(out, cumulative.last().copied().unwrap_or(0));
                out.push('\n');
            });
        }
    }
}

fn encode_process(out: &mut String, families: &[prometheus::proto::MetricFamily], format: Format) {
    for family in families {
        let is_counter = family.get_field_type() == prometheus::proto::MetricType::COUNTER;
        let name = family.name();
        let base = family_name(name, is_counter, format);
        header(out, base, family.help(), if is_counter { "counter" } else { "gauge" });
        for metric in family.get_metric() {
            out.push_str(name);
            out.push(' ');
            let value = if is_counter {
                metric.get_counter().get_value()
            } else {
                metric.get_gauge().get_value()
            };
            push_f64(out, value);
            out.push('\n');
        }
    }
}

macro_rules! typed_family {
    ($name:ident, $cell:ty, $variant:ident) => {
        /// A family handle bound to the registry; `with` returns the series for label values.
        #[derive(Debug, Clone)]
        pub struct $name(Arc<Metric>);

        impl $name {
            fn family(&self) -> &Family<$cell> {
                match &*self.0 {
                    Metric::$variant(family) => family,
                    _ => unreachable!("checked when bound"),
                }
            }

            /// The series for these label values (created within the caps).
            pub fn with(&self, values: &[&str]) -> $cell {
                self.family().series(values)
            }

            /// Runs `f` on the series for these label values without taking a handle of it
            /// (one atomic update, no reference count): `requests.apply(&[..], Counter::inc)`.
            pub fn apply<R>(&self, values: &[&str], f: impl FnOnce(&$cell) -> R) -> R {
                self.family().visit(values, f)
            }

            /// The series for these label values and whether it is exactly theirs (false
            /// when folded into `other`): what may be kept aside and reused.
            pub fn resolve(&self, values: &[&str]) -> ($cell, bool) {
                self.family().resolve(values)
            }

            /// The series of an all-closed family by each label's value index, borrowed:
            /// no lock and no reference count, as cheap as a handle kept aside.
            pub fn get(&self, indices: &[usize]) -> &$cell {
                self.family().closed_ref(indices)
            }

            /// The series of an all-closed family by each label's value index; no lock.
            pub fn at(&self, indices: &[usize]) -> $cell {
                self.family()
                    .closed_series(indices)
                    .cloned()
                    .unwrap_or_else(|| self.family().series(&[]))
            }

            /// The only series of a family without labels.
            pub fn single(&self) -> $cell {
                self.at(&[])
            }

            /// How many series exist now.
            pub fn series_count(&self) -> usize {
                self.family().len()
            }
        }
    };
}

typed_family!(CounterFamily, Counter, Counter);
typed_family!(GaugeFamily, Gauge, Gauge);
typed_family!(HistogramFamily, Histogram, Histogram);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_counts_drops_only_for_its_own_capped_families() {
        let spec: contract::Spec = serde_yaml::from_str(
            "service:\n  name: s\n  components: [{name: api}, {name: worker}]\nmetrics:\n  builtin:\n    http: {components: [api]}\n    jobs: {components: [worker]}\n",
        )
        .unwrap();
        let catalog = contract::Resolved::of(&spec).catalog;
        let api = Registry::from_catalog(&catalog, "api").encode(Format::Text);
        assert!(
            api.contains(r#"obs_series_dropped_total{metric="http_requests_total"} 0"#),
            "{api}"
        );
        assert!(!api.contains(r#"metric="jobs_processed_total""#), "{api}");
        let worker = Registry::from_catalog(&catalog, "worker").encode(Format::Text);
        assert!(
            worker.contains(r#"obs_series_dropped_total{metric="jobs_processed_total"} 0"#),
            "{worker}"
        );
        assert!(!worker.contains(r#"metric="http_requests_total""#), "{worker}");
    }
}
