//! Validation: many small `check_*` functions, each pushing diagnostics, run over a loaded
//! spec so that every problem is reported at once, each with its spec path and position.

mod alerting;
mod dashboards;
mod dependencies;
mod fragments;
mod kubernetes;
mod metrics;
mod native;
mod prometheus_version;
mod queries;
mod secrets;
mod service;
mod storage;
mod templates;

pub use queries::unknown_series;

use crate::catalog::Catalog;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Report};
use crate::load::LoadedSpec;
use crate::model::Spec;
use crate::resolve::{DashboardIdentity, Resolved, StackPlan};
use crate::rules::RuleSet;
use crate::topology::ComponentView;

/// What the checks share: the spec, what it resolves to, and the findings.
pub(crate) struct Checker<'a> {
    pub spec: &'a Spec,
    pub catalog: &'a Catalog,
    pub rules: &'a RuleSet,
    pub components: &'a [ComponentView],
    pub stack: &'a StackPlan,
    pub dashboards: &'a [DashboardIdentity],
    pub found: Vec<Diagnostic>,
}

impl Checker<'_> {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.found.push(diagnostic);
    }
}

/// Runs every check over a spec and what it resolves to (`Resolved::of(&loaded.spec)`).
/// Diagnostics come back located and in file order, errors and warnings interleaved as
/// they appear.
pub fn validate(loaded: &LoadedSpec, resolved: &Resolved) -> Report {
    let mut checker = Checker {
        spec: &loaded.spec,
        catalog: &resolved.catalog,
        rules: &resolved.rules,
        components: &resolved.components,
        stack: &resolved.stack,
        dashboards: &resolved.dashboards,
        found: Vec::new(),
    };
    service::check_all(&mut checker);
    metrics::check_all(&mut checker);
    native::check_all(&mut checker);
    alerting::check_all(&mut checker);
    queries::check_all(&mut checker);
    prometheus_version::check_all(&mut checker);
    fragments::check_all(&mut checker);
    templates::check_all(&mut checker);
    dashboards::check_all(&mut checker);
    dependencies::check_all(&mut checker);
    secrets::check_all(&mut checker);
    kubernetes::check_all(&mut checker);
    storage::check_all(&mut checker);
    let mut diagnostics: Vec<Diagnostic> = checker.found.into_iter().map(|d| loaded.locate(d)).collect();
    diagnostics.sort_by(|a, b| (a.position, &a.path, a.id()).cmp(&(b.position, &b.path, b.id())));
    diagnostics.dedup();
    Report { diagnostics }
}

/// Names that must be unique: reports the second and later occurrences.
pub(crate) fn report_duplicates<'a>(
    checker: &mut Checker,
    code: Code,
    what: &str,
    items: impl IntoIterator<Item = (String, &'a str)>,
) {
    let mut seen: Vec<(&str, String)> = Vec::new();
    for (path, name) in items {
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            let message = format!("{what} `{name}` is declared twice (first at {first})");
            checker.push(Diagnostic::new(code, path, message).with_help(format!("give each {what} a unique name")));
        } else {
            seen.push((name, path));
        }
    }
}
