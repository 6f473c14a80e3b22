//! The service's containers when it runs under Docker (compose): found by the compose
//! service name and the service's image, with their published ports, health, and output.
//! Everything goes through the `docker` command; without one, nothing is found.

use std::process::Command;

/// The newest running container of compose service `service` started from `image`.
pub fn container(service: &str, image: &str) -> Option<String> {
    let output = Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.service={service}"),
            "--filter",
            &format!("ancestor={image}"),
        ])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    // `docker ps` lists the newest first.
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
}

/// The host port a container publishes its `port` (TCP) on.
pub fn published_port(container: &str, port: u16) -> Option<u16> {
    let output = Command::new("docker")
        .args(["port", container, &format!("{port}/tcp")])
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.trim().rsplit(':').next()?.parse().ok())
}

/// The container's health (`healthy`, `unhealthy`, `starting`), or its state when it has
/// no healthcheck (`running`, `exited`…).
pub fn health(container: &str) -> Option<String> {
    let output = Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}",
            container,
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// `docker logs -f` of a container from now on, stdout and stderr, as a child process.
pub fn follow_logs(container: &str) -> std::io::Result<tokio::process::Child> {
    tokio::process::Command::new("docker")
        .args(["logs", "-f", "--tail", "0", container])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
}
