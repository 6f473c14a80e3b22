//! `service`: identity, ports, replicas and the processes (components) that make it up.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::EnvString;

/// Who the service is and where it listens.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Service name: the `service` label on every log line, alert and external label.
    pub name: String,
    /// One line saying what the service does, for OBSERVABILITY.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Deployment environment, usually `${APP_ENV:-development}`.
    #[serde(default = "Service::default_environment")]
    pub environment: EnvString,
    /// Service version, usually `${APP_VERSION:-0.1.0}`.
    #[serde(default = "Service::default_version")]
    pub version: EnvString,
    /// Port of the HTTP server (API, health, and metrics unless `metrics_port` is set).
    #[serde(default = "Service::default_port")]
    pub port: u16,
    /// Serve `/metrics` on this port instead of `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_port: Option<u16>,
    /// Environment variable that overrides the port at run time (e.g. `PORT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_env: Option<String>,
    /// Names of identical instances run side by side, e.g. `[blue, green]`; each becomes a
    /// compose service `<container>_<replica>` and a scrape target.
    #[serde(default)]
    pub replicas: Vec<String>,
    /// Static labels added to every alert and as Prometheus external labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Runbook URL pattern; `{alert}` is replaced by the alert name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook_url: Option<String>,
    /// The service's processes when there is more than one (an API and a worker).
    /// Omitted: one process named `app`.
    #[serde(default)]
    pub components: Vec<Component>,
    /// Image the compose stack runs the service from; default `<name>:latest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Container healthcheck command; default: the service binary's own `healthcheck`
    /// subcommand (`/usr/local/bin/<name> healthcheck`), so the image needs no curl.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck_command: Option<Vec<String>>,
    /// Proxies (address ranges) whose `Forwarded` and `X-Forwarded-For` headers are believed
    /// for `client_ip`; from anyone else, the peer's own address is the client's. Omitted:
    /// no proxy is trusted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<crate::cidr::Cidr>,
    /// Sizes the runtime refuses past: request bodies and WebSocket messages.
    #[serde(default)]
    pub limits: ServiceLimits,
}

/// Sizes the runtime refuses past, so one client cannot make the service buffer without end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceLimits {
    /// Largest request body, in bytes, that a handler's extractor (JSON, form, bytes, text)
    /// reads; a larger one is answered 413. Default 2 MiB.
    #[serde(default = "ServiceLimits::default_request_body")]
    pub request_body_bytes: u64,
    /// Largest WebSocket message, in bytes, read from a client; a larger one closes the
    /// socket with 1009 (message too big). Default 64 KiB.
    #[serde(default = "ServiceLimits::default_websocket_message")]
    pub websocket_message_bytes: u64,
}

impl ServiceLimits {
    /// The most either limit may be set to: 1 GiB.
    pub const MAX_BYTES: u64 = 1 << 30;

    fn default_request_body() -> u64 {
        2 * 1024 * 1024
    }

    fn default_websocket_message() -> u64 {
        64 * 1024
    }
}

impl Default for ServiceLimits {
    fn default() -> Self {
        Self {
            request_body_bytes: Self::default_request_body(),
            websocket_message_bytes: Self::default_websocket_message(),
        }
    }
}

impl Service {
    /// The image the compose stack runs the service from: `image`, else `<name>:latest`.
    pub fn image_name(&self) -> String {
        self.image.clone().unwrap_or_else(|| format!("{}:latest", self.name))
    }

    fn default_environment() -> EnvString {
        EnvString::Env {
            var: "APP_ENV".into(),
            default: Some("development".into()),
        }
    }
    fn default_version() -> EnvString {
        EnvString::Env {
            var: "APP_VERSION".into(),
            default: Some("0.1.0".into()),
        }
    }
    fn default_port() -> u16 {
        8000
    }
}

/// One process of the service, scraped as its own Prometheus job.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Component name, e.g. `api` or `worker`: the scrape job and the `service` log field.
    pub name: String,
    /// What this process does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Compose service name when it differs from `name` (e.g. `backend` for `api`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// HTTP port; defaults to the service port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Separate `/metrics` port, e.g. a worker's observability server on 9091.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_port: Option<u16>,
    /// Environment variable that overrides the port (e.g. `WORKER_OBSERVABILITY_PORT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_env: Option<String>,
    /// Replicas of this component; defaults to the service's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<Vec<String>>,
    /// Whether this component serves the readiness endpoint (a worker may serve only liveness).
    #[serde(default = "crate::model::yes")]
    pub readiness: bool,
    /// Command the compose service runs, when the image's default is not it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Container healthcheck command of this component; defaults to the service's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck_command: Option<Vec<String>>,
    /// Proxies (address ranges) whose `Forwarded` and `X-Forwarded-For` headers are believed
    /// for `client_ip`; from anyone else, the peer's own address is the client's. Omitted:
    /// no proxy is trusted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<crate::cidr::Cidr>,
}
