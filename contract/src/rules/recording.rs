//! Recording rules over the catalog: every metric aggregated across replicas (instance
//! dropped, job and declared labels kept), histogram quantiles, and the HTTP error ratio,
//! named `level:metric:operations` as Prometheus recommends.

use crate::catalog::{BuiltinGroup, Catalog, Family};
use crate::model::MetricType;

use super::{sum_by, RecordingRule};

/// The HTTP 5xx ratio recorded when the http group is on.
pub const HTTP_ERROR_RATIO: &str = "job:http_requests:error_ratio_rate5m";

const QUANTILES: [(&str, &str); 3] = [("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99")];

fn kept_labels(family: &Family, extra: &[&str]) -> Vec<String> {
    std::iter::once("job")
        .chain(extra.iter().copied())
        .chain(family.label_names())
        .map(String::from)
        .collect()
}

/// Name of the per-job rate of a counter: `job:<name without _total>:rate5m`.
pub fn counter_rate_name(family: &str) -> String {
    format!("job:{}:rate5m", family.strip_suffix("_total").unwrap_or(family))
}

/// Name of the per-job sum of a gauge.
pub fn gauge_sum_name(family: &str) -> String {
    format!("job:{family}:sum")
}

/// Name of the per-job bucket rates of a histogram: of its `_bucket` series for a classic
/// one, of the histogram itself for a native one.
pub fn bucket_rate_name(family: &Family) -> String {
    if family.is_native() {
        format!("job:{}:rate5m", family.name)
    } else {
        format!("job:{}_bucket:rate5m", family.name)
    }
}

/// The label a classic histogram's buckets are summed by beside the others: `le`; none for
/// a native histogram, whose buckets travel inside each sample.
pub fn bucket_labels(family: &Family) -> &'static [&'static str] {
    if family.is_native() {
        &[]
    } else {
        &["le"]
    }
}

/// Name of a per-job quantile of a histogram (`p95`).
pub fn quantile_name(family: &str, label: &str) -> String {
    format!("job:{family}:{label}_rate5m")
}

pub fn recording_rules(catalog: &Catalog) -> Vec<RecordingRule> {
    let mut rules = Vec::new();
    let mut record = |record: String, expr: String| {
        rules.push(RecordingRule {
            record,
            expr,
            labels: Default::default(),
        })
    };
    for family in &catalog.families {
        let name = &family.name;
        match family.kind {
            MetricType::Counter => record(
                counter_rate_name(name),
                sum_by(&kept_labels(family, &[]), &format!("rate({name}[5m])")),
            ),
            MetricType::Gauge => record(gauge_sum_name(name), sum_by(&kept_labels(family, &[]), name)),
            MetricType::Histogram => {
                let buckets = bucket_rate_name(family);
                let series = if family.is_native() {
                    name.clone()
                } else {
                    format!("{name}_bucket")
                };
                record(
                    buckets.clone(),
                    sum_by(
                        &kept_labels(family, bucket_labels(family)),
                        &format!("rate({series}[5m])"),
                    ),
                );
                for (quantile, label) in QUANTILES {
                    record(
                        quantile_name(name, label),
                        format!("histogram_quantile({quantile}, {buckets})"),
                    );
                }
                let by = kept_labels(family, &[]);
                let mean = if family.is_native() {
                    // The recorded rate already holds the sum and count of each label set.
                    format!("histogram_sum({buckets}) / histogram_count({buckets})")
                } else {
                    format!(
                        "{} / {}",
                        sum_by(&by, &format!("rate({name}_sum[5m])")),
                        sum_by(&by, &format!("rate({name}_count[5m])"))
                    )
                };
                record(format!("job:{name}:mean_rate5m"), mean);
            }
        }
    }
    if catalog.has_group(BuiltinGroup::Http) {
        let job = ["job".to_string()];
        record(
            HTTP_ERROR_RATIO.into(),
            format!(
                "{} / {}",
                sum_by(&job, r#"rate(http_requests_total{status=~"5.."}[5m])"#),
                sum_by(&job, "rate(http_requests_total[5m])")
            ),
        );
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Spec;

    #[test]
    fn native_histograms_are_read_by_their_own_name() {
        let spec: Spec = serde_yaml::from_str("service: {name: s}\nmetrics: {builtin: {http: {native: {}}}}").unwrap();
        let rules = recording_rules(&Catalog::from_spec(&spec));
        let find = |name: &str| rules.iter().find(|r| r.record == name).map(|r| r.expr.clone());
        assert_eq!(
            find("job:http_request_duration_seconds:rate5m").unwrap(),
            "sum by (job, route, method) (rate(http_request_duration_seconds[5m]))"
        );
        assert_eq!(
            find("job:http_request_duration_seconds:p95_rate5m").unwrap(),
            "histogram_quantile(0.95, job:http_request_duration_seconds:rate5m)"
        );
        assert_eq!(
            find("job:http_request_duration_seconds:mean_rate5m").unwrap(),
            "histogram_sum(job:http_request_duration_seconds:rate5m) / histogram_count(job:http_request_duration_seconds:rate5m)"
        );
        assert!(find("job:http_request_duration_seconds_bucket:rate5m").is_none());
    }

    #[test]
    fn aggregates_each_type_across_instances() {
        let spec: Spec =
            serde_yaml::from_str("service: {name: s}\nmetrics: {builtin: {websocket: {}, http: {}}}").unwrap();
        let rules = recording_rules(&Catalog::from_spec(&spec));
        let find = |name: &str| rules.iter().find(|r| r.record == name).map(|r| r.expr.clone());
        assert_eq!(
            find("job:websocket_messages:rate5m").unwrap(),
            "sum by (job) (rate(websocket_messages_total[5m]))"
        );
        assert_eq!(
            find("job:websocket_active_connections:sum").unwrap(),
            "sum by (job) (websocket_active_connections)"
        );
        assert_eq!(
            find("job:websocket_connection_duration_seconds:p95_rate5m").unwrap(),
            "histogram_quantile(0.95, job:websocket_connection_duration_seconds_bucket:rate5m)"
        );
        assert!(find("job:http_request_duration_seconds_bucket:rate5m")
            .unwrap()
            .starts_with("sum by (job, le, route, method)"));
        assert!(find(HTTP_ERROR_RATIO).is_some());
    }
}
