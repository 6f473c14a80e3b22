//! `generator diff`: one fixture pair per kind of change (`fixtures/diff/base.yaml` against
//! each other file there), the Markdown report snapshot-tested, the breaking verdicts
//! asserted, the JSON shape checked; and the command as users run it: `--fail-on
//! breaking`, `--base` against a git commit, and located errors for a bad spec.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diff")
}

fn checked(path: &Path) -> generator::Checked {
    generator::check(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn diff_against_base(case: &Path) -> Vec<generator::diff::Change> {
    generator::diff::compare(&checked(&fixtures().join("base.yaml")), &checked(case))
}

#[test]
fn each_kind_of_change_is_reported() {
    insta::glob!("fixtures/diff/*.yaml", |path| {
        if path.ends_with("base.yaml") {
            return;
        }
        let changes = diff_against_base(path);
        assert!(!changes.is_empty(), "{} reports no change", path.display());
        let name = path.file_name().unwrap().to_string_lossy();
        insta::assert_snapshot!(generator::diff::markdown(&changes, "base.yaml", &name));
    });
}

#[test]
fn breaking_is_what_breaks_code_or_queries() {
    let breaking = |case: &str| -> Vec<String> {
        diff_against_base(&fixtures().join(case))
            .into_iter()
            .filter(|c| c.breaking)
            .map(|c| format!("{}: {}", c.subject, c.what.split(':').next().unwrap_or_default()))
            .collect()
    };
    assert_eq!(breaking("metric-renamed.yaml").len(), 1);
    assert!(breaking("metric-renamed.yaml")[0].starts_with("orders_total"));
    let handles = breaking("handles-changed.yaml");
    assert!(
        handles.len() == 1 && handles[0].starts_with("basket_size"),
        "{handles:?}"
    );
    let labels = breaking("labels-changed.yaml");
    assert_eq!(labels.len(), 2, "{labels:?}");
    let native = breaking("histogram-native.yaml");
    assert!(
        native.len() == 1 && native[0].starts_with("basket_size: now native only"),
        "{native:?}"
    );
    for case in [
        "alert-changed.yaml",
        "slo-changed.yaml",
        "dashboard-changed.yaml",
        "routing-changed.yaml",
    ] {
        assert!(breaking(case).is_empty(), "{case}: {:?}", breaking(case));
    }
    let same = generator::diff::compare(
        &checked(&fixtures().join("base.yaml")),
        &checked(&fixtures().join("base.yaml")),
    );
    assert!(same.is_empty(), "{same:?}");
}

#[test]
fn an_alert_that_now_routes_elsewhere_says_so() {
    let changes = diff_against_base(&fixtures().join("alert-changed.yaml"));
    let alert = changes
        .iter()
        .find(|c| c.subject == "OrdersFailing")
        .expect("the alert changed");
    assert!(alert.what.contains("for 5m → 10m"), "{}", alert.what);
    assert!(alert.what.contains("routed to team → pager"), "{}", alert.what);
}

fn generator(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_generator"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("generator runs")
}

#[test]
fn fail_on_breaking_sets_the_exit_code_and_json_lists_every_change() {
    let dir = fixtures();
    let breaking = generator(
        &["diff", "base.yaml", "metric-renamed.yaml", "--fail-on", "breaking"],
        &dir,
    );
    assert_eq!(
        breaking.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&breaking.stderr)
    );
    let fine = generator(
        &["diff", "base.yaml", "dashboard-changed.yaml", "--fail-on", "breaking"],
        &dir,
    );
    assert_eq!(fine.status.code(), Some(0));
    let json = generator(&["diff", "base.yaml", "labels-changed.yaml", "--format", "json"], &dir);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON on stdout");
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), diff_against_base(&dir.join("labels-changed.yaml")).len());
    assert!(changes
        .iter()
        .all(|c| c["area"].is_string() && c["breaking"].is_boolean() && c["what"].is_string()));
    assert_eq!(changes[0]["breaking"], true, "breaking changes come first");
}

#[test]
fn base_compares_the_spec_with_a_commit_and_errors_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    std::fs::copy(fixtures().join("base.yaml"), dir.path().join("obs.yaml")).unwrap();
    git(&["add", "obs.yaml"]);
    git(&["commit", "-qm", "base"]);
    std::fs::copy(fixtures().join("alert-changed.yaml"), dir.path().join("obs.yaml")).unwrap();
    let output = generator(&["diff", "--base", "HEAD"], dir.path());
    let named = generator(&["diff", "--base", "HEAD", "obs.yaml"], dir.path());
    assert_eq!(
        named.stdout,
        output.stdout,
        "{}",
        String::from_utf8_lossy(&named.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("HEAD:./obs.yaml → obs.yaml") && text.contains("OrdersFailing"),
        "{text}"
    );
    let missing = generator(&["diff", "--base", "no-such-ref"], dir.path());
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such-ref"));
    // A broken new spec: the error names the file, line and column.
    std::fs::write(dir.path().join("obs.yaml"), "service:\n  name: shop\n  port: eighty\n").unwrap();
    let broken = generator(&["diff", "--base", "HEAD"], dir.path());
    assert_eq!(broken.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.contains("obs.yaml:3:"), "{stderr}");
}

#[test]
fn every_committed_spec_compares_cleanly_with_itself() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut specs = vec![root.join("obs.yaml")];
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let spec = entry.unwrap().path().join("obs.yaml");
        if spec.is_file() {
            specs.push(spec);
        }
    }
    for spec in specs {
        // Loaded twice, so the comparison walks two models.
        let (old, new) = (checked(&spec), checked(&spec));
        let changes = generator::diff::compare(&old, &new);
        assert!(changes.is_empty(), "{}: {changes:?}", spec.display());
    }
}
