//! `generator init --from URL|FILE`: adopts obs on a service that already exposes metrics.
//! Reads its exposition, declares every family it saw (builtin groups where they match),
//! proposes starter alerts and a dashboard, proves the result passes `check`, and writes it
//! without ever replacing an existing file unless told.

pub mod infer;
pub mod yaml;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use contract::catalog::Origin;
use contract::conformance::{compare, DriftKind, Finding};
use contract::exposition::ParsedFamily;
use contract::Report;

pub use infer::{infer, Inference};
pub use yaml::Header;

/// Where the exposition comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Url(String),
    File(PathBuf),
}

impl Source {
    /// `http://` and `https://` are URLs; anything else is a file path.
    pub fn parse(text: &str) -> Self {
        if text.starts_with("http://") || text.starts_with("https://") {
            Self::Url(text.to_string())
        } else {
            Self::File(PathBuf::from(text))
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Url(url) => url.clone(),
            Self::File(path) => path.display().to_string(),
        }
    }
}

/// Why `init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0}")]
    Fetch(#[from] crate::drift::DriftError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{source_name}:{line}:{column}: not a Prometheus or OpenMetrics exposition: {message}")]
    Parse {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{0} has no metric family; is it the service's /metrics?")]
    Empty(String),
    #[error("{0} exists; pass --force to replace it, or --output to write elsewhere")]
    Exists(PathBuf),
    #[error("the spec init wrote does not pass check, a bug in init; nothing was written\n{0}")]
    Invalid(Report),
    #[error("writing {path}: {source}; nothing was written")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Options {
    pub from: Source,
    /// `None`: the output file's directory name.
    pub service: Option<String>,
    /// `-` writes to stdout.
    pub output: PathBuf,
    pub force: bool,
    pub timeout: Duration,
}

/// What was written, for the summary line.
#[derive(Debug, Clone)]
pub struct Written {
    pub text: String,
    pub inference: Inference,
    pub report: Report,
    /// What `drift` reports between the spec and the exposition it was read from (also
    /// listed in the spec's header).
    pub drift: Vec<Finding>,
}

/// A service name obs accepts, from any text: lowercase letters, digits and dashes.
pub fn service_name(text: &str) -> String {
    let mut name = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-').to_string();
    if name.is_empty() {
        "service".into()
    } else {
        name
    }
}

fn default_service(output: &Path) -> String {
    let directory = if output == Path::new("-") {
        std::env::current_dir().ok()
    } else {
        std::path::absolute(output)
            .ok()
            .and_then(|path| path.parent().map(Path::to_path_buf))
    };
    service_name(
        &directory
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default(),
    )
}

fn read(source: &Source, timeout: Duration) -> Result<String, InitError> {
    match source {
        Source::Url(url) => crate::drift::fetch(url, timeout).map_err(|error| match error {
            crate::drift::DriftError::Status { url, status, body } if status == 401 || status == 403 => {
                crate::drift::DriftError::Fetch {
                    url,
                    message: format!(
                        "answered {status} ({body}): the exposition wants credentials; save it with \
                         `curl -H 'Authorization: Bearer …' URL > metrics.txt` and run init --from metrics.txt"
                    ),
                }
                .into()
            }
            other => other.into(),
        }),
        Source::File(path) => std::fs::read_to_string(path).map_err(|source| InitError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// The header facts a URL gives: its port, and its path when not `/metrics`.
fn url_facts(source: &Source) -> (Option<u16>, Option<String>) {
    let Source::Url(url) = source else {
        return (None, None);
    };
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return (None, None);
    };
    let path = Some(parsed.path().to_string()).filter(|p| p != "/metrics" && p != "/" && !p.is_empty());
    (parsed.port_or_known_default(), path)
}

/// The custom metric a diagnostic's spec path points into (`metrics.custom[3].labels`).
fn custom_index(path: &str) -> Option<usize> {
    path.strip_prefix("metrics.custom[")?.split(']').next()?.parse().ok()
}

/// Loads and analyses a spec text as `check` does; a text that does not even load is a bug.
fn analysed(text: &str, file: &str) -> Result<contract::Analysis, InitError> {
    let loaded = contract::load_bytes(text.as_bytes(), file).map_err(|error| {
        let mut report = Report::default();
        if let contract::LoadError::Invalid(diagnostic) = error {
            report.diagnostics.push(*diagnostic);
        }
        InitError::Invalid(report)
    })?;
    Ok(contract::analyse(&loaded))
}

/// Renders the spec and checks it as `check` would; a custom metric obs refuses (a name
/// rule, a reserved label) is moved to the skipped list with the diagnostic as its reason,
/// so the file written always passes. Then compares it with the exposition as `drift`
/// would and lists what that reports in the header.
fn checked_text(
    mut inference: Inference,
    header: &Header,
    file: &str,
    exposed: &[ParsedFamily],
) -> Result<Written, InitError> {
    let mut header = header.clone();
    // Each round refuses at least one metric or settles the drift list, so this is enough.
    for _ in 0..inference.custom.len() + 2 {
        let text = yaml::spec_text(&inference, &header);
        let analysis = analysed(&text, file)?;
        if !analysis.report.has_errors() {
            let component = analysis
                .resolved
                .components
                .first()
                .map(|c| c.name.clone())
                .unwrap_or_default();
            let drift = compare(&analysis.resolved.catalog, &component, exposed);
            let catalog = &analysis.resolved.catalog;
            let expected: Vec<String> = drift
                .iter()
                .map(|f| {
                    let runtime = catalog
                        .get(&f.metric)
                        .is_some_and(|family| family.origin == Origin::Runtime);
                    let why = if runtime && f.kind == DriftKind::Missing {
                        " (the obs runtime's own counter: a service on another client library has none)"
                    } else {
                        ""
                    };
                    format!("{} {}: {}{why}", f.kind.as_str(), f.metric, f.detail)
                })
                .collect();
            if expected != header.expected_drift {
                header.expected_drift = expected;
                continue;
            }
            return Ok(Written {
                text,
                inference,
                report: analysis.report,
                drift,
            });
        }
        let report = analysis.report;
        let refused: Option<Vec<(usize, String)>> = report
            .errors()
            .map(|diagnostic| {
                custom_index(&diagnostic.path)
                    .filter(|index| *index < inference.custom.len())
                    .map(|index| {
                        (
                            index,
                            format!("obs refuses it: {} [{}]", diagnostic.message, diagnostic.id()),
                        )
                    })
            })
            .collect();
        let Some(mut refused) = refused else {
            return Err(InitError::Invalid(report));
        };
        refused.sort_by_key(|(index, _)| std::cmp::Reverse(*index));
        refused.dedup_by_key(|(index, _)| *index);
        for (index, reason) in refused {
            let metric = inference.custom.remove(index);
            inference.skipped.push(infer::Skipped {
                name: metric.name,
                reason,
            });
        }
    }
    Err(InitError::Invalid(Report::default()))
}

fn write_synced(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Creates `path`, failing if it exists; removes what it wrote if writing fails.
fn create_new(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    let written = file.write_all(text.as_bytes()).and_then(|()| file.sync_all());
    if written.is_err() {
        drop(file);
        let _ = std::fs::remove_file(path);
    }
    written
}

/// Writes `text` to `path` through a temporary file beside it, so a failure leaves nothing
/// half-written; refuses to replace an existing file unless `force`.
fn write_new(path: &Path, text: &str, force: bool) -> Result<(), InitError> {
    let fail = |source| InitError::Write {
        path: path.to_path_buf(),
        source,
    };
    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = directory.join(format!(".{file_name}.init-{}", std::process::id()));
    if let Err(error) = write_synced(&temporary, text) {
        let _ = std::fs::remove_file(&temporary);
        return Err(fail(error));
    }
    let placed = if force {
        std::fs::rename(&temporary, path)
    } else {
        // A hard link fails when the name exists, so a file created meanwhile is not lost;
        // where the file system has no hard links, an exclusive create does the same.
        match std::fs::hard_link(&temporary, path) {
            Err(error) if error.kind() != std::io::ErrorKind::AlreadyExists => create_new(path, text),
            placed => placed,
        }
    };
    let _ = std::fs::remove_file(&temporary);
    placed.map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            InitError::Exists(path.to_path_buf())
        } else {
            fail(error)
        }
    })
}

/// Builds the spec from an exposition text, without touching the disk.
pub fn from_text(text: &str, source: &Source, service: &str, file: &str) -> Result<Written, InitError> {
    let families = contract::exposition::parse(text).map_err(|error| InitError::Parse {
        source_name: source.describe(),
        line: error.line,
        column: error.column,
        message: error.message,
    })?;
    if families.is_empty() {
        return Err(InitError::Empty(source.describe()));
    }
    let (port, metrics_path) = url_facts(source);
    let header = Header {
        source: source.describe(),
        service: service_name(service),
        port,
        metrics_path,
        url: match source {
            Source::Url(url) => Some(url.clone()),
            Source::File(_) => None,
        },
        expected_drift: Vec::new(),
    };
    checked_text(infer(&families), &header, file, &families)
}

/// The whole command: read, infer, check, write.
pub fn run(options: &Options) -> Result<Written, InitError> {
    let to_stdout = options.output == Path::new("-");
    if !to_stdout && !options.force && options.output.exists() {
        return Err(InitError::Exists(options.output.clone()));
    }
    let text = read(&options.from, options.timeout)?;
    let service = options
        .service
        .clone()
        .unwrap_or_else(|| default_service(&options.output));
    let written = from_text(&text, &options.from, &service, &options.output.display().to_string())?;
    if to_stdout {
        print!("{}", written.text);
    } else {
        write_new(&options.output, &written.text, options.force)?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_made_valid() {
        assert_eq!(service_name("My Service_2"), "my-service-2");
        assert_eq!(service_name("--"), "service");
    }

    #[test]
    fn diagnostics_are_traced_to_their_custom_metric() {
        assert_eq!(custom_index("metrics.custom[12].labels[0]"), Some(12));
        assert_eq!(custom_index("alerts[0]"), None);
    }

    #[test]
    fn an_existing_file_is_never_replaced_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("obs.yaml");
        std::fs::write(&path, "mine").unwrap();
        assert!(matches!(write_new(&path, "new", false), Err(InitError::Exists(_))));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
        write_new(&path, "new", true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let fresh = dir.path().join("other.yaml");
        write_new(&fresh, "fresh", false).unwrap();
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "fresh");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "no temporary file left behind");
        assert!(matches!(create_new(&fresh, "again"), Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists));
        let missing = dir.path().join("no/such/dir/obs.yaml");
        assert!(matches!(write_new(&missing, "x", false), Err(InitError::Write { .. })));
    }

    #[test]
    fn urls_give_the_port_and_an_unusual_path() {
        let facts = url_facts(&Source::parse("http://127.0.0.1:9100/api/v1/metrics"));
        assert_eq!(facts, (Some(9100), Some("/api/v1/metrics".into())));
        assert_eq!(url_facts(&Source::parse("http://h/metrics")), (Some(80), None));
        assert_eq!(url_facts(&Source::parse("metrics.txt")), (None, None));
    }
}
