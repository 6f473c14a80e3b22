//! Validation: many small `check_*` functions, each pushing diagnostics, run over a loaded
//! spec so that every problem is reported at once, each with its spec path and position.

mod alerting;
mod dashboards;
mod metrics;
mod queries;
mod secrets;
mod service;

pub use dashboards::{dashboard_title, dashboard_uid};
pub use queries::unknown_series;

use crate::catalog::Catalog;
use crate::diagnostic::{Diagnostic, Report};
use crate::load::LoadedSpec;
use crate::model::Spec;
use crate::rules::{self, RuleSet};

/// What the checks share: the spec, its catalog and derived rules, and the findings.
pub(crate) struct Checker<'a> {
    pub spec: &'a Spec,
    pub catalog: &'a Catalog,
    pub rules: &'a RuleSet,
    pub found: Vec<Diagnostic>,
}

impl Checker<'_> {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.found.push(diagnostic);
    }
}

/// Runs every check. Diagnostics come back located and in file order, errors and warnings
/// interleaved as they appear.
pub fn validate(loaded: &LoadedSpec) -> Report {
    let spec = &loaded.spec;
    let catalog = Catalog::from_spec(spec);
    let rule_set = rules::rule_set(spec, &catalog);
    let mut checker = Checker {
        spec,
        catalog: &catalog,
        rules: &rule_set,
        found: Vec::new(),
    };
    service::check_all(&mut checker);
    metrics::check_all(&mut checker);
    alerting::check_all(&mut checker);
    queries::check_all(&mut checker);
    dashboards::check_all(&mut checker);
    secrets::check_all(&mut checker);
    let mut diagnostics: Vec<Diagnostic> = checker.found.into_iter().map(|d| loaded.locate(d)).collect();
    diagnostics.sort_by(|a, b| (a.position, &a.path, a.id).cmp(&(b.position, &b.path, b.id)));
    diagnostics.dedup();
    Report { diagnostics }
}

/// Edit distance, for "did you mean" suggestions.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

/// The closest candidate within a third of the name's length.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.len() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Names that must be unique: reports the second and later occurrences.
pub(crate) fn report_duplicates<'a>(
    checker: &mut Checker,
    id: &'static str,
    what: &str,
    items: impl IntoIterator<Item = (String, &'a str)>,
) {
    let mut seen: Vec<(&str, String)> = Vec::new();
    for (path, name) in items {
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            let message = format!("{what} `{name}` is declared twice (first at {first})");
            checker.push(Diagnostic::error(id, path, message).with_help(format!("give each {what} a unique name")));
        } else {
            seen.push((name, path));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            closest("websocket_mesages_total", ["websocket_messages_total", "up"]),
            Some("websocket_messages_total")
        );
        assert_eq!(closest("completely_else", ["websocket_messages_total"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
