//! Service-level checks: names usable as compose services and labels, components and
//! replicas, endpoint paths, dependency checks, shutdown timings, the log field model.

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model::{CheckKind, ProbeField};

use super::metrics::is_label_name;
use super::{report_duplicates, Checker};

pub(super) fn check_all(checker: &mut Checker) {
    check_service_name(checker);
    check_components(checker);
    check_endpoint_paths(checker);
    check_probe_fields(checker);
    check_dependency_checks(checker);
    check_timings(checker);
    check_logging(checker);
    check_stack(checker);
    check_error_tracking(checker);
    check_elasticsearch(checker);
    check_throttle(checker);
    check_limits(checker);
}

fn check_limits(checker: &mut Checker) {
    let limits = checker.spec.service.limits;
    let max = crate::model::ServiceLimits::MAX_BYTES;
    for (field, value) in [
        ("request_body_bytes", limits.request_body_bytes),
        ("websocket_message_bytes", limits.websocket_message_bytes),
    ] {
        let problem = if value == 0 {
            "0 bytes would refuse everything"
        } else if value > max {
            "more than 1 GiB is no limit: one client could make the service hold that much"
        } else {
            continue;
        };
        checker.push(
            Diagnostic::new(Code::LimitInvalid, format!("service.limits.{field}"), format!("{value}: {problem}"))
                .with_help("a size in bytes from 1 to 1073741824; the defaults are 2097152 (request body) and 65536 (WebSocket message)"),
        );
    }
}

/// A throttle that can write something, about some level.
fn check_throttle(checker: &mut Checker) {
    let Some(throttle) = &checker.spec.logging.throttle else {
        return;
    };
    let mut bad = Vec::new();
    if throttle.window.as_millis() == 0 {
        bad.push((
            "logging.throttle.window",
            "the window is zero: nothing would ever be counted",
        ));
    }
    if throttle.burst == 0 {
        bad.push((
            "logging.throttle.burst",
            "a burst of 0 would suppress every line, the first one too",
        ));
    }
    if throttle.levels.is_empty() {
        bad.push(("logging.throttle.levels", "no level is throttled"));
    }
    for (path, message) in bad {
        checker.push(
            Diagnostic::new(Code::LogThrottleInvalid, path, message)
                .with_help("e.g. `throttle: {window: 60s, burst: 5, levels: [error, critical]}`"),
        );
    }
}

/// Whether `part` can stand in an Elasticsearch index name: lowercase letters, digits,
/// `-`, `_` and `.`, starting with a letter or digit.
fn is_index_part(part: &str) -> bool {
    part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && part.len() <= 200
        && part
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

/// The index names Elasticsearch must accept, and an ILM policy in the right order.
fn check_elasticsearch(checker: &mut Checker) {
    let Some(es) = &checker.spec.logging.elasticsearch else {
        return;
    };
    const NAMING: &str = "use lowercase letters, digits, `-`, `_` and `.`, starting with a letter or digit";
    let mut bad = Vec::new();
    if !is_index_part(&es.index_prefix) {
        bad.push((
            "logging.elasticsearch.index_prefix".to_string(),
            format!(
                "index prefix `{}` cannot start an Elasticsearch index name",
                es.index_prefix
            ),
            NAMING,
        ));
    }
    for (i, stream) in es.streams.iter().enumerate() {
        if !is_index_part(stream) {
            bad.push((
                format!("logging.elasticsearch.streams[{i}]"),
                format!("stream `{stream}` cannot be part of an Elasticsearch index name"),
                NAMING,
            ));
        } else if stream == crate::elasticsearch::ERRORS_STREAM {
            bad.push((
                format!("logging.elasticsearch.streams[{i}]"),
                "stream `errors` is the index every error line goes to already".to_string(),
                "name the stream otherwise; error lines reach `<prefix>-errors-…` by themselves",
            ));
        }
    }
    for (path, message, help) in bad {
        checker.push(Diagnostic::new(Code::ElasticsearchIndexName, path, message).with_help(help));
    }
    if es.ilm.warm_after >= es.ilm.retention {
        checker.push(
            Diagnostic::new(
                Code::ElasticsearchIlmOrder,
                "logging.elasticsearch.ilm.warm_after",
                format!(
                    "indices would be deleted ({}) before they turn warm ({})",
                    es.ilm.retention, es.ilm.warm_after
                ),
            )
            .with_help("make `warm_after` shorter than `retention`"),
        );
    }
}

/// A Sentry setting the runtime cannot act on is said once, where it is written.
fn check_error_tracking(checker: &mut Checker) {
    let Some(errors) = &checker.spec.error_tracking else {
        return;
    };
    if errors.sentry.profiles_sample_rate.is_some() {
        checker.push(
            Diagnostic::new(
                Code::SentryProfilesUnsupported,
                "error_tracking.sentry.profiles_sample_rate",
                "the runtime sends no Sentry profiles: the Rust SDK has no profiler",
            )
            .with_help("remove it, or keep it for a profiler outside the service; errors and transactions are sent"),
        );
    }
}

pub(super) fn is_compose_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn check_service_name(checker: &mut Checker) {
    let name = &checker.spec.service.name;
    if !is_compose_name(name) {
        checker.push(
            Diagnostic::new(
                Code::ServiceNameInvalid,
                "service.name",
                format!("service name `{name}` is not usable as a job, label value and compose project name"),
            )
            .with_help("use lowercase letters, digits, `-` and `_`, starting with a letter or digit"),
        );
    }
    for key in checker.spec.service.labels.keys() {
        if !is_label_name(key) || key.starts_with("__") {
            checker.push(Diagnostic::new(
                Code::LabelNameInvalid,
                format!("service.labels.{key}"),
                format!("`{key}` is not a valid label name"),
            ));
        }
        if matches!(key.as_str(), "service" | "severity" | "alertname") {
            checker.push(
                Diagnostic::new(
                    Code::LabelReserved,
                    format!("service.labels.{key}"),
                    format!("label `{key}` is set by obs on every alert"),
                )
                .with_help("pick another name"),
            );
        }
    }
    if let Some(pattern) = &checker.spec.service.runbook_url {
        if !pattern.contains("{alert}") {
            checker.push(
                Diagnostic::new(
                    Code::RunbookPattern,
                    "service.runbook_url",
                    "the runbook pattern has no `{alert}`, so every alert links to the same page",
                )
                .with_help("e.g. `https://runbooks.example.com/{alert}`"),
            );
        }
    }
}

fn check_components(checker: &mut Checker) {
    let service = &checker.spec.service;
    for (i, replica) in service.replicas.iter().enumerate() {
        if !is_compose_name(replica) {
            checker.push(
                Diagnostic::new(
                    Code::ReplicaNameInvalid,
                    format!("service.replicas[{i}]"),
                    format!("replica `{replica}` is not usable in a compose service name"),
                )
                .with_help("use lowercase letters, digits, `-` and `_`"),
            );
        }
    }
    report_duplicates(
        checker,
        Code::ReplicaDuplicate,
        "replica",
        service
            .replicas
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("service.replicas[{i}]"), r.as_str())),
    );
    for (i, component) in service.components.iter().enumerate() {
        if !is_compose_name(&component.name) {
            checker.push(Diagnostic::new(
                Code::ComponentNameInvalid,
                format!("service.components[{i}].name"),
                format!(
                    "component `{}` is not usable as a job and compose service name",
                    component.name
                ),
            ));
        }
        if let Some(container) = &component.container {
            if !is_compose_name(container) {
                checker.push(Diagnostic::new(
                    Code::ComponentNameInvalid,
                    format!("service.components[{i}].container"),
                    format!("container `{container}` is not a valid compose service name"),
                ));
            }
        }
    }
    report_duplicates(
        checker,
        Code::ComponentDuplicate,
        "component",
        service
            .components
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("service.components[{i}].name"), c.name.as_str())),
    );
    let views = checker.components;
    let hosts: Vec<(String, String)> = views
        .iter()
        .flat_map(|c| {
            c.instances()
                .into_iter()
                .map(|i| ("service.components".to_string(), i.host))
        })
        .collect();
    report_duplicates(
        checker,
        Code::ComponentDuplicate,
        "compose service",
        hosts.iter().map(|(p, h)| (p.clone(), h.as_str())),
    );
    for (i, view) in views.iter().enumerate() {
        let path = if service.components.is_empty() {
            "service".to_string()
        } else {
            format!("service.components[{i}]")
        };
        if view.port == 0 {
            checker.push(
                Diagnostic::new(Code::PortInvalid, format!("{path}.port"), "port 0 cannot be scraped")
                    .with_help("give the port the service listens on"),
            );
        }
        let ports = [("port", view.port), ("metrics_port", view.metrics_port)];
        for (field, port) in ports
            .into_iter()
            .take(if view.has_separate_metrics_port() { 2 } else { 1 })
        {
            let Some(server) = checker.stack.monitoring.iter().find(|m| m.host_port == port) else {
                continue;
            };
            checker.push(
                Diagnostic::new(
                    Code::PortConflict,
                    format!("{path}.{field}"),
                    format!("port {port} is also the host port of the stack's {}", server.name),
                )
                .with_help(format!(
                    "move the service to another port, or move {} with `stack.{}.port`",
                    server.name, server.name
                )),
            );
        }
    }
}

fn check_endpoint_paths(checker: &mut Checker) {
    let spec = checker.spec;
    let mut paths: Vec<(String, &str)> = Vec::new();
    let health = &spec.health;
    paths.push(("health.liveness.path".into(), &health.liveness.path));
    paths.extend(
        health
            .liveness
            .aliases
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("health.liveness.aliases[{i}]"), p.as_str())),
    );
    paths.push(("health.readiness.path".into(), &health.readiness.path));
    paths.extend(
        health
            .readiness
            .aliases
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("health.readiness.aliases[{i}]"), p.as_str())),
    );
    if let Some(detailed) = &health.detailed {
        paths.push(("health.detailed.path".into(), &detailed.path));
    }
    let endpoint = &spec.metrics.endpoint;
    paths.push(("metrics.endpoint.path".into(), &endpoint.path));
    paths.extend(
        endpoint
            .aliases
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("metrics.endpoint.aliases[{i}]"), p.as_str())),
    );
    for (path, value) in &paths {
        let valid = value.starts_with('/')
            && !value.contains(char::is_whitespace)
            && !value.contains(['?', '#', '{', '}', '*']);
        if !valid {
            checker.push(
                Diagnostic::new(
                    Code::EndpointPathInvalid,
                    path.clone(),
                    format!("`{value}` is not an endpoint path"),
                )
                .with_help("start with `/`; no spaces, query strings or route parameters"),
            );
        }
    }
    report_duplicates(checker, Code::EndpointPathDuplicate, "endpoint path", paths);
}

fn check_probe_fields(checker: &mut Checker) {
    let health = &checker.spec.health;
    for (name, probe) in [("liveness", &health.liveness), ("readiness", &health.readiness)] {
        if probe.fields.is_empty() {
            checker.push(
                Diagnostic::new(
                    Code::ProbeFieldsEmpty,
                    format!("health.{name}.fields"),
                    format!("the {name} body has no fields"),
                )
                .with_help("at least `[status]`"),
            );
        }
        report_duplicates(
            checker,
            Code::ProbeFieldDuplicate,
            "body field",
            probe
                .fields
                .iter()
                .enumerate()
                .map(|(i, f)| (format!("health.{name}.fields[{i}]"), field_name(*f))),
        );
    }
    for (i, field) in health.liveness.fields.iter().enumerate() {
        if *field == ProbeField::Checks {
            checker.push(
                Diagnostic::new(Code::LivenessChecks, format!("health.liveness.fields[{i}]"), "liveness must not depend on dependency checks")
                    .with_help("a failing database would restart every healthy process; put `checks` in readiness or the detailed endpoint"),
            );
        }
    }
}

fn field_name(field: ProbeField) -> &'static str {
    match field {
        ProbeField::Status => "status",
        ProbeField::Timestamp => "timestamp",
        ProbeField::Uptime => "uptime",
        ProbeField::Ready => "ready",
        ProbeField::ShuttingDown => "shutting_down",
        ProbeField::Checks => "checks",
        ProbeField::Version => "version",
    }
}

fn check_dependency_checks(checker: &mut Checker) {
    let checks = &checker.spec.health.checks;
    report_duplicates(
        checker,
        Code::CheckDuplicate,
        "health check",
        checks
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("health.checks[{i}].name"), c.name.as_str())),
    );
    for (i, check) in checks.iter().enumerate() {
        let path = format!("health.checks[{i}]");
        let target = check.target.as_ref().and_then(|t| {
            t.default_value()
                .map(str::to_string)
                .or_else(|| t.env_var().map(|v| format!("${{{v}}}")))
        });
        match (check.kind, &target) {
            (CheckKind::Tcp | CheckKind::Http | CheckKind::Redis | CheckKind::Postgres, None) => checker.push(
                Diagnostic::new(
                    Code::CheckTargetMissing,
                    format!("{path}.target"),
                    format!("{} check `{}` has no target", kind_name(check.kind), check.name),
                )
                .with_help(match check.kind {
                    CheckKind::Tcp => "give `host:port`, e.g. `${DB_ADDR:-postgres:5432}`",
                    CheckKind::Redis => {
                        "give `host:port` or `redis://[:password@]host:port`, e.g. `${REDIS_URL:-redis:6379}`"
                    }
                    CheckKind::Postgres => {
                        "give a URL `postgres://[user[:password]@]host[:port]/dbname`, e.g. `${DATABASE_URL}`"
                    }
                    _ => "give a URL, e.g. `http://main-app:8000/healthz`",
                }),
            ),
            (CheckKind::Tcp, Some(target)) if !target.starts_with('$') && !is_host_port(target) => checker.push(
                Diagnostic::new(
                    Code::CheckTargetInvalid,
                    format!("{path}.target"),
                    format!("`{target}` is not `host:port`"),
                )
                .with_help("e.g. `redis:6379`"),
            ),
            (CheckKind::Http, Some(target))
                if !(target.starts_with('$') || target.starts_with("http://") || target.starts_with("https://")) =>
            {
                checker.push(Diagnostic::new(
                    Code::CheckTargetInvalid,
                    format!("{path}.target"),
                    format!("`{target}` is not an http(s) URL"),
                ))
            }
            (CheckKind::Redis, Some(target))
                if !target.starts_with('$') && contract_redis_address(target).is_none() =>
            {
                checker.push(
                    Diagnostic::new(
                        Code::CheckTargetInvalid,
                        format!("{path}.target"),
                        format!("`{target}` is not `host:port` or `redis://[user:password@]host:port`"),
                    )
                    .with_help("e.g. `redis:6379` or `redis://:secret@redis:6379`"),
                )
            }
            (CheckKind::Postgres, Some(target)) if !target.starts_with('$') => {
                // The message quotes nothing of the target: it may carry a password.
                if let Err(reason) = crate::model::PostgresTarget::parse(target) {
                    checker.push(
                        Diagnostic::new(
                            Code::CheckTargetInvalid,
                            format!("{path}.target"),
                            format!("the target of postgres check `{}` {reason}", check.name),
                        )
                        .with_help(
                            "e.g. `postgres://app@db:5432/orders`, or `${DATABASE_URL}` when it carries a password",
                        ),
                    )
                }
            }
            (CheckKind::Custom, Some(_)) => checker.push(
                Diagnostic::new(
                    Code::CheckTargetUnused,
                    format!("{path}.target"),
                    format!("custom check `{}` ignores its target", check.name),
                )
                .with_help("the service registers custom checks in code; remove `target`"),
            ),
            _ => {}
        }
        if check.timeout.as_millis() == 0 {
            checker.push(Diagnostic::new(
                Code::CheckTimeoutZero,
                format!("{path}.timeout"),
                "a zero timeout fails every check",
            ));
        } else if check.timeout >= checker.spec.health.container.timeout {
            checker.push(
                Diagnostic::new(
                    Code::CheckTimeoutLong,
                    format!("{path}.timeout"),
                    format!(
                        "check timeout {} is not shorter than the container healthcheck timeout {}",
                        check.timeout, checker.spec.health.container.timeout
                    ),
                )
                .with_help("a hung dependency would then fail the container healthcheck too"),
            );
        }
    }
}

fn kind_name(kind: CheckKind) -> &'static str {
    match kind {
        CheckKind::Tcp => "tcp",
        CheckKind::Http => "http",
        CheckKind::Redis => "redis",
        CheckKind::Postgres => "postgres",
        CheckKind::Custom => "custom",
    }
}

/// The `host:port` a Redis target names, if it is one.
fn contract_redis_address(target: &str) -> Option<String> {
    crate::model::RedisTarget::parse(target).map(|t| t.address)
}

fn is_host_port(target: &str) -> bool {
    target
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0))
}

fn check_timings(checker: &mut Checker) {
    let shutdown = &checker.spec.shutdown;
    if shutdown.drain >= shutdown.grace {
        checker.push(
            Diagnostic::new(
                Code::ShutdownDrainGrace,
                "shutdown.drain",
                format!(
                    "drain delay {} is not shorter than the grace period {}",
                    shutdown.drain, shutdown.grace
                ),
            )
            .with_help("in-flight work needs time after the listener closes: make `grace` longer than `drain`"),
        );
    }
    let container = &checker.spec.health.container;
    if container.timeout > container.interval {
        checker.push(Diagnostic::new(
            Code::HealthcheckTimeout,
            "health.container.timeout",
            format!(
                "healthcheck timeout {} is longer than its interval {}",
                container.timeout, container.interval
            ),
        ));
    }
    if container.retries == 0 {
        checker.push(
            Diagnostic::new(
                Code::HealthcheckRetries,
                "health.container.retries",
                "zero retries is not \"unhealthy at the first failure\": Docker reads 0 as unset and uses its default of 3",
            )
            .with_help("write the number of consecutive failures you mean; 3 is Docker's default"),
        );
    }
    let scrape = checker.spec.stack.prometheus.scrape_interval;
    if scrape.as_millis() == 0 {
        checker.push(Diagnostic::new(
            Code::ScrapeIntervalZero,
            "stack.prometheus.scrape_interval",
            "the scrape interval must be positive",
        ));
    }
    if let Some(evaluation) = checker.spec.stack.prometheus.evaluation_interval {
        if evaluation.as_millis() == 0 {
            checker.push(Diagnostic::new(
                Code::EvaluationIntervalZero,
                "stack.prometheus.evaluation_interval",
                "the evaluation interval must be positive",
            ));
        }
    }
}

fn check_logging(checker: &mut Checker) {
    let logging = &checker.spec.logging;
    report_duplicates(
        checker,
        Code::LogFieldDuplicate,
        "log field",
        logging
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("logging.fields[{i}]"), f.as_str())),
    );
    let keys = logging.keys.all();
    for (i, field) in logging.fields.iter().enumerate() {
        if keys.contains(&field.as_str()) {
            checker.push(
                Diagnostic::new(
                    Code::LogFieldDuplicate,
                    format!("logging.fields[{i}]"),
                    format!("`{field}` is already a standard key of every line"),
                )
                .with_help("remove it from `fields`"),
            );
        }
        if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            checker.push(
                Diagnostic::new(
                    Code::LogFieldInvalid,
                    format!("logging.fields[{i}]"),
                    format!("`{field}` is not a log field name"),
                )
                .with_help("use letters, digits and `_`"),
            );
        }
    }
    if let Some(loki) = &logging.loki {
        const HIGH_CARDINALITY: [&str; 6] = ["request_id", "session_id", "trace_id", "user_id", "job_id", "span_id"];
        let allowed: Vec<&str> = logging
            .fields
            .iter()
            .map(String::as_str)
            .chain(["service", "environment", "level", "version"])
            .collect();
        for (i, label) in loki.labels.iter().enumerate() {
            let path = format!("logging.loki.labels[{i}]");
            if HIGH_CARDINALITY.contains(&label.as_str()) {
                checker.push(
                    Diagnostic::new(
                        Code::LokiLabelCardinality,
                        path,
                        format!("`{label}` as a Loki label makes one stream per value"),
                    )
                    .with_help("keep it a log field and filter with `| json | request_id=\"…\"`"),
                );
            } else if !allowed.contains(&label.as_str()) {
                checker.push(
                    Diagnostic::new(
                        Code::LokiLabelUnknown,
                        path,
                        format!("Loki label `{label}` is not a log field"),
                    )
                    .with_help(format!("log fields: {}", allowed.join(", "))),
                );
            }
        }
    }
    let mut declared_by: std::collections::BTreeMap<crate::model::RuntimeEvent, usize> = Default::default();
    for (i, event) in logging.events.iter().enumerate() {
        for (j, runtime) in event.runtime.iter().enumerate() {
            let first = *declared_by.entry(*runtime).or_insert(i);
            if first != i {
                checker.push(
                    Diagnostic::new(
                        Code::LogEventRuntimeDuplicate,
                        format!("logging.events[{i}].runtime[{j}]"),
                        format!(
                            "runtime event `{}` is already declared by logging.events[{first}] (`{}`)",
                            runtime.key(),
                            logging.events[first].message
                        ),
                    )
                    .with_help("the runtime writes each of its events once, with one message: keep one declaration"),
                );
            }
        }
    }
    for (i, event) in logging.events.iter().enumerate() {
        for (j, field) in event.fields.iter().enumerate() {
            if !logging.fields.contains(field) {
                checker.push(
                    Diagnostic::new(
                        Code::LogEventField,
                        format!("logging.events[{i}].fields[{j}]"),
                        format!(
                            "event `{}` carries `{field}`, which is not in `logging.fields`",
                            event.message
                        ),
                    )
                    .with_help("add it to `logging.fields` so the field model lists it"),
                );
            }
        }
    }
}

fn check_stack(checker: &mut Checker) {
    if let Some(profile) = &checker.spec.stack.profile {
        if !is_compose_name(profile) {
            checker.push(Diagnostic::new(
                Code::StackProfileInvalid,
                "stack.profile",
                format!("`{profile}` is not a valid compose profile name"),
            ));
        }
    }
    let stack = &checker.spec.stack;
    let ports = [
        ("stack.prometheus.port", stack.prometheus.port),
        ("stack.alertmanager.port", stack.alertmanager.port),
        ("stack.grafana.port", stack.grafana.port),
        ("stack.loki.port", stack.loki.as_ref().and_then(|l| l.port)),
    ];
    let taken: Vec<(String, String)> = ports
        .iter()
        .filter_map(|(p, port)| port.map(|n| (p.to_string(), n.to_string())))
        .collect();
    report_duplicates(
        checker,
        Code::StackPortDuplicate,
        "host port",
        taken.iter().map(|(p, n)| (p.clone(), n.as_str())),
    );
    if stack.loki.as_ref().is_some_and(|l| l.enabled) && checker.spec.logging.loki.is_none() {
        checker.push(
            Diagnostic::new(
                Code::LokiUnused,
                "stack.loki",
                "Loki runs in the stack but `logging.loki` ships nothing to it",
            )
            .with_help("add `logging.loki` or disable the Loki service"),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_postgres_password_never_reaches_a_diagnostic() {
        let spec = "service:\n  name: orders\nhealth:\n  checks:\n    - name: database\n      kind: postgres\n      target: postgres://app:hunter2@db:5432x/orders\n";
        let loaded = crate::load_bytes(spec.as_bytes(), "obs.yaml").unwrap();
        let report = crate::analyse(&loaded).report;
        assert!(
            report
                .diagnostics
                .iter()
                .any(|d| d.code == crate::Code::CheckTargetInvalid),
            "{report}"
        );
        assert!(!report.to_string().contains("hunter2"), "{report}");
    }
}
