//! Native histograms end to end. The runtime serves the fixture spec
//! (generator/tests/fixtures/native-histograms.good.yaml: the HTTP group's request duration native
//! only, a custom histogram native with classic buckets beside) on loopback, and Prometheus
//! scrapes it with the generated configuration and feature flags, over protobuf. On 3.5 LTS:
//! the histograms arrive native (the custom one's classic buckets too), every recording
//! rule and dashboard query returns data, and a slow route makes the latency SLO's page
//! alert fire. On Debian's 2.42 the same spec, targeting 2.42 and native only (2.42 cannot
//! keep classic buckets beside), does the same.

use std::path::PathBuf;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use contract::prometheus_version::PrometheusVersion;
use integration_tests::*;
use runtime::{Observability, ServiceConfig};

const CLASSIC_BESIDE: &str = "      buckets: [0.1, 0.25, 0.5, 1]\n";

fn fixture() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../generator/tests/fixtures/native-histograms.good.yaml"),
    )
    .unwrap()
}

/// The runtime serving `spec` on a loopback port: `/api/orders` slower than the SLO's 250ms,
/// `/api/payments` fast and recording payment latencies, `/api/broken` failing (so the
/// recorded HTTP error ratio has errors to count).
async fn serve(spec: contract::Spec) -> (u16, Observability) {
    let config = ServiceConfig::resolve(spec, |_| None).unwrap();
    let obs = Observability::new(config, |_| None).unwrap();
    let payments = obs
        .registry
        .histogram("checkout_payment_duration_seconds", &["provider"])
        .unwrap();
    let routes = Router::new()
        .route(
            "/api/orders",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "ordered"
            }),
        )
        .route(
            "/api/broken",
            get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "broken") }),
        )
        .route(
            "/api/payments",
            get(move || {
                let payments = payments.clone();
                async move {
                    for (i, seconds) in [0.05, 0.12, 0.3, 0.7].iter().enumerate() {
                        payments
                            .with(&[if i % 2 == 0 { "card" } else { "wallet" }])
                            .observe(*seconds);
                    }
                    "paid"
                }
            }),
        );
    let app = runtime::server::app(&obs, routes, obs.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, obs)
}

/// Requests for `rounds` seconds: eight slow orders at a time, payments, and a failure.
async fn traffic(port: u16, rounds: u32) {
    let orders_url = format!("http://127.0.0.1:{port}/api/orders");
    let payments_url = format!("http://127.0.0.1:{port}/api/payments");
    let broken_url = format!("http://127.0.0.1:{port}/api/broken");
    for _ in 0..rounds {
        let orders = (0..8).map(|_| runtime::http_client::get(&orders_url, Duration::from_secs(5)));
        let payments = runtime::http_client::get(&payments_url, Duration::from_secs(5));
        let (orders, payment) = tokio::join!(futures_util::future::join_all(orders), payments);
        for answer in orders {
            assert_eq!(answer.unwrap().status, 200);
        }
        assert_eq!(payment.unwrap().status, 200);
        let failed = runtime::http_client::get(&broken_url, Duration::from_secs(5)).await;
        assert_eq!(failed.unwrap().status, 500);
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
}

async fn native_latency_slo_fires(build: PrometheusBuild, version: PrometheusVersion) {
    let mut text = fixture();
    if version < PrometheusVersion::CLASSIC_BESIDE_NATIVE {
        assert!(text.contains(CLASSIC_BESIDE));
        text = text.replace(CLASSIC_BESIDE, "");
    }
    text.push_str(&format!("\nstack:\n  prometheus:\n    version: \"{version}\"\n"));
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("obs.yaml");
    std::fs::write(&spec_path, &text).unwrap();
    let checked = generator::check(&spec_path).unwrap();
    let generated = dir.path().join("generated");
    generator::output::write(&generator::render(&checked).unwrap(), &generated).unwrap();
    let spec = contract::load_file(&spec_path).unwrap().spec;
    let resolved = contract::Resolved::of(&spec);
    assert!(resolved.stack.native_histograms);

    let (app_port, _obs) = serve(spec.clone()).await;
    let prometheus_port = free_port();
    let component = &resolved.components[0];
    let target = format!("{}:{}", component.container, component.metrics_port);
    let config = prometheus_config(
        &generated,
        &[(target.as_str(), format!("127.0.0.1:{app_port}"))],
        &format!("127.0.0.1:{}", free_port()),
        &[],
    );
    // The flags the generated compose command gives this release, beyond those every run
    // of `build` carries.
    let every_run = build.feature_flags();
    let flags = generator::targets::compose::prometheus_feature_flags(version, true);
    let flags: Vec<&str> = flags
        .iter()
        .filter(|flag| !every_run.contains(flag))
        .map(String::as_str)
        .collect();
    if version < PrometheusVersion::new(3, 8) {
        assert!(flags.contains(&"--enable-feature=native-histograms"), "{flags:?}");
    }
    let container = start_prometheus_on(build, config.path(), prometheus_port, &flags).await;
    let prometheus = Prometheus::new(prometheus_port);
    let up = eventually(Duration::from_secs(30), "the target up", || async {
        let targets = prometheus.targets().await?;
        Ok(targets.iter().any(|(_, health)| health == "up").then_some(()))
    })
    .await;
    assert!(up.is_ok(), "{}\n{}", up.unwrap_err(), logs(&container).await);

    // Slow orders from here on: the 5m and 1h bad ratios reach 1 once two scrapes saw them.
    let driving = tokio::spawn(traffic(app_port, 25));
    let page = resolved
        .rules
        .alerts()
        .find(|a| a.spec_path.starts_with("slos") && a.labels.get("window").is_some_and(|w| w == "1h"))
        .expect("the SLO's page alert")
        .name
        .clone();
    let fired = eventually(
        Duration::from_secs(60),
        "the latency SLO's page alert firing",
        || async {
            let firing = prometheus
                .query(&format!("ALERTS{{alertname=\"{page}\", alertstate=\"firing\"}}"))
                .await?;
            Ok((!firing.is_empty()).then_some(firing))
        },
    )
    .await;
    let firing = match fired {
        Ok(firing) => firing,
        Err(error) => panic!(
            "{error}\nratios: {:?}\n{}",
            prometheus.query("slo:sli_error:ratio_rate5m").await,
            logs(&container).await
        ),
    };
    assert_eq!(firing[0]["metric"]["slo"], "checkout-latency");
    driving.await.unwrap();

    // Stored as native histograms: one sample holding the buckets, no `_bucket` series
    // for the HTTP duration; the custom one keeps its classic buckets where the release can.
    let native = prometheus
        .query("sum(rate(http_request_duration_seconds[1m]))")
        .await
        .unwrap();
    assert!(native[0].get("histogram").is_some(), "{native:?}");
    assert!(prometheus
        .query("http_request_duration_seconds_bucket")
        .await
        .unwrap()
        .is_empty());
    let classic = prometheus
        .query("checkout_payment_duration_seconds_bucket")
        .await
        .unwrap();
    assert_eq!(
        !classic.is_empty(),
        version >= PrometheusVersion::CLASSIC_BESIDE_NATIVE,
        "{classic:?}"
    );
    // The SLI reads about 1: every order took 300ms against a 250ms threshold.
    let ratio = prometheus
        .query("slo:sli_error:ratio_rate5m{slo=\"checkout-latency\"}")
        .await
        .unwrap();
    let bad: f64 = ratio[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(bad > 0.9, "{ratio:?}");

    expect::declared_metrics_scraped(&prometheus, &resolved, &component.name).await;
    expect::exposition_matches_spec(
        &resolved,
        &component.name,
        &format!("http://127.0.0.1:{app_port}/metrics"),
    )
    .await;
    expect::rules_and_dashboards_return_data(&prometheus, &generated, &[], expect::Answer::Series).await;

    // The preview draws every panel, the native heatmaps included, in headless Chromium.
    if build == PrometheusBuild::Lts3 {
        let dashboards = generator::preview::dashboards(&generator::render(&checked).unwrap()).unwrap();
        let uids: Vec<String> = dashboards.iter().map(|d| d.uid.clone()).collect();
        let port = browser::serve_preview(dashboards, &prometheus.base).await;
        for uid in &uids {
            browser::assert_every_panel_drawn(port, uid).await;
        }
    }
}

#[tokio::test]
async fn a_native_histogram_latency_slo_fires_on_prometheus_3() {
    native_latency_slo_fires(PrometheusBuild::Lts3, PrometheusVersion::new(3, 5)).await;
}

#[tokio::test]
async fn a_native_histogram_latency_slo_fires_on_prometheus_2() {
    native_latency_slo_fires(PrometheusBuild::Debian2, PrometheusVersion::new(2, 42)).await;
}
