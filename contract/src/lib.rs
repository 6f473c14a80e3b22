//! The obs.yaml contract, shared by the generator, the build helper and the runtime: load a
//! spec with file positions, validate it into diagnostics, and resolve what it implies (the
//! metric catalog, components, recording/alerting/SLO rules).

pub mod catalog;
pub mod conformance;
pub mod decimal;
pub mod diagnostic;
pub mod duration;
pub mod env_string;
pub mod exposition;
pub mod load;
pub mod locate;
pub mod model;
pub mod probe_bodies;
pub mod promql;
pub mod rules;
pub mod topology;
pub mod validate;

pub use catalog::Catalog;
pub use decimal::Decimal;
pub use diagnostic::{Diagnostic, Level, Report};
pub use duration::Duration;
pub use env_string::EnvString;
pub use load::{load_bytes, load_file, LoadError, LoadedSpec};
pub use model::*;
pub use validate::validate;

/// The JSON Schema of obs.yaml, for editors (`generated/obs.schema.json`).
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(model::Spec);
    serde_json::to_value(schema).unwrap_or_default()
}
