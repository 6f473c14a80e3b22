//! PromQL checks: parse an expression (Grafana's `$__rate_interval` and friends allowed) and
//! list the metric names it selects, so validation can resolve each against the catalog.

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{self, Expr, VectorSelector};

/// Grafana variables that stand for a range inside queries, replaced before parsing.
const GRAFANA_RANGES: [&str; 4] = ["$__rate_interval", "$__interval", "$__range", "$__auto"];

/// Replaces Grafana's range variables with a parseable duration.
pub fn without_grafana_variables(expr: &str) -> String {
    GRAFANA_RANGES
        .iter()
        .fold(expr.to_string(), |text, variable| text.replace(variable, "5m"))
}

/// `value` as the inside of a double-quoted PromQL string: backslash, quote and every
/// control character escaped (Go's escapes, which Prometheus and promql-parser read), so
/// any label value reads back unchanged.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Parses an expression; the error text is promql-parser's.
pub fn parse(expr: &str) -> Result<Expr, String> {
    parser::parse(&without_grafana_variables(expr))
}

/// A selector of an expression: the metric it names and the labels its matchers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub metric: String,
    pub labels: Vec<String>,
}

/// Metric names the expression selects, in order of appearance, each once. Selectors that
/// name no metric (`{job="x"}`) contribute nothing.
pub fn selected_metrics(expr: &Expr) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for selected in selected_series(expr) {
        if !names.contains(&selected.metric) {
            names.push(selected.metric);
        }
    }
    names
}

/// Every named selector of the expression, in order of appearance.
pub fn selected_series(expr: &Expr) -> Vec<Selected> {
    let mut found = Vec::new();
    walk(expr, &mut found);
    found
}

fn selector_name(selector: &VectorSelector) -> Option<String> {
    selector.name.clone().or_else(|| {
        selector
            .matchers
            .matchers
            .iter()
            .find(|m| m.name == "__name__" && matches!(m.op, MatchOp::Equal))
            .map(|m| m.value.clone())
    })
}

fn walk(expr: &Expr, names: &mut Vec<Selected>) {
    for_each_selector(expr, &mut |selector: &VectorSelector| {
        if let Some(metric) = selector_name(selector) {
            let labels = selector
                .matchers
                .matchers
                .iter()
                .chain(selector.matchers.or_matchers.iter().flatten())
                .filter(|m| m.name != "__name__")
                .map(|m| m.name.clone())
                .collect();
            names.push(Selected { metric, labels });
        }
    });
}

/// Calls `f` on every series selector of the expression, in order of appearance.
pub fn for_each_selector(expr: &Expr, f: &mut dyn FnMut(&VectorSelector)) {
    match expr {
        Expr::VectorSelector(selector) => f(selector),
        Expr::MatrixSelector(matrix) => f(&matrix.vs),
        Expr::Aggregate(aggregate) => {
            for_each_selector(&aggregate.expr, f);
            if let Some(param) = &aggregate.param {
                for_each_selector(param, f);
            }
        }
        Expr::Unary(unary) => for_each_selector(&unary.expr, f),
        Expr::Binary(binary) => {
            for_each_selector(&binary.lhs, f);
            for_each_selector(&binary.rhs, f);
        }
        Expr::Paren(paren) => for_each_selector(&paren.expr, f),
        Expr::Subquery(subquery) => for_each_selector(&subquery.expr, f),
        Expr::Call(call) => call.args.args.iter().for_each(|arg| for_each_selector(arg, f)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Every label matcher of the expression's selectors (`__name__` included), in order.
pub fn label_matchers(expr: &Expr) -> Vec<Matcher> {
    let mut found = Vec::new();
    for_each_selector(expr, &mut |selector: &VectorSelector| {
        found.extend(
            selector
                .matchers
                .matchers
                .iter()
                .chain(selector.matchers.or_matchers.iter().flatten())
                .cloned(),
        );
    });
    found
}

/// Parses a bare selector (`http_requests_total{status=~"5.."}`) and returns its metric name.
pub fn selector_metric(selector: &str) -> Result<String, String> {
    match parse(selector)? {
        Expr::VectorSelector(vs) => selector_name(&vs).ok_or_else(|| "the selector names no metric".to_string()),
        _ => Err("expected a series selector such as `metric{label=\"value\"}`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        selected_metrics(&parse(expr).unwrap())
    }

    #[test]
    fn lists_every_selected_metric_once() {
        assert_eq!(
            names(r#"sum(rate(a_total{x="1"}[5m])) / sum(rate(a_total[5m])) > on() group_left b"#),
            ["a_total", "b"]
        );
        assert_eq!(
            names("histogram_quantile(0.95, sum by (le) (rate(h_bucket[$__rate_interval])))"),
            ["h_bucket"]
        );
        assert_eq!(names(r#"{__name__="named"} + max_over_time(c[1h:5m])"#), ["named", "c"]);
        assert!(names("vector(1)").is_empty());
    }

    #[test]
    fn rejects_broken_expressions() {
        assert!(parse("sum(rate(x[5m])").is_err());
        assert!(parse("rate(x)").is_err());
    }

    #[test]
    fn reads_selector_names() {
        assert_eq!(
            selector_metric(r#"http_requests_total{status=~"5.."}"#).unwrap(),
            "http_requests_total"
        );
        assert!(selector_metric("rate(x[5m])").is_err());
    }
}
