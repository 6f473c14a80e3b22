//! Diagnostics: what validation and loading report, with a stable id, a level, the spec
//! path, the file position, and help.

use std::fmt;

use serde::Serialize;

use crate::codes::Code;
pub use crate::codes::Level;
use crate::locate::Position;

/// One problem found in a spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable identifier, e.g. `metric-counter-suffix`; `generator explain` describes it.
    #[serde(rename = "id")]
    pub code: Code,
    /// The code's level, copied so that serialised diagnostics carry it; private, so it
    /// never differs from the code's.
    level: Level,
    /// What is wrong and what was expected, lowercase, one sentence.
    pub message: String,
    /// Spec path, e.g. `alerts[2].rules[0].for`; empty for the whole file.
    pub path: String,
    /// The file the spec was read from.
    pub file: String,
    /// Where in the file, when known.
    pub position: Option<Position>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at the level its code is registered with.
    pub fn new(code: Code, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            level: code.level(),
            message: message.into(),
            path: path.into(),
            file: String::new(),
            position: None,
            help: None,
        }
    }

    pub fn level(&self) -> Level {
        self.level
    }

    /// The code's id, e.g. `metric-counter-suffix`.
    pub fn id(&self) -> &'static str {
        self.code.id()
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col: error[id]: message` then the spec path and help, indented.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        match self.position {
            Some(Position { line, column }) => write!(f, "{}:{line}:{column}: ", self.file)?,
            None => write!(f, "{}: ", self.file)?,
        }
        write!(f, "{level}[{}]: {}", self.code, self.message)?;
        if !self.path.is_empty() {
            write!(f, "\n  at: {}", self.path)?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Everything validation found, errors first, each in file order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn count(&self, level: Level) -> usize {
        self.diagnostics.iter().filter(|d| d.level() == level).count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for diagnostic in &self.diagnostics {
            writeln!(f, "{diagnostic}")?;
        }
        let errors = self.count(Level::Error);
        let warnings = self.count(Level::Warning);
        if errors + warnings > 0 {
            writeln!(f, "{errors} error(s), {warnings} warning(s)")?;
        }
        Ok(())
    }
}
