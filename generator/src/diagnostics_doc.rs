//! The registry of diagnostic codes presented for people: the terminal listing of
//! `generator explain` and DIAGNOSTICS.md, rendered from `templates/diagnostics/` (kept
//! current by a test).

use contract::{Code, Level};
use serde::Serialize;

fn level(code: Code) -> &'static str {
    match code.level() {
        Level::Error => "error",
        Level::Warning => "warning",
    }
}

/// One line per code: id, level, summary.
pub fn listing() -> String {
    let width = Code::ALL.iter().map(|c| c.id().len()).max().unwrap_or(0);
    let mut out = String::new();
    for code in Code::ALL {
        out.push_str(&format!(
            "{:width$}  {:7}  {}\n",
            code.id(),
            level(*code),
            code.summary()
        ));
    }
    out.push_str(&format!(
        "\n{} codes; `generator explain CODE` shows one with its examples.\n",
        Code::ALL.len()
    ));
    out
}

#[derive(Serialize)]
struct CodeRow {
    id: &'static str,
    level: &'static str,
    summary: &'static str,
    explanation: &'static str,
    examples: bool,
}

/// DIAGNOSTICS.md: a table of every code, then each code's explanation and its fixtures.
pub fn markdown() -> Result<String, minijinja::Error> {
    let codes: Vec<CodeRow> = Code::ALL
        .iter()
        .map(|code| CodeRow {
            id: code.id(),
            level: level(*code),
            summary: code.summary(),
            explanation: code.explanation(),
            examples: code.examples().is_some(),
        })
        .collect();
    let env = crate::render::environment()?;
    crate::render::render(
        &env,
        "diagnostics/DIAGNOSTICS.md.j2",
        &serde_json::json!({ "codes": codes }),
    )
}
