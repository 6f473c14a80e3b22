//! `generator backtest` on the command line, without a Prometheus: each way it can fail
//! says what went wrong and exits 2. The replay against a real Prometheus, cross-checked
//! with Prometheus's own `ALERTS`, is `integration-tests/tests/backtest.rs` (and the demo's
//! stack test).

mod common;

use std::net::TcpListener;
use std::path::PathBuf;

use common::{generator, stderr};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn an_unreachable_prometheus_is_one_clear_error() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{closed}");
    let output = generator(&["backtest", "--prometheus", &url, "--from", "now-1h"], &workspace());
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(
        text.starts_with(&format!("error: cannot reach Prometheus at {url}")),
        "{text}"
    );
    assert!(text.to_lowercase().contains("connect"), "{text}");
}

#[test]
fn bad_arguments_say_which_and_why() {
    let url = "http://127.0.0.1:9";
    let text = stderr(&generator(
        &["backtest", "--prometheus", url, "--from", "yesterday"],
        &workspace(),
    ));
    assert!(
        text.contains("--from `yesterday`: expected now, now-<duration>"),
        "{text}"
    );
    let text = stderr(&generator(
        &[
            "backtest",
            "--prometheus",
            url,
            "--from",
            "now-1h",
            "--alert",
            "ServiceDwn",
        ],
        &workspace(),
    ));
    assert!(
        text.contains("no alert is named `ServiceDwn`; did you mean `ServiceDown`?"),
        "{text}"
    );
    let text = stderr(&generator(
        &["backtest", "--prometheus", url, "--from", "now", "--to", "now-1h"],
        &workspace(),
    ));
    assert!(text.contains("must be after --from"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups: [{name: g, rules: [{alert: A, expr: up, for: soon}]}]\n",
    )
    .unwrap();
    let rules = dir.path().join("rules.yml");
    let text = stderr(&generator(
        &[
            "backtest",
            "--prometheus",
            url,
            "--from",
            "now-1h",
            "--rules",
            rules.to_str().unwrap(),
        ],
        &workspace(),
    ));
    assert!(
        text.contains("rules.yml: groups[0].rules[0].for: `soon` is not a duration"),
        "{text}"
    );
}
