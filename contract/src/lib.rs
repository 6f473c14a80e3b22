//! The obs.yaml contract, shared by the generator, the build helper and the runtime: load a
//! spec with file positions, resolve what it implies once (the metric catalog, components,
//! recording/alerting/SLO rules, the stack plan), and validate both into diagnostics.

pub mod catalog;
pub mod cidr;
pub mod codes;
pub mod conformance;
pub mod decimal;
pub mod diagnostic;
pub mod duration;
pub mod elasticsearch;
pub mod env_string;
pub mod exposition;
pub mod go_template;
pub mod images;
pub mod kubernetes;
pub mod load;
pub mod locate;
pub mod model;
pub mod probe_bodies;
pub mod prometheus_version;
pub mod promql;
pub mod resolve;
pub mod rules;
pub mod suggest;
pub mod topology;
pub mod two_cores;
pub mod validate;

pub use catalog::Catalog;
pub use codes::Code;
pub use decimal::Decimal;
pub use diagnostic::{Diagnostic, Level, Report};
pub use duration::Duration;
pub use env_string::EnvString;
pub use load::{load_bytes, load_file, LoadError, LoadedSpec};
pub use model::*;
pub use resolve::Resolved;
pub use validate::validate;

/// What a loaded spec implies and what is wrong with it: resolve, then validate.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub resolved: Resolved,
    pub report: Report,
}

/// Resolves a loaded spec once and validates it against that resolution.
pub fn analyse(loaded: &LoadedSpec) -> Analysis {
    let resolved = Resolved::of(&loaded.spec);
    let report = validate(loaded, &resolved);
    Analysis { resolved, report }
}

/// The JSON Schema of obs.yaml, for editors (`generated/obs.schema.json`).
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(model::Spec);
    serde_json::to_value(schema).unwrap_or_default()
}
