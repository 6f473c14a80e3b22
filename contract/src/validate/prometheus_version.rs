//! The targeted Prometheus: `stack.prometheus.version` is a 2.x or 3.x release that agrees
//! with the image's tag, and PromQL written in the spec is read for what Prometheus 3
//! changed under it (bucket and quantile labels stored as floats, `.` in regexes matching a
//! newline), each with the form that works on both majors.

use promql_parser::label::MatchOp;

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::prometheus_version::PrometheusVersion;
use crate::promql;

use super::queries::written_queries;
use super::Checker;

pub(super) fn check_all(checker: &mut Checker) {
    check_version(checker);
    for (path, query) in written_queries(checker.spec, checker.catalog) {
        // Unparseable queries are `promql-syntax` errors already.
        let Ok(expr) = promql::parse(&query) else { continue };
        for matcher in promql::label_matchers(&expr) {
            if let Some(diagnostic) = integer_bound(&path, &matcher.name, &matcher.op, &matcher.value) {
                checker.push(diagnostic);
            }
            if let MatchOp::Re(_) | MatchOp::NotRe(_) = matcher.op {
                if let Some(diagnostic) = single_character_dot(&path, &matcher.name, &matcher.op, &matcher.value) {
                    checker.push(diagnostic);
                }
            }
        }
    }
}

fn check_version(checker: &mut Checker) {
    let prometheus = &checker.spec.stack.prometheus;
    let Some(text) = prometheus.version.as_deref() else {
        return;
    };
    let path = "stack.prometheus.version";
    let version = match PrometheusVersion::parse(text) {
        Ok(version) => version,
        Err(error) => {
            checker.push(
                Diagnostic::new(Code::PrometheusVersionInvalid, path, error)
                    .with_help("write the release the stack runs as major.minor, e.g. `3.5` or `2.53`"),
            );
            return;
        }
    };
    if !(2..=3).contains(&version.major) {
        checker.push(
            Diagnostic::new(
                Code::PrometheusVersionInvalid,
                path,
                format!("obs generates for Prometheus 2.x and 3.x, not {version}"),
            )
            .with_help("target a 3.x release (the default) or a 2.x one"),
        );
        return;
    }
    if let Some(image) = prometheus.image.as_deref() {
        if let Some(tagged) = PrometheusVersion::of_image(image) {
            if tagged != version {
                checker.push(
                    Diagnostic::new(
                        Code::PrometheusVersionInvalid,
                        path,
                        format!("`version: {text}` but the image `{image}` runs Prometheus {tagged}"),
                    )
                    .with_help(format!(
                        "remove `version` (the image's tag decides) or set it to `{tagged}`"
                    )),
                );
            }
        }
    }
}

/// Whether `value` is a whole number as a client writes a bucket bound or quantile
/// (`1`, `10`), which Prometheus 3 stores as `1.0`, `10.0`.
fn is_whole_number(value: &str) -> bool {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `le="1"` or `le=~"1|5"`: Prometheus 3 normalises `le` and `quantile` values to floats
/// when it ingests them, so a whole-number value no longer matches.
fn integer_bound(path: &str, label: &str, op: &MatchOp, value: &str) -> Option<Diagnostic> {
    if label != "le" && label != "quantile" {
        return None;
    }
    let (written, fix) = match op {
        MatchOp::Equal | MatchOp::NotEqual => {
            if !is_whole_number(value) {
                return None;
            }
            let negated = matches!(op, MatchOp::NotEqual);
            (
                format!("{label}{}\"{value}\"", if negated { "!=" } else { "=" }),
                format!("{label}{}\"{value}|{value}.0\"", if negated { "!~" } else { "=~" }),
            )
        }
        MatchOp::Re(_) | MatchOp::NotRe(_) => {
            let alternatives: Vec<&str> = value.split('|').collect();
            let bare: Vec<&str> = alternatives
                .iter()
                .copied()
                .filter(|a| is_whole_number(a))
                .filter(|a| {
                    !alternatives
                        .iter()
                        .any(|other| *other == format!("{a}.0") || *other == format!("{a}\\.0"))
                })
                .collect();
            if bare.is_empty() {
                return None;
            }
            let fixed: Vec<String> = alternatives
                .iter()
                .map(|a| {
                    if bare.contains(a) {
                        format!("{a}|{a}.0")
                    } else {
                        a.to_string()
                    }
                })
                .collect();
            let op = if matches!(op, MatchOp::Re(_)) { "=~" } else { "!~" };
            (
                format!("{label}{op}\"{value}\""),
                format!("{label}{op}\"{}\"", fixed.join("|")),
            )
        }
    };
    Some(
        Diagnostic::new(
            Code::PromqlPrometheus3,
            path,
            format!("`{written}` selects nothing on Prometheus 3, which stores whole-number `{label}` values as floats (`1` as `1.0`)"),
        )
        .with_help(format!("write `{fix}`, which matches on 2.x and 3.x")),
    )
}

/// A `.` between two letters or digits (`host=~"api.example.com"`, `10.0.0.1`), which reads
/// as a literal dot but matches any character, and on Prometheus 3 a newline too. Dots used
/// as wildcards (`status=~"5.."`, `.*`, `.+`) are written to match anything and are left
/// alone.
fn single_character_dot(path: &str, label: &str, op: &MatchOp, pattern: &str) -> Option<Diagnostic> {
    // Bucket bounds and quantiles are numbers; a dot there cannot meet a newline.
    if label == "le" || label == "quantile" {
        return None;
    }
    let bytes = pattern.as_bytes();
    let mut in_class = false;
    let mut i = 0;
    let mut found = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'.' if !in_class && i > 0 => {
                let between = bytes[i - 1].is_ascii_alphanumeric()
                    && bytes.get(i + 1).is_some_and(|next| next.is_ascii_alphanumeric());
                if between {
                    found = true;
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if !found {
        return None;
    }
    let op = if matches!(op, MatchOp::NotRe(_)) { "!~" } else { "=~" };
    Some(
        Diagnostic::new(
            Code::PromqlPrometheus3,
            path,
            format!("`.` in `{label}{op}\"{pattern}\"` reads as a literal dot but matches any character, and on Prometheus 3 a newline too"),
        )
        .with_help("write `\\\\.` for a literal dot, or `[^\\n]` for any character but a newline; both read the same on 2.x and 3.x"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(query: &str) -> Vec<String> {
        let expr = promql::parse(query).unwrap();
        promql::label_matchers(&expr)
            .into_iter()
            .flat_map(|m| {
                let mut found = Vec::new();
                found.extend(integer_bound("q", &m.name, &m.op, &m.value));
                if let MatchOp::Re(_) | MatchOp::NotRe(_) = m.op {
                    found.extend(single_character_dot("q", &m.name, &m.op, &m.value));
                }
                found
            })
            .map(|d| format!("{} / {}", d.message, d.help.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn whole_number_bounds_are_named_with_a_fix_for_both_majors() {
        let found = findings(r#"sum(rate(h_bucket{le="1"}[5m]))"#);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains(r#"le=~"1|1.0""#), "{found:?}");
        let found = findings(r#"x{quantile=~"0.5|1"}"#);
        assert!(found[0].contains(r#"quantile=~"0.5|1|1.0""#), "{found:?}");
        assert!(findings(r#"h_bucket{le=~"1|1.0"}"#).is_empty());
        assert!(findings(r#"h_bucket{le="0.25"}"#).is_empty());
        assert!(findings(r#"h_bucket{le="+Inf"}"#).is_empty());
        assert!(findings(r#"x{code="1"}"#).is_empty());
    }

    #[test]
    fn dots_that_read_as_literal_are_named_and_wildcards_are_not() {
        assert_eq!(findings(r#"up{instance=~"10.0.0.1:9090"}"#).len(), 1);
        assert_eq!(findings(r#"up{host!~"api.example"}"#).len(), 1);
        assert!(findings(r#"up{route=~"/api/.*", x=~".+", y=~"a\\.b", z=~"[.]"}"#).is_empty());
        assert!(findings(r#"http_requests_total{status=~"5.."}"#).is_empty());
        assert!(findings(r#"h_bucket{le=~"1|1.0"}"#).is_empty());
    }
}
