//! The resolve stage: what a loaded spec implies, computed once and shared by validation,
//! the generator's targets, the build helper, drift and the runtime. The pipeline is
//! `load → resolve → validate → render`: resolving never fails, so validation can check
//! the derived rules and catalog it would otherwise have to rebuild.

pub mod dashboards;
pub mod stack_plan;

use crate::catalog::Catalog;
use crate::model::Spec;
use crate::rules::{self, RuleSet};
use crate::topology::{self, ComponentView};

pub use dashboards::DashboardIdentity;
pub use stack_plan::StackPlan;

/// Everything the spec implies, with defaults applied.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Every metric family each component exposes, built-in and custom.
    pub catalog: Catalog,
    /// Recording, alerting and SLO rules, with their promtool tests.
    pub rules: RuleSet,
    /// The processes of the service and their replicas; never empty.
    pub components: Vec<ComponentView>,
    /// The monitoring stack's shared decisions: services, host ports, secrets.
    pub stack: StackPlan,
    /// Uid and title of every dashboard, in the spec's order.
    pub dashboards: Vec<DashboardIdentity>,
}

impl Resolved {
    pub fn of(spec: &Spec) -> Self {
        let catalog = Catalog::from_spec(spec);
        let rules = rules::rule_set(spec, &catalog);
        let components = topology::components(spec);
        let mut stack = StackPlan::of(spec, &components);
        stack.native_histograms = catalog.families.iter().any(|f| f.is_native());
        let dashboards = spec.dashboards.iter().map(|d| DashboardIdentity::of(spec, d)).collect();
        Self {
            catalog,
            rules,
            components,
            stack,
            dashboards,
        }
    }

    /// The component called `name`.
    pub fn component(&self, name: &str) -> Option<&ComponentView> {
        self.components.iter().find(|c| c.name == name)
    }

    /// Component names, comma-separated, for error messages.
    pub fn component_names(&self) -> String {
        self.components
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
