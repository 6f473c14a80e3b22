//! The generated Prometheus and Alertmanager files of obs.yaml and every example, checked
//! by the real tools: `promtool check config`, `promtool check rules`, `promtool test
//! rules`, `amtool check-config`, and `amtool config routes test` for every route the spec
//! declares. Every check runs under both majors: promtool 2.42 and amtool 0.25 from Debian
//! bookworm (on PATH) and promtool 3.5 and amtool 0.33 from Debian sid, which
//! scripts/test.sh installs and unpacks under target/tools/sid (or `OBS_SID_ROOT`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// obs.yaml and every example, each with its committed generated/ directory.
fn trees() -> Vec<(PathBuf, PathBuf)> {
    let root = workspace();
    let mut trees = vec![(root.join("obs.yaml"), root.join("generated"))];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("obs.yaml").is_file())
        .collect();
    examples.sort();
    trees.extend(
        examples
            .into_iter()
            .map(|dir| (dir.join("obs.yaml"), dir.join("generated"))),
    );
    trees
}

/// A tool of Debian sid's current release, as scripts/test.sh unpacks it.
fn sid_tool(name: &str) -> PathBuf {
    let root = std::env::var_os("OBS_SID_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/tools/sid/root"));
    let path = root.join("usr/bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: ./scripts/test.sh fetches promtool 3.5 and amtool 0.33 from Debian sid",
        path.display()
    );
    path
}

/// promtool 2.42 (Debian bookworm) and 3.5 (Debian sid).
fn promtools() -> [PathBuf; 2] {
    [PathBuf::from("promtool"), sid_tool("promtool")]
}

/// amtool 0.25 (Debian bookworm) and 0.33 (Debian sid).
fn amtools() -> [PathBuf; 2] {
    [PathBuf::from("amtool"), sid_tool("amtool")]
}

fn run(tool: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> (bool, String) {
    let tool = tool.as_ref();
    let output = Command::new(tool).args(args).output().unwrap_or_else(|error| {
        panic!("cannot run {} ({error}); install Debian's prometheus and prometheus-alertmanager, or run ./scripts/test.sh", tool.to_string_lossy())
    });
    let text = format!(
        "{} {}{}",
        version_line(tool),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The tool's version line, so a failure says which release failed.
fn version_line(tool: &std::ffi::OsStr) -> String {
    Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            format!("[{}]\n", text.lines().next().unwrap_or_default())
        })
        .unwrap_or_default()
}

fn yml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "yml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn promtool_accepts_every_config_and_rules_file() {
    for promtool in promtools() {
        for (_, generated) in trees() {
            let config = generated.join("prometheus/prometheus.yml");
            let (ok, output) = run(&promtool, &["check", "config", config.to_str().unwrap()]);
            assert!(ok, "promtool check config {}:\n{output}", config.display());
            let rules = yml_files(&generated.join("prometheus/rules"));
            assert!(!rules.is_empty(), "{} has no rules", generated.display());
            for file in rules {
                let (ok, output) = run(&promtool, &["check", "rules", file.to_str().unwrap()]);
                assert!(ok, "promtool check rules {}:\n{output}", file.display());
            }
        }
    }
}

#[test]
fn the_focused_fixture_passes_every_tool() {
    let dir = tempfile::tempdir().unwrap();
    let checked =
        generator::check(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/focused.good.yaml")).unwrap();
    let tree = generator::render(&checked).unwrap();
    generator::output::write(&tree, dir.path()).unwrap();
    let prometheus = dir.path().join("prometheus");
    // The scrape token is a deployment secret; promtool insists the file exists.
    std::fs::create_dir_all(prometheus.join("secrets")).unwrap();
    std::fs::write(prometheus.join("secrets/shop_metrics_token"), "token").unwrap();
    for promtool in promtools() {
        let (ok, output) = run(
            &promtool,
            &["check", "config", prometheus.join("prometheus.yml").to_str().unwrap()],
        );
        assert!(ok, "{output}");
        for file in yml_files(&prometheus.join("tests")) {
            let (ok, output) = run(&promtool, &["test", "rules", file.to_str().unwrap()]);
            assert!(ok, "{}:\n{output}", file.display());
        }
    }
    let alertmanager = dir.path().join("alertmanager/alertmanager.yml");
    for amtool in amtools() {
        let (ok, output) = run(&amtool, &["check-config", alertmanager.to_str().unwrap()]);
        assert!(ok, "{output}");
    }
    assert_eq!(
        routes_to(&alertmanager, &["alertname=X", "severity=critical", "team=checkout"]),
        ["pager", "mail"]
    );
}

#[test]
fn promtool_unit_tests_pass() {
    for promtool in promtools() {
        let mut ran = 0;
        for (_, generated) in trees() {
            for file in yml_files(&generated.join("prometheus/tests")) {
                let (ok, output) = run(&promtool, &["test", "rules", file.to_str().unwrap()]);
                assert!(ok, "promtool test rules {}:\n{output}", file.display());
                ran += 1;
            }
        }
        assert!(ran >= 5, "only {ran} test files ran");
    }
}

/// Copies the demo's rules and tests with one replacement applied to the rules, and runs
/// the named test file under each promtool: the generated tests must be able to fail on
/// both majors. The first that passes is returned, else the last failure.
fn run_mutated(from: &str, to: &str, test_file: &str) -> (bool, String) {
    let mut last = (false, String::new());
    for promtool in promtools() {
        last = run_mutated_with(&promtool, from, to, test_file);
        if last.0 {
            break;
        }
    }
    last
}

fn run_mutated_with(promtool: &Path, from: &str, to: &str, test_file: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let generated = workspace().join("generated/prometheus");
    let mut replaced = false;
    for sub in ["rules", "tests"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for file in yml_files(&generated.join(sub)) {
            let mut text = std::fs::read_to_string(&file).unwrap();
            if sub == "rules" && text.contains(from) {
                text = text.replace(from, to);
                replaced = true;
            }
            std::fs::write(dir.path().join(sub).join(file.file_name().unwrap()), text).unwrap();
        }
    }
    assert!(replaced, "`{from}` is not in the demo's rules");
    run(
        promtool,
        &[
            "test",
            "rules",
            dir.path().join("tests").join(test_file).to_str().unwrap(),
        ],
    )
}

#[test]
fn promtool_unit_tests_fail_when_an_alert_is_broken() {
    let (ok, output) = run_mutated(
        "sum(websocket_active_connections) == 0",
        "sum(websocket_active_connections) == 42",
        "alerts.yml",
    );
    assert!(!ok, "promtool passed a broken alert:\n{output}");
    assert!(output.contains("NoActiveWebSocketConnections"), "{output}");
}

#[test]
fn promtool_unit_tests_fail_when_a_burn_rate_threshold_is_broken() {
    let (ok, output) = run_mutated("> 0.0144", "> 0.9", "slos.yml");
    assert!(!ok, "promtool passed a broken burn-rate alert:\n{output}");
    assert!(output.contains("HttpAvailabilityBurnRate1h"), "{output}");
}

#[test]
fn promtool_unit_tests_fail_without_the_traffic_guard() {
    let (ok, output) = run_mutated("* 60 >= 1)", "* 60 >= 0)", "slos.yml");
    assert!(
        !ok,
        "promtool passed burn-rate alerts without a traffic guard:\n{output}"
    );
    assert!(output.contains("stays silent"), "{output}");
}

#[test]
fn amtool_accepts_every_alertmanager_config() {
    for amtool in amtools() {
        let mut checked = 0;
        for (_, generated) in trees() {
            let config = generated.join("alertmanager/alertmanager.yml");
            if !config.exists() {
                continue;
            }
            let (ok, output) = run(&amtool, &["check-config", config.to_str().unwrap()]);
            assert!(ok, "amtool check-config {}:\n{output}", config.display());
            checked += 1;
        }
        assert!(checked >= 2);
    }
}

/// The receivers `labels` reach, the same under both amtools.
fn routes_to(config: &Path, labels: &[&str]) -> Vec<String> {
    let config_flag = format!("--config.file={}", config.display());
    let mut args = vec!["config", "routes", "test", config_flag.as_str()];
    args.extend(labels);
    let answers: Vec<Vec<String>> = amtools()
        .iter()
        .map(|amtool| {
            let output = Command::new(amtool).args(&args).output().expect("amtool runs");
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8_lossy(&output.stdout)
                .trim()
                .split(',')
                .map(|s| s.trim().to_string())
                .collect()
        })
        .collect();
    assert_eq!(
        answers[0], answers[1],
        "amtool 0.25 and 0.33 route {labels:?} differently"
    );
    answers[0].clone()
}

#[test]
fn critical_and_warning_alerts_reach_the_receivers_the_spec_names() {
    let demo = workspace().join("generated/alertmanager/alertmanager.yml");
    assert_eq!(
        routes_to(&demo, &["alertname=X", "service=ws-counter", "severity=critical"]),
        ["pager"]
    );
    assert_eq!(
        routes_to(&demo, &["alertname=X", "service=ws-counter", "severity=warning"]),
        ["team-webhook"]
    );
    let analytics = workspace().join("examples/shadower-analytics/generated/alertmanager/alertmanager.yml");
    assert_eq!(
        routes_to(&analytics, &["alertname=X", "severity=critical"]),
        ["pagerduty", "slack"]
    );
    assert_eq!(routes_to(&analytics, &["alertname=X", "severity=warning"]), ["slack"]);
}

#[test]
fn every_declared_route_matches_its_receiver() {
    for (spec_path, generated) in trees() {
        let spec = contract::load_file(&spec_path).unwrap().spec;
        let Some(am) = spec.alertmanager else { continue };
        let config = generated.join("alertmanager/alertmanager.yml");
        for route in am.routes.iter().filter(|r| r.match_re.is_empty()) {
            let labels: Vec<String> = std::iter::once("alertname=RouteProbe".to_string())
                .chain(route.match_.iter().map(|(k, v)| format!("{k}={v}")))
                .collect();
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            let receivers = routes_to(&config, &labels);
            assert!(
                receivers.contains(&route.receiver),
                "{}: {labels:?} reached {receivers:?}, not {}",
                spec_path.display(),
                route.receiver
            );
        }
    }
}

/// The native-histogram fixture rendered for `version` (native only before 2.45, which
/// cannot keep classic buckets beside) into a temporary directory.
fn native_fixture(version: &str) -> (tempfile::TempDir, generator::Checked) {
    let mut text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/native-histograms.good.yaml"),
    )
    .unwrap();
    let target = contract::prometheus_version::PrometheusVersion::parse(version).unwrap();
    if target < contract::prometheus_version::PrometheusVersion::CLASSIC_BESIDE_NATIVE {
        text = text.replace("      buckets: [0.1, 0.25, 0.5, 1]\n", "");
    }
    text.push_str(&format!("\nstack:\n  prometheus:\n    version: \"{version}\"\n"));
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("obs.yaml");
    std::fs::write(&spec, text).unwrap();
    let checked = generator::check(&spec).unwrap();
    assert!(!checked.report.has_errors(), "{}", checked.report);
    generator::output::write(&generator::render(&checked).unwrap(), &dir.path().join("generated")).unwrap();
    (dir, checked)
}

#[test]
fn native_histogram_rules_pass_both_promtools_and_their_tests_pass_on_3() {
    let [promtool_2, promtool_3] = promtools();
    for (version, promtool) in [("3.5", &promtool_3), ("2.42", &promtool_2)] {
        let (dir, _) = native_fixture(version);
        let prometheus = dir.path().join("generated/prometheus");
        let (ok, output) = run(
            promtool,
            &["check", "config", prometheus.join("prometheus.yml").to_str().unwrap()],
        );
        assert!(ok, "{version}: {output}");
        for file in yml_files(&prometheus.join("rules")) {
            for promtool in promtools() {
                let (ok, output) = run(&promtool, &["check", "rules", file.to_str().unwrap()]);
                assert!(ok, "{version}: {}:\n{output}", file.display());
            }
        }
        let slo_tests = prometheus.join("tests/slos.yml");
        if version == "3.5" {
            let slos = std::fs::read_to_string(&slo_tests).unwrap();
            assert!(slos.contains("{{schema:0"), "native test series: {slos}");
            for file in yml_files(&prometheus.join("tests")) {
                let (ok, output) = run(&promtool_3, &["test", "rules", file.to_str().unwrap()]);
                assert!(ok, "{}:\n{output}", file.display());
            }
            // The tests can fail: a latency threshold moved past the slow bucket breaks them.
            let rules = prometheus.join("rules/slos.yml");
            let text = std::fs::read_to_string(&rules).unwrap();
            assert!(text.contains("histogram_fraction(0, 0.25,"), "{text}");
            std::fs::write(
                &rules,
                text.replace("histogram_fraction(0, 0.25,", "histogram_fraction(0, 4,"),
            )
            .unwrap();
            let (ok, output) = run(&promtool_3, &["test", "rules", slo_tests.to_str().unwrap()]);
            assert!(!ok, "a broken native SLI passed its tests:\n{output}");
        } else {
            // promtool 2.x cannot read native test series: none are written for 2.x.
            assert!(!slo_tests.exists(), "{}", slo_tests.display());
        }
    }
}

#[test]
fn native_histograms_are_switched_on_as_each_release_wants() {
    let scrape_setting = |dir: &Path| std::fs::read_to_string(dir.join("generated/prometheus/prometheus.yml")).unwrap();
    let compose = |dir: &Path| std::fs::read_to_string(dir.join("generated/docker-compose.yml")).unwrap();
    // 3.5 (the default line): the feature flag, and classic buckets kept by setting.
    let (dir, _) = native_fixture("3.5");
    assert!(compose(dir.path()).contains("--enable-feature=native-histograms"));
    assert!(!compose(dir.path()).contains("expand-external-labels"));
    assert!(scrape_setting(dir.path()).contains("always_scrape_classic_histograms: true"));
    assert!(!scrape_setting(dir.path()).contains("scrape_native_histograms"));
    assert!(!scrape_setting(dir.path()).contains("scrape_protocols"));
    // 3.8 and later: the scrape setting, no flag (a no-op from 3.9).
    let (dir, _) = native_fixture("3.9");
    assert!(!compose(dir.path()).contains("--enable-feature=native-histograms"));
    assert!(scrape_setting(dir.path()).contains("scrape_native_histograms: true"));
    assert!(scrape_setting(dir.path()).contains("scrape_protocols: [PrometheusProto, "));
    // 2.x: its own name for keeping classic buckets, and the external-labels flag.
    let (dir, _) = native_fixture("2.53");
    assert!(compose(dir.path()).contains("image: prom/prometheus:v2.53.0"));
    assert!(compose(dir.path()).contains("--enable-feature=native-histograms"));
    assert!(compose(dir.path()).contains("--enable-feature=expand-external-labels"));
    assert!(scrape_setting(dir.path()).contains("scrape_classic_histograms: true"));
    assert!(!scrape_setting(dir.path()).contains("always_scrape_classic_histograms"));
}
