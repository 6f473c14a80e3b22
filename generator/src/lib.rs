//! The generator: turns a validated obs.yaml into the files of `generated/`, compares them
//! with what is on disk, and writes them atomically.

pub mod backtest;
pub mod diagnostics_doc;
pub mod diff;
pub mod drift;
pub mod init;
pub mod output;
pub mod plan;
pub mod preview;
pub mod render;
pub mod targets;

use std::path::{Path, PathBuf};

use contract::{LoadedSpec, Report, Resolved};

pub use output::{Drift, Tree, Written};

/// An error with its causes, `outer: cause: root`: reqwest's "error sending request" alone
/// says nothing.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Load(#[from] contract::LoadError),
    #[error("{file}: validation failed\n{report}")]
    Invalid { file: String, report: Report },
    #[error("rendering {target} failed: {source}")]
    Render {
        target: &'static str,
        #[source]
        source: minijinja::Error,
    },
    #[error("rendering {target} failed: {message}")]
    Encode { target: &'static str, message: String },
    #[error("writing {path}: {source}; nothing in the output directory was changed")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl GenerateError {
    /// Exit code: 1 for a spec that is wrong, 2 for everything else (I/O, usage, bugs).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Invalid { .. } | Self::Load(contract::LoadError::Invalid(_)) => 1,
            _ => 2,
        }
    }
}

/// A loaded spec that passed validation, what it resolved to, and its warnings.
#[derive(Debug)]
pub struct Checked {
    pub loaded: LoadedSpec,
    pub resolved: Resolved,
    pub report: Report,
}

impl Checked {
    /// Resolves and validates a loaded spec; fails on any error diagnostic.
    pub fn new(loaded: LoadedSpec) -> Result<Self, GenerateError> {
        let contract::Analysis { resolved, report } = contract::analyse(&loaded);
        if report.has_errors() {
            return Err(GenerateError::Invalid {
                file: loaded.file.clone(),
                report,
            });
        }
        Ok(Self {
            loaded,
            resolved,
            report,
        })
    }
}

/// Loads, resolves and validates; fails on any error diagnostic.
pub fn check(spec_path: &Path) -> Result<Checked, GenerateError> {
    Checked::new(contract::load_file(spec_path)?)
}

/// Renders every target in memory; nothing touches the disk.
pub fn render(checked: &Checked) -> Result<Tree, GenerateError> {
    targets::render_all(&checked.loaded, &checked.resolved)
}

/// Default output directory of a spec: `generated/` beside it.
pub fn default_out(spec_path: &Path) -> PathBuf {
    spec_path.parent().unwrap_or(Path::new("")).join("generated")
}

/// Renders and writes.
pub fn generate(spec_path: &Path, out: &Path) -> Result<(Checked, Written), GenerateError> {
    let checked = check(spec_path)?;
    let tree = render(&checked)?;
    let written = output::write(&tree, out).map_err(|error| GenerateError::Io {
        path: error.path,
        source: error.source,
    })?;
    Ok((checked, written))
}

/// Renders and compares with `out`, writing nothing.
pub fn check_generated(spec_path: &Path, out: &Path) -> Result<(Checked, Drift), GenerateError> {
    let checked = check(spec_path)?;
    let tree = render(&checked)?;
    Ok((checked, output::compare(&tree, out)))
}
