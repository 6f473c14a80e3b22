//! Pushing the lifecycle metrics to a Pushgateway (`metrics.builtin.lifecycle.pushgateway`):
//! the shutdown duration is set as the process exits, after Prometheus last scraped it, so
//! only a push lets Prometheus see it. One group per job and replica, replaced by each push
//! (PUT): the start-up time once the service listens, both durations when the shutdown
//! completes.

use std::time::Duration;

use crate::config::ServiceConfig;
use crate::http_client::HttpClient;

/// One push, connection included, at most.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// Where this process's group lives, and the names of the two gauges.
#[derive(Debug, Clone, PartialEq)]
pub struct Pusher {
    /// `<base>/metrics/job/<job>[/replica/<replica>]`.
    pub group_url: String,
    startup_name: String,
    shutdown_name: String,
}

impl Pusher {
    /// `None` unless the spec names a Pushgateway whose URL resolves non-empty and this
    /// component exposes the lifecycle group (`names`: its start-up and shutdown gauges).
    pub fn of(
        config: &ServiceConfig,
        names: Option<(&str, &str)>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Option<Self> {
        let (startup, shutdown) = names?;
        let lifecycle = config.spec.metrics.builtin.lifecycle.as_ref()?;
        let base = lifecycle.pushgateway.as_ref()?.resolve(&env)?;
        let base = base.trim().trim_end_matches('/');
        if base.is_empty() {
            return None;
        }
        let mut group_url = format!("{base}/metrics/{}", group_segment("job", &config.component.job));
        if let Some(replica) = &config.replica {
            group_url.push_str(&format!("/{}", group_segment("replica", replica)));
        }
        Some(Self {
            group_url,
            startup_name: startup.to_string(),
            shutdown_name: shutdown.to_string(),
        })
    }

    /// The group's body in the text exposition format; the shutdown only once it is known.
    pub fn body(&self, startup_seconds: f64, shutdown_seconds: Option<f64>) -> String {
        let mut text = format!(
            "# TYPE {name} gauge\n{name} {startup_seconds}\n",
            name = self.startup_name
        );
        if let Some(seconds) = shutdown_seconds {
            text.push_str(&format!(
                "# TYPE {name} gauge\n{name} {seconds}\n",
                name = self.shutdown_name
            ));
        }
        text
    }

    /// Replaces the group with these values.
    pub async fn push(
        &self,
        http: &HttpClient,
        startup_seconds: f64,
        shutdown_seconds: Option<f64>,
    ) -> Result<(), String> {
        let body = self.body(startup_seconds, shutdown_seconds);
        let answer = http
            .request(
                "PUT",
                &self.group_url,
                &[("content-type", "text/plain; version=0.0.4")],
                Some(body.as_bytes()),
                PUSH_TIMEOUT,
            )
            .await?;
        if (200..300).contains(&answer.status) {
            Ok(())
        } else {
            Err(format!(
                "{} answered {}: {}",
                self.group_url,
                answer.status,
                answer.text()
            ))
        }
    }
}

/// A grouping label as path segments, `name/value`, or the Pushgateway's
/// `name@base64/<value in URL-safe base64>` when the value cannot be a segment as is.
fn group_segment(name: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if plain {
        format!("{name}/{value}")
    } else if value.is_empty() {
        format!("{name}@base64/=")
    } else {
        format!("{name}@base64/{}", crate::base64::url_safe(value.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str, replica: Option<&str>) -> ServiceConfig {
        let spec = contract::load_bytes(yaml.as_bytes(), "obs.yaml").unwrap().spec;
        let replica = replica.map(str::to_string);
        ServiceConfig::resolve(spec, move |var| {
            (var == crate::config::REPLICA_ENV).then(|| replica.clone()).flatten()
        })
        .unwrap()
    }

    const SPEC: &str = "service: {name: ws, replicas: [blue, green]}\nmetrics:\n  builtin:\n    lifecycle: {prefix: sigiq, pushgateway: '${PUSHGATEWAY_URL:-http://localhost:9091}'}\n";
    const NAMES: Option<(&str, &str)> = Some(("sigiq_startup_time_seconds", "sigiq_shutdown_time_seconds"));

    #[test]
    fn a_replica_pushes_to_its_own_group_and_the_shutdown_once_known() {
        let pusher = Pusher::of(&config(SPEC, Some("blue")), NAMES, |_| None).unwrap();
        assert_eq!(pusher.group_url, "http://localhost:9091/metrics/job/ws/replica/blue");
        assert_eq!(
            pusher.body(0.25, None),
            "# TYPE sigiq_startup_time_seconds gauge\nsigiq_startup_time_seconds 0.25\n"
        );
        assert!(pusher
            .body(0.25, Some(2.5))
            .ends_with("# TYPE sigiq_shutdown_time_seconds gauge\nsigiq_shutdown_time_seconds 2.5\n"));
        let moved = Pusher::of(&config(SPEC, None), NAMES, |v| {
            (v == "PUSHGATEWAY_URL").then(|| "http://pg:9091/".into())
        })
        .unwrap();
        assert_eq!(moved.group_url, "http://pg:9091/metrics/job/ws");
        assert_eq!(
            Pusher::of(&config(SPEC, None), None, |_| None),
            None,
            "no lifecycle group here"
        );
        let unset = SPEC.replace("${PUSHGATEWAY_URL:-http://localhost:9091}", "${PUSHGATEWAY_URL}");
        assert_eq!(
            Pusher::of(&config(&unset, None), NAMES, |_| None),
            None,
            "no URL, no pushing"
        );
    }

    #[test]
    fn odd_group_values_use_the_base64_form() {
        assert_eq!(group_segment("replica", "blue"), "replica/blue");
        assert_eq!(group_segment("replica", "a/b"), "replica@base64/YS9i");
        assert_eq!(group_segment("replica", ""), "replica@base64/=");
    }
}
