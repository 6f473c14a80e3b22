//! The VictoriaMetrics scale-out end to end: seed 000's spec (`examples/ws-blue-green`)
//! with `stack.storage.victoriametrics` (two vmagent members, each scraping every target),
//! rendered by the generator into a fresh directory and brought up with docker-compose on
//! local images of Debian's victoria-metrics, vmagent and vmalert. Checks that every series
//! of both replicas arrives exactly once (as many series as the two expositions hold, and
//! no more samples per series than one scraper would write), that vmalert evaluates the
//! recording rules into VictoriaMetrics and every dashboard query answers there, that the
//! seed's alert fires in vmalert and reaches the generated Alertmanager's receiver with the
//! labels Prometheus would give it, and that with one scraper stopped both targets' data
//! keeps flowing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use integration_tests::compose::{Stack, Tuning};
use integration_tests::*;

const REPLICAS: [&str; 2] = ["app_blue", "app_green"];
const PORT: u16 = 8000;
const VICTORIAMETRICS_PORT: u16 = 8428;

/// ws-blue-green's obs.yaml with the scale-out asked for, rendered into `dir/generated`.
fn render_scale_out(dir: &std::path::Path) -> (contract::Spec, std::path::PathBuf) {
    let spec = std::fs::read_to_string(workspace().join("examples/ws-blue-green/obs.yaml")).unwrap();
    let scaled = spec.replacen(
        "\nstack:\n",
        "\nstack:\n  storage:\n    victoriametrics: {scrapers: 2, replication: 2}\n",
        1,
    );
    assert_ne!(
        scaled, spec,
        "ws-blue-green's obs.yaml has no `stack:` section to extend"
    );
    let file = dir.join("obs.yaml");
    std::fs::write(&file, scaled).unwrap();
    let out = dir.join("generated");
    let (checked, _) = generator::generate(&file, &out).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.join("prometheus/scrape.yml").is_file());
    (checked.loaded.spec, out)
}

/// The metric name of every series of a text exposition, one per data line.
fn series_names(exposition: &str) -> Vec<String> {
    exposition
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.split(['{', ' ']).next().unwrap_or_default().to_string())
        .collect()
}

/// How many series of each metric name a selector finds in the store.
async fn stored_series(store: &Prometheus, selector: &str) -> Result<BTreeMap<String, usize>, String> {
    let result = store.query(&format!("count by (__name__) ({selector})")).await?;
    Ok(result
        .iter()
        .map(|r| {
            let name = r["metric"]["__name__"].as_str().unwrap_or_default().to_string();
            let count = r["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
            (name, count as usize)
        })
        .collect())
}

async fn series_count(store: &Prometheus, expr: &str) -> Result<usize, String> {
    let result = store.query(expr).await?;
    Ok(result
        .first()
        .and_then(|r| r["value"][1].as_str())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0) as usize)
}

#[tokio::test]
async fn two_scrapers_feed_victoriametrics_once_vmalert_alerts_and_one_scraper_may_stop() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, generated) = render_scale_out(dir.path());
    let compose = std::fs::read_to_string(generated.join("docker-compose.yml")).unwrap();
    assert!(
        !compose.contains("prom/prometheus"),
        "no Prometheus runs beside VictoriaMetrics"
    );
    let heartbeat = |replica: &str| (replica.to_string(), "HEARTBEAT_INTERVAL_SECONDS".into(), "1".into());
    let tuning = Tuning {
        fast_alerts: vec![("NoActiveWebSocketConnections".into(), "5s".into())],
        service_env: REPLICAS.iter().map(|r| heartbeat(r)).collect(),
        ..Tuning::default()
    };
    let stack = Stack::prepare(&generated, tuning);
    stack.up(
        spec.stack.profile.as_deref(),
        &[
            "app_blue",
            "app_green",
            "victoriametrics",
            "vmagent-0",
            "vmagent-1",
            "vmalert",
            "alertmanager",
            "pushgateway",
        ],
    );
    for replica in REPLICAS {
        stack.wait_healthy(replica, Duration::from_secs(90)).await;
    }
    let store = Prometheus::new(stack.port("victoriametrics", VICTORIAMETRICS_PORT));
    let job = "ws-app";
    let up = eventually(
        Duration::from_secs(60),
        "both replicas up in VictoriaMetrics",
        || async {
            let up = series_count(&store, &format!(r#"sum(up{{job="{job}"}})"#)).await?;
            Ok((up == REPLICAS.len()).then_some(()))
        },
    )
    .await;
    up.unwrap_or_else(|e| panic!("{e}\n{}", stack.logs(None)));
    for replica in REPLICAS {
        websocket_load(&format!("ws://127.0.0.1:{}/ws", stack.port(replica, PORT))).await;
    }
    // Quiet: no traffic from here on, so the expositions stop gaining series.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Every series stored, none twice under a per-scraper label (those the Pushgateway holds
    // for the job have no instance): per metric name, as many series as both expositions
    // hold, and one of each series a scrape adds per target (`up`, `scrape_*`). Replicated
    // scrapes share label sets, so their duplicates are samples: counted below.
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for url in stack.urls(&REPLICAS, PORT, "/metrics") {
        let text = generator::drift::fetch_async(&url, Duration::from_secs(10))
            .await
            .unwrap();
        for name in series_names(&text) {
            *expected.entry(name).or_default() += 1;
        }
    }
    let stored = eventually(Duration::from_secs(30), "every exposed series stored once", || async {
        let mut stored = stored_series(&store, &format!(r#"{{job="{job}", instance!=""}}"#)).await?;
        stored.retain(|name, count| !(name == "up" || name.starts_with("scrape_")) || *count != REPLICAS.len());
        if stored == expected {
            return Ok(Some(()));
        }
        let differ: Vec<String> = stored
            .keys()
            .chain(expected.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|name| stored.get(*name) != expected.get(*name))
            .map(|name| {
                format!(
                    "{name}: {:?} stored, {:?} exposed",
                    stored.get(name),
                    expected.get(name)
                )
            })
            .collect();
        Err(differ.join("; "))
    })
    .await;
    stored.unwrap_or_else(|e| panic!("{e}\n{}", stack.logs(Some("vmagent-0"))));
    // Both members scrape every target each second; deduplication keeps one sample per
    // series per second, so 20 s hold at most about 20 samples, not 40.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let per_series = store
        .query(&format!(r#"max(count_over_time(up{{job="{job}"}}[20s]))"#))
        .await
        .unwrap();
    let samples: f64 = per_series[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(
        (10.0..=23.0).contains(&samples),
        "{samples} samples of `up` in 20 s at one per second"
    );

    // vmalert's recording rules land in VictoriaMetrics; every dashboard query answers.
    let still = [("sigiq_shutdown_time_seconds", "set during a graceful shutdown")];
    let answered = eventually(
        Duration::from_secs(30),
        "recording rules in VictoriaMetrics",
        || async {
            for record in expect::recorded_series(&generated) {
                if store.query(&record).await?.is_empty() {
                    return Err(format!("{record} not recorded yet"));
                }
            }
            Ok(Some(()))
        },
    )
    .await;
    answered.unwrap_or_else(|e| panic!("{e}\n{}", stack.logs(Some("vmalert"))));
    expect::rules_and_dashboards_return_data(&store, &generated, &still, expect::Answer::Series).await;

    // No replica has a client: vmalert fires the seed's alert and the generated
    // Alertmanager delivers it, with the labels Prometheus' external labels would add.
    let notification = stack
        .delivered("NoActiveWebSocketConnections", Duration::from_secs(60), Some("vmalert"))
        .await;
    assert_eq!(notification["receiver"], "investigation", "{notification}");
    assert_eq!(notification["commonLabels"]["service"], "ws-app", "{notification}");
    assert_eq!(
        notification["commonLabels"]["environment"], "development",
        "{notification}"
    );
    let state = eventually(
        Duration::from_secs(15),
        "the alert's state in VictoriaMetrics",
        || async {
            let firing = store.firing("NoActiveWebSocketConnections").await?;
            Ok((!firing.is_empty()).then_some(firing))
        },
    )
    .await;
    let state = state.unwrap_or_else(|e| panic!("{e}\n{}", stack.logs(Some("vmalert"))));
    assert_eq!(state[0]["metric"]["service"], "ws-app", "{state:?}");

    // One scraper stops: the other still scrapes both replicas, so fresh samples keep coming.
    stack.stop("vmagent-0", Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let fresh = eventually(
        Duration::from_secs(20),
        "both replicas fresh with one scraper",
        || async {
            let recent = store
                .query(&format!(r#"count_over_time(up{{job="{job}"}}[3s]) > 0"#))
                .await?;
            Ok((recent.len() == REPLICAS.len()).then_some(()))
        },
    )
    .await;
    fresh.unwrap_or_else(|e| panic!("{e}\n{}", stack.logs(Some("vmagent-1"))));
}
