//! The telemetry sections of OBSERVABILITY.md: metrics and recorded series, log fields
//! with an example line, key events, log shipping, and the tracing and error variables.

use contract::catalog::{Family, Origin};
use contract::model::{LevelCase, Spec};
use contract::rules::Rule;
use contract::Duration;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{EnvRow, EnvValue};
use crate::plan::Plan;

/// Example values used in documentation, fixed so the document is reproducible.
const EXAMPLE_UUID: &str = "9f1c2b4e-6a7d-4f3e-8b21-5c0d7e9a1f36";

#[derive(Serialize)]
pub(super) struct TelemetryView {
    metrics_path: String,
    metrics_token_env: Option<String>,
    scrape_interval: Duration,
    retention: Duration,
    metrics: Vec<MetricRow>,
    recorded: Vec<(String, String)>,
    log_format: String,
    log_level: String,
    /// The level words as lines write them, lowest first.
    level_words: Vec<String>,
    fields: Vec<FieldRow>,
    example_log: String,
    redact: Vec<String>,
    events: Vec<EventRow>,
    loki: Option<LokiView>,
    elasticsearch: Option<ElasticView>,
    throttle: Option<ThrottleView>,
    /// Tracing variables, then error reporting's.
    traces: Vec<EnvRow>,
    /// What the runtime does with them, one paragraph each.
    trace_notes: Vec<String>,
}

#[derive(Serialize)]
struct MetricRow {
    name: String,
    /// The type, and for a native histogram its schema and whether classic buckets stay.
    kind: String,
    labels: Vec<LabelCell>,
    help: String,
    /// The builtin group it comes from, if any.
    builtin: Option<&'static str>,
    /// Exposed by the obs runtime itself.
    runtime: bool,
}

#[derive(Serialize)]
struct LabelCell {
    name: String,
    values: Option<Vec<String>>,
    max_values: Option<u64>,
}

#[derive(Serialize)]
struct FieldRow {
    name: String,
    meaning: &'static str,
}

#[derive(Serialize)]
struct EventRow {
    message: String,
    level: String,
    description: Option<String>,
    fields: Vec<String>,
    /// `runtime (request, …)` when the runtime writes it, else `the service`.
    written_by: String,
}

#[derive(Serialize)]
struct LokiView {
    url: EnvValue,
    enabled: EnvValue,
    labels: Vec<String>,
    tenant: Option<EnvValue>,
    username: Option<EnvValue>,
    queries: Vec<(&'static str, String)>,
}

#[derive(Serialize)]
struct ThrottleView {
    window: String,
    burst: u32,
    levels: Vec<&'static str>,
}

#[derive(Serialize)]
struct ElasticView {
    enabled: EnvValue,
    scheme: EnvValue,
    host: EnvValue,
    port: EnvValue,
    user: Option<EnvValue>,
    prefix: String,
    streams: Vec<String>,
    policy: String,
    warm_after: String,
    retention: String,
    variables: Vec<EnvRow>,
}

fn metric_row(family: &Family) -> MetricRow {
    MetricRow {
        name: family.name.clone(),
        kind: match family.native_schema {
            Some(schema) if family.buckets.is_empty() => format!("native histogram (schema {schema})"),
            Some(schema) => format!("native histogram (schema {schema}) with classic buckets"),
            None => family.kind.as_str().to_string(),
        },
        labels: family
            .labels
            .iter()
            .map(|l| LabelCell {
                name: l.name.clone(),
                values: l.values.clone(),
                max_values: l.max_values,
            })
            .collect(),
        help: family.help.clone(),
        builtin: match family.origin {
            Origin::Builtin(group) => Some(group.as_str()),
            _ => None,
        },
        runtime: family.origin == Origin::Runtime,
    }
}

pub(super) fn view(plan: &Plan<'_>) -> TelemetryView {
    let spec = &plan.loaded.spec;
    let logging = &spec.logging;
    TelemetryView {
        metrics_path: spec.metrics.endpoint.path.clone(),
        metrics_token_env: spec.metrics.endpoint.bearer_token_env.clone(),
        scrape_interval: spec.stack.prometheus.scrape_interval,
        retention: spec.stack.prometheus.retention,
        metrics: plan.resolved.catalog.families.iter().map(metric_row).collect(),
        recorded: plan
            .resolved
            .rules
            .files
            .iter()
            .filter(|f| f.name == "recording")
            .flat_map(|f| &f.groups)
            .flat_map(|g| &g.rules)
            .filter_map(|r| match r {
                Rule::Record(r) => Some((r.record.clone(), r.expr.clone())),
                Rule::Alert(_) => None,
            })
            .collect(),
        log_format: format!("{:?}", logging.format).to_lowercase(),
        log_level: logging.level.as_str().into(),
        level_words: ["debug", "info", "warn", "error", "critical"]
            .iter()
            .map(|w| match logging.level_case {
                LevelCase::Lower => w.to_string(),
                LevelCase::Upper => w.to_ascii_uppercase(),
            })
            .collect(),
        fields: logging
            .fields
            .iter()
            .map(|f| FieldRow {
                name: f.clone(),
                meaning: field_meaning(f),
            })
            .collect(),
        example_log: example_log(spec),
        redact: logging.redact.clone(),
        events: logging
            .events
            .iter()
            .map(|e| EventRow {
                message: e.message.clone(),
                level: e.level.as_str().into(),
                description: e.description.clone(),
                fields: e.fields.clone(),
                written_by: if e.runtime.is_empty() {
                    "the service".into()
                } else {
                    format!(
                        "runtime ({})",
                        e.runtime
                            .iter()
                            .map(|r| format!("`{}`", r.key()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            })
            .collect(),
        loki: loki(spec),
        elasticsearch: elasticsearch(spec),
        throttle: spec.logging.throttle.as_ref().map(|t| ThrottleView {
            window: t.window.to_string(),
            burst: t.burst,
            levels: t.levels.iter().map(|l| l.as_str()).collect(),
        }),
        traces: traces(spec),
        trace_notes: trace_notes(spec),
    }
}

/// What the runtime does with `tracing` and `error_tracking`, and what it does not.
fn trace_notes(spec: &Spec) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(t) = &spec.tracing {
        notes.push(format!(
            "The runtime continues a caller's W3C `traceparent` on HTTP requests and WebSocket \
             upgrades, or starts a trace. Every log line inside a request, a WebSocket session \
             or a job carries `trace_id` and `span_id`, and a job enqueued with \
             `runtime::jobs::current_trace()` continues the trace of the request that enqueued it. \
             Spans leave over OTLP ({protocol}) with {share} of new traces kept (a caller's \
             sampled flag wins), tagged `service.name`, `service.version`, \
             `deployment.environment.name` and `service.instance.id` (the replica), through a \
             queue of {queue} spans that drops rather than grows, flushed at shutdown. With the \
             endpoint unset nothing leaves the process, and lines still carry trace ids.",
            protocol = t.protocol.as_str(),
            share = super::percent(t.sample_ratio),
            queue = 2048,
        ));
        if let Some(console) = &t.console_export {
            notes.push(format!(
                "With `{}` true, each finished span is also printed as one JSON object on stderr.",
                console.env_var().unwrap_or("console_export")
            ));
        }
    }
    if let Some(e) = &spec.error_tracking {
        let dsn = e.sentry.dsn.env_var().unwrap_or("error_tracking.sentry.dsn");
        notes.push(format!(
            "Sentry: with `{dsn}` set, the runtime reports every `error` and `critical` line \
             and every panic (a handler that panics answers 500) as a Sentry event, tagged \
             `request_id`, `trace_id`, `route` and the service, under the service's environment \
             and release (`{name}@<version>`), after redaction. Reports leave in the background \
             through a queue of 30 that drops rather than waits, and are flushed at shutdown. \
             With `{dsn}` unset nothing is sent.",
            name = spec.service.name,
        ));
        if let Some(v) = &e.sentry.traces_sample_rate {
            notes.push(format!(
                "Requests, WebSocket sessions and jobs also go to Sentry as transactions \
                 (`GET /route`, `http.server`, failed when an error line was written inside) for \
                 the share of traces `{}` keeps, chosen by trace id so a job is kept with the \
                 request that enqueued it; 0 or unset sends none.",
                v.env_var().unwrap_or("traces_sample_rate")
            ));
        }
        if let Some(v) = &e.sentry.profiles_sample_rate {
            notes.push(format!(
                "`{}` changes nothing: the Sentry SDK for Rust has no profiler, so no profile is \
                 sent (`generator check` warns: sentry-profiles-unsupported). It is still checked \
                 to be a number from 0 to 1 at start-up.",
                v.env_var().unwrap_or("profiles_sample_rate")
            ));
        }
    }
    notes
}

fn loki(spec: &Spec) -> Option<LokiView> {
    let l = spec.logging.loki.as_ref()?;
    let service = &spec.service.name;
    let selector = format!("{{service=\"{service}\"}}");
    let levels = match spec.logging.level_case {
        LevelCase::Lower => "error|critical",
        LevelCase::Upper => "ERROR|CRITICAL",
    };
    let errors = format!("{{service=\"{service}\", level=~\"{levels}\"}}");
    Some(LokiView {
        url: EnvValue::of(&l.url),
        enabled: EnvValue::of(&l.enabled),
        labels: l.labels.clone(),
        tenant: l.tenant.as_ref().map(EnvValue::of),
        username: l.username.as_ref().map(EnvValue::of),
        queries: vec![
            ("All logs of the service", selector.clone()),
            ("Errors only", errors.clone()),
            ("One request", format!("{selector} | json | request_id=\"<id>\"")),
            ("Error lines per minute", format!("sum(count_over_time({errors}[1m]))")),
        ],
    })
}

fn elasticsearch(spec: &Spec) -> Option<ElasticView> {
    let e = spec.logging.elasticsearch.as_ref()?;
    let mut variables: Vec<EnvRow> = Vec::new();
    variables.extend(EnvRow::of(&e.enabled, "`true` to ship lines to Elasticsearch"));
    variables.extend(EnvRow::of(&e.host, "Elasticsearch host"));
    variables.extend(EnvRow::of(&e.port, "Elasticsearch port"));
    variables.extend(EnvRow::of(&e.scheme, "`http` or `https`"));
    if let Some(u) = &e.user {
        variables.extend(EnvRow::of(u, "user, when authentication is on"));
    }
    if let Some(p) = &e.password {
        variables.extend(EnvRow::of(p, "password (never in obs.yaml)"));
    }
    Some(ElasticView {
        enabled: EnvValue::of(&e.enabled),
        scheme: EnvValue::of(&e.scheme),
        host: EnvValue::of(&e.host),
        port: EnvValue::of(&e.port),
        user: e.user.as_ref().filter(|_| e.auth).map(EnvValue::of),
        prefix: e.index_prefix.clone(),
        streams: e.streams.clone(),
        policy: contract::elasticsearch::policy_name(e),
        warm_after: e.ilm.warm_after.to_string(),
        retention: e.ilm.retention.to_string(),
        variables,
    })
}

fn traces(spec: &Spec) -> Vec<EnvRow> {
    let mut rows = Vec::new();
    if let Some(t) = &spec.tracing {
        rows.extend(EnvRow::of(
            &t.otlp_endpoint,
            &format!(
                "OTLP collector endpoint; {} of traces sampled",
                super::percent(t.sample_ratio)
            ),
        ));
        if let Some(v) = &t.insecure {
            rows.extend(EnvRow::of(v, "plain-text connection to the collector"));
        }
        if let Some(v) = &t.console_export {
            rows.extend(EnvRow::of(v, "also print spans to the console"));
        }
    }
    if let Some(e) = &spec.error_tracking {
        rows.extend(EnvRow::of(&e.sentry.dsn, "Sentry DSN"));
        if let Some(v) = &e.sentry.traces_sample_rate {
            rows.extend(EnvRow::of(v, "share of transactions traced"));
        }
        if let Some(v) = &e.sentry.profiles_sample_rate {
            rows.extend(EnvRow::of(v, "share of transactions profiled"));
        }
    }
    rows
}

fn field_meaning(name: &str) -> &'static str {
    match name {
        "service" => "Service (or component) name",
        "environment" => "Deployment environment",
        "version" => "Service version",
        "request_id" => {
            "Id of the HTTP request (from a sane `X-Request-ID`, else a new UUID); returned in `X-Request-ID`"
        }
        "session_id" => "Id of the WebSocket session",
        "trace_id" => "Trace id; a job carries the request id of the request that enqueued it",
        "span_id" => "Span id within the trace",
        "route" => "Matched route template (never the raw path)",
        "method" => "HTTP method",
        "status" => "HTTP status code",
        "latency_ms" => "Time to answer, in milliseconds",
        "user_id" => "Authenticated user, when known",
        "workspace_id" => "Workspace of the request",
        "job_id" => "Background job id",
        "client_ip" => "Address of the client",
        "message_count" => "Messages received on the session so far",
        "message_length" => "Length of the message in bytes",
        "duration_ms" => "Time spent on the operation, in milliseconds",
        "suppressed" => "Identical lines the throttle held back before this one",
        "stream" => "The index stream the line belongs to (`<prefix>-<stream>-YYYY.MM.DD` in Elasticsearch)",
        _ => "Service-specific context",
    }
}

fn field_example(spec: &Spec, name: &str) -> Value {
    match name {
        "service" => json!(spec.service.name),
        "environment" => json!(spec.service.environment.default_value().unwrap_or("production")),
        "version" => json!(spec.service.version.default_value().unwrap_or("1.0.0")),
        "request_id" | "session_id" => json!(EXAMPLE_UUID),
        "trace_id" => json!("4bf92f3577b34da6a3ce929d0e0e4736"),
        "span_id" => json!("00f067aa0ba902b7"),
        "route" => json!("/api/items/{id}"),
        "method" => json!("GET"),
        "status" => json!(200),
        "latency_ms" | "duration_ms" => json!(12.3),
        "message_count" => json!(5),
        "message_length" => json!(128),
        "client_ip" => json!("203.0.113.7"),
        "job_id" => json!("job-42"),
        _ => json!("…"),
    }
}

fn example_log(spec: &Spec) -> String {
    let keys = &spec.logging.keys;
    let level = match spec.logging.level_case {
        LevelCase::Lower => "info",
        LevelCase::Upper => "INFO",
    };
    let message = spec
        .logging
        .events
        .first()
        .map(|e| e.message.clone())
        .unwrap_or_else(|| "request finished".into());
    let mut line = Map::new();
    line.insert(keys.timestamp.clone(), json!("2024-01-15T10:30:00.123Z"));
    line.insert(keys.level.clone(), json!(level));
    line.insert(keys.message.clone(), json!(message));
    line.insert(
        keys.target.clone(),
        json!(format!("{}::http", spec.service.name.replace('-', "_"))),
    );
    line.insert(keys.filename.clone(), json!("src/http.rs"));
    line.insert(keys.line.clone(), json!(42));
    for field in &spec.logging.fields {
        line.insert(field.clone(), field_example(spec, field));
    }
    serde_json::to_string_pretty(&Value::Object(line)).unwrap_or_default()
}
