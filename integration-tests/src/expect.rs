//! What every end-to-end test holds a running service and its stack to, against its own
//! spec: each declared metric reached Prometheus with its type and labels (and moved, where
//! the traffic should have moved it), every recording rule and dashboard query returns data,
//! the live exposition matches the spec, every declared log event was written with its
//! fields and level, and every declared check has code behind it.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use contract::model::{LogLevel, MetricType, RuntimeEvent, Spec};
use contract::Resolved;
use serde_json::Value;

use crate::{encode, Prometheus};

/// Labels Prometheus adds to every series of a target.
const TARGET_LABELS: [&str; 5] = ["__name__", "job", "instance", "replica", "le"];

/// The series name to look a family up by (a classic histogram's `_count`, a native one's
/// own name).
fn sample_name(family: &contract::catalog::Family) -> String {
    if family.kind == MetricType::Histogram && !family.is_native() {
        format!("{}_count", family.name)
    } else {
        family.name.clone()
    }
}

/// Every metric `component` declares is in Prometheus with its declared type and exactly
/// its declared labels.
pub async fn declared_metrics_scraped(prometheus: &Prometheus, resolved: &Resolved, component: &str) {
    assert!(
        resolved.catalog.for_component(component).next().is_some(),
        "component `{component}` declares no metric"
    );
    for family in resolved.catalog.for_component(component) {
        // OpenMetrics names a counter's family without `_total`; the text and protobuf
        // formats keep it.
        let mut found_type = "none".to_string();
        for metadata_name in [family.name.trim_end_matches("_total"), family.name.as_str()] {
            let metadata = prometheus
                .api(&format!("/api/v1/metadata?metric={}", encode(metadata_name)))
                .await
                .unwrap();
            if let Some(kind) = metadata[metadata_name][0]["type"].as_str() {
                found_type = kind.to_string();
                break;
            }
        }
        assert_eq!(
            found_type,
            family.kind.as_str(),
            "type of {} in Prometheus",
            family.name
        );
        let series = prometheus
            .api(&format!("/api/v1/series?match[]={}", encode(&sample_name(family))))
            .await
            .unwrap();
        let series = series.as_array().unwrap();
        assert!(!series.is_empty(), "{} has no series in Prometheus", family.name);
        let declared: BTreeSet<String> = family.label_names().map(String::from).collect();
        for labels in series {
            let own: BTreeSet<String> = labels
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| !TARGET_LABELS.contains(&k.as_str()))
                .cloned()
                .collect();
            assert_eq!(own, declared, "labels of {} in Prometheus", family.name);
        }
    }
}

/// Whether a family has moved in the last `window`: a counter or histogram has counted
/// something, a gauge has been anything but zero or has changed.
pub async fn moved(prometheus: &Prometheus, family: &contract::catalog::Family, window: &str) -> Result<bool, String> {
    let name = sample_name(family);
    let query = match family.kind {
        MetricType::Gauge => {
            format!("count(abs(max_over_time({name}[{window}])) > 0 or changes({name}[{window}]) > 0)")
        }
        // `max_over_time` reads floats only: a native histogram's count is taken first.
        MetricType::Histogram if family.is_native() => {
            format!("count(max_over_time(histogram_count({name})[{window}:]) > 0)")
        }
        _ => format!("count(max_over_time({name}[{window}]) > 0)"),
    };
    Ok(!prometheus.query(&query).await?.is_empty())
}

/// Every metric of `component` moved, except the ones named in `still` (each with why the
/// test's traffic cannot move it) and the runtime's own bookkeeping
/// (`obs_series_dropped_total`, which moves only when a label overflows its budget).
pub async fn declared_metrics_moved(
    prometheus: &Prometheus,
    resolved: &Resolved,
    component: &str,
    still: &[(&str, &str)],
) {
    let mut unmoved = Vec::new();
    for family in resolved.catalog.for_component(component) {
        if family.origin == contract::catalog::Origin::Runtime || still.iter().any(|(name, _)| *name == family.name) {
            continue;
        }
        if !moved(prometheus, family, "10m").await.unwrap() {
            unmoved.push(family.name.clone());
        }
    }
    assert!(unmoved.is_empty(), "the traffic moved none of {unmoved:?}");
}

/// Names of recorded series with their static labels, from the generated rule files.
pub fn recorded_series(generated: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(generated.join("prometheus/rules")) else {
        return out;
    };
    for entry in entries {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let rules: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        for group in rules["groups"].as_sequence().into_iter().flatten() {
            for rule in group["rules"].as_sequence().into_iter().flatten() {
                let Some(record) = rule["record"].as_str() else {
                    continue;
                };
                let labels: Vec<String> = rule["labels"]
                    .as_mapping()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| format!("{}=\"{}\"", k.as_str().unwrap(), v.as_str().unwrap()))
                    .collect();
                out.push(if labels.is_empty() {
                    record.to_string()
                } else {
                    format!("{record}{{{}}}", labels.join(","))
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Every Prometheus query of every generated dashboard, Grafana variables filled in, with
/// the panel it belongs to.
pub fn dashboard_queries(generated: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(generated.join("grafana/dashboards")).unwrap() {
        let path = entry.unwrap().path();
        let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for panel in dashboard["panels"].as_array().unwrap() {
            if panel["datasource"]["type"] != "prometheus" {
                continue;
            }
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"]
                    .as_str()
                    .unwrap()
                    .replace("$__rate_interval", "1m")
                    .replace("$__range", "1h")
                    .replace("$__interval", "15s");
                out.push((
                    format!(
                        "{} / {}",
                        dashboard["title"].as_str().unwrap(),
                        panel["title"].as_str().unwrap()
                    ),
                    expr,
                ));
            }
        }
    }
    out
}

/// Whether a query result holds a number (NaN and infinities do not count: a panel showing
/// them shows nothing useful).
fn has_finite_value(result: &[Value]) -> bool {
    result.iter().any(|item| {
        let value = if item.is_array() { &item[1] } else { &item["value"][1] };
        value
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(f64::is_finite)
    })
}

/// What a dashboard query must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// At least one series, whatever its value.
    Series,
    /// At least one finite number (NaN and infinities show nothing useful on a panel).
    Number,
}

/// Every recording rule returns data and every dashboard query answers as `answer` says, but
/// for queries drawn from a metric in `still` (one the test's traffic cannot move).
pub async fn rules_and_dashboards_return_data(
    prometheus: &Prometheus,
    generated: &Path,
    still: &[(&str, &str)],
    answer: Answer,
) {
    let excused = |expr: &str| still.iter().any(|(name, _)| expr.contains(name));
    for record in recorded_series(generated) {
        let result = prometheus
            .query(&record)
            .await
            .unwrap_or_else(|e| panic!("{record}: {e}"));
        assert!(!result.is_empty(), "recording rule {record} returned nothing");
    }
    let queries = dashboard_queries(generated);
    assert!(
        !queries.is_empty(),
        "no Prometheus query in any dashboard of {}",
        generated.display()
    );
    let mut blank = Vec::new();
    for (panel, expr) in queries {
        let result = prometheus
            .query(&expr)
            .await
            .unwrap_or_else(|e| panic!("{panel}: `{expr}` failed: {e}"));
        let answered = match answer {
            Answer::Series => !result.is_empty(),
            Answer::Number => has_finite_value(&result),
        };
        if !answered && !excused(&expr) {
            blank.push(format!("{panel}: `{expr}` gave {result:?}"));
        }
    }
    assert!(
        blank.is_empty(),
        "dashboard queries with no number:\n{}",
        blank.join("\n")
    );
}

/// The live `/metrics` of one process matches the spec: nothing undeclared, nothing
/// declared missing, types and labels as declared; and `init` from it round-trips.
pub async fn exposition_matches_spec(resolved: &Resolved, component: &str, url: &str) {
    let text = generator::drift::fetch_async(url, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let report = generator::drift::check_text(resolved, Some(component), &text, url).unwrap();
    assert!(
        report.findings.is_empty(),
        "{url} drifted from the spec: {:#?}",
        report.findings
    );
    init_round_trip(&text, url, component);
}

/// `generator init` against the same running process: the spec it writes passes `check`,
/// and the process matches that spec under `drift` with no finding.
pub fn init_round_trip(text: &str, url: &str, service: &str) {
    let source = generator::init::Source::Url(url.to_string());
    let written = generator::init::from_text(text, &source, service, "init.yaml")
        .unwrap_or_else(|e| panic!("init --from {url}: {e}"));
    let loaded = contract::load_bytes(written.text.as_bytes(), "init.yaml").unwrap();
    let checked = generator::Checked::new(loaded)
        .unwrap_or_else(|e| panic!("init --from {url} wrote a spec check refuses: {e}\n{}", written.text));
    let again = generator::drift::check_text(&checked.resolved, None, text, url).unwrap();
    assert!(
        again.findings.is_empty(),
        "{url} drifted from the spec init wrote from it: {:#?}\n{}",
        again.findings,
        written.text
    );
}

/// Everything the metrics side of a spec promises about one running component: each
/// declared metric scraped with its type and labels and moved by the test's traffic (but for
/// the ones in `still`, each with the reason), every recording rule and dashboard query
/// answered, and the exposition at each of `metrics_urls` equal to the spec.
pub async fn component_matches_spec(
    prometheus: &Prometheus,
    example: &crate::compose::Example,
    component: &str,
    still: &[(&str, &str)],
    metrics_urls: &[String],
) {
    declared_metrics_scraped(prometheus, &example.resolved, component).await;
    declared_metrics_moved(prometheus, &example.resolved, component, still).await;
    rules_and_dashboards_return_data(prometheus, &example.generated, still, Answer::Number).await;
    for url in metrics_urls {
        exposition_matches_spec(&example.resolved, component, url).await;
    }
}

/// Whether `level` as written (any case, `warning`/`critical` spellings) is `declared`.
fn level_is(written: &str, declared: LogLevel) -> bool {
    let written = written.to_ascii_lowercase();
    match declared {
        LogLevel::Debug => written == "debug",
        LogLevel::Info => written == "info",
        LogLevel::Warn => written == "warn" || written == "warning",
        LogLevel::Error => written == "error",
        LogLevel::Critical => written == "critical",
    }
}

/// Every event the spec declares appears in `lines` (the stdout of the service's processes)
/// at its level with each of its fields; returns what is missing, one line per event.
pub fn missing_log_events(spec: &Spec, lines: &[String]) -> Vec<String> {
    let keys = &spec.logging.keys;
    let parsed: Vec<serde_json::Map<String, Value>> = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|value| value.as_object().cloned())
        .collect();
    let mut missing = Vec::new();
    for event in &spec.logging.events {
        let written: Vec<_> = parsed
            .iter()
            .filter(|line| line.get(&keys.message).and_then(Value::as_str) == Some(event.message.as_str()))
            .collect();
        if written.is_empty() {
            missing.push(format!("`{}` never written", event.message));
            continue;
        }
        let complete = written.iter().any(|line| {
            let level = line.get(&keys.level).and_then(Value::as_str).unwrap_or_default();
            level_is(level, event.level) && event.fields.iter().all(|f| line.get(f).is_some_and(|v| !v.is_null()))
        });
        if !complete {
            missing.push(format!(
                "`{}` never written at {:?} with all of {:?}; one line: {}",
                event.message,
                event.level,
                event.fields,
                serde_json::to_string(written[0]).unwrap()
            ));
        }
    }
    missing
}

/// No check the spec declares is left without code: the detailed or readiness body names
/// every check, and none reports that no code was registered.
pub async fn checks_have_code(body_url: &str, spec: &Spec) {
    let response = runtime::http_client::get(body_url, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{body_url}: {e}"));
    let body: Value = serde_json::from_slice(&response.body).unwrap_or_else(|e| panic!("{body_url}: {e}"));
    let text = body.to_string();
    for check in &spec.health.checks {
        assert!(
            text.contains(&format!("\"{}\"", check.name)),
            "{body_url} does not name check {}: {text}",
            check.name
        );
    }
    assert!(!text.contains("no code registered"), "{body_url}: {text}");
}

/// Fields of `logging.fields` that a request's own line does not carry, and why: they
/// belong to another context, or to work not done yet.
pub const NOT_REQUEST_FIELDS: [(&str, &str); 6] = [
    ("session_id", "a WebSocket session's, on the session's lines"),
    ("stream", "the Elasticsearch index stream of the lines that name one"),
    ("job_id", "a background job's, on the job's lines"),
    ("message_count", "a WebSocket message's"),
    ("message_length", "a WebSocket message's"),
    ("duration_ms", "a WebSocket message's processing time"),
];

/// The JSON lines of one request (those carrying its id), in order.
pub fn request_lines(lines: &[String], request_id: &str) -> Vec<serde_json::Map<String, Value>> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| match v {
            Value::Object(map) if map.get("request_id").and_then(Value::as_str) == Some(request_id) => Some(map),
            _ => None,
        })
        .collect()
}

/// One request's lines hold what the spec declares: the runtime's request line carries
/// every field of `logging.fields` a request has (all but [`NOT_REQUEST_FIELDS`]), and
/// every line of the request carries each of `context` (what the runtime or a handler put
/// on the request). Returns what is missing where.
pub fn request_lines_carry(spec: &Spec, lines: &[String], request_id: &str, context: &[&str]) -> Vec<String> {
    let message_key = &spec.logging.keys.message;
    let of_request = request_lines(lines, request_id);
    let mut missing = Vec::new();
    let present = |line: &serde_json::Map<String, Value>, field: &str| {
        line.get(field).is_some_and(|v| !v.is_null() && v.as_str() != Some(""))
    };
    // The runtime's request line, under the message the spec declares for it.
    let answered = spec.logging.runtime_event(RuntimeEvent::Request).0;
    let failed = spec.logging.runtime_event(RuntimeEvent::RequestFailed).0;
    let request_line = of_request.iter().find(|l| {
        l.get(message_key)
            .and_then(Value::as_str)
            .is_some_and(|m| m == answered || m == failed)
    });
    match request_line {
        None => missing.push(format!(
            "no request line for request {request_id} among {} lines",
            of_request.len()
        )),
        Some(line) => {
            for field in &spec.logging.fields {
                if NOT_REQUEST_FIELDS.iter().any(|(f, _)| f == field) {
                    continue;
                }
                if !present(line, field) {
                    missing.push(format!("`{field}` on the request line {}", Value::Object(line.clone())));
                }
            }
        }
    }
    for line in &of_request {
        for field in context {
            if !present(line, field) {
                missing.push(format!("`{field}` on {}", Value::Object(line.clone())));
            }
        }
    }
    missing
}

/// After one request to every probe and exposition path the spec serves (aliases
/// included), none of them is a series of `http_requests_total`.
pub async fn probes_not_counted(prometheus: &Prometheus, spec: &Spec, base_url: &str) {
    let paths = spec.served_probe_paths();
    for path in &paths {
        let _ = runtime::http_client::get(&format!("{base_url}{path}"), Duration::from_secs(5)).await;
    }
    // Two scrapes, so a counted probe would have reached Prometheus.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let label = spec
        .metrics
        .builtin
        .http
        .as_ref()
        .map_or(contract::model::HttpBuiltin::DEFAULT_ROUTE_LABEL, |h| h.route_label());
    let alternatives: Vec<String> = paths.iter().map(|p| regex_escape(p)).collect();
    let query = format!(r#"http_requests_total{{{label}=~"{}"}}"#, alternatives.join("|"));
    let counted = prometheus.query(&query).await.unwrap();
    assert!(counted.is_empty(), "probes counted as requests: {counted:?}");
    let all = prometheus.query("http_requests_total").await.unwrap();
    assert!(
        !all.is_empty(),
        "no request counted at all: the check above proves nothing"
    );
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect::<String>()
        .replace('\\', "\\\\")
}

/// Runs the monitor command the example's OBSERVABILITY.md prints, as printed but for a
/// shorter run, against the running stack: it must find every app container, see every
/// probe answer 200 and exit 0.
pub async fn printed_monitor_passes(example: &crate::compose::Example) {
    let doc = std::fs::read_to_string(example.generated.join("OBSERVABILITY.md")).unwrap();
    let prefix = "cargo run -p obs-tools --bin monitor -- ";
    let command = doc
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in OBSERVABILITY.md"));
    assert!(
        command.contains("--spec ") && command.contains("--logs docker"),
        "{command}"
    );
    let mut args: Vec<&str> = vec!["monitor"];
    args.extend(command.split_whitespace());
    args.extend(["--duration", "4s", "--interval", "1s"]);
    use clap::Parser;
    let mut cli = obs_tools::monitor_cli::Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("{command}: {e}"));
    // Printed for the repository's root; the test runs from its own crate.
    cli.spec = cli.spec.map(|spec| crate::workspace().join(spec));
    let config = obs_tools::monitor_cli::config(cli).unwrap();
    let instances: Vec<&str> = example
        .resolved
        .stack
        .published
        .iter()
        .map(|p| p.host.as_str())
        .collect();
    let watched: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(watched, instances, "every instance is watched");
    for target in &config.targets {
        assert!(target.container.is_some(), "{} found as a container", target.name);
    }
    let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let out: obs_tools::monitor::Output = std::sync::Arc::new(std::sync::Mutex::new(Box::new(Shared(output.clone()))));
    let summary = obs_tools::monitor::run(config, out).await;
    let text = String::from_utf8_lossy(&output.lock().unwrap()).into_owned();
    assert!(summary.all_healthy(), "{summary:?}\n{text}");
    for instance in instances {
        assert!(
            text.contains(&format!("  {instance}  liveness 200")),
            "{instance} not probed:\n{text}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        serde_yaml::from_str(
            "service: {name: s}\nlogging:\n  keys: {message: event}\n  events:\n    - {message: connected, fields: [session_id]}\n    - {message: failed, level: error}\n    - {message: corrupted, level: critical}\n",
        )
        .unwrap()
    }

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn every_event_written_at_its_level_with_its_fields_is_complete() {
        let written = lines(&[
            "not json at all",
            r#"{"event": "connected", "level": "INFO", "session_id": "a"}"#,
            r#"{"event": "failed", "level": "ERROR"}"#,
            r#"{"event": "corrupted", "level": "CRITICAL"}"#,
        ]);
        assert_eq!(missing_log_events(&spec(), &written), Vec::<String>::new());
        let demoted = lines(&[r#"{"event": "corrupted", "level": "error"}"#]);
        assert!(
            missing_log_events(&spec(), &demoted)[2].contains("at Critical"),
            "critical is its own level, not an error"
        );
    }

    #[test]
    fn a_missing_event_field_or_level_is_reported() {
        let written = lines(&[
            r#"{"event": "connected", "level": "info", "session_id": null}"#,
            r#"{"message": "failed", "level": "error"}"#,
        ]);
        let missing = missing_log_events(&spec(), &written);
        assert_eq!(missing.len(), 3, "{missing:?}");
        assert!(
            missing[0].starts_with("`connected` never written at Info"),
            "{missing:?}"
        );
        assert_eq!(missing[1], "`failed` never written");
        let wrong_level = lines(&[r#"{"event": "failed", "level": "warn"}"#]);
        assert!(missing_log_events(&spec(), &wrong_level)[1].contains("at Error"));
    }
}
