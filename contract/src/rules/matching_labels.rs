//! Example label values that satisfy (or avoid) a selector's matchers, so that SLO tests
//! can be generated from `errors:` and `total:` selectors. Every example is checked with
//! the same anchored regex semantics Prometheus uses before it is trusted.

use std::collections::BTreeMap;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::Expr;
use regex::Regex;

use crate::promql;

/// Values tried for labels that must avoid a matcher.
const CANDIDATES: [&str; 12] = [
    "200",
    "ok",
    "success",
    "succeeded",
    "GET",
    "/",
    "x",
    "0",
    "1",
    "true",
    "false",
    "none",
];

/// A series selector broken into its metric and matchers.
#[derive(Debug, Clone)]
pub struct Selector {
    pub metric: String,
    pub matchers: Vec<Matcher>,
}

impl Selector {
    pub fn parse(text: &str) -> Option<Self> {
        let Ok(Expr::VectorSelector(vs)) = promql::parse(text) else {
            return None;
        };
        let metric = vs.name.clone()?;
        let matchers = vs
            .matchers
            .matchers
            .into_iter()
            .filter(|m| m.name != "__name__")
            .collect();
        Some(Self { metric, matchers })
    }

    pub fn matches(&self, metric: &str, labels: &BTreeMap<String, String>) -> bool {
        metric == self.metric
            && self.matchers.iter().all(|m| {
                let value = labels.get(&m.name).map(String::as_str).unwrap_or("");
                matcher_accepts(m, value)
            })
    }

    /// Labels satisfying every matcher.
    pub fn example(&self) -> Option<BTreeMap<String, String>> {
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        for matcher in &self.matchers {
            let current = labels.get(&matcher.name).cloned().unwrap_or_default();
            if matcher_accepts(matcher, &current) {
                continue;
            }
            let value = example_value(matcher)?;
            labels.insert(matcher.name.clone(), value);
        }
        self.matches(&self.metric, &labels).then_some(labels)
    }
}

fn anchored(pattern: &str) -> Option<Regex> {
    Regex::new(&format!("^(?:{pattern})$")).ok()
}

fn matcher_accepts(matcher: &Matcher, value: &str) -> bool {
    match &matcher.op {
        MatchOp::Equal => value == matcher.value,
        MatchOp::NotEqual => value != matcher.value,
        MatchOp::Re(_) => anchored(&matcher.value).is_some_and(|re| re.is_match(value)),
        MatchOp::NotRe(_) => anchored(&matcher.value).is_some_and(|re| !re.is_match(value)),
    }
}

fn example_value(matcher: &Matcher) -> Option<String> {
    let candidates = || CANDIDATES.iter().map(|c| c.to_string());
    match &matcher.op {
        MatchOp::Equal => Some(matcher.value.clone()),
        MatchOp::Re(_) => std::iter::once(regex_example(&matcher.value)?)
            .chain(candidates())
            .find(|v| matcher_accepts(matcher, v)),
        MatchOp::NotEqual | MatchOp::NotRe(_) => candidates().find(|v| matcher_accepts(matcher, v)),
    }
}

/// Labels selected by `total` but not by `errors` (the good events), when both select the
/// same metric.
pub fn good_example(total: &Selector, errors: &Selector) -> Option<BTreeMap<String, String>> {
    let base = total.example()?;
    if !errors.matches(&total.metric, &base) {
        return Some(base);
    }
    for matcher in &errors.matchers {
        for candidate in CANDIDATES {
            let mut labels = base.clone();
            labels.insert(matcher.name.clone(), candidate.to_string());
            if total.matches(&total.metric, &labels) && !errors.matches(&total.metric, &labels) {
                return Some(labels);
            }
        }
    }
    None
}

/// A string the regex matches, for the common shapes (`5..`, `5\d\d`, `(500|503)`,
/// `[45]..`, `timeout|error`); verified by the caller.
fn regex_example(pattern: &str) -> Option<String> {
    let alternative = top_level_alternatives(pattern).into_iter().next()?;
    let chars: Vec<char> = alternative.chars().collect();
    let mut out = String::new();
    let mut last_atom_start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let next = *chars.get(i + 1)?;
                last_atom_start = out.len();
                out.push(match next {
                    'd' => '0',
                    'w' => 'a',
                    's' => ' ',
                    other => other,
                });
                i += 2;
            }
            '.' => {
                last_atom_start = out.len();
                out.push('0');
                i += 1;
            }
            '[' => {
                let end = chars[i..].iter().position(|&x| x == ']')? + i;
                let class: String = chars[i + 1..end].iter().collect();
                last_atom_start = out.len();
                out.push(if class.starts_with('^') {
                    'z'
                } else {
                    class.chars().next()?
                });
                i = end + 1;
            }
            '(' => {
                let end = matching_paren(&chars, i)?;
                let inner: String = chars[i + 1..end].iter().collect();
                let inner = inner.strip_prefix("?:").unwrap_or(&inner);
                last_atom_start = out.len();
                out.push_str(&regex_example(inner)?);
                i = end + 1;
            }
            '*' | '?' => {
                out.truncate(last_atom_start);
                i += 1;
            }
            '+' => i += 1,
            '{' => {
                let end = chars[i..].iter().position(|&x| x == '}')? + i;
                let spec: String = chars[i + 1..end].iter().collect();
                let times: usize = spec.split(',').next()?.trim().parse().ok()?;
                let atom = out[last_atom_start..].to_string();
                out.truncate(last_atom_start);
                out.push_str(&atom.repeat(times));
                i = end + 1;
            }
            '^' | '$' => i += 1,
            other => {
                last_atom_start = out.len();
                out.push(other);
                i += 1;
            }
        }
    }
    Some(out)
}

fn matching_paren(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn top_level_alternatives(pattern: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0i32;
    let mut escaped = false;
    for c in pattern.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '(' || c == '[' {
            depth += 1;
        } else if c == ')' || c == ']' {
            depth -= 1;
        } else if c == '|' && depth == 0 {
            parts.push(String::new());
            continue;
        }
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_values_for_common_status_patterns() {
        for (pattern, want) in [
            ("5..", "500"),
            ("5\\d\\d", "500"),
            ("(500|503)", "500"),
            ("[45]..", "400"),
            ("timeout|error", "timeout"),
            ("a{3}", "aaa"),
            ("ab?c", "ac"),
        ] {
            assert_eq!(regex_example(pattern).as_deref(), Some(want), "{pattern}");
        }
    }

    #[test]
    fn splits_a_selector_into_bad_and_good_examples() {
        let errors = Selector::parse(r#"http_requests_total{status=~"5..", job!="x"}"#).unwrap();
        let total = Selector::parse(r#"http_requests_total{job!="x"}"#).unwrap();
        let bad = errors.example().unwrap();
        assert_eq!(bad.get("status").map(String::as_str), Some("500"));
        let good = good_example(&total, &errors).unwrap();
        assert!(total.matches("http_requests_total", &good));
        assert!(!errors.matches("http_requests_total", &good));
    }

    #[test]
    fn gives_up_on_impossible_selectors() {
        let impossible = Selector::parse(r#"m{a="1", a="2"}"#).unwrap();
        assert!(impossible.example().is_none());
    }
}
