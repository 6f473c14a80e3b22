//! `generated/OBSERVABILITY.md`: the document teams used to write by hand, generated from
//! the spec. Rust decides what each section holds as rows of plain values; the Markdown is
//! in `templates/docs/`, one template per section, with shared tables as macros.

mod alerting;
mod service;
mod telemetry;

use contract::{Decimal, EnvString};
use minijinja::Environment;
use serde::Serialize;

use super::{header, render_into, Rendered};
use crate::output::Tree;
use crate::plan::Plan;

pub const PATH: &str = "OBSERVABILITY.md";

/// A value that may come from the environment, for `m.env()`: a literal, or a variable
/// with an optional default.
#[derive(Serialize)]
pub(super) struct EnvValue {
    literal: Option<String>,
    var: Option<String>,
    default: Option<String>,
}

impl EnvValue {
    pub(super) fn of(value: &EnvString) -> Self {
        match value {
            EnvString::Literal(text) => Self {
                literal: Some(text.clone()),
                var: None,
                default: None,
            },
            EnvString::Env { var, default } => Self {
                literal: None,
                var: Some(var.clone()),
                default: default.clone(),
            },
        }
    }
}

/// One row of a variables table: its default is a value (shown as code), a note, or none.
#[derive(Serialize)]
pub(super) struct EnvRow {
    name: String,
    default: Option<String>,
    note: Option<String>,
    used_for: String,
}

impl EnvRow {
    pub(super) fn valued(name: &str, default: impl ToString, used_for: impl Into<String>) -> Self {
        Self {
            name: name.to_string(),
            default: Some(default.to_string()),
            note: None,
            used_for: used_for.into(),
        }
    }

    pub(super) fn noted(name: &str, note: &str, used_for: impl Into<String>) -> Self {
        Self {
            name: name.to_string(),
            default: None,
            note: Some(note.to_string()),
            used_for: used_for.into(),
        }
    }

    /// The row of a value read from a variable; none for a literal.
    pub(super) fn of(value: &EnvString, used_for: &str) -> Option<Self> {
        let var = value.env_var()?;
        Some(Self {
            name: var.to_string(),
            default: value.default_value().map(String::from),
            note: None,
            used_for: used_for.to_string(),
        })
    }
}

#[derive(Serialize)]
struct DocsView {
    header: String,
    service: String,
    description: String,
    spec_file: String,
    #[serde(flatten)]
    service_rows: service::ServiceView,
    #[serde(flatten)]
    telemetry: telemetry::TelemetryView,
    #[serde(flatten)]
    alerting: alerting::AlertingView,
}

fn view(plan: &Plan<'_>) -> DocsView {
    let loaded = plan.loaded;
    let service = &loaded.spec.service;
    DocsView {
        header: header(loaded),
        service: service.name.clone(),
        description: service.description.clone().unwrap_or_default(),
        spec_file: loaded.file.clone(),
        service_rows: service::view(plan),
        telemetry: telemetry::view(plan),
        alerting: alerting::view(plan),
    }
}

/// A ratio as a percentage: `0.001` → `0.1%`.
fn percent(ratio: Decimal) -> String {
    format!("{}%", ratio.checked_mul(Decimal::from_int(100)).unwrap_or(ratio))
}

pub fn render(env: &Environment<'_>, plan: &Plan<'_>, tree: &mut Tree) -> Rendered {
    render_into(env, tree, PATH, "docs/OBSERVABILITY.md.j2", &view(plan))
}
