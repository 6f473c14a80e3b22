//! Fixture tests, one snapshot per file (`insta::glob!`), so one failure never hides
//! another. `fixtures/<code>.bad.yaml` (or `<code>--<variant>.bad.yaml`) reports its code:
//! an error code as its only error, a warning code with no error at all; `many-faults`
//! reports many. `<code>.good.yaml` is the same spec fixed and reports nothing at all; other
//! `*.good.yaml` have no errors. The registry is held to its fixtures: every code has both,
//! and `generator explain` shows them.

use std::path::Path;

use contract::{load_file, Code, Diagnostic, Level};

/// Every diagnostic `generator check` would print for a file, and its text.
fn outcome(path: &Path) -> (Vec<Diagnostic>, String) {
    let relative = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/");
    match load_file(Path::new(&relative)) {
        Err(error) => (error.diagnostic().cloned().into_iter().collect(), format!("{error}\n")),
        Ok(loaded) => {
            let report = contract::analyse(&loaded).report;
            (report.diagnostics.clone(), report.to_string())
        }
    }
}

/// The code a fixture is named for, if its name is one.
fn code_of(path: &Path, suffix: &str) -> Option<Code> {
    let name = path.file_name()?.to_str()?.strip_suffix(suffix)?;
    Code::from_id(name.split("--").next()?)
}

/// What is wrong with a bad fixture's outcome, if anything.
fn bad_fixture_verdict(path: &Path, found: &[Diagnostic], output: &str) -> Option<String> {
    let errors: Vec<Code> = found.iter().filter(|d| d.is_error()).map(|d| d.code).collect();
    let name = path.display();
    match code_of(path, ".bad.yaml") {
        Some(code) if !found.iter().any(|d| d.code == code) => Some(format!("{name} must report `{code}`:\n{output}")),
        Some(code) if errors.iter().any(|c| *c != code) => {
            Some(format!("{name} must report no error but `{code}`:\n{output}"))
        }
        Some(_) => None,
        None if !path.ends_with("many-faults.bad.yaml") => Some(format!("{name} names no code")),
        None if errors.len() < 6 => Some(format!("many-faults should report every fault:\n{output}")),
        None => None,
    }
}

#[test]
fn bad_fixtures_report_their_code() {
    // Every fixture is checked and snapshotted before any verdict fails the test.
    let mut failures = Vec::new();
    insta::glob!("fixtures/*.bad.yaml", |path| {
        let (found, output) = outcome(path);
        failures.extend(bad_fixture_verdict(path, &found, &output));
        insta::assert_snapshot!(output);
    });
    assert!(
        failures.is_empty(),
        "{} bad fixture(s) wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn good_fixtures_report_nothing() {
    let mut failures = Vec::new();
    insta::glob!("fixtures/*.good.yaml", |path| {
        let (found, output) = outcome(path);
        let clean = match code_of(path, ".good.yaml") {
            Some(_) => found.is_empty(),
            None => found.iter().all(|d| !d.is_error()),
        };
        if !clean {
            failures.push(format!("{} should be clean:\n{output}", path.display()));
        }
    });
    assert!(
        failures.is_empty(),
        "{} good fixture(s) wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_code_has_fixtures_and_an_explanation() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut missing = Vec::new();
    for code in Code::ALL {
        if *code == Code::FileTooLarge {
            // An 8 MiB file is no fixture: `a_ten_megabyte_spec_is_refused_before_parsing`
            // builds it in memory instead.
            continue;
        }
        for suffix in [".bad.yaml", ".good.yaml"] {
            if !fixtures.join(format!("{}{suffix}", code.id())).is_file() {
                missing.push(format!("{}{suffix}", code.id()));
            }
        }
    }
    assert!(missing.is_empty(), "codes without fixtures: {missing:#?}");
}

#[test]
fn a_ten_megabyte_spec_is_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let mut text = String::from("service:\n  name: huge\n  labels:\n");
    let mut i = 0;
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(&format!("    label_{i}: \"{}\"\n", "x".repeat(100)));
        i += 1;
    }
    std::fs::write(&path, &text).unwrap();
    let error = load_file(&path).unwrap_err();
    let diagnostic = error.diagnostic().expect("rejected, not an I/O error");
    assert_eq!(diagnostic.code, Code::FileTooLarge);
    assert!(
        diagnostic.message.contains("more than the 8388608 bytes"),
        "{}",
        diagnostic.message
    );
}

/// The code `text` is refused with, and how long that took to decide.
fn refusal(text: &str) -> Code {
    let error = contract::load_bytes(text.as_bytes(), "hostile.yaml").unwrap_err();
    error.diagnostic().expect("refused with a diagnostic").code
}

#[test]
fn nesting_of_every_yaml_shape_is_bounded_without_exhausting_the_stack() {
    let block_sequences = format!("service: {{name: a}}\nx:\n{}v\n", "- ".repeat(25_000));
    let flow_sequences = format!(
        "service: {{name: a}}\nx: {}{}\n",
        "[".repeat(25_000),
        "]".repeat(25_000)
    );
    let flow_mappings = format!(
        "service: {{name: a}}\nx: {}{}\n",
        "{a: ".repeat(25_000),
        "}".repeat(25_000)
    );
    let mut block_mappings = String::from("service: {name: a}\nx:\n");
    for level in 1..2_000 {
        block_mappings.push_str(&format!("{}a:\n", " ".repeat(level)));
    }
    let complex_keys = format!("service: {{name: a}}\n? {}x\n: v\n", "- ".repeat(25_000));
    for (shape, text) in [
        ("complex keys", complex_keys),
        ("block sequences", block_sequences),
        ("flow sequences", flow_sequences),
        ("flow mappings", flow_mappings),
        ("block mappings", block_mappings),
    ] {
        assert_eq!(refusal(&text), Code::YamlTooDeep, "{shape}");
    }
}

#[test]
fn a_second_document_is_refused_before_any_parser_reads_it() {
    let text = format!("service: {{name: a}}\n---\nx: {}v\n", "- ".repeat(25_000));
    assert_eq!(refusal(&text), Code::YamlSyntax);
}

#[test]
fn alias_expansion_is_bounded_by_what_it_expands_to() {
    // 300,000 aliases of a 10 KB string: under a megabyte on disk, 3 GB expanded.
    let mut text = format!("service: {{name: a}}\nbig: &big \"{}\"\nmany:\n", "x".repeat(10_000));
    text.push_str(&"- *big\n".repeat(300_000));
    assert!(text.len() < 3_000_000);
    assert_eq!(refusal(&text), Code::YamlAliasesTooLarge);
    // A few aliases of small anchors are what specs use them for.
    let fine = "service:\n  name: a\n  labels:\n    team: &t payments\n    owner: *t\n";
    assert!(contract::load_bytes(fine.as_bytes(), "fine.yaml").is_ok());
}

#[cfg(unix)]
#[test]
fn a_file_that_never_ends_is_refused_as_too_large_instead_of_read_forever() {
    let error = load_file(Path::new("/dev/urandom")).unwrap_err();
    let diagnostic = error.diagnostic().expect("rejected, not an I/O error");
    assert_eq!(diagnostic.code, Code::FileTooLarge);
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let error = load_file(Path::new("tests/fixtures/does-not-exist.yaml")).unwrap_err();
    assert!(error.diagnostic().is_none());
    assert!(
        error
            .to_string()
            .starts_with("cannot read tests/fixtures/does-not-exist.yaml"),
        "{error}"
    );
}

#[test]
fn non_utf8_bytes_are_located() {
    let error = contract::load_bytes(b"service:\n  name: \xff\xfe\n", "latin1.yaml").unwrap_err();
    let diagnostic = error.diagnostic().unwrap();
    assert_eq!(diagnostic.code, Code::FileNotUtf8);
    assert_eq!(diagnostic.position.map(|p| (p.line, p.column)), Some((2, 9)));
}

#[test]
fn warnings_do_not_fail_a_spec() {
    let loaded = contract::load_bytes(
        b"service: {name: w}\nmetrics:\n  custom:\n    - {name: cache_items_total, type: gauge, help: Items.}\n",
        "w.yaml",
    )
    .unwrap();
    let report = contract::analyse(&loaded).report;
    assert!(!report.has_errors());
    assert_eq!(report.count(Level::Warning), 1, "{report}");
}
