//! `stack.storage`, rendered from the focused fixture and checked by the real tools: the
//! VictoriaMetrics scale-out's scrape config by `vmagent -promscrape.config.dryRun` (strict:
//! a field vmagent does not know fails), every rule file of every committed tree by
//! `vmalert -dryRun` (so any spec can move to the scale-out), the compose services it runs
//! in Prometheus' place; and Mimir and Thanos receivers by `promtool check config`, with
//! their tenant headers. scripts/test.sh installs Debian's prometheus and victoria-metrics.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(tool: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(tool).args(args).output().unwrap_or_else(|error| {
        panic!(
            "cannot run {tool} ({error}); install Debian's prometheus and victoria-metrics, or run ./scripts/test.sh"
        )
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The focused fixture with `storage` added to its stack, rendered into `dir`.
fn render_with(storage: &str, dir: &Path) {
    let fixture = std::fs::read_to_string(workspace().join("generator/tests/fixtures/focused.good.yaml")).unwrap();
    let spec = fixture.replacen("\nstack:\n", &format!("\nstack:\n  storage:\n{storage}"), 1);
    assert_ne!(spec, fixture, "the fixture has no `stack:` section");
    let file = dir.join("obs.yaml");
    std::fs::write(&file, spec).unwrap();
    let checked = generator::check(&file).unwrap_or_else(|e| panic!("{e}"));
    let tree = generator::render(&checked).unwrap();
    generator::output::write(&tree, &dir.join("generated")).unwrap();
    // The scrape token is a deployment secret; the tools insist the file exists.
    let secrets = dir.join("generated/prometheus/secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("shop_metrics_token"), "token").unwrap();
    std::fs::write(secrets.join("mimir_token"), "token").unwrap();
}

#[test]
fn the_scale_out_runs_vmagents_victoriametrics_and_vmalert_in_prometheus_place() {
    let dir = tempfile::tempdir().unwrap();
    render_with(
        "    victoriametrics: {scrapers: 3, replication: 2, retention: 30d}\n",
        dir.path(),
    );
    let generated = dir.path().join("generated");
    let scrape = generated.join("prometheus/scrape.yml");
    let (ok, output) = run(
        "vmagent",
        &[
            "-promscrape.config",
            scrape.to_str().unwrap(),
            "-promscrape.config.dryRun",
            "-loggerLevel=ERROR",
        ],
    );
    assert!(ok, "vmagent refuses {}:\n{output}", scrape.display());
    let compose: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(generated.join("docker-compose.yml")).unwrap()).unwrap();
    let services = compose["services"].as_mapping().unwrap();
    assert!(!services.contains_key("prometheus"));
    let command = |name: &str| -> Vec<String> {
        compose["services"][name]["command"]
            .as_sequence()
            .unwrap_or_else(|| panic!("no {name} service"))
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    for member in 0..3 {
        let flags = command(&format!("vmagent-{member}"));
        assert!(
            flags.contains(&format!("-promscrape.cluster.memberNum={member}")),
            "{flags:?}"
        );
        assert!(
            flags.contains(&"-promscrape.cluster.membersCount=3".to_string()),
            "{flags:?}"
        );
        assert!(
            flags.contains(&"-promscrape.cluster.replicationFactor=2".to_string()),
            "{flags:?}"
        );
        let mounts = format!(
            "{:?}",
            compose["services"][format!("vmagent-{member}").as_str()]["volumes"]
        );
        assert!(
            mounts.contains("secrets/shop_metrics_token"),
            "the scrape token reaches every member: {mounts}"
        );
    }
    let store = command("victoriametrics");
    assert!(store.contains(&"-retentionPeriod=30d".to_string()), "{store:?}");
    assert!(store.contains(&"-dedup.minScrapeInterval=15s".to_string()), "{store:?}");
    let vmalert = command("vmalert");
    assert!(
        vmalert.contains(&"-external.label=environment=${SHOP_ENV:-staging}".to_string()),
        "{vmalert:?}"
    );
    assert!(
        vmalert.contains(&"-notifier.url=http://alertmanager:9093".to_string()),
        "{vmalert:?}"
    );
    let datasources =
        std::fs::read_to_string(generated.join("grafana/provisioning/datasources/datasources.yml")).unwrap();
    assert!(
        datasources.contains("url: http://victoriametrics:8428"),
        "{datasources}"
    );
    let (ok, output) = run(
        "vmalert",
        &[
            "-dryRun",
            &format!("-rule={}/prometheus/rules/*.yml", generated.display()),
        ],
    );
    assert!(ok, "{output}");
}

#[test]
fn vmalert_accepts_every_committed_rule_file() {
    let root = workspace();
    let mut trees = vec![root.join("generated")];
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let generated = entry.unwrap().path().join("generated");
        if generated.is_dir() {
            trees.push(generated);
        }
    }
    for generated in trees {
        let rules = format!("-rule={}/prometheus/rules/*.yml", generated.display());
        let (ok, output) = run("vmalert", &["-dryRun", "-loggerLevel=ERROR", &rules]);
        assert!(ok, "vmalert refuses {}:\n{output}", generated.display());
    }
    // And it does refuse a broken one: the check can fail.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: sum(rate(x[5m]) by\n",
    )
    .unwrap();
    let (ok, _) = run(
        "vmalert",
        &[
            "-dryRun",
            "-loggerLevel=ERROR",
            &format!("-rule={}/bad.yml", dir.path().display()),
        ],
    );
    assert!(!ok, "vmalert accepted a rule that does not parse");
}

#[test]
fn mimir_and_thanos_receivers_pass_promtool_with_their_tenant_headers() {
    let dir = tempfile::tempdir().unwrap();
    render_with(
        "    remote_write:\n      - {kind: mimir, url: 'http://mimir:9009/api/v1/push', tenant: checkout, bearer_token_file: secrets/mimir_token}\n      - {kind: thanos, url: 'http://thanos-receive:19291/api/v1/receive', tenant: checkout}\n      - {kind: prometheus, url: 'https://metrics.example.com/api/v1/write'}\n",
        dir.path(),
    );
    let config_path = dir.path().join("generated/prometheus/prometheus.yml");
    let (ok, output) = run("promtool", &["check", "config", config_path.to_str().unwrap()]);
    assert!(ok, "{output}");
    let config: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    let receivers = config["remote_write"].as_sequence().unwrap();
    assert_eq!(receivers.len(), 3);
    assert_eq!(receivers[0]["headers"]["X-Scope-OrgID"], "checkout");
    assert_eq!(receivers[0]["authorization"]["credentials_file"], "secrets/mimir_token");
    assert_eq!(receivers[1]["headers"]["THANOS-TENANT"], "checkout");
    assert!(receivers[2].get("headers").is_none());
    // Prometheus still runs the rules: nothing of the scale-out is rendered.
    assert!(!dir.path().join("generated/prometheus/scrape.yml").exists());
    assert!(config["rule_files"].as_sequence().is_some_and(|f| !f.is_empty()));
}
