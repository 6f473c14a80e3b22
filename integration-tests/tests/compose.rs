//! `docker-compose up` of the top-level generated docker-compose.yml (the services that have
//! local images: the two app replicas, Prometheus, Alertmanager; Grafana and Loki cannot run
//! here), from a copy changed only for this machine (`integration_tests::compose`). The app
//! containers must become healthy by the generated healthchecks, and Prometheus must scrape
//! both.

use std::time::Duration;

use integration_tests::compose::{Stack, Tuning};
use integration_tests::*;

#[tokio::test]
async fn the_generated_compose_stack_comes_up_healthy_and_scrapes_the_app() {
    let spec = contract::load_file(&workspace().join("obs.yaml")).unwrap().spec;
    let stack = Stack::prepare(&workspace().join("generated"), Tuning::default());
    stack.up(
        spec.stack.profile.as_deref(),
        &["app_blue", "app_green", "prometheus", "alertmanager"],
    );
    for service in ["app_blue", "app_green"] {
        stack.wait_healthy(service, Duration::from_secs(120)).await;
    }
    let prometheus = Prometheus::new(stack.port("prometheus", 9090));
    let scraped = eventually(Duration::from_secs(60), "Prometheus scraping both replicas", || async {
        let targets = prometheus.targets().await?;
        let up: Vec<&String> = targets
            .iter()
            .filter(|(_, health)| health == "up")
            .map(|(url, _)| url)
            .collect();
        Ok(
            (up.iter().any(|u| u.contains("app_blue:8000")) && up.iter().any(|u| u.contains("app_green:8000")))
                .then_some(()),
        )
    })
    .await;
    assert!(scraped.is_ok(), "{}\n{}", scraped.unwrap_err(), stack.logs(None));
    let result = prometheus
        .query("sum by (replica) (up{job=\"ws-counter\"})")
        .await
        .unwrap();
    assert_eq!(result.len(), 2, "{result:?}");
}
