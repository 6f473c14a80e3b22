//! The plan every target renders from: the loaded spec, what the contract resolved it to
//! (catalog, rules, components, stack decisions) and the dashboard models, which only the
//! generator needs. Targets read it and never ask one another, so each decision has one
//! place.

pub mod dashboards;
pub mod environment;
pub mod native_scrape;

use contract::{LoadedSpec, Resolved};

use dashboards::model::DashboardModel;

/// What `generated/` is rendered from.
#[derive(Debug)]
pub struct Plan<'a> {
    pub loaded: &'a LoadedSpec,
    pub resolved: &'a Resolved,
    pub dashboards: Vec<DashboardModel>,
}

impl<'a> Plan<'a> {
    pub fn of(loaded: &'a LoadedSpec, resolved: &'a Resolved) -> Self {
        Self {
            loaded,
            resolved,
            dashboards: dashboards::dashboards(&loaded.spec, resolved),
        }
    }
}
