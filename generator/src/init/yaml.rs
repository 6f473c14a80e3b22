//! Writes what `init` inferred as obs.yaml text: every declaration with a comment saying what
//! the scrape showed, and obs's proposals (alerts, a dashboard, log shipping) marked as such.

use std::fmt::Write as _;

use contract::catalog::SERIES_DROPPED;
use contract::Decimal;

use contract::catalog::DEFAULT_MAX_JOB_TYPES;

use super::infer::{Budget, CustomMetric, Group, Inference, JobTypes};

/// Where the exposition came from and what the service is called.
#[derive(Debug, Clone)]
pub struct Header {
    /// The URL or file read, as the user gave it.
    pub source: String,
    pub service: String,
    /// The port of the URL, when read from one.
    pub port: Option<u16>,
    /// The URL's path, when it is not `/metrics`.
    pub metrics_path: Option<String>,
    /// The URL, for the next-steps comment.
    pub url: Option<String>,
    /// What `drift` reports between the written spec and the exposition it was read from,
    /// one line each; listed in the header so that nothing it will say is a surprise.
    pub expected_drift: Vec<String>,
}

const WIDTH: usize = 92;

/// A YAML scalar for `text`: plain when it reads back as the same string, else
/// double-quoted.
fn scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./ ()'`,;".contains(c))
        && !text.ends_with(' ')
        && serde_yaml::from_str::<serde_yaml::Value>(text).ok() == Some(serde_yaml::Value::String(text.into()));
    if plain {
        text.to_string()
    } else {
        quoted(text)
    }
}

/// A double-quoted YAML scalar. Every character YAML would fold or refuse (control
/// characters, DEL, the C1 range, NEL and the Unicode line and paragraph separators) is
/// escaped, so the value reads back byte for byte.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A flow sequence item: plain only for simple tokens, since `,` `[` `]` end a plain
/// scalar inside `[...]`.
fn item(text: &str) -> String {
    let token = text.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if token
        && !text.is_empty()
        && serde_yaml::from_str::<serde_yaml::Value>(text).ok() == Some(serde_yaml::Value::String(text.into()))
    {
        text.to_string()
    } else {
        quoted(text)
    }
}

fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| item(s)).collect();
    format!("[{}]", items.join(", "))
}

fn numbers(values: &[Decimal]) -> String {
    let values: Vec<String> = values.iter().map(Decimal::to_string).collect();
    format!("[{}]", values.join(", "))
}

/// Writes `text` as `#` comment lines at `indent`, wrapped.
fn comment(out: &mut String, indent: usize, text: &str) {
    let pad = " ".repeat(indent);
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && pad.len() + 2 + line.len() + 1 + word.len() > WIDTH {
            let _ = writeln!(out, "{pad}# {line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if line.is_empty() {
        let _ = writeln!(out, "{pad}#");
    } else {
        let _ = writeln!(out, "{pad}# {line}");
    }
}

/// `WsCounter` from `ws-counter`: the prefix of proposed alert names.
fn camel(name: &str) -> String {
    let camel: String = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase()).unwrap_or_default();
            format!("{first}{}", chars.as_str())
        })
        .collect();
    if camel.starts_with(|c: char| c.is_ascii_alphabetic()) {
        camel
    } else {
        format!("Service{camel}")
    }
}

fn header(out: &mut String, inference: &Inference, header: &Header) {
    out.push_str("# yaml-language-server: $schema=generated/obs.schema.json\n#\n");
    comment(
        out,
        0,
        &format!(
            "Written by `generator init` from {}: {} metric families, {} samples. {} declared \
             below with what the scrape showed (type, HELP, unit, each label's values); comments \
             say how each was read. Comments marked PROPOSAL are obs's suggestions, not something \
             the service showed: keep, tune or delete them.",
            header.source,
            inference.families,
            inference.samples,
            match inference.skipped.len() {
                0 => "Every family the service exposed is".to_string(),
                n => format!("All but {n} (listed under `metrics:` with the reason) are"),
            }
        ),
    );
    out.push_str("#\n");
    if header.expected_drift.is_empty() {
        comment(
            out,
            0,
            "`generator drift` finds no difference between this spec and the exposition it was read from.",
        );
    } else {
        comment(
            out,
            0,
            "`generator drift` against the exposition this was read from reports, until the service \
             or this file changes:",
        );
        for line in &header.expected_drift {
            comment(out, 0, &format!("  {line}"));
        }
    }
    out.push_str("#\n");
    let drift = match &header.url {
        Some(url) => format!("`generator drift --url {url}`"),
        None => "`generator drift --url <the service's /metrics>`".into(),
    };
    comment(
        out,
        0,
        &format!(
            "Next: `generator check` validates this file, {drift} compares the running service \
             with it, and `generator` renders the Prometheus, Alertmanager, Grafana and compose \
             files into generated/."
        ),
    );
    out.push('\n');
}

fn service(out: &mut String, header: &Header) {
    out.push_str("service:\n");
    let _ = writeln!(out, "  name: {}", scalar(&header.service));
    if let Some(port) = header.port {
        let _ = writeln!(out, "  port: {port}");
    }
    comment(
        out,
        2,
        "PROPOSAL: a runbook link on every alert; `{alert}` becomes the alert's name. Until it \
         is set, `check` warns once per alert.",
    );
    let _ = writeln!(
        out,
        "  # runbook_url: https://runbooks.example.com/{}/{{alert}}",
        header.service
    );
    out.push('\n');
}

fn group(out: &mut String, group: &Group) {
    let names: Vec<String> = group.families().into_iter().map(|f| f.name).collect();
    let what = match group {
        Group::Http { routes_seen, .. } => format!("the HTTP group ({routes_seen} route templates seen)"),
        Group::WebSocket { .. } => "the WebSocket group".into(),
        Group::Lifecycle { prefix } => format!("the start-up/shutdown group, prefix `{prefix}`"),
        Group::Process => "the process collector".into(),
        Group::Jobs { types, .. } => match types {
            JobTypes::Closed(types) => format!("the jobs group ({} job types seen, a closed set)", types.len()),
            JobTypes::Open { seen, .. } => format!("the jobs group ({seen} job types seen, an open set)"),
        },
    };
    comment(
        out,
        4,
        &format!("{}: {what}, exposed exactly as obs declares it.", names.join(", ")),
    );
    match group {
        Group::Http {
            route_label,
            buckets,
            max_routes,
            routes_seen,
        } => {
            let mut lines = Vec::new();
            if let Some(label) = route_label {
                lines.push(format!("route_label: {}", scalar(label)));
            }
            if let Some(buckets) = buckets {
                lines.push(format!("buckets: {}", numbers(buckets)));
            }
            if let Some(max) = max_routes {
                comment(
                    out,
                    4,
                    &format!("{routes_seen} routes seen: capped at {max}, twice that and at least 10 more."),
                );
                lines.push(format!("max_routes: {max}"));
            }
            block(out, "http", &lines);
        }
        Group::WebSocket { error_types, buckets } => {
            let mut lines = Vec::new();
            if let Some(types) = error_types {
                lines.push(format!("error_types: {}", list(types)));
            }
            if let Some(buckets) = buckets {
                lines.push(format!("buckets: {}", numbers(buckets)));
            }
            block(out, "websocket", &lines);
        }
        Group::Lifecycle { prefix } => block(out, "lifecycle", &[format!("prefix: {}", scalar(prefix))]),
        Group::Process => block(out, "process", &[]),
        Group::Jobs { types, buckets } => {
            let mut lines = Vec::new();
            match types {
                JobTypes::Closed(types) => lines.push(format!("types: {}", list(types))),
                JobTypes::Open { seen, max, why } => {
                    comment(
                        out,
                        4,
                        &format!(
                            "{seen} job types seen, {why}: an open set{}.",
                            match max {
                                Some(max) => format!(" capped at {max}, twice what was seen and at least 10 more"),
                                None => format!(" at obs's default cap of {DEFAULT_MAX_JOB_TYPES}"),
                            }
                        ),
                    );
                    if let Some(max) = max {
                        lines.push(format!("max_types: {max}"));
                    }
                }
            }
            if let Some(buckets) = buckets {
                lines.push(format!("buckets: {}", numbers(buckets)));
            }
            block(out, "jobs", &lines);
        }
    }
}

/// `key: {}` or `key:` followed by its settings, inside `builtin:`.
fn block(out: &mut String, key: &str, lines: &[String]) {
    if lines.is_empty() {
        let _ = writeln!(out, "    {key}: {{}}");
        return;
    }
    let _ = writeln!(out, "    {key}:");
    for line in lines {
        let _ = writeln!(out, "      {line}");
    }
}

fn custom(out: &mut String, metric: &CustomMetric) {
    let series = match metric.series_seen {
        1 => "1 series".to_string(),
        n => format!("{n} series"),
    };
    let mut notes = vec![format!("{series} seen.")];
    notes.extend(metric.notes.iter().map(|n| format!("{n}.")));
    if let Some(max) = metric.max_series {
        notes.push(format!(
            "max_series {max}: the worst case of its labels' budgets, above obs's default of {}.",
            contract::Metrics::default().default_max_series
        ));
    }
    comment(out, 4, &notes.join(" "));
    let _ = writeln!(out, "    - name: {}", scalar(&metric.name));
    let _ = writeln!(out, "      type: {}", metric.kind.as_str());
    let _ = writeln!(out, "      help: {}", scalar(&metric.help));
    if let Some(unit) = &metric.unit {
        let _ = writeln!(out, "      unit: {}", scalar(unit));
    }
    if let Some(buckets) = &metric.buckets {
        let _ = writeln!(out, "      buckets: {}", numbers(buckets));
    }
    if let Some(max) = metric.max_series {
        let _ = writeln!(out, "      max_series: {max}");
    }
    if metric.labels.is_empty() {
        return;
    }
    out.push_str("      labels:\n");
    for label in &metric.labels {
        match &label.budget {
            Budget::Closed(values) => {
                comment(
                    out,
                    8,
                    &format!(
                        "{} value{} seen: a closed set, so code gets an enum and any other value is drift.",
                        values.len(),
                        if values.len() == 1 { "" } else { "s" }
                    ),
                );
                let _ = writeln!(out, "        - name: {}", scalar(&label.name));
                let _ = writeln!(out, "          values: {}", list(values));
            }
            Budget::Open { seen, max, why } => {
                comment(
                    out,
                    8,
                    &format!(
                        "{seen} value{} seen, {why}: an open set capped at {max} (twice what was \
                         seen and at least 10 more, so values quiet at scrape time still fit, \
                         while a runaway label stops at the cap and counts the rest as `other`).",
                        if *seen == 1 { "" } else { "s" }
                    ),
                );
                let _ = writeln!(out, "        - name: {}", scalar(&label.name));
                let _ = writeln!(out, "          max_series: {max}");
            }
        }
    }
}

fn metrics(out: &mut String, inference: &Inference, header: &Header) {
    out.push_str("metrics:\n");
    if let Some(path) = &header.metrics_path {
        let _ = writeln!(out, "  endpoint:\n    path: {}", scalar(path));
    }
    for miss in &inference.near_misses {
        comment(
            out,
            2,
            &format!(
                "Not the builtin `{}` group, though it looked like it ({}): its families are \
                 declared one by one below.",
                miss.group.as_str(),
                miss.why
            ),
        );
    }
    if !inference.groups.is_empty() {
        out.push_str("  builtin:\n");
        for g in &inference.groups {
            group(out, g);
        }
    }
    if !inference.derived.is_empty() {
        comment(
            out,
            2,
            &format!(
                "Also exposed, by the obs runtime itself, and declared by the sections they follow \
                 from, not here: {}.",
                inference.derived.join(", ")
            ),
        );
        if inference.derived.iter().any(|d| d == SERIES_DROPPED) {
            comment(
                out,
                2,
                &format!("({SERIES_DROPPED} lists the metrics whose labels are capped; the labels below follow it.)"),
            );
        }
    }
    if !inference.skipped.is_empty() {
        comment(
            out,
            2,
            "Exposed but not declared, so `drift` lists them as undeclared until the service \
             changes them:",
        );
        for skipped in &inference.skipped {
            comment(out, 2, &format!("- {}: {}.", skipped.name, skipped.reason));
        }
    }
    if inference.custom.is_empty() {
        out.push('\n');
        return;
    }
    out.push_str("  custom:\n");
    for metric in &inference.custom {
        custom(out, metric);
    }
    out.push('\n');
}

fn logging(out: &mut String, inference: &Inference, header: &Header) {
    let runtime = &inference.runtime;
    if !runtime.loki && !runtime.elasticsearch && runtime.throttle_levels.is_none() {
        return;
    }
    comment(
        out,
        0,
        "PROPOSAL: the obs runtime's own counters show this service ships or throttles its logs; \
         these are the sections that produce them, with addresses to fill in.",
    );
    out.push_str("logging:\n");
    if let Some(levels) = &runtime.throttle_levels {
        if levels.is_empty() {
            out.push_str("  throttle: {}\n");
        } else {
            let _ = writeln!(out, "  throttle:\n    levels: {}", list(levels));
        }
    }
    if runtime.loki {
        out.push_str("  loki:\n    url: \"${LOKI_URL:-http://loki:3100}\"\n");
    }
    if runtime.elasticsearch {
        out.push_str("  elasticsearch:\n    host: \"${ELASTICSEARCH_HOST:-elasticsearch}\"\n");
        let _ = writeln!(out, "    index_prefix: {}", scalar(&header.service));
    }
    out.push('\n');
}

fn has_group(inference: &Inference, wanted: fn(&Group) -> bool) -> bool {
    inference.groups.iter().any(wanted)
}

fn alerts(out: &mut String, inference: &Inference, header: &Header) {
    let prefix = camel(&header.service);
    let job = &header.service;
    let instance = format!("{job}:{}", header.port.unwrap_or(8000));
    comment(
        out,
        0,
        "PROPOSAL: starter alerts from what the service exposes; the target-down and no-traffic \
         alerts carry promtool tests that `generator` renders into generated/. Tune thresholds \
         and `for` to your traffic.",
    );
    out.push_str("alerts:\n  - group: availability\n    rules:\n");
    let _ = write!(
        out,
        "      - name: {prefix}Down
        threshold:
          query: up{{job=\"{job}\"}}
          below: 1
        for: 2m
        severity: critical
        summary: A {job} target is down.
        description: \"Prometheus cannot scrape {{{{ $labels.instance }}}}.\"
        tests:
          - name: fires when a target stops answering
            series: {{ 'up{{job=\"{job}\", instance=\"{instance}\"}}': \"1 1 0x5\" }}
            at: 5m
            fires: true
            labels: {{ job: {job}, instance: \"{instance}\" }}
          - name: stays silent while it answers
            series: {{ 'up{{job=\"{job}\", instance=\"{instance}\"}}': \"1x8\" }}
            at: 5m
            fires: false
      - name: {prefix}NotScraped
        absent:
          selector: up{{job=\"{job}\"}}
        for: 10m
        severity: warning
        summary: Prometheus has no {job} target at all.
        description: No `up` series for job {job}; the scrape configuration or service discovery lost it.
"
    );
    let http = has_group(inference, |g| matches!(g, Group::Http { .. }));
    let jobs = has_group(inference, |g| matches!(g, Group::Jobs { .. }));
    if !http && !jobs {
        out.push('\n');
        return;
    }
    out.push_str("  - group: traffic\n    rules:\n");
    if let Some(Group::Http { route_label, .. }) = inference.groups.iter().find(|g| matches!(g, Group::Http { .. })) {
        let route = route_label.as_deref().unwrap_or("route");
        let _ = write!(
            out,
            "      - name: {prefix}NoHttpTraffic
        no_traffic:
          selector: http_requests_total
          window: 10m
        for: 30m
        severity: warning
        summary: {job} has answered no HTTP request for half an hour.
        description: The request rate over ten minutes has been zero for thirty; check the load balancer and the clients. A service that has served nothing since it started has no series yet and stays silent.
        tests:
          - name: fires when requests stop
            series: {{ 'http_requests_total{{{route}=\"/\", method=\"GET\", status=\"200\"}}': \"5x60\" }}
            at: 50m
            fires: true
          - name: stays silent while requests arrive
            series: {{ 'http_requests_total{{{route}=\"/\", method=\"GET\", status=\"200\"}}': \"0+10x60\" }}
            at: 50m
            fires: false
"
        );
    }
    if jobs {
        let _ = write!(
            out,
            "      - name: {prefix}JobsStalled
        threshold:
          query: sum(queue_depth) > 0 and sum(rate(jobs_processed_total[15m])) == 0
          above: 0
        for: 15m
        severity: warning
        summary: Jobs wait in the queue and none finish.
        description: The queue holds jobs and no job has finished for fifteen minutes; the workers are stuck or gone.
"
        );
    }
    out.push('\n');
}

fn dashboards(out: &mut String) {
    comment(
        out,
        0,
        "PROPOSAL: the overview dashboard obs lays out from the metrics above (traffic, errors, \
         latency, saturation where they exist); add dashboards of your own beside it.",
    );
    out.push_str("dashboards:\n  - overview: true\n");
}

/// The whole obs.yaml text.
pub fn spec_text(inference: &Inference, header_info: &Header) -> String {
    let mut out = String::new();
    header(&mut out, inference, header_info);
    service(&mut out, header_info);
    metrics(&mut out, inference, header_info);
    logging(&mut out, inference, header_info);
    alerts(&mut out, inference, header_info);
    dashboards(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_read_back_as_the_same_string() {
        for text in [
            "tab\there",
            "nel\u{85}x",
            "ls\u{2028}x",
            "del\u{7f}x",
            "c1\u{9b}x",
            "back\\slash \"q\"",
            "ünïcode",
            "plain",
            "200",
            "yes",
            "a: b",
            "#x",
            "/api/notes",
            "",
            "Notes (all).",
            "it's",
            "x\ny",
        ] {
            let yaml = format!("k: {}", scalar(text));
            let value: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
            assert_eq!(value["k"].as_str(), Some(text), "{yaml}");
            let yaml = format!("k: {}", list(&[text.to_string(), "x,y".to_string()]));
            let value: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
            assert_eq!(value["k"][0].as_str(), Some(text), "{yaml}");
            assert_eq!(value["k"][1].as_str(), Some("x,y"), "{yaml}");
        }
    }

    #[test]
    fn alert_prefixes_are_camel_case() {
        assert_eq!(camel("ws-counter"), "WsCounter");
        assert_eq!(camel("9lives"), "Service9lives");
    }
}
