//! Reading obs.yaml: size and emptiness guards, YAML → typed `Spec` with the spec path and
//! file position of the first shape error, and the position index validation uses.

use std::path::Path;
use std::sync::Arc;

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::locate::{Position, PositionIndex, ScanFailureKind};
use crate::model::Spec;

/// Larger specs are refused: a generated spec of 5,000 metrics with alerts and dashboards
/// is about 2 MB, and a file past this is a mistake or an attack on the loader.
pub const MAX_SPEC_BYTES: usize = 8 * 1024 * 1024;

/// Deepest nesting accepted; the deepest real spec path is about eight levels.
pub const MAX_DEPTH: usize = crate::locate::MAX_DEPTH;

/// A spec with what is needed to point back into its file.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub spec: Spec,
    /// Name of the file, as given.
    pub file: String,
    pub index: PositionIndex,
}

impl LoadedSpec {
    /// Fills in the file and position of a diagnostic about this spec.
    pub fn locate(&self, mut diagnostic: Diagnostic) -> Diagnostic {
        diagnostic.file.clone_from(&self.file);
        if diagnostic.position.is_none() {
            diagnostic.position = self.index.value(&diagnostic.path);
        }
        diagnostic
    }
}

/// Why a spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Box<Diagnostic>),
}

impl LoadError {
    /// The diagnostic, for a spec that was read but rejected.
    pub fn diagnostic(&self) -> Option<&Diagnostic> {
        match self {
            Self::Invalid(diagnostic) => Some(diagnostic),
            Self::Io { .. } => None,
        }
    }
}

/// Reads and parses a spec file.
pub fn load_file(path: &Path) -> Result<LoadedSpec, LoadError> {
    use std::io::Read;
    let file = path.display().to_string();
    let io = |source| LoadError::Io {
        file: file.clone(),
        source,
    };
    // At most one byte past the limit: a device or pipe that never ends (`/dev/urandom`)
    // is refused as too large instead of read forever.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_SPEC_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    load_bytes(&bytes, &file)
}

/// The first character YAML does not allow in a document (C0 controls but tab, line feed
/// and carriage return; DEL; C1 controls but NEL; the BOM past the start), with its place.
fn first_forbidden_character(text: &str) -> Option<(char, Position)> {
    let mut line = 1;
    let mut column = 1;
    for (offset, c) in text.char_indices() {
        let forbidden = match c {
            '\t' | '\n' | '\r' => false,
            '\u{feff}' => offset > 0,
            '\u{85}' => false,
            c => c.is_control(),
        };
        if forbidden {
            return Some((c, Position { line, column }));
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    None
}

/// A file refused before its spec is read, at `position` of `file`.
fn rejection(file: &str, id: Code, message: String, position: Option<Position>, help: &str) -> LoadError {
    let mut diagnostic = Diagnostic::new(id, "", message).with_help(help);
    diagnostic.file = file.to_string();
    diagnostic.position = position;
    LoadError::Invalid(Box::new(diagnostic))
}

/// Parses spec bytes; `file` names them in diagnostics.
pub fn load_bytes(bytes: &[u8], file: &str) -> Result<LoadedSpec, LoadError> {
    let reject = |id, message, position, help| rejection(file, id, message, position, help);
    if bytes.len() > MAX_SPEC_BYTES {
        return Err(reject(
            Code::FileTooLarge,
            format!("the file holds more than the {MAX_SPEC_BYTES} bytes an obs.yaml may have"),
            None,
            "split generated parts out of the spec; a service's spec is a few kilobytes",
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|err| {
        let prefix = &bytes[..err.valid_up_to()];
        let line = prefix.iter().filter(|b| **b == b'\n').count() + 1;
        let column = prefix.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        reject(
            Code::FileNotUtf8,
            format!("the file is not UTF-8 (invalid byte at offset {})", err.valid_up_to()),
            Some(Position { line, column }),
            "save the file as UTF-8",
        )
    })?;
    if let Some((c, position)) = first_forbidden_character(text) {
        return Err(reject(
            Code::YamlSyntax,
            format!("the control character U+{:04X} is not allowed in YAML", u32::from(c)),
            Some(position),
            "remove it; the file may have been saved in a binary format or mangled on the way",
        ));
    }
    read_spec(text, file, is_tame(text))
}

/// The index and the spec of a UTF-8 text; on a second thread, serde_yaml parses while the
/// index is built when `tame` (see [`is_tame`]). The index's verdict comes first either way:
/// it parses in linear time and stops absurd nesting, which serde_yaml's parser is
/// quadratic in, so only a tame text meets serde_yaml before the index has read it.
fn read_spec(text: &str, file: &str, tame: bool) -> Result<LoadedSpec, LoadError> {
    // A thread of its own rather than a scoped one: should the index refuse the file the
    // answer need not wait for serde_yaml, which is left to finish alone.
    let parser = tame.then(|| {
        let (text, file): (Arc<str>, String) = (Arc::from(text), file.to_string());
        std::thread::Builder::new()
            .name("obs-spec-parse".into())
            .stack_size(crate::two_cores::STACK)
            .spawn(move || deserialize_spec(&text, &file))
    });
    let index = index_of(text, file)?;
    let spec = match parser {
        Some(Ok(parser)) => parser.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        // Not tame, or no thread to be had: serde_yaml after the index, here.
        _ => deserialize_spec(text, file),
    }?;
    Ok(LoadedSpec {
        spec,
        file: file.to_string(),
        index,
    })
}

/// The position index of a UTF-8 spec, or the first reason it cannot be read: a syntax
/// error, nesting or aliases beyond the limits, a duplicate key, no document.
fn index_of(text: &str, file: &str) -> Result<PositionIndex, LoadError> {
    let reject = |id, message, position, help| rejection(file, id, message, position, help);
    let index = PositionIndex::build(text).map_err(|failure| {
        match failure.kind {
            ScanFailureKind::TooDeep => {
                return reject(
                    Code::YamlTooDeep,
                    failure.message,
                    Some(failure.position),
                    "a spec nests a few levels; flatten the structure",
                )
            }
            ScanFailureKind::AliasesTooLarge => {
                return reject(
                    Code::YamlAliasesTooLarge,
                    failure.message,
                    Some(failure.position),
                    "write the values out, or use fewer aliases of large anchors",
                )
            }
            ScanFailureKind::Syntax => {}
        }
        // Flow depth is below the scanner's cap here, so libyaml is quick, and its messages
        // ("did not find expected ',' or ']'") are the ones YAML users know.
        let libyaml = serde_yaml::from_str::<serde_yaml::Value>(text).err().and_then(|error| {
            let location = error.location()?;
            let message = error.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            Some((
                message,
                Position {
                    line: location.line(),
                    column: location.column(),
                },
            ))
        });
        let (message, position) = libyaml.unwrap_or((failure.message, failure.position));
        reject(
            Code::YamlSyntax,
            message,
            Some(position),
            "fix the YAML at the position shown",
        )
    })?;
    if let Some((path, position)) = index.first_duplicate_key() {
        let (section, key) = match path.rfind('.') {
            Some(cut) => (&path[..cut], &path[cut + 1..]),
            None => ("the top level", path.as_str()),
        };
        let mut diagnostic = Diagnostic::new(
            Code::DuplicateKey,
            path.clone(),
            format!("`{key}` is written twice in {section}; YAML keeps one and drops the other without a word"),
        )
        .with_help("keep one of the two entries");
        diagnostic.file = file.to_string();
        diagnostic.position = Some(*position);
        return Err(LoadError::Invalid(Box::new(diagnostic)));
    }
    if !index.has_content() {
        return Err(reject(
            Code::FileEmpty,
            "the file holds no YAML document; expected a mapping with at least `service:`".into(),
            Some(Position { line: 1, column: 1 }),
            "start from `service: { name: my-service }`",
        ));
    }
    Ok(index)
}

/// The spec as serde reads it, or where and why its shape is wrong.
fn deserialize_spec(text: &str, file: &str) -> Result<Spec, LoadError> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = spec_path(err.path());
        let inner = err.into_inner();
        let position = inner.location().map(|location| Position {
            line: location.line(),
            column: location.column(),
        });
        let yaml_is_valid = serde_yaml::from_str::<serde_yaml::Value>(text).is_ok();
        let mut diagnostic = shape_diagnostic(&inner, path, yaml_is_valid);
        diagnostic.file = file.to_string();
        diagnostic.position = position;
        LoadError::Invalid(Box::new(diagnostic))
    })
}

/// Whether the text may be parsed by both parsers at once: flow collections (`[`, `{`
/// outside quotes and comments, the nesting libyaml is quadratic in) open no deeper than
/// the index allows, and there is no anchor, so no alias can expand. The scan follows
/// quotes and comments only where it reads them as libyaml does: a quote that does not
/// plainly open a quoted scalar (after `: `, or after `[`, `{` or `,` inside a flow
/// collection), a block scalar, a line break other than `\n` or `\r\n`, or indentation
/// deeper than a spec can nest makes the text not tame, and it is parsed the careful way,
/// index first. [`read_spec`] does not rely on this alone: when the index refuses the
/// file, it answers at once and leaves the other parser behind.
fn is_tame(text: &str) -> bool {
    #[derive(PartialEq)]
    enum State {
        Plain,
        Single,
        Double,
        Comment,
    }
    let bytes = text.as_bytes();
    let lone_cr = text.match_indices('\r').any(|(i, _)| bytes.get(i + 1) != Some(&b'\n'));
    if lone_cr || text.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
        return false;
    }
    let mut state = State::Plain;
    let mut depth: usize = 0;
    // The last byte before this one that is not a space or tab, and whether a space or
    // tab (or a line break) came right before this one.
    let mut last_solid = b'\n';
    let mut after_blank = true;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        match state {
            State::Comment => {
                if byte == b'\n' {
                    state = State::Plain;
                }
            }
            State::Single => {
                if byte == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 1;
                    } else {
                        state = State::Plain;
                    }
                }
            }
            State::Double => match byte {
                b'\\' => i += 1,
                b'"' => state = State::Plain,
                _ => {}
            },
            State::Plain => match byte {
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return false;
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                b'&' => return false,
                b'#' if after_blank => state = State::Comment,
                b'\'' | b'"' => {
                    let opens =
                        (last_solid == b':' && after_blank) || (depth > 0 && matches!(last_solid, b'[' | b'{' | b','));
                    if !opens {
                        return false;
                    }
                    state = if byte == b'\'' { State::Single } else { State::Double };
                }
                b'|' | b'>' if matches!(last_solid, b':' | b'-' | b'\n') => return false,
                _ => {}
            },
        }
        after_blank = matches!(byte, b' ' | b'\t' | b'\n' | b'\r');
        if !matches!(byte, b' ' | b'\t') {
            last_solid = byte;
        }
        i += 1;
    }
    text.lines()
        .all(|line| line.len() - line.trim_start_matches([' ', '-']).len() <= 2 * MAX_DEPTH)
}

/// serde_path_to_error prints the root as `.`; we print it as nothing.
fn spec_path(path: &serde_path_to_error::Path) -> String {
    let text = path.to_string();
    if text == "." {
        String::new()
    } else {
        text
    }
}

/// `yaml_is_valid`: libyaml reads the text as YAML, so the error is about the spec's shape.
fn shape_diagnostic(error: &serde_yaml::Error, path: String, yaml_is_valid: bool) -> Diagnostic {
    let full = error.to_string();
    // serde_yaml appends " at line L column C"; the position is printed separately.
    let mut message = match full.find(" at line ") {
        Some(cut) => full[..cut].to_string(),
        None => full,
    };
    // serde_yaml names the path itself; the diagnostic prints it on its own line.
    // For an unknown field its path is the parent of ours.
    if let Some((prefix, rest)) = message.split_once(": ") {
        if !prefix.is_empty() && !prefix.contains(' ') && path.starts_with(prefix) {
            message = rest.to_string();
        }
    }
    let message = plain_types(&message);
    let (id, help) = classify(&message, yaml_is_valid);
    let help = suggestion(&message).unwrap_or_else(|| help.to_string());
    Diagnostic::new(id, path, message).with_help(help)
}

/// serde names Rust types (`expected u16`, `expected struct Spec`); a spec's author needs
/// the YAML that fits.
fn plain_types(message: &str) -> String {
    const TYPES: [(&str, &str); 9] = [
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u32", "expected a whole number from 0 to 4294967295"),
        ("expected u64", "expected a whole number of at least 0"),
        ("expected usize", "expected a whole number of at least 0"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a string", "expected text"),
        ("expected a sequence", "expected a list"),
    ];
    let mut out = message.to_string();
    for (rust, plain) in TYPES {
        if let Some(at) = out.find(rust) {
            let end = at + rust.len();
            // Whole words only: `expected u16` but not `expected u160`.
            if !out[end..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
                out.replace_range(at..end, plain);
            }
        }
    }
    if let Some(at) = out.find("expected struct ") {
        let end = out[at + 16..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .map_or(out.len(), |n| at + 16 + n);
        out.replace_range(at..end, "expected a mapping");
    }
    out
}

/// "did you mean `port`?" for `unknown field `prot`, expected one of `name`, `port`…`.
fn suggestion(message: &str) -> Option<String> {
    let (head, expected) = message.split_once("expected one of ")?;
    let unknown = head.split('`').nth(1)?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let close = crate::suggest::closest(unknown, candidates)?;
    Some(format!("did you mean `{close}`?"))
}

fn classify(message: &str, yaml_is_valid: bool) -> (Code, &'static str) {
    if message.starts_with("unknown field") {
        (
            Code::UnknownField,
            "check the spelling against generated/obs.schema.json",
        )
    } else if message.starts_with("missing field") {
        (
            Code::MissingField,
            "add the field; generated/obs.schema.json lists what each section needs",
        )
    } else if message.starts_with("unknown variant") {
        (Code::UnknownValue, "use one of the values listed")
    } else if message.starts_with("invalid type") {
        (Code::WrongType, "write the value as the type expected")
    } else if message.contains("recursion limit") || message.contains("repetition limit") {
        (
            Code::YamlTooDeep,
            "remove the deeply nested or alias-expanded structure",
        )
    } else if message.contains("duplicate entry") || message.contains("duplicate field") {
        (Code::DuplicateKey, "keep one of the two entries")
    } else if yaml_is_valid {
        // The YAML parsed, so what is left is a value of the right type in the wrong form:
        // a duration, a rate, a port past 65535, a `${VAR}` mixed with text.
        (Code::InvalidValue, "write the value in the form expected")
    } else {
        (Code::YamlSyntax, "fix the YAML at the position shown")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pre_scan_passes_only_what_it_reads_as_libyaml_does() {
        let spec = "service:\n  name: shop\nalerts:\n  - group: g\n    rules:\n      - {name: A, expr: 'sum(rate(x{a=\"b\"}[5m])) > 1'}\n";
        assert!(is_tame(spec));
        assert!(!is_tame(&format!(
            "a: {}1{}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        )));
        assert!(!is_tame("base: &b {x: 1}\nother: *b\n"));
        assert!(!is_tame(&format!("a:\n{}- x\n", " ".repeat(2 * MAX_DEPTH + 1))));
        // Closers in comments and quotes do not hide real nesting.
        let hidden = format!("a: {}# {}\n", "{a: ".repeat(40), "}".repeat(40)).repeat(3);
        assert!(!is_tame(&hidden));
        let quoted = format!("a: [{}'{}']\n", "[".repeat(40), "]".repeat(40)).repeat(3);
        assert!(!is_tame(&quoted));
        // Quotes the scan cannot be sure libyaml reads as quotes, and block scalars.
        assert!(!is_tame("a: it is 'so\nb: [[[\nc: x'\n"));
        assert!(!is_tame("a: plain\n  'continued\n"));
        assert!(!is_tame("a: |\n  '\n"));
        assert!(!is_tame("a: x # c\r{{{\n"));
        assert!(is_tame("a: 'it''s {'\nb: \"x \\\" ]\"\nc: [1, 'y', \"z\"] # ]]]\n"));
        // The lines of BENCHMARKS.md section 5's synthetic spec take the two-thread path.
        let synthetic = "service:\n  name: scale\n  runbook_url: https://runbooks.example.com/{alert}\nmetrics:\n  custom:\n    - {name: scale_events_0_total, type: counter, help: Events of kind 0., labels: [{name: outcome, values: [ok, failed, retried]}]}\nalerts:\n  - group: scale\n    rules:\n      - {name: ScaleEvents0Failing, severity: warning, summary: Kind 0 fails., description: More than 10% of kind 0 fail., error_ratio: {errors: 'scale_events_0_total{outcome=\"failed\"}', total: scale_events_0_total, above: 0.1}}\ndashboards:\n  - title: Scale\n    panels:\n      - {title: Kind 0, type: timeseries, metric: scale_events_0_total, by: [outcome]}\n";
        assert!(is_tame(synthetic));
    }

    #[test]
    fn both_ways_give_the_same_verdicts() {
        // Tame and careful paths, each for a good spec, a syntax error, a shape error and a
        // duplicate key: the index's verdict comes first either way.
        let cases = [
            "service:\n  name: shop\n",
            "service:\n  name: [shop\n",
            "service:\n  name: shop\n  port: eighty\n",
            "service:\n  name: shop\n  name: again\n",
        ];
        for case in cases {
            assert!(is_tame(case));
            let verdict = |tame: bool| match read_spec(case, "obs.yaml", tame) {
                Ok(loaded) => format!("ok {}", loaded.spec.service.name),
                Err(error) => error.to_string(),
            };
            assert_eq!(verdict(true), verdict(false), "{case}");
        }
        // An `&` in a comment or a quote is no anchor.
        assert!(is_tame("# https://example.com/?a=1&b=2\nservice: {name: 'a&b'}\n"));
    }
}
