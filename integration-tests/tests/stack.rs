//! The generated stack of the top-level obs.yaml against real software, once on Prometheus
//! 3.5 LTS and once on Debian's 2.42: two demo replicas (blue, green), Prometheus and
//! Alertmanager with the generated configuration (intervals
//! shortened and targets mapped to loopback in a test-only copy). Checks that both targets
//! are up; that every declared metric reaches Prometheus with its type and labels; that
//! every recording rule and every dashboard query returns data; that the live drift check
//! is clean; that an alert fires and reaches a webhook with the spec's labels and
//! annotations; and that `backtest` of the same rule files over what this Prometheus
//! recorded agrees with the `ALERTS` Prometheus wrote; and that `preview` draws every panel
//! of every generated dashboard from that Prometheus in headless Chromium.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use integration_tests::expect;
use integration_tests::*;
use runtime::http_client;
use tokio_tungstenite::tungstenite::Message;

async fn request(method: &str, url: &str, body: Option<&str>) -> u16 {
    let headers = [("Content-Type", "application/json"), ("X-Client", "e2e")];
    http_client::request(method, url, &headers, body.map(str::as_bytes), Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
        .status
}

/// HTTP, WebSocket and job traffic against one replica, including errors.
async fn drive_traffic(port: u16) {
    let base = format!("http://127.0.0.1:{port}");
    for i in 0..10 {
        assert_eq!(
            request(
                "POST",
                &format!("{base}/api/notes"),
                Some(&format!(r#"{{"text": "note {i}"}}"#))
            )
            .await,
            201
        );
        assert_eq!(request("GET", &format!("{base}/api/notes"), None).await, 200);
    }
    assert_eq!(
        request("POST", &format!("{base}/api/tasks"), Some(r#"{"text": "task"}"#)).await,
        201
    );
    assert_eq!(request("GET", &format!("{base}/api/notes/1"), None).await, 200);
    assert_eq!(request("GET", &format!("{base}/api/notes/9999"), None).await, 404);
    assert_eq!(request("GET", &format!("{base}/no/such/route"), None).await, 404);
    assert_eq!(request("GET", &format!("{base}/api/slow?ms=50"), None).await, 200);
    for _ in 0..3 {
        assert_eq!(request("GET", &format!("{base}/api/error"), None).await, 500);
    }
    for body in [
        r#"{"type": "email"}"#,
        r#"{"type": "report"}"#,
        r#"{"type": "report", "fail": true, "duration_ms": 10}"#,
    ] {
        assert_eq!(request("POST", &format!("{base}/api/jobs"), Some(body)).await, 202);
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws"))
        .await
        .unwrap();
    for i in 0..5 {
        socket.send(Message::Text(format!("hello {i}").into())).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
    socket.close(None).await.unwrap();
    let (vanishing, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws"))
        .await
        .unwrap();
    drop(vanishing);
}

/// The two runs share the machine's two cores; one at a time keeps their timings honest.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn generated_stack_scrapes_records_alerts_and_notifies_on_prometheus_3() {
    let _serial = ONE_AT_A_TIME.lock().await;
    generated_stack_scrapes_records_alerts_and_notifies(PrometheusBuild::Lts3).await;
}

#[tokio::test]
async fn generated_stack_scrapes_records_alerts_and_notifies_on_prometheus_2() {
    let _serial = ONE_AT_A_TIME.lock().await;
    generated_stack_scrapes_records_alerts_and_notifies(PrometheusBuild::Debian2).await;
}

async fn generated_stack_scrapes_records_alerts_and_notifies(build: PrometheusBuild) {
    let generated = workspace().join("generated");
    let spec = contract::load_file(&workspace().join("obs.yaml")).unwrap().spec;
    let resolved = contract::Resolved::of(&spec);
    let (blue_port, green_port, prometheus_port, alertmanager_port) =
        (free_port(), free_port(), free_port(), free_port());
    let webhook = Webhook::start().await;
    let am_config = alertmanager_config(&generated, &webhook.url);
    let prom_config = prometheus_config(
        &generated,
        &[
            ("app_blue:8000", format!("127.0.0.1:{blue_port}")),
            ("app_green:8000", format!("127.0.0.1:{green_port}")),
        ],
        &format!("127.0.0.1:{alertmanager_port}"),
        &[("NoActiveWebSocketConnections", "5s")],
    );
    let (blue, green, alertmanager) = tokio::join!(
        start_demo(blue_port, "blue"),
        start_demo(green_port, "green"),
        start_alertmanager(am_config.path(), alertmanager_port)
    );
    let prometheus_container = start_prometheus_on(build, prom_config.path(), prometheus_port, &[]).await;
    let prometheus = Prometheus::new(prometheus_port);
    let diagnose = || async {
        format!(
            "{}\n{}\n{}",
            logs(&prometheus_container).await,
            logs(&alertmanager).await,
            logs(&blue).await
        )
    };

    // 1. Both replicas are scraped.
    let up = eventually(Duration::from_secs(30), "both targets up", || async {
        let targets = prometheus.targets().await?;
        Ok((targets.len() == 2 && targets.iter().all(|(_, health)| health == "up")).then_some(targets))
    })
    .await;
    assert!(up.is_ok(), "{}\n{}", up.unwrap_err(), diagnose().await);
    let recording_from = now_ms();

    // 2. Traffic on both replicas, twice: a counter born in the first round has no increase
    // until it moves again (Prometheus takes a series' first sample as its start), so rates
    // and ratios over it only have values after the second. Then a few scrapes and rule
    // evaluations.
    tokio::join!(drive_traffic(blue_port), drive_traffic(green_port));
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::join!(drive_traffic(blue_port), drive_traffic(green_port));
    tokio::time::sleep(Duration::from_secs(6)).await;

    // Every declared metric arrives with its declared type and labels; every recording
    // rule and every dashboard query returns data; the live exposition matches the spec.
    expect::declared_metrics_scraped(&prometheus, &resolved, "app").await;
    assert!(expect::dashboard_queries(&generated).len() > 40);
    // Series only: panels over the demo's recorded rates read NaN this soon after the traffic.
    expect::rules_and_dashboards_return_data(&prometheus, &generated, &[], expect::Answer::Series).await;
    expect::exposition_matches_spec(&resolved, "app", &format!("http://127.0.0.1:{blue_port}/metrics")).await;

    // 3. No WebSocket is open any more: NoActiveWebSocketConnections fires (its `for` cut
    // to 5s in the test copy) and Alertmanager posts it to the webhook.
    let notification = eventually(
        Duration::from_secs(45),
        "NoActiveWebSocketConnections at the webhook",
        || async {
            let notifications = webhook.notifications().await;
            Ok(notifications
                .into_iter()
                .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
                .find(|a| a["labels"]["alertname"] == "NoActiveWebSocketConnections"))
        },
    )
    .await;
    let alert = match notification {
        Ok(alert) => alert,
        Err(error) => panic!(
            "{error}\nfiring: {:?}\n{}",
            prometheus.query("ALERTS").await,
            diagnose().await
        ),
    };
    let rule = spec
        .alerts
        .iter()
        .flat_map(|g| &g.rules)
        .find(|r| r.name == "NoActiveWebSocketConnections")
        .unwrap();
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["labels"]["severity"], "warning");
    assert_eq!(alert["labels"]["service"], "ws-counter");
    assert_eq!(alert["labels"]["team"], "platform");
    assert_eq!(
        alert["labels"]["environment"], "e2e",
        "external label expanded from APP_ENV"
    );
    assert_eq!(alert["annotations"]["summary"], rule.summary.as_str());
    assert_eq!(
        alert["annotations"]["description"],
        rule.description.as_deref().unwrap()
    );
    assert_eq!(
        alert["annotations"]["runbook_url"],
        "https://runbooks.example.com/ws-counter/NoActiveWebSocketConnections"
    );

    // 4. Backtest: the rule files this Prometheus ran, replayed over what it recorded,
    // fire where its own ALERTS say it fired, within one evaluation step (1 s here).
    let to = now_ms();
    let rule_files: Vec<std::path::PathBuf> = ["alerts.yml", "slos.yml"]
        .iter()
        .map(|file| prom_config.path().join("rules").join(file))
        .filter(|path| path.exists())
        .collect();
    let rules = generator::backtest::rules_from_files(&rule_files, contract::Duration::from_secs(1)).unwrap();
    let options = generator::backtest::Options {
        prometheus: prometheus.base.clone(),
        from_ms: recording_from,
        to_ms: to,
        timeout: Duration::from_secs(30),
    };
    let recorded_names: Vec<String> = resolved.rules.recorded_names().map(String::from).collect();
    let report = generator::backtest::run(&rules, &recorded_names, spec.alertmanager.as_ref(), &options)
        .await
        .unwrap();
    assert!(report.failed().is_empty(), "{}", report.table());
    let no_sockets = report
        .alerts
        .iter()
        .find(|a| a.name == "NoActiveWebSocketConnections")
        .unwrap();
    assert!(!no_sockets.fired().is_empty(), "{}", report.table());
    let firings = alert_history::firings(&prometheus, recording_from, to, 1000).await;
    assert!(
        alert_history::assert_agrees(&report, &firings, 1000) >= 1,
        "{}\n{firings:#?}",
        report.table()
    );

    // 5. Preview: each generated dashboard opened in headless Chromium against this
    // Prometheus; every panel that reads Prometheus drew data, Loki's log panels say why not.
    let checked = generator::check(&workspace().join("obs.yaml")).unwrap();
    let dashboards = generator::preview::dashboards(&generator::render(&checked).unwrap()).unwrap();
    assert_eq!(dashboards.len(), 2);
    let uids: Vec<String> = dashboards.iter().map(|d| d.uid.clone()).collect();
    let preview_port = browser::serve_preview(dashboards, &prometheus.base).await;
    for uid in &uids {
        let drawn = browser::assert_every_panel_drawn(preview_port, uid).await;
        assert!(drawn >= 4, "{uid}: {drawn} panels");
        if let Some(dir) = std::env::var_os("OBS_PREVIEW_SCREENSHOTS") {
            let path = std::path::Path::new(&dir).join(format!("{uid}.png"));
            let url = format!("http://127.0.0.1:{preview_port}/#{uid}&range=5m&refresh=off");
            tokio::task::spawn_blocking(move || browser::screenshot(&url, 30_000, &path))
                .await
                .unwrap();
        }
    }
    // Against a Prometheus that is not there, each panel says so instead of staying blank.
    let gone = format!("http://127.0.0.1:{}", free_port());
    let dashboards = generator::preview::dashboards(&generator::render(&checked).unwrap()).unwrap();
    let broken_port = browser::serve_preview(dashboards, &gone).await;
    let url = format!("http://127.0.0.1:{broken_port}/#ws-overview&refresh=off");
    let dom = tokio::task::spawn_blocking(move || browser::dom(&url, 30_000))
        .await
        .unwrap();
    let panels = browser::panels(&dom);
    assert!(!panels.is_empty());
    for panel in &panels {
        assert_eq!(panel.state, "error", "{panel:#?}");
        assert!(
            panel.message.contains(&format!("cannot reach Prometheus at {gone}")),
            "{panel:#?}"
        );
    }
    drop(green);
}
