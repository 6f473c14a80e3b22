//! The two binaries as an operator runs them, with nothing but `--spec`: they find the
//! service's port, probe paths, metrics path and defaults in its obs.yaml. The service is
//! the runtime itself serving that spec on a loopback port. Bounded in time.

use std::process::Command;
use std::time::Duration;

use runtime::{Observability, ServiceConfig};

/// Serves the spec `yaml_for_port` writes for a free port; returns the spec file.
async fn service(dir: &std::path::Path, yaml_for_port: impl Fn(u16) -> String) -> std::path::PathBuf {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let path = dir.join("obs.yaml");
    std::fs::write(&path, yaml_for_port(port)).unwrap();
    let spec = contract::load_file(&path).unwrap().spec;
    let config = ServiceConfig::resolve(spec, |_| None).unwrap();
    let obs = Observability::new(config, |_| None).unwrap();
    tokio::spawn(runtime::serve_on(obs.clone(), axum::Router::new(), obs, listener, None));
    path
}

/// Seed 001's trailing-slash paths, so defaults that ignored the spec would miss them.
fn spec_yaml(port: u16) -> String {
    format!(
        "service: {{name: probe-paths, port: {port}}}\n\
         metrics:\n  endpoint: {{path: /metrics/}}\n  builtin: {{http: {{}}}}\n\
         health:\n  liveness: {{path: /healthz/}}\n  readiness: {{path: /readyz/}}\n\
         monitor: {{interval: 300ms, duration: 2s}}\n"
    )
}

#[tokio::test]
async fn loadtest_takes_its_http_target_from_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let spec = service(dir.path(), spec_yaml).await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args([
            "--spec",
            spec.to_str().unwrap(),
            "--mode",
            "http",
            "--duration",
            "1",
            "--concurrency",
            "2",
            "--json",
        ])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let target = summary["target"].as_str().unwrap();
    assert!(
        target.starts_with("http://127.0.0.1:") && target.ends_with("/healthz/"),
        "{summary}"
    );
    assert!(summary["status"]["200"].as_u64().unwrap() > 10, "{summary}");
    assert_eq!(summary["connections_opened"], 2, "{summary}");
}

#[tokio::test]
async fn monitor_probes_and_scrapes_the_paths_the_spec_names() {
    let dir = tempfile::tempdir().unwrap();
    let spec = service(dir.path(), spec_yaml).await;
    let output = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_monitor"))
            .args(["--spec", spec.to_str().unwrap()])
            .output(),
    )
    .await
    .expect("the monitor stops after the spec's 2s")
    .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("liveness 200") && text.contains("readiness 200"),
        "{text}"
    );
    assert!(
        text.contains("first snapshot"),
        "/metrics/ answered 200 on the spec's port: {text}"
    );
    assert!(
        !text.contains("metrics answered") && !text.contains("unreachable"),
        "{text}"
    );
}

#[test]
fn without_a_spec_the_tools_say_how_to_name_one() {
    let dir = tempfile::tempdir().unwrap();
    for bin in [env!("CARGO_BIN_EXE_loadtest"), env!("CARGO_BIN_EXE_monitor")] {
        let output = Command::new(bin).current_dir(dir.path()).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{bin}");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains("--spec FILE"), "{bin}: {said}");
    }
}
