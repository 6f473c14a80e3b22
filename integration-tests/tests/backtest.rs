//! `generator backtest` against a real Prometheus (the local image of Debian's binary),
//! cross-checked with Prometheus itself: a loopback target whose backlog rises and falls on
//! a schedule is scraped every 500 ms while Prometheus evaluates the spec's alerts every
//! 2 s; afterwards the backtest replays the same alerts over the stored data, and every
//! firing stretch Prometheus recorded in `ALERTS` must be one of the backtest's episodes,
//! starting and resolving within one evaluation step, and nothing more. A broken rule is
//! reported in its row, the others still replayed.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::routing::get;
use generator::backtest::{self, Options};
use integration_tests::alert_history::{assert_agrees, firings};
use integration_tests::{free_port, now_ms, start_prometheus, Prometheus};

const SPEC: &str = r#"
service: {name: queues}
metrics:
  custom:
    - name: queue_backlog
      type: gauge
      help: Jobs waiting in a queue.
      labels:
        - {name: queue, values: [a, b]}
alerts:
  - group: backlog
    rules:
      - name: BacklogHigh
        threshold: {query: queue_backlog, above: 10}
        for: 4s
        severity: warning
        summary: A queue holds more than ten jobs.
        description: "Queue {{ $labels.queue }} is backed up."
      - name: AnyBacklog
        expr: max(queue_backlog) > 10
        severity: warning
        summary: Some queue is backed up.
        description: The largest backlog is above ten.
      - name: BacklogHuge
        threshold: {query: queue_backlog, above: 1000}
        for: 2s
        severity: critical
        summary: A queue holds more than a thousand jobs.
        description: Never reached in this test.
stack:
  prometheus:
    scrape_interval: 500ms
    evaluation_interval: 2s
"#;

/// Backlog of each queue `elapsed` seconds after the target started.
fn backlog(elapsed: f64) -> (u32, u32) {
    let a = if (6.0..20.0).contains(&elapsed) || (30.0..42.0).contains(&elapsed) {
        25
    } else {
        2
    };
    let b = if (12.0..26.0).contains(&elapsed) { 40 } else { 1 };
    (a, b)
}

#[tokio::test]
async fn backtest_agrees_with_prometheus_evaluating_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("obs.yaml");
    std::fs::write(&spec_path, SPEC).unwrap();
    let checked = generator::check(&spec_path).unwrap();
    let tree = generator::render(&checked).unwrap();

    // The target: a queue backlog that follows `backlog` once the schedule starts (after
    // Prometheus scrapes it), quiet before.
    let schedule: Arc<OnceLock<Instant>> = Arc::default();
    let clock = schedule.clone();
    let target_port = free_port();
    let app = axum::Router::new().route(
        "/metrics",
        get(move || async move {
            let (a, b) = match clock.get() {
                Some(started) => backlog(started.elapsed().as_secs_f64()),
                None => (2, 1),
            };
            format!("# HELP queue_backlog Jobs waiting.\n# TYPE queue_backlog gauge\nqueue_backlog{{queue=\"a\"}} {a}\nqueue_backlog{{queue=\"b\"}} {b}\n")
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", target_port)).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Prometheus with the spec's rendered alert rules, scraping the target.
    let config = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(config.path().join("rules")).unwrap();
    let alerts_file = tree
        .files
        .get("prometheus/rules/alerts.yml")
        .expect("the spec renders alert rules");
    std::fs::write(config.path().join("rules/alerts.yml"), alerts_file).unwrap();
    std::fs::write(
        config.path().join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 500ms, evaluation_interval: 2s}}\nrule_files: [rules/alerts.yml]\nscrape_configs:\n  - job_name: queues\n    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
        ),
    )
    .unwrap();
    let prometheus_port = free_port();
    let _container = start_prometheus(config.path(), prometheus_port).await;
    let prometheus = Prometheus::new(prometheus_port);
    prometheus.wait_targets_up(1, Duration::from_secs(30)).await.unwrap();

    // The schedule runs 42 s, and 6 s more for the last resolution to be recorded.
    let from = now_ms();
    schedule.set(Instant::now()).unwrap();
    tokio::time::sleep(Duration::from_secs(48)).await;
    let to = now_ms();

    let rules = backtest::rules_from_spec(&checked, backtest::default_interval(&checked.loaded.spec));
    assert_eq!(rules.len(), 3);
    assert!(rules.iter().all(|r| r.interval_ms == 2_000));
    let options = Options {
        prometheus: prometheus.base.clone(),
        from_ms: from,
        to_ms: to,
        timeout: Duration::from_secs(30),
    };
    let report = backtest::run(&rules, &[], checked.loaded.spec.alertmanager.as_ref(), &options)
        .await
        .unwrap();
    let recorded = firings(&prometheus, from, to, 2_000).await;
    println!("{}\n{recorded:#?}", report.table());

    // Three stretches of BacklogHigh (a twice, b once) and two of AnyBacklog (a and b
    // overlap into one, then a again); BacklogHuge never fires.
    let high = report.alerts.iter().find(|a| a.name == "BacklogHigh").unwrap();
    assert_eq!(high.fired().len(), 3, "{}", report.table());
    let any = report.alerts.iter().find(|a| a.name == "AnyBacklog").unwrap();
    assert_eq!(any.fired().len(), 2, "{}", report.table());
    let never: Vec<&str> = report.never_fired().iter().map(|a| a.name.as_str()).collect();
    assert_eq!(never, ["BacklogHuge"]);
    assert_eq!(
        recorded.iter().filter(|f| f.alertname != "BacklogHuge").count(),
        5,
        "Prometheus's own record: {recorded:#?}"
    );
    assert_eq!(assert_agrees(&report, &recorded, 2_000), 5);
    let markdown = report.markdown();
    assert!(markdown.contains("| BacklogHigh | warning | 3 |"), "{markdown}");
    assert_eq!(report.json()["never_fired"][0], "BacklogHuge");

    // A rule Prometheus refuses is reported in its row; the others are still replayed.
    let broken = dir.path().join("broken.yml");
    std::fs::write(
        &broken,
        "groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: rate(queue_backlog[1m]\n      - alert: Fine\n        expr: queue_backlog > 10\n",
    )
    .unwrap();
    let rules = backtest::rules_from_files(&[broken], contract::Duration::from_secs(2)).unwrap();
    let report = backtest::run(&rules, &[], None, &options).await.unwrap();
    let failed = report.failed();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0.name, "Broken");
    assert!(
        failed[0].1.contains("Prometheus refused `rate(queue_backlog[1m]`"),
        "{}",
        failed[0].1
    );
    assert!(
        report.table().contains("Broken could not be evaluated"),
        "{}",
        report.table()
    );
    assert!(!report.alerts[1].fired().is_empty());
}
