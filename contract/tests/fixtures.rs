//! Fixture tests: every `fixtures/*.good.yaml` validates clean; every `fixtures/*.bad.yaml`
//! fails with exactly one error whose id is the file's name up to `--` (`wrong-type--alias-bomb`
//! fails with `wrong-type`; `many-faults` reports many),
//! and the full output is snapshot-tested so a reviewer sees every message change.

use std::path::{Path, PathBuf};

use contract::{load_file, validate, Level};

fn fixtures(suffix: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir("tests/fixtures")
        .expect("tests/fixtures exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    paths.sort();
    paths
}

fn stem(path: &Path, suffix: &str) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.trim_end_matches(suffix).to_string()
}

/// What `generator check` would print: the load error, or every diagnostic.
fn outcome(path: &Path) -> (Vec<&'static str>, String) {
    let relative = path.to_string_lossy().replace('\\', "/");
    match load_file(Path::new(&relative)) {
        Err(error) => {
            let id = error.diagnostic().map(|d| d.id).unwrap_or("io");
            (vec![id], format!("{error}\n"))
        }
        Ok(loaded) => {
            let report = validate(&loaded);
            let ids = report.errors().map(|d| d.id).collect();
            (ids, report.to_string())
        }
    }
}

#[test]
fn good_fixtures_have_no_errors() {
    let good = fixtures(".good.yaml");
    assert!(!good.is_empty());
    for path in good {
        let (errors, output) = outcome(&path);
        assert!(errors.is_empty(), "{} should be valid:\n{output}", path.display());
    }
}

#[test]
fn each_bad_fixture_fails_with_its_own_error() {
    let bad = fixtures(".bad.yaml");
    assert!(bad.len() >= 40, "only {} bad fixtures", bad.len());
    let mut distinct = std::collections::BTreeSet::new();
    for path in bad {
        let name = stem(&path, ".bad.yaml");
        let id = name.split("--").next().unwrap_or_default().to_string();
        let (errors, output) = outcome(&path);
        if name == "many-faults" {
            assert!(errors.len() >= 6, "many-faults should report every fault:\n{output}");
        } else {
            assert_eq!(
                errors,
                vec![id.as_str()],
                "{} must fail with exactly `{id}`:\n{output}",
                path.display()
            );
            distinct.insert(id);
        }
        insta::assert_snapshot!(name, output);
    }
    assert!(distinct.len() >= 30, "{} distinct faults", distinct.len());
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
    assert_eq!(diagnostic.id, "file-too-large");
    assert!(
        diagnostic.message.contains("more than the 8388608 bytes"),
        "{}",
        diagnostic.message
    );
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
    assert_eq!(diagnostic.id, "file-not-utf8");
    assert_eq!(diagnostic.position.map(|p| (p.line, p.column)), Some((2, 9)));
}

#[test]
fn warnings_do_not_fail_a_spec() {
    let loaded = contract::load_bytes(
        b"service: {name: w}\nmetrics:\n  custom:\n    - {name: cache_items_total, type: gauge, help: Items.}\n",
        "w.yaml",
    )
    .unwrap();
    let report = validate(&loaded);
    assert!(!report.has_errors());
    assert_eq!(report.count(Level::Warning), 1, "{report}");
}
