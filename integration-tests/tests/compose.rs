//! `docker-compose up` of the generated docker-compose.yml (the services that have local
//! images: the two app replicas, Prometheus, Alertmanager; Grafana and Loki cannot run
//! here). A copy is transformed for the test only: local image names, host ports on
//! 127.0.0.1 that are free, dummy secret files. The app containers must become healthy by
//! the generated healthchecks, and Prometheus must scrape both.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use integration_tests::*;

struct Project {
    name: String,
    dir: tempfile::TempDir,
}

impl Project {
    fn compose(&self, args: &[&str]) -> Output {
        Command::new("docker-compose")
            .args(["-p", &self.name, "-f", "docker-compose.yml"])
            .args(args)
            .current_dir(self.dir.path())
            .env("GRAFANA_ADMIN_PASSWORD", "e2e-only")
            .output()
            .expect("docker-compose runs")
    }

    fn logs(&self) -> String {
        String::from_utf8_lossy(&self.compose(&["logs", "--no-color", "--tail", "30"]).stdout).into_owned()
    }

    fn container(&self, service: &str) -> String {
        String::from_utf8_lossy(&self.compose(&["ps", "-q", service]).stdout)
            .trim()
            .to_string()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--remove-orphans", "--timeout", "5"]);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Rewrites the copy: local images and free loopback host ports; returns Prometheus' port.
fn localize(path: &Path) -> u16 {
    let mut compose: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut prometheus_port = 0;
    for (name, service) in compose["services"].as_mapping_mut().unwrap() {
        let name = name.as_str().unwrap().to_string();
        let image = service["image"].as_str().unwrap().to_string();
        let local = if image.starts_with("prom/prometheus") {
            prometheus_image()
        } else if image.starts_with("prom/alertmanager") {
            alertmanager_image()
        } else if image == "obs-demo:latest" {
            demo_image()
        } else {
            image
        };
        service["image"] = local.into();
        for port in service["ports"].as_sequence_mut().into_iter().flatten() {
            let container = port.as_str().unwrap().rsplit(':').next().unwrap().to_string();
            let host = free_port();
            if name == "prometheus" {
                prometheus_port = host;
            }
            *port = format!("127.0.0.1:{host}:{container}").into();
        }
    }
    std::fs::write(path, serde_yaml::to_string(&compose).unwrap()).unwrap();
    prometheus_port
}

#[tokio::test]
async fn the_generated_compose_stack_comes_up_healthy_and_scrapes_the_app() {
    let spec = contract::load_file(&workspace().join("obs.yaml")).unwrap().spec;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&workspace().join("generated"), dir.path());
    let prometheus_port = localize(&dir.path().join("docker-compose.yml"));
    // Every secret file the compose file mounts, with a dummy value.
    let compose: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.path().join("docker-compose.yml")).unwrap()).unwrap();
    for secret in compose["secrets"].as_mapping().into_iter().flatten() {
        let file = dir.path().join(secret.1["file"].as_str().unwrap());
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, "e2e-only").unwrap();
    }
    let project = Project {
        name: format!("obs-e2e-{}", std::process::id()),
        dir,
    };
    let mut up = vec!["--profile".to_string()];
    up.push(spec.stack.profile.clone().unwrap_or_else(|| "default".into()));
    up.extend(["up", "-d", "app_blue", "app_green", "prometheus", "alertmanager"].map(String::from));
    let args: Vec<&str> = up.iter().map(String::as_str).collect();
    let started = Command::new("docker-compose")
        .args(["-p", &project.name, "-f", "docker-compose.yml"])
        .args(&args)
        .current_dir(project.dir.path())
        .env("GRAFANA_ADMIN_PASSWORD", "e2e-only")
        .output()
        .unwrap();
    assert!(
        started.status.success(),
        "docker-compose up failed:\n{}",
        String::from_utf8_lossy(&started.stderr)
    );
    // The generated healthcheck runs every 30s; allow a few rounds.
    for service in ["app_blue", "app_green"] {
        let id = project.container(service);
        assert!(!id.is_empty(), "{service} has no container:\n{}", project.logs());
        let healthy = eventually(Duration::from_secs(120), &format!("{service} healthy"), || {
            let id = id.clone();
            async move {
                let output = Command::new("docker")
                    .args(["inspect", "-f", "{{.State.Health.Status}}", &id])
                    .output()
                    .map_err(|e| e.to_string())?;
                let status = String::from_utf8_lossy(&output.stdout).trim().to_string();
                if status == "unhealthy" {
                    return Err(format!("{service} is unhealthy"));
                }
                Ok((status == "healthy").then_some(()))
            }
        })
        .await;
        assert!(healthy.is_ok(), "{}\n{}", healthy.unwrap_err(), project.logs());
    }
    let prometheus = Prometheus::new(prometheus_port);
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
    assert!(scraped.is_ok(), "{}\n{}", scraped.unwrap_err(), project.logs());
    let result = prometheus
        .query("sum by (replica) (up{job=\"ws-counter\"})")
        .await
        .unwrap();
    assert_eq!(result.len(), 2, "{result:?}");
}
