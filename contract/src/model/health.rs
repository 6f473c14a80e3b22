//! `health` and `shutdown`: probe endpoints, their JSON bodies, dependency checks, container
//! healthchecks, and the graceful-shutdown timings that readiness follows.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Duration, EnvString};

/// Liveness, readiness, detailed health and dependency checks.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// Liveness probe: 200 while the process serves.
    #[serde(default = "Probe::default_liveness")]
    pub liveness: Probe,
    /// Readiness probe: 200 when every gating check passes, 503 from the start of shutdown.
    #[serde(default = "Probe::default_readiness")]
    pub readiness: Probe,
    /// Detailed health: every dependency check with its status and latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detailed: Option<DetailedProbe>,
    /// Dependency checks.
    #[serde(default)]
    pub checks: Vec<HealthCheck>,
    /// Container healthcheck timings (compose `healthcheck`).
    #[serde(default)]
    pub container: ContainerHealthcheck,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            liveness: Probe::default_liveness(),
            readiness: Probe::default_readiness(),
            detailed: None,
            checks: Vec::new(),
            container: ContainerHealthcheck::default(),
        }
    }
}

/// Fields a probe's JSON body may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProbeField {
    /// `"status": "<status_text>"` (or the failing word).
    Status,
    /// `"timestamp"`: RFC 3339 time of the answer.
    Timestamp,
    /// `"uptime"`: seconds since start, as a number.
    Uptime,
    /// `"ready"`: boolean.
    Ready,
    /// `"shutting_down"`: boolean.
    ShuttingDown,
    /// `"checks"`: each dependency check's status.
    Checks,
    /// `"version"`: the service version.
    Version,
}

/// A probe endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// Path, e.g. `/healthz`, `/healthz/`, `/live`, `/readyz`, `/ready`.
    pub path: String,
    /// Further paths answering the same way (e.g. `/health` beside `/live`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Fields of the JSON body, in order.
    #[serde(default = "Probe::default_fields")]
    pub fields: Vec<ProbeField>,
    /// The `status` word when healthy: `ok`, `healthy`, `ready`…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_text: Option<String>,
}

impl Probe {
    fn default_liveness() -> Self {
        Self {
            path: "/healthz".into(),
            aliases: Vec::new(),
            fields: Self::default_fields(),
            status_text: None,
        }
    }
    fn default_readiness() -> Self {
        Self {
            path: "/readyz".into(),
            aliases: Vec::new(),
            fields: Self::default_fields(),
            status_text: None,
        }
    }
    fn default_fields() -> Vec<ProbeField> {
        vec![ProbeField::Status]
    }
}

/// The detailed health endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DetailedProbe {
    /// Path, e.g. `/health/detailed`.
    pub path: String,
}

/// Kinds of dependency check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// Opens a TCP connection to `target` (`host:port`).
    Tcp,
    /// GETs `target` (an `http://` URL) and expects a 2xx answer.
    Http,
    /// Sends `PING` to the Redis server at `target` (`host:port`, or
    /// `redis://[user:password@]host:port` to authenticate first) and expects `PONG`.
    Redis,
    /// A check the service registers in code under this name.
    Custom,
}

/// One dependency check.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// Check name, e.g. `database`.
    pub name: String,
    /// How the dependency is probed.
    pub kind: CheckKind,
    /// `host:port` for tcp, a URL for http; unused for custom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<EnvString>,
    /// Give up after this long and report the check as failed.
    #[serde(default = "HealthCheck::default_timeout")]
    pub timeout: Duration,
    /// Whether a failure makes readiness answer 503.
    #[serde(default = "crate::model::yes")]
    pub gates_readiness: bool,
    /// What the dependency is, for OBSERVABILITY.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl HealthCheck {
    fn default_timeout() -> Duration {
        Duration::from_secs(2)
    }
}

/// Container healthcheck timings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerHealthcheck {
    /// Time between probes.
    #[serde(default = "ContainerHealthcheck::default_interval")]
    pub interval: Duration,
    /// A probe slower than this counts as failed.
    #[serde(default = "ContainerHealthcheck::default_timeout")]
    pub timeout: Duration,
    /// Consecutive failures before the container is unhealthy.
    #[serde(default = "ContainerHealthcheck::default_retries")]
    pub retries: u32,
    /// Grace period after start during which failures do not count.
    #[serde(default = "ContainerHealthcheck::default_start_period")]
    pub start_period: Duration,
}

impl ContainerHealthcheck {
    fn default_interval() -> Duration {
        Duration::from_secs(30)
    }
    fn default_timeout() -> Duration {
        Duration::from_secs(10)
    }
    fn default_retries() -> u32 {
        3
    }
    fn default_start_period() -> Duration {
        Duration::from_secs(5)
    }
}

impl Default for ContainerHealthcheck {
    fn default() -> Self {
        Self {
            interval: Self::default_interval(),
            timeout: Self::default_timeout(),
            retries: Self::default_retries(),
            start_period: Self::default_start_period(),
        }
    }
}

/// Graceful shutdown timings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shutdown {
    /// After SIGTERM, readiness is 503 for this long before the listener closes, so load
    /// balancers stop sending traffic first.
    #[serde(default = "Shutdown::default_drain")]
    pub drain: Duration,
    /// In-flight work gets this long (counted from SIGTERM) before it is cancelled.
    #[serde(default = "Shutdown::default_grace")]
    pub grace: Duration,
}

impl Shutdown {
    fn default_drain() -> Duration {
        Duration::from_secs(5)
    }
    fn default_grace() -> Duration {
        Duration::from_secs(30)
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            drain: Self::default_drain(),
            grace: Self::default_grace(),
        }
    }
}

/// Where a `redis` check connects, and the credentials it authenticates with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// `host:port`.
    pub address: String,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl RedisTarget {
    /// `host:port`, or `redis://[user:password@]host:port[/db]`; `None` for anything else.
    pub fn parse(target: &str) -> Option<Self> {
        let (rest, url) = match target.strip_prefix("redis://") {
            Some(rest) => (rest, true),
            None => (target, false),
        };
        let rest = if url {
            rest.split('/').next().unwrap_or(rest)
        } else {
            rest
        };
        let (credentials, address) = match rest.rsplit_once('@') {
            Some((credentials, address)) if url => (Some(credentials), address),
            Some(_) => return None,
            None => (None, rest),
        };
        let valid = address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !valid {
            return None;
        }
        let (user, password) = match credentials.map(|c| c.split_once(':').unwrap_or(("", c))) {
            Some((user, password)) => (
                (!user.is_empty()).then(|| user.to_string()),
                (!password.is_empty()).then(|| password.to_string()),
            ),
            None => (None, None),
        };
        Some(Self {
            address: address.to_string(),
            user,
            password,
        })
    }
}

#[cfg(test)]
mod redis_target_tests {
    use super::RedisTarget;

    #[test]
    fn reads_addresses_and_urls_with_credentials() {
        assert_eq!(RedisTarget::parse("redis:6379").unwrap().address, "redis:6379");
        let url = RedisTarget::parse("redis://app:s3cr@t@cache:6380/2").unwrap();
        assert_eq!(url.address, "cache:6380");
        assert_eq!(url.user.as_deref(), Some("app"));
        assert_eq!(url.password.as_deref(), Some("s3cr@t"));
        let password_only = RedisTarget::parse("redis://:pw@cache:6379").unwrap();
        assert_eq!(
            (password_only.user, password_only.password.as_deref()),
            (None, Some("pw"))
        );
        for bad in [
            "redis",
            "http://cache:6379",
            "cache:0",
            "redis://cache",
            "u:p@cache:6379",
        ] {
            assert!(RedisTarget::parse(bad).is_none(), "{bad}");
        }
    }
}
