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
