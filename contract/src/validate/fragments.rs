//! Spec fragments that obs splices into PromQL (a template's query or selectors, a matcher
//! filter, a `by` label list) are checked as the piece each must be, and every expression
//! rendered from them is parsed again, so no fragment can change the meaning of the text
//! around it (a trailing `# comment` swallowing `< 1`, a label list closing its own
//! parenthesis).

use promql_parser::parser::Expr;

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::promql;
use crate::rules::Rule;

use super::Checker;

/// What a fragment must be for the text obs wraps around it to keep its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    /// A whole expression that obs follows with a comparison.
    Expression,
    /// A plain vector selector, which obs puts inside `rate(…[w])` or `absent(…)`.
    Selector,
    /// Label matchers, which obs puts between a metric name's braces.
    Matchers,
    /// One label name, which obs puts in a `by (…)` list.
    LabelName,
    /// Anything else obs wraps whose shape another check already holds: only no comment.
    Wrapped,
}

pub(super) fn check_all(checker: &mut Checker) {
    let mut fragments: Vec<(String, Piece, String)> = Vec::new();
    for (g, group) in checker.spec.alerts.iter().enumerate() {
        for (r, rule) in group.rules.iter().enumerate() {
            let path = format!("alerts[{g}].rules[{r}]");
            if let Some(t) = &rule.threshold {
                fragments.push((format!("{path}.threshold.query"), Piece::Expression, t.query.clone()));
            }
            if let Some(t) = &rule.absent {
                fragments.push((format!("{path}.absent.selector"), Piece::Selector, t.selector.clone()));
            }
            if let Some(t) = &rule.error_ratio {
                fragments.push((format!("{path}.error_ratio.errors"), Piece::Selector, t.errors.clone()));
                fragments.push((format!("{path}.error_ratio.total"), Piece::Selector, t.total.clone()));
                for (b, label) in t.by.iter().enumerate() {
                    fragments.push((format!("{path}.error_ratio.by[{b}]"), Piece::LabelName, label.clone()));
                }
            }
            if let Some(t) = &rule.latency {
                if let Some(filter) = &t.filter {
                    fragments.push((format!("{path}.latency.filter"), Piece::Matchers, filter.clone()));
                }
                for (b, label) in t.by.iter().enumerate() {
                    fragments.push((format!("{path}.latency.by[{b}]"), Piece::LabelName, label.clone()));
                }
            }
            if let Some(t) = &rule.no_traffic {
                fragments.push((
                    format!("{path}.no_traffic.selector"),
                    Piece::Selector,
                    t.selector.clone(),
                ));
                for (b, label) in t.by.iter().enumerate() {
                    fragments.push((format!("{path}.no_traffic.by[{b}]"), Piece::LabelName, label.clone()));
                }
            }
        }
    }
    for (i, slo) in checker.spec.slos.iter().enumerate() {
        if let Some(errors) = &slo.sli.errors {
            // slo-sli-selector holds these to plain selectors already.
            fragments.push((format!("slos[{i}].sli.errors"), Piece::Wrapped, errors.clone()));
        }
        if let Some(total) = &slo.sli.total {
            fragments.push((format!("slos[{i}].sli.total"), Piece::Wrapped, total.clone()));
        }
        if let Some(filter) = slo.sli.latency.as_ref().and_then(|l| l.filter.as_ref()) {
            fragments.push((format!("slos[{i}].sli.latency.filter"), Piece::Matchers, filter.clone()));
        }
    }
    for (path, piece, text) in fragments {
        if let Some(diagnostic) = check_fragment(&path, piece, &text) {
            checker.push(diagnostic);
        }
    }
    // Rendering from a spec with errors may give nonsense; those errors say why.
    if !checker.found.iter().any(Diagnostic::is_error) {
        check_rendered(checker);
    }
}

fn check_fragment(path: &str, piece: Piece, text: &str) -> Option<Diagnostic> {
    let text = text.trim();
    if piece == Piece::LabelName {
        return (!is_label_name(text)).then(|| {
            Diagnostic::new(
                Code::PromqlFragment,
                path,
                format!("`{text}` is not a label name; obs puts it inside `by (…)`"),
            )
            .with_help("a label name is letters, digits and `_`, not starting with a digit: `route`, `status`")
        });
    }
    if let Some(column) = comment_start(text) {
        return Some(
            Diagnostic::new(
                Code::PromqlFragment,
                path,
                format!(
                    "`{text}` has a PromQL comment from character {}: obs appends to this text, and the comment would swallow what follows (a comparison, a range, a closing bracket)",
                    column + 1
                ),
            )
            .with_help("remove the `# …` part; a note belongs in a description"),
        );
    }
    let (parsed, expected) = match piece {
        Piece::Expression | Piece::Wrapped => return None,
        Piece::Selector => (
            promql::parse(text),
            "a plain selector such as `http_requests_total{status=~\"5..\"}`",
        ),
        Piece::Matchers => (
            promql::parse(&format!("matched{{{text}}}")),
            "label matchers such as `route!=\"/metrics\"`, without braces",
        ),
        Piece::LabelName => unreachable!("handled above"),
    };
    // A fragment that does not parse at all is reported by promql-syntax.
    let Ok(parsed) = parsed else { return None };
    let plain = matches!(&parsed, Expr::VectorSelector(vs) if vs.offset.is_none() && vs.at.is_none());
    (!plain).then(|| {
        Diagnostic::new(
            Code::PromqlFragment,
            path,
            format!("`{text}` is not {expected}: obs wraps it, and anything more would change what the rule means"),
        )
        .with_help(
            "move functions, ranges, offsets and operators out: the template adds `rate`, the range and the sum itself",
        )
    })
}

/// Every rule expression obs rendered parses again: a last guard for a fragment whose
/// check above missed a way to break the text around it. A large spec renders thousands of
/// rules, so the parsing is shared between two threads.
fn check_rendered(checker: &mut Checker) {
    let rules: Vec<&Rule> = checker
        .rules
        .files
        .iter()
        .flat_map(|f| &f.groups)
        .flat_map(|g| &g.rules)
        .collect();
    let half = rules.len().div_ceil(2);
    let (first, second) = rules.split_at(half);
    let (mut found, later) = crate::two_cores::beside(|| unparseable_rules(first), || unparseable_rules(second));
    found.extend(later);
    for diagnostic in found {
        checker.push(diagnostic);
    }
}

fn unparseable_rules(rules: &[&Rule]) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for rule in rules {
        let (path, name, expr) = match rule {
            Rule::Alert(alert) => (alert.spec_path.clone(), alert.name.clone(), &alert.expr),
            Rule::Record(record) => (String::new(), record.record.clone(), &record.expr),
        };
        if expr.is_empty() {
            continue;
        }
        // Prometheus parses rules as they are: no Grafana variable is replaced here.
        if let Err(error) = promql_parser::parser::parse(expr) {
            found.push(Diagnostic::new(
                Code::PromqlFragment,
                path,
                format!(
                    "the rule `{name}` that obs renders from this does not parse: `{expr}`: {}",
                    error.trim()
                ),
            ));
        }
    }
    found
}

fn is_label_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Where a PromQL comment starts (a `#` outside every string literal), as a character index.
fn comment_start(text: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (index, c) in text.chars().enumerate() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(q) if c == '\\' && q != '`' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' || c == '`' => quote = Some(c),
            None if c == '#' => return Some(index),
            None => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_comments_outside_strings_only() {
        assert_eq!(comment_start("sum(up) # note"), Some(8));
        assert_eq!(comment_start(r#"up{path="/a#b"}"#), None);
        assert_eq!(comment_start(r##"up{path="a\"#"} # x"##), Some(16));
        assert_eq!(comment_start("up{path=`a\\`} #"), Some(14));
        assert_eq!(comment_start("up{path='#'}"), None);
    }

    #[test]
    fn label_names() {
        assert!(is_label_name("route") && is_label_name("_x1"));
        assert!(!is_label_name("1x") && !is_label_name("") && !is_label_name("type) or vector(1) #"));
    }

    #[test]
    fn selectors_must_be_plain() {
        let check = |text| check_fragment("p", Piece::Selector, text);
        assert!(check(r#"http_requests_total{status=~"5.."}"#).is_none());
        assert!(check("rate(x[5m])").is_some());
        assert!(check("x offset 5m").is_some());
        assert!(check("x or vector(1)").is_some());
        assert!(check("x[5m]").is_some());
        let matchers = |text| check_fragment("p", Piece::Matchers, text);
        assert!(matchers(r#"route!="/metrics""#).is_none());
        assert!(matchers(r##"a="b"} or vector(1) #"##).is_some());
        assert!(
            matchers(r#"a="b"}[5m"#).is_none(),
            "unparseable: promql-syntax reports it"
        );
    }
}
