//! The plan every target renders from, computed once per run: the metric catalog, the
//! derived rules, the stack's shared decisions and the dashboard models. Targets read it
//! and never ask one another, so each decision has one place.

pub mod dashboards;
pub mod stack;

use contract::rules::RuleSet;
use contract::{Catalog, LoadedSpec};

use dashboards::model::DashboardModel;
use stack::Stack;

/// What `generated/` is rendered from.
#[derive(Debug)]
pub struct Plan<'a> {
    pub loaded: &'a LoadedSpec,
    pub catalog: Catalog,
    pub rules: RuleSet,
    pub stack: Stack,
    pub dashboards: Vec<DashboardModel>,
}

impl<'a> Plan<'a> {
    pub fn of(loaded: &'a LoadedSpec) -> Self {
        let spec = &loaded.spec;
        let catalog = Catalog::from_spec(spec);
        let rules = contract::rules::rule_set(spec, &catalog);
        let dashboards = dashboards::dashboards(spec, &catalog);
        Self {
            loaded,
            stack: Stack::of(spec),
            catalog,
            rules,
            dashboards,
        }
    }
}
