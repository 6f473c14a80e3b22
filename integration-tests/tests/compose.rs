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

/// The demo's stack and every example's, as a user starts them on first use: no variable
/// set, no secret file written, Alertmanager's receivers as generated. `config` must interpolate the whole file (Grafana's and
/// Elasticsearch's services included) without an error or an unset-variable warning, and
/// `up` must start every service this machine has an image for, healthy where it has a
/// healthcheck.
#[tokio::test]
async fn every_generated_stack_starts_with_an_empty_environment() {
    let mut stacks = vec![workspace().join("generated")];
    let mut examples: Vec<_> = std::fs::read_dir(workspace().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path().join("generated"))
        .filter(|p| p.join("docker-compose.yml").exists())
        .collect();
    examples.sort();
    assert_eq!(examples.len(), 5, "{examples:?}");
    stacks.extend(examples);
    for generated in stacks {
        let tuning = Tuning {
            keep_receivers: true,
            ..Tuning::default()
        };
        let stack = Stack::prepare(&generated, tuning);
        let config = stack.compose(&["config", "-q"]);
        let warnings = String::from_utf8_lossy(&config.stderr);
        assert!(
            config.status.success() && !warnings.contains("is not set"),
            "{}: docker-compose config with an empty environment:\n{warnings}",
            generated.display()
        );
        let services = stack.runnable_services();
        assert!(
            services.iter().any(|s| s == "prometheus"),
            "{}: {services:?}",
            generated.display()
        );
        let mut args = vec!["up", "-d"];
        args.extend(services.iter().map(String::as_str));
        let up = stack.compose(&args);
        assert!(
            up.status.success(),
            "{}: docker-compose up with an empty environment:\n{}",
            generated.display(),
            String::from_utf8_lossy(&up.stderr)
        );
        for service in stack.checked_services().iter().filter(|s| services.contains(s)) {
            stack.wait_healthy(service, Duration::from_secs(90)).await;
        }
        for service in &services {
            let id = stack.container(service);
            let state = std::process::Command::new("docker")
                .args(["inspect", "-f", "{{.State.Status}}", &id])
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&state.stdout).trim(),
                "running",
                "{}: {service}\n{}",
                generated.display(),
                stack.logs(Some(service))
            );
        }
    }
}
