//! `generator init`: specs written from recorded expositions (the demo's, a Go service's, an
//! OpenMetrics one) pass `check`, match the exposition they came from under `drift` (but
//! for what they say they left out), render with proposed alerts whose tests promtool
//! passes; the command reads URLs on loopback, explains a failed scrape, locates a bad
//! exposition and never replaces a file unless told. The live round trip against the demo
//! and every example's running service is in integration-tests (`expect::exposition_matches_spec`).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{generator, stderr};
use contract::conformance::DriftKind;
use generator::init::{from_text, Source};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/init/{name}.prom"))
}

fn written(name: &str) -> (String, generator::init::Written) {
    let path = fixture(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let service = if name == "demo" { "ws-counter" } else { "shop" };
    let spec = from_text(
        &text,
        &Source::File(PathBuf::from(format!("{name}.prom"))),
        service,
        "obs.yaml",
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    (text, spec)
}

fn checked(spec_text: &str) -> generator::Checked {
    let loaded = contract::load_bytes(spec_text.as_bytes(), "obs.yaml").unwrap();
    generator::Checked::new(loaded).unwrap_or_else(|e| panic!("{e}\n{spec_text}"))
}

/// The spec's text with comment lines joined, so that a check does not depend on where a
/// comment wrapped.
fn prose(text: &str) -> String {
    text.lines()
        .map(|line| line.trim_start().trim_start_matches('#').trim())
        .collect::<Vec<_>>()
        .join(" ")
}

const FIXTURES: [&str; 3] = ["demo", "go-service", "openmetrics"];

#[test]
fn each_exposition_gives_a_spec_that_passes_check() {
    for name in FIXTURES {
        let (_, spec) = written(name);
        let checked = checked(&spec.text);
        let errors: Vec<_> = checked.report.errors().collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        insta::assert_snapshot!(name, spec.text);
    }
}

/// What `drift` finds between an exposition and the spec written from it; the spec's
/// header lists exactly that, and so does what init returned.
fn drift_of(name: &str) -> Vec<(DriftKind, String)> {
    let (text, spec) = written(name);
    let checked = checked(&spec.text);
    let report = generator::drift::check_text(&checked.resolved, None, &text, name).unwrap();
    assert_eq!(report.findings, spec.drift, "{name}");
    let header = prose(spec.text.split("\nservice:").next().unwrap());
    for finding in &report.findings {
        // Each line as drift prints it, perhaps followed by why.
        let line = format!("{} {}: {}", finding.kind.as_str(), finding.metric, finding.detail);
        assert!(
            header.contains(&line),
            "{name}: the header does not list `{line}`:\n{}",
            spec.text
        );
    }
    if report.findings.is_empty() {
        assert!(header.contains("finds no difference"), "{}", spec.text);
    }
    report.findings.into_iter().map(|f| (f.kind, f.metric)).collect()
}

#[test]
fn the_spec_matches_the_exposition_it_was_written_from() {
    assert_eq!(drift_of("demo"), []);
    // What the spec says it left out, and nothing else.
    // The runtime's count of folded label values, which a service on the obs runtime adds.
    assert_eq!(
        drift_of("go-service"),
        [
            (DriftKind::Missing, "obs_series_dropped_total".to_string()),
            (DriftKind::Undeclared, "go_gc_duration_seconds".to_string()),
            (DriftKind::Undeclared, "payments_failed".to_string()),
            (DriftKind::WrongType, "legacy_queue_length".to_string()),
        ]
    );
    assert_eq!(drift_of("openmetrics"), [(DriftKind::Undeclared, "build".to_string())]);
}

#[test]
fn builtin_groups_are_recognised_and_near_misses_explained() {
    let (_, demo) = written("demo");
    let groups: Vec<&str> = demo.inference.groups.iter().map(|g| g.builtin().as_str()).collect();
    assert_eq!(groups, ["http", "websocket", "lifecycle", "process", "jobs"]);
    assert!(demo.text.contains("prefix: ws_counter"), "{}", demo.text);
    assert!(demo.text.contains("types: [email, report]"), "{}", demo.text);
    let (_, go) = written("go-service");
    assert!(go.inference.groups.is_empty());
    let misses: Vec<&str> = go.inference.near_misses.iter().map(|m| m.group.as_str()).collect();
    assert_eq!(misses, ["http", "process"]);
    assert!(
        prose(&go.text).contains("process_threads: declared in the spec, not exposed"),
        "{}",
        go.text
    );
    // Identifiers and status codes are open whatever their count; a budget has headroom.
    let customer = go
        .inference
        .custom
        .iter()
        .find(|m| m.name == "cart_items_per_customer")
        .unwrap();
    assert!(
        matches!(
            customer.labels[0].budget,
            generator::init::infer::Budget::Open { seen: 2, max: 20, .. }
        ),
        "{customer:?}"
    );
    assert!(prose(&go.text).contains("status codes come and go with traffic"));
}

fn from_inline(text: &str) -> generator::init::Written {
    let spec = from_text(text, &Source::File(PathBuf::from("inline.prom")), "shop", "obs.yaml").unwrap();
    checked(&spec.text);
    spec
}

#[test]
fn awkward_expositions_still_give_a_spec_that_checks() {
    // Two start-up/shutdown pairs: one lifecycle group, the other pair custom.
    let spec = from_inline(
        "# TYPE a_startup_time_seconds gauge\na_startup_time_seconds 1\n# TYPE a_shutdown_time_seconds gauge\na_shutdown_time_seconds 0\n# TYPE b_startup_time_seconds gauge\nb_startup_time_seconds 1\n# TYPE b_shutdown_time_seconds gauge\nb_shutdown_time_seconds 0\n",
    );
    assert_eq!(spec.inference.groups.len(), 1);
    assert!(spec.text.contains("- name: b_startup_time_seconds"), "{}", spec.text);
    assert!(spec.drift.is_empty(), "{:?}", spec.drift);
    // The throttle's counter with no series: the throttle stays on, with its default levels.
    let spec = from_inline("# TYPE obs_log_lines_suppressed_total counter\n# TYPE x gauge\nx 1\n");
    assert!(spec.text.contains("  throttle: {}\n"), "{}", spec.text);
    assert!(spec.drift.is_empty(), "{:?}", spec.drift);
    // Series with different label sets: declared with all, said so, and listed as drift.
    let spec = from_inline("# HELP y Y.\n# TYPE y gauge\ny{a=\"1\"} 1\ny{a=\"2\",b=\"x\"} 1\n");
    assert!(
        prose(&spec.text).contains("its series carry different label sets ({a} and {a, b})"),
        "{}",
        spec.text
    );
    assert_eq!(spec.drift.len(), 1, "{:?}", spec.drift);
    assert_eq!(spec.drift[0].kind, DriftKind::WrongLabels);
    // Label values YAML would fold or refuse read back byte for byte.
    let spec =
        from_inline("# HELP z Z.\n# TYPE z gauge\nz{k=\"a\u{2028}b\"} 1\nz{k=\"tab\there\"} 1\nz{k=\"yes\"} 1\n");
    assert!(spec.drift.is_empty(), "{:?}\n{}", spec.drift, spec.text);
}

#[test]
fn on_the_obs_runtime_the_drop_counter_decides_which_labels_are_open() {
    // `error_type` holds `other` as one of its declared values, and `status` words: the
    // runtime's drop counter lists neither metric, so both stay closed; the capped one opens.
    let spec = from_inline(
        "# TYPE db_errors_total counter\ndb_errors_total{error_type=\"timeout\"} 0\ndb_errors_total{error_type=\"other\"} 0\n# TYPE queries_total counter\nqueries_total{status=\"success\"} 1\nqueries_total{status=\"error\"} 0\n# TYPE users gauge\nusers{workspace=\"w1\"} 3\n# TYPE obs_series_dropped_total counter\nobs_series_dropped_total{metric=\"users\"} 0\n",
    );
    let budgets: Vec<(&str, bool)> = spec
        .inference
        .custom
        .iter()
        .map(|m| {
            (
                m.name.as_str(),
                matches!(m.labels[0].budget, generator::init::infer::Budget::Open { .. }),
            )
        })
        .collect();
    assert_eq!(
        budgets,
        [("db_errors_total", false), ("queries_total", false), ("users", true)]
    );
    assert!(spec.drift.is_empty(), "{:?}", spec.drift);
}

fn promtool(args: &[&str], cwd: &Path) -> (bool, String) {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run promtool ({error}); install Debian's prometheus, or run ./scripts/test.sh")
        });
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn the_written_spec_renders_and_promtool_passes_its_proposed_alerts() {
    for name in FIXTURES {
        let (_, spec) = written(name);
        let dir = tempfile::tempdir().unwrap();
        let spec_path = dir.path().join("obs.yaml");
        std::fs::write(&spec_path, &spec.text).unwrap();
        let out = dir.path().join("generated");
        generator::generate(&spec_path, &out).unwrap_or_else(|e| panic!("{name}: {e}"));
        let rules = out.join("prometheus/rules");
        let (ok, text) = promtool(&["check", "rules", "alerts.yml", "recording.yml"], &rules);
        assert!(ok, "{name}: {text}");
        let (ok, text) = promtool(&["test", "rules", "alerts.yml"], &out.join("prometheus/tests"));
        assert!(ok, "{name}: {text}");
        assert!(text.contains("SUCCESS"), "{name}: {text}");
        let overview = std::fs::read_dir(out.join("grafana/dashboards")).unwrap().count();
        assert_eq!(overview, 1, "{name}: the proposed overview dashboard is rendered");
    }
}

/// Answers every request on a loopback port with `status` and `body` until `count`
/// connections were served; returns the port.
fn serve(status: &'static str, body: String, count: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(count) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
}

#[test]
fn init_reads_a_url_and_the_spec_it_writes_checks() {
    let dir = tempfile::tempdir().unwrap();
    let body = std::fs::read_to_string(fixture("demo")).unwrap();
    let port = serve("200 OK", body, 1);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let output = generator(&["init", "--from", &url, "--service", "ws-counter"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("builtin groups [http, websocket, lifecycle, process, jobs]"));
    let text = std::fs::read_to_string(dir.path().join("obs.yaml")).unwrap();
    assert!(text.contains(&format!("  port: {port}\n")), "{text}");
    assert!(prose(&text).contains(&format!("generator drift --url {url}")), "{text}");
    let check = generator(&["check", "--spec", "obs.yaml"], dir.path());
    assert!(check.status.success(), "{}", stderr(&check));
}

#[test]
fn init_never_replaces_a_file_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("obs.yaml");
    std::fs::write(&spec, "service: {name: mine}\n").unwrap();
    let from = fixture("openmetrics");
    let from = from.to_str().unwrap();
    let refused = generator(&["init", "--from", from], dir.path());
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("obs.yaml exists; pass --force"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), "service: {name: mine}\n");
    let forced = generator(&["init", "--from", from, "--force"], dir.path());
    assert!(forced.status.success(), "{}", stderr(&forced));
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(text.contains("- name: uploads_total"), "{text}");
    // Named after the directory it was written into; no temporary file left behind.
    let name = generator::init::service_name(&dir.path().file_name().unwrap().to_string_lossy());
    assert!(text.contains(&format!("  name: {name}\n")), "{text}");
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1);
    let printed = generator(
        &["init", "--from", from, "--output", "-", "--service", "shop"],
        dir.path(),
    );
    assert!(printed.status.success());
    assert!(String::from_utf8_lossy(&printed.stdout).starts_with("# yaml-language-server"));
}

#[test]
fn a_failed_scrape_says_why() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on: bound, then released.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{closed}/metrics");
    let output = generator(&["init", "--from", &url], dir.path());
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(
        text.contains(&format!("fetching {url}")) && text.to_lowercase().contains("connect"),
        "{text}"
    );

    let port = serve("404 Not Found", "no such page".into(), 1);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let text = stderr(&generator(&["init", "--from", &url], dir.path()));
    assert!(text.contains(&format!("{url} answered 404: no such page")), "{text}");

    let port = serve("401 Unauthorized", "token required".into(), 1);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let text = stderr(&generator(&["init", "--from", &url], dir.path()));
    assert!(
        text.contains("wants credentials") && text.contains("--from metrics.txt"),
        "{text}"
    );

    let port = serve("200 OK", "<html><body>login</body></html>\n".into(), 1);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let text = stderr(&generator(&["init", "--from", &url], dir.path()));
    assert!(
        text.contains(&format!("{url}:1:32: not a Prometheus or OpenMetrics exposition")),
        "{text}"
    );
    assert!(!dir.path().join("obs.yaml").exists(), "nothing is written on failure");
}

#[test]
fn a_bad_exposition_file_is_located() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.txt"), "# TYPE a gauge\na 1\na{x=\"1\" 2\n").unwrap();
    let output = generator(&["init", "--from", "m.txt"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("m.txt:3:2: not a Prometheus or OpenMetrics exposition: `{` is not closed"),
        "{}",
        stderr(&output)
    );
    let missing = generator(&["init", "--from", "absent.txt"], dir.path());
    assert!(
        stderr(&missing).contains("cannot read absent.txt"),
        "{}",
        stderr(&missing)
    );
    std::fs::write(dir.path().join("empty.txt"), "# nothing here\n").unwrap();
    let empty = generator(&["init", "--from", "empty.txt"], dir.path());
    assert!(
        stderr(&empty).contains("empty.txt has no metric family"),
        "{}",
        stderr(&empty)
    );
}
