//! The generator command as users run it: exit codes, `--check`, atomic writes and the
//! removal of files a spec no longer produces.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn generator(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_generator"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("generator runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn temp_spec(contents: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("obs.yaml"), contents).unwrap();
    dir
}

#[test]
fn no_arguments_renders_obs_yaml_into_generated() {
    let dir = temp_spec("service: {name: tiny}\n");
    let output = generator(&[], dir.path());
    assert!(output.status.success(), "{}", text(&output));
    assert!(dir.path().join("generated/obs.schema.json").is_file());
    assert!(text(&output).contains("written"), "{}", text(&output));
    let again = generator(&["--check"], dir.path());
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
}

#[test]
fn check_flag_reports_stale_files_and_writes_nothing() {
    let dir = temp_spec("service: {name: tiny}\n");
    assert!(generator(&[], dir.path()).status.success());
    let schema = dir.path().join("generated/obs.schema.json");
    std::fs::write(&schema, "edited by hand").unwrap();
    let output = generator(&["generate", "--check"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    let report = text(&output);
    assert!(report.contains("stale:   obs.schema.json"), "{report}");
    assert!(report.contains("cargo run -p generator"), "{report}");
    assert_eq!(std::fs::read_to_string(&schema).unwrap(), "edited by hand");
}

#[test]
fn an_invalid_spec_exits_1_and_leaves_generated_untouched() {
    let dir = temp_spec("service: {name: tiny}\n");
    assert!(generator(&[], dir.path()).status.success());
    let before = std::fs::read_to_string(dir.path().join("generated/obs.schema.json")).unwrap();
    std::fs::write(
        dir.path().join("obs.yaml"),
        "service: {name: tiny}\nmetrics:\n  custom:\n    - {name: bad, type: counter, help: h}\n",
    )
    .unwrap();
    let output = generator(&[], dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).contains("obs.yaml:4:14: error[metric-counter-suffix]"),
        "{}",
        text(&output)
    );
    let after = std::fs::read_to_string(dir.path().join("generated/obs.schema.json")).unwrap();
    assert_eq!(before, after);
}

/// Every file under `dir` with its contents (hidden ones too).
fn tree_of(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn an_output_directory_failing_halfway_keeps_the_old_tree_and_names_the_file() {
    let dir = temp_spec("service: {name: tiny}\nmetrics:\n  builtin:\n    http: {}\n");
    assert!(generator(&[], dir.path()).status.success());
    // Every file will change (the service name is everywhere); one directory in the middle
    // of the tree cannot take its file because a plain file is in the way.
    std::fs::write(
        dir.path().join("obs.yaml"),
        "service: {name: small}\nmetrics:\n  builtin:\n    http: {}\n",
    )
    .unwrap();
    let blocked = dir.path().join("generated/prometheus/rules");
    std::fs::remove_dir_all(&blocked).unwrap();
    std::fs::write(&blocked, "in the way").unwrap();
    let before = tree_of(&dir.path().join("generated"));
    let output = generator(&[], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let message = text(&output);
    assert!(message.contains("generated/prometheus/rules"), "{message}");
    assert!(message.contains("is not a directory"), "{message}");
    assert!(
        message.contains("nothing in the output directory was changed"),
        "{message}"
    );
    assert_eq!(tree_of(&dir.path().join("generated")), before, "not one file replaced");
}

#[test]
fn generate_refuses_a_symlink_out_of_the_output_directory() {
    let dir = temp_spec("service: {name: tiny}\n");
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("generated")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("generated/grafana")).unwrap();
    let output = generator(&[], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("is a symbolic link"), "{}", text(&output));
    assert!(tree_of(outside.path()).is_empty(), "nothing written through the link");
}

#[test]
fn a_missing_spec_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = generator(&["check", "--spec", "nope.yaml"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("cannot read nope.yaml"), "{}", text(&output));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = generator(&["generate", "--frobnicate"], dir.path());
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn check_prints_warnings_and_succeeds() {
    let dir =
        temp_spec("service: {name: w}\nmetrics:\n  custom:\n    - {name: items_total, type: gauge, help: Items.}\n");
    let output = generator(&["check"], dir.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        text(&output).contains("warning[metric-total-suffix]"),
        "{}",
        text(&output)
    );
}

#[test]
fn check_says_which_declared_events_the_runtime_writes_and_which_the_code_must() {
    let dir = temp_spec(
        "service: {name: w}\nlogging:\n  events:\n    - {message: request, runtime: [request]}\n    \
         - {message: stopping, runtime: [shutdown_started, shutdown_complete]}\n    \
         - {message: export finished}\n",
    );
    let output = generator(&["check"], dir.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        text(&output).contains(
            "log events: the runtime writes `request` (request), `stopping` (shutdown_started, \
             shutdown_complete); the service's code must write `export finished`"
        ),
        "{}",
        text(&output)
    );
}

#[test]
fn schema_prints_the_json_schema() {
    let output = generator(&["schema"], &workspace());
    assert!(output.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(schema["title"], "Spec");
    assert!(schema["properties"]["service"].is_object());
}

#[test]
fn committed_generated_trees_are_current() {
    let output = generator(&["generate", "--check", "--all"], &workspace());
    assert!(
        output.status.success(),
        "generated files are stale; run `cargo run -p generator -- --all`:\n{}",
        text(&output)
    );
}

/// Serves one canned HTTP response per connection on loopback until the test ends.
fn serve_exposition(body: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            use std::io::{Read, Write};
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
    format!("http://{address}/metrics")
}

#[test]
fn drift_lists_each_difference_and_exits_1() {
    let dir = temp_spec(
        "service: {name: d}\nmetrics:\n  custom:\n    - {name: jobs_total, type: counter, help: Jobs., labels: [{name: kind, values: [a, b]}]}\n    - {name: depth, type: gauge, help: Depth.}\n",
    );
    let url =
        serve_exposition("# TYPE jobs_total gauge\njobs_total{kind=\"c\"} 1\n# TYPE stray counter\nstray_total 3\n");
    let output = generator(&["drift", "--url", &url], dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("missing       depth: declared in the spec, not exposed"),
        "{stdout}"
    );
    assert!(stdout.contains("undeclared    stray"), "{stdout}");
    assert!(
        stdout.contains("wrong-type    jobs_total: exposed as gauge, declared as counter"),
        "{stdout}"
    );
    assert!(
        stdout.contains("unknown-value jobs_total: label `kind` has values outside its declared set: c"),
        "{stdout}"
    );
}

#[test]
fn drift_passes_a_matching_exposition() {
    let dir = temp_spec("service: {name: d}\nmetrics:\n  custom:\n    - {name: depth, type: gauge, help: Depth.}\n");
    let url = serve_exposition("# HELP depth Depth.\n# TYPE depth gauge\ndepth 4\n");
    let output = generator(&["drift", "--url", &url], dir.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("matches obs.yaml (component app, 1 families)"));
}

#[test]
fn drift_against_nothing_exits_2_with_the_reason() {
    let dir = temp_spec("service: {name: d}\n");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = generator(
        &[
            "drift",
            "--url",
            &format!("http://127.0.0.1:{port}/metrics"),
            "--timeout-seconds",
            "2",
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2));
    let said = text(&output).to_lowercase();
    assert!(
        said.contains(&format!("127.0.0.1:{port}")) && said.contains("connect"),
        "{said}"
    );
}

#[test]
fn explain_prints_every_code_with_its_examples() {
    let listing = generator(&["explain"], &workspace());
    assert!(listing.status.success(), "{}", text(&listing));
    for code in contract::Code::ALL {
        assert!(text(&listing).contains(code.id()), "{code} missing from the listing");
        let one = generator(&["explain", code.id()], &workspace());
        assert!(one.status.success(), "{code}: {}", text(&one));
        let shown = text(&one);
        assert!(shown.contains(code.summary()), "{code}: {shown}");
        if code.examples().is_some() {
            assert!(shown.contains(&format!("{}.good.yaml", code.id())), "{code}: {shown}");
        }
    }
    // The id as printed in a diagnostic, brackets and all, works too.
    assert!(generator(&["explain", "[metric-counter-suffix]"], &workspace())
        .status
        .success());
}

#[test]
fn explain_suggests_the_code_meant() {
    let output = generator(&["explain", "metric-counter-sufix"], &workspace());
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("did you mean `metric-counter-suffix`?"),
        "{}",
        text(&output)
    );
}

#[test]
fn diagnostics_md_is_the_registry() {
    let output = generator(&["explain", "--markdown"], &workspace());
    assert!(output.status.success(), "{}", text(&output));
    let on_disk = std::fs::read_to_string(workspace().join("DIAGNOSTICS.md")).unwrap();
    assert!(
        on_disk == String::from_utf8_lossy(&output.stdout),
        "DIAGNOSTICS.md is stale: run `cargo run -p generator -- explain --markdown > DIAGNOSTICS.md`"
    );
}
