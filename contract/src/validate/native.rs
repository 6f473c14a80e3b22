//! Native histograms: declared on histograms only, at a schema Prometheus accepts, and only
//! where the stack can scrape them: Prometheus 2.40 or later (2.45 to keep classic buckets
//! beside), and not into VictoriaMetrics, which does not ingest them.

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model::{MetricType, NativeHistogram};
use crate::prometheus_version::PrometheusVersion;

use super::Checker;

const MIN_SCHEMA: i8 = NativeHistogram::MIN_SCHEMA;
const MAX_SCHEMA: i8 = NativeHistogram::MAX_SCHEMA;

pub(super) fn check_all(checker: &mut Checker) {
    for (i, decl) in checker.spec.metrics.custom.iter().enumerate() {
        let Some(native) = decl.native else { continue };
        let path = format!("metrics.custom[{i}].native");
        if decl.kind != MetricType::Histogram {
            checker.push(
                Diagnostic::new(
                    Code::NativeHistogramInvalid,
                    path.clone(),
                    format!(
                        "`{}` is a {}; only histograms have native buckets",
                        decl.name,
                        decl.kind.as_str()
                    ),
                )
                .with_help("remove `native`, or make the metric a histogram"),
            );
        }
        check_schema(checker, &path, native.schema);
    }
    let builtin = &checker.spec.metrics.builtin;
    let groups = [
        ("http", builtin.http.as_ref().and_then(|g| g.native)),
        ("websocket", builtin.websocket.as_ref().and_then(|g| g.native)),
        ("jobs", builtin.jobs.as_ref().and_then(|g| g.native)),
    ];
    for (group, native) in groups {
        if let Some(native) = native {
            check_schema(checker, &format!("metrics.builtin.{group}.native"), native.schema);
        }
    }
    check_support(checker);
}

fn check_schema(checker: &mut Checker, path: &str, schema: i8) {
    if !(MIN_SCHEMA..=MAX_SCHEMA).contains(&schema) {
        checker.push(
            Diagnostic::new(
                Code::NativeHistogramInvalid,
                format!("{path}.schema"),
                format!("schema {schema} is outside the {MIN_SCHEMA} to {MAX_SCHEMA} Prometheus accepts"),
            )
            .with_help("3 (about 9% between bucket bounds) suits most latencies; each step up halves the spacing"),
        );
    }
}

fn check_support(checker: &mut Checker) {
    let version = checker.stack.prometheus;
    let natives: Vec<_> = checker.catalog.families.iter().filter(|f| f.is_native()).collect();
    let Some(first) = natives.first() else { return };
    let path = |family: &crate::catalog::Family| format!("{}.native", family.spec_path);
    if checker
        .spec
        .stack
        .storage
        .as_ref()
        .is_some_and(|s| s.victoriametrics.is_some())
    {
        checker.push(
            Diagnostic::new(
                Code::NativeHistogramUnsupported,
                path(first),
                format!("`{}` is a native histogram, which VictoriaMetrics (`stack.storage.victoriametrics`) does not ingest", first.name),
            )
            .with_help("keep it classic (remove `native`) while the stack stores into VictoriaMetrics"),
        );
        return;
    }
    if version < PrometheusVersion::NATIVE_HISTOGRAMS {
        checker.push(
            Diagnostic::new(
                Code::NativeHistogramUnsupported,
                path(first),
                format!(
                    "`{}` is a native histogram, which Prometheus scrapes from {} on; the stack targets {version}",
                    first.name,
                    PrometheusVersion::NATIVE_HISTOGRAMS
                ),
            )
            .with_help("target a newer Prometheus (`stack.prometheus.version` or the image tag), or remove `native`"),
        );
        return;
    }
    if version < PrometheusVersion::CLASSIC_BESIDE_NATIVE {
        if let Some(both) = natives.iter().find(|f| !f.buckets.is_empty()) {
            checker.push(
                Diagnostic::new(
                    Code::NativeHistogramUnsupported,
                    path(both),
                    format!(
                        "`{}` keeps classic buckets beside native ones, which Prometheus does from {} on (`scrape_classic_histograms`); {version} ingests only the native ones",
                        both.name,
                        PrometheusVersion::CLASSIC_BESIDE_NATIVE
                    ),
                )
                .with_help("remove `buckets` to go native only, or target a newer Prometheus"),
            );
        }
    }
}
