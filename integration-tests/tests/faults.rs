//! Faults injected into the demo's generated stack, one after another: a replica killed
//! with SIGKILL (the other keeps serving; the generated ServiceDown alert fires for the
//! dead one, naming it), Alertmanager down while an alert starts firing and then back (the
//! notification still arrives), and Prometheus restarted (the rules load again, the alerts
//! that were firing fire again, no rule evaluation fails). Every wait is bounded.

use std::time::Duration;

use integration_tests::*;
use runtime::http_client;
use serde_json::Value;

/// Kills a container's process at once, as the kernel's OOM killer or a crash would.
fn sigkill(container: &testcontainers::ContainerAsync<testcontainers::GenericImage>) {
    let status = std::process::Command::new("docker")
        .args(["kill", "--signal", "KILL", container.id()])
        .status()
        .expect("docker runs");
    assert!(status.success(), "docker kill failed");
}

/// The test copy of Alertmanager's config sends the pager receiver (critical alerts such as
/// ServiceDown) to the webhook too: PagerDuty is not reachable from a test.
fn pager_to_webhook(config: &std::path::Path, webhook: &str) {
    let path = config.join("alertmanager.yml");
    let mut yaml: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for receiver in yaml["receivers"].as_sequence_mut().into_iter().flatten() {
        if let Some(map) = receiver.as_mapping_mut() {
            if map.remove("pagerduty_configs").is_some() {
                let hook: serde_yaml::Value = serde_yaml::from_str(&format!("[{{url: '{webhook}'}}]")).unwrap();
                map.insert("webhook_configs".into(), hook);
            }
        }
    }
    std::fs::write(&path, serde_yaml::to_string(&yaml).unwrap()).unwrap();
}

/// The ServiceDown alerts the webhook received, as `(status, instance)`.
async fn service_down_notices(webhook: &Webhook) -> Vec<(String, String)> {
    webhook
        .notifications()
        .await
        .into_iter()
        .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["labels"]["alertname"] == "ServiceDown")
        .map(|a| {
            (
                a["status"].as_str().unwrap_or_default().to_string(),
                a["labels"]["instance"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The sum of one of Prometheus's own counters over its series, read from its `/metrics`
/// (the generated config does not scrape Prometheus itself). `None` when it is not there.
async fn own_counter(prometheus: &Prometheus, name: &str) -> Option<f64> {
    let response = http_client::get(&format!("{}/metrics", prometheus.base), Duration::from_secs(5))
        .await
        .ok()?;
    let text = response.text();
    let values: Vec<f64> = text
        .lines()
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with(['{', ' ']))
        .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

async fn firing_instances(prometheus: &Prometheus) -> Vec<String> {
    let mut instances: Vec<String> = prometheus
        .firing("ServiceDown")
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|a: &Value| a["metric"]["instance"].as_str().map(String::from))
        .collect();
    instances.sort();
    instances
}

#[tokio::test]
async fn the_stack_survives_a_killed_replica_an_alertmanager_outage_and_a_prometheus_restart() {
    let generated = workspace().join("generated");
    let (blue_port, green_port, prometheus_port, alertmanager_port) =
        (free_port(), free_port(), free_port(), free_port());
    let (blue_at, green_at) = (format!("127.0.0.1:{blue_port}"), format!("127.0.0.1:{green_port}"));
    let webhook = Webhook::start().await;
    let am_config = alertmanager_config(&generated, &webhook.url);
    pager_to_webhook(am_config.path(), &webhook.url);
    let prom_config = prometheus_config(
        &generated,
        &[("app_blue:8000", blue_at.clone()), ("app_green:8000", green_at.clone())],
        &format!("127.0.0.1:{alertmanager_port}"),
        &[("ServiceDown", "2s")],
    );
    let (blue, green, alertmanager) = tokio::join!(
        start_demo(blue_port, "blue"),
        start_demo(green_port, "green"),
        start_alertmanager(am_config.path(), alertmanager_port)
    );
    // Firing alerts are re-sent every 2 s instead of every minute, so the outage test waits
    // seconds, not a minute, for Prometheus to try again.
    let prometheus_container =
        start_prometheus_with(prom_config.path(), prometheus_port, &["--rules.alert.resend-delay=2s"]).await;
    let prometheus = Prometheus::new(prometheus_port);
    prometheus
        .wait_targets_up(2, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rule_groups = prometheus.api("/api/v1/rules").await.unwrap()["groups"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    assert!(rule_groups > 0, "the generated rules are loaded");

    // 1. Blue is killed outright: green keeps answering, ServiceDown fires naming blue only.
    sigkill(&blue);
    let health = http_client::get(&format!("http://{green_at}/healthz"), Duration::from_secs(5))
        .await
        .expect("green answers while blue is dead");
    assert_eq!(health.status, 200);
    let notice = match eventually(
        Duration::from_secs(45),
        "ServiceDown for blue at the webhook",
        || async {
            let notices = service_down_notices(&webhook).await;
            Ok(notices
                .iter()
                .any(|(status, instance)| status == "firing" && *instance == blue_at)
                .then_some(notices))
        },
    )
    .await
    {
        Ok(found) => found,
        Err(error) => panic!("{error}\n{}", logs(&prometheus_container).await),
    };
    assert!(
        !notice.iter().any(|(_, instance)| *instance == green_at),
        "green is alive and must not be reported: {notice:?}"
    );

    // 2. Alertmanager goes down, then green dies: the alert fires with nobody to tell.
    alertmanager.stop_with_timeout(Some(5)).await.unwrap();
    sigkill(&green);
    eventually(
        Duration::from_secs(45),
        "ServiceDown firing for green in Prometheus",
        || async { Ok(firing_instances(&prometheus).await.contains(&green_at).then_some(())) },
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(30), "Prometheus failing to notify", || async {
        let errors = own_counter(&prometheus, "prometheus_notifications_errors_total").await;
        Ok(errors.filter(|errors| *errors > 0.0))
    })
    .await
    .unwrap();
    assert!(
        !service_down_notices(&webhook).await.iter().any(|(_, i)| *i == green_at),
        "nothing can have reached the webhook yet"
    );
    // Alertmanager is back: Prometheus's next resend delivers the alert after all.
    alertmanager.start().await.unwrap();
    if let Err(error) = eventually(
        Duration::from_secs(60),
        "ServiceDown for green after the outage",
        || async {
            let notices = service_down_notices(&webhook).await;
            Ok(notices
                .iter()
                .any(|(status, i)| status == "firing" && *i == green_at)
                .then_some(()))
        },
    )
    .await
    {
        panic!("{error}\n{}", logs(&alertmanager).await);
    }

    // 3. Prometheus restarts: its rules load again, both alerts fire again, nothing fails.
    prometheus_container.stop_with_timeout(Some(10)).await.unwrap();
    prometheus_container.start().await.unwrap();
    eventually(Duration::from_secs(60), "Prometheus back with its rules", || async {
        let groups = prometheus
            .api("/api/v1/rules")
            .await
            .ok()
            .and_then(|r| r["groups"].as_array().map(Vec::len));
        Ok((groups == Some(rule_groups)).then_some(()))
    })
    .await
    .unwrap();
    let both = {
        let mut both = vec![blue_at.clone(), green_at.clone()];
        both.sort();
        both
    };
    if let Err(error) = eventually(
        Duration::from_secs(60),
        "ServiceDown firing again for both replicas",
        || async { Ok((firing_instances(&prometheus).await == both).then_some(())) },
    )
    .await
    {
        panic!("{error}\n{}", logs(&prometheus_container).await);
    }
    let failures = own_counter(&prometheus, "prometheus_rule_evaluation_failures_total").await;
    assert_eq!(
        failures,
        Some(0.0),
        "rule evaluations failed after the restart (or no such counter)"
    );
}
