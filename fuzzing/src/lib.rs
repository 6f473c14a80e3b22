//! What each fuzz target does with its bytes. cargo-fuzz (`fuzz/`, nightly) calls these
//! from its targets; `tests/corpus.rs` replays every checked-in input through them on
//! stable, so an input that once crashed one is tried again by every test run. Each
//! function panics only when it finds a defect: a panic inside the code under test, or an
//! output that does not read back as what went in.

use std::collections::BTreeMap;

/// A target: its name and what it does with one input.
pub type Target = (&'static str, fn(&[u8]));

/// The targets by name, as `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/` call them.
pub const TARGETS: [Target; 4] = [
    ("spec", spec),
    ("exposition", exposition),
    ("request_id", request_id),
    ("label_value", label_value),
];

/// Bytes as obs.yaml: loaded, validated and resolved; when valid, every target rendered,
/// and every rendered JSON and YAML file parses and every rule expression is PromQL.
pub fn spec(data: &[u8]) {
    let Ok(loaded) = contract::load_bytes(data, "fuzz.yaml") else {
        return;
    };
    let Ok(checked) = generator::Checked::new(loaded) else {
        return;
    };
    let tree = generator::render(&checked).expect("a spec that validates renders");
    for (path, text) in &tree.files {
        if path.ends_with(".json") {
            serde_json::from_str::<serde_json::Value>(text)
                .unwrap_or_else(|e| panic!("{path} is not JSON: {e}\n{text}"));
        } else if path.ends_with(".yml") || path.ends_with(".yaml") {
            serde_yaml::from_str::<serde_yaml::Value>(text)
                .unwrap_or_else(|e| panic!("{path} is not YAML: {e}\n{text}"));
        }
    }
    for file in &checked.resolved.rules.files {
        for group in &file.groups {
            for rule in &group.rules {
                let expr = match rule {
                    contract::rules::Rule::Alert(alert) => &alert.expr,
                    contract::rules::Rule::Record(record) => &record.expr,
                };
                promql_parser::parser::parse(expr).unwrap_or_else(|e| panic!("rendered rule `{expr}`: {e}"));
            }
        }
    }
}

/// Bytes as a `/metrics` exposition: the parser reads or refuses, never panics.
pub fn exposition(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = contract::exposition::parse(text);
    }
}

/// Bytes as an inbound `X-Request-Id`: what the runtime keeps is short and harmless.
pub fn request_id(data: &[u8]) {
    let Ok(value) = axum::http::HeaderValue::from_bytes(data) else {
        return;
    };
    if let Some(kept) = runtime::http::sane_request_id(&value) {
        assert!(!kept.is_empty() && kept.len() <= 128, "kept {kept:?}");
        assert!(
            kept.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)),
            "kept {kept:?}"
        );
        assert_eq!(kept.as_bytes(), data, "a kept id is the id sent");
    }
}

/// Bytes as a label value a user or a client chose: written into PromQL, the exposition
/// format, YAML and JSON the way obs writes each, every one reads back the same value.
pub fn label_value(data: &[u8]) {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    // PromQL, as the generated SLO selectors quote it.
    let selector = format!("m{{l=\"{}\"}}", contract::promql::quote(value));
    match promql_parser::parser::parse(&selector) {
        Ok(promql_parser::parser::Expr::VectorSelector(vs)) => {
            let matched = vs
                .matchers
                .matchers
                .iter()
                .find(|m| m.name == "l")
                .map(|m| m.value.clone());
            assert_eq!(matched.as_deref(), Some(value), "PromQL {selector}");
        }
        other => panic!("PromQL {selector}: {other:?}"),
    }
    // The exposition format, as the runtime's encoder escapes it.
    let mut escaped = String::new();
    runtime::metrics::family::escape_label_value(value, &mut escaped);
    let line = format!("m{{l=\"{escaped}\"}} 1\n");
    let families = contract::exposition::parse(&line).unwrap_or_else(|e| panic!("exposition {line:?}: {e}"));
    let read = families
        .first()
        .and_then(|f| f.samples.first())
        .and_then(|s| s.labels.get("l").cloned());
    assert_eq!(read.as_deref(), Some(value), "exposition {line:?}");
    // YAML, as the generator's templates write a scalar.
    let env = generator::render::environment().expect("templates compile");
    let yaml = env
        .render_str("key: {{ v | yaml }}\n", minijinja::context! { v => value })
        .expect("renders");
    let parsed: BTreeMap<String, String> = serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("YAML {yaml:?}: {e}"));
    assert_eq!(parsed.get("key").map(String::as_str), Some(value), "YAML {yaml:?}");
    // JSON, as the dashboards' filter writes a string.
    let json = env
        .render_str("{\"key\": {{ v | json }}}", minijinja::context! { v => value })
        .expect("renders");
    let parsed: BTreeMap<String, String> = serde_json::from_str(&json).unwrap_or_else(|e| panic!("JSON {json:?}: {e}"));
    assert_eq!(parsed.get("key").map(String::as_str), Some(value), "JSON {json:?}");
}
