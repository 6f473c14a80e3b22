//! `stack`: the services the compose file runs beside the app (the monitoring servers and
//! the databases and caches the app itself needs), and their settings.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Duration, EnvString};

/// The compose stack: the monitoring servers, and the services the app depends on.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// Compose profile the monitoring services belong to (e.g. `observability`); omitted:
    /// they start with the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Prometheus.
    #[serde(default)]
    pub prometheus: PrometheusStack,
    /// Alertmanager.
    #[serde(default)]
    pub alertmanager: StackService,
    /// Grafana.
    #[serde(default)]
    pub grafana: GrafanaStack,
    /// Loki; on by default when `logging.loki` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loki: Option<StackService>,
    /// Pushgateway, receiving the lifecycle metrics the runtime pushes; on by default when
    /// `metrics.builtin.lifecycle.pushgateway` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushgateway: Option<StackService>,
    /// Jaeger (v2), receiving OTLP traces (`tracing.otlp_endpoint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jaeger: Option<StackService>,
    /// Elasticsearch, receiving shipped logs (`logging.elasticsearch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elasticsearch: Option<StackService>,
    /// Services the app itself needs, such as a database or a cache: compose runs each
    /// beside the app (in no profile, so they start with it), and the app containers wait
    /// for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<StackDependency>,
    /// Kubernetes manifests under `generated/kubernetes/` (a kustomize base): the app's
    /// Deployments and Services with probes and shutdown timing from `health` and
    /// `shutdown`, and the prometheus-operator and Grafana resources that monitor it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesStack>,
    /// Where samples go beyond one Prometheus: a VictoriaMetrics scale-out stack, or
    /// remote-write receivers (Mimir, Thanos) Prometheus also sends to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
}

/// Where samples are kept when one Prometheus is not enough.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Scale out on VictoriaMetrics: vmagent members scrape the targets (sharded, or each
    /// target by several members for high availability) and remote-write to a
    /// VictoriaMetrics server that deduplicates; vmalert evaluates the generated rules against
    /// it and notifies the generated Alertmanager; Grafana queries it. Prometheus does not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub victoriametrics: Option<VictoriaMetricsStorage>,
    /// Long-term stores Prometheus also sends every sample to (Mimir, Thanos Receive, or any
    /// Prometheus remote-write receiver); Prometheus keeps running the rules and alerts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_write: Vec<RemoteWrite>,
}

/// The VictoriaMetrics scale-out stack.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VictoriaMetricsStorage {
    /// vmagent members sharing the targets.
    #[serde(default = "VictoriaMetricsStorage::default_scrapers")]
    pub scrapers: u32,
    /// Members scraping each target: `scrapers` for a fully replicated (HA) set, 1 for plain
    /// sharding; VictoriaMetrics keeps one sample per series per scrape interval.
    #[serde(default = "VictoriaMetricsStorage::default_replication")]
    pub replication: u32,
    /// How long samples are kept; omitted: `stack.prometheus.retention`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Duration>,
    /// Host port of VictoriaMetrics' HTTP API (queries, `/api/v1/write`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Image of VictoriaMetrics, e.g. `victoriametrics/victoria-metrics:v1.145.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Image of the vmagent members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmagent_image: Option<String>,
    /// Image of vmalert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmalert_image: Option<String>,
}

impl VictoriaMetricsStorage {
    fn default_scrapers() -> u32 {
        2
    }
    fn default_replication() -> u32 {
        2
    }
}

/// A remote-write receiver.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteWrite {
    /// What receives: `mimir`, `thanos` (Thanos Receive) or `prometheus` (any other
    /// receiver of the remote-write protocol); it decides the tenant header.
    pub kind: RemoteWriteKind,
    /// Push URL, e.g. `http://mimir:9009/api/v1/push` or `http://thanos-receive:19291/api/v1/receive`.
    pub url: String,
    /// Tenant, sent as `X-Scope-OrgID` (Mimir) or `THANOS-TENANT` (Thanos).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// File holding a bearer token Prometheus sends (a mounted secret, relative to the
    /// directory of prometheus.yml, e.g. `secrets/mimir_token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
}

/// The kind of remote-write receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RemoteWriteKind {
    Mimir,
    Thanos,
    Prometheus,
}

impl RemoteWriteKind {
    /// The header a tenant travels in.
    pub fn tenant_header(self) -> Option<&'static str> {
        match self {
            Self::Mimir => Some("X-Scope-OrgID"),
            Self::Thanos => Some("THANOS-TENANT"),
            Self::Prometheus => None,
        }
    }
}

/// How the service runs on Kubernetes, and how the cluster's operators find what monitors it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesStack {
    /// Namespace of every resource, e.g. `payments`; omitted: the service's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Image of the app's containers, e.g. `registry.example.com/api:1.4.2`; omitted:
    /// `service.image` (kustomize's `images:` can still replace it per overlay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Pods per component; omitted: one per name in `replicas` (at least one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// How dashboards reach Grafana: `configmap` (a ConfigMap per dashboard labelled
    /// `grafana_dashboard: "1"` for Grafana's dashboard sidecar, as kube-prometheus does) or
    /// `grafana-operator` (a `GrafanaDashboard` resource per dashboard).
    #[serde(default)]
    pub dashboards: DashboardDelivery,
    /// Labels added to the ServiceMonitors, the PrometheusRule and the AlertmanagerConfig,
    /// so the Prometheus and Alertmanager resources' selectors pick them up (e.g.
    /// `release: kube-prometheus-stack`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Variables read from the Secret even though their names do not say they hold one
    /// (`SENTRY_DSN`, a `DATABASE_URL` with a password); names holding `PASSWORD`, `TOKEN`,
    /// `SECRET`, `API_KEY`… and the metrics token always are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_variables: Vec<String>,
    /// Labels of the Grafana instances a `GrafanaDashboard` is loaded into
    /// (`instanceSelector.matchLabels`); omitted: `dashboards: grafana`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grafana_selector: Option<BTreeMap<String, String>>,
}

/// How the generated dashboards are delivered to Grafana on Kubernetes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DashboardDelivery {
    /// ConfigMaps labelled `grafana_dashboard: "1"`, read by Grafana's dashboard sidecar.
    #[default]
    Configmap,
    /// `GrafanaDashboard` resources (`grafana.integreatly.org/v1beta1`).
    GrafanaOperator,
}

/// A service the app connects to (a database, a cache), run by compose from a public image.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackDependency {
    /// Compose service name, and so the host name the app connects to, e.g. `postgres`:
    /// lowercase letters, digits, `-` and `_`.
    pub name: String,
    /// Image and tag, e.g. `postgres:16-alpine`.
    pub image: String,
    /// Port it listens on inside the compose network, e.g. `5432`.
    pub port: u16,
    /// Host port to publish `port` on, e.g. `5433`; omitted: reachable only from the other
    /// containers of the stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<u16>,
    /// Environment of its container. Values are text, `${VAR}` or `${VAR:-default}`
    /// (passed through to compose). A variable whose name says it holds a secret
    /// (`PASSWORD`, `TOKEN`, `SECRET`, …) must be `${VAR}`; a `*_FILE` variable naming a
    /// file under `/run/secrets/` mounts that file from `secrets/`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, EnvString>,
    /// Command replacing the image's default, e.g. `[postgres, -c, max_connections=50]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Compose healthcheck test, e.g. `[CMD, pg_isready, -U, app]` (`CMD` is added when
    /// the list does not start with `CMD` or `CMD-SHELL`); run every 5s, 3s timeout, 12
    /// retries. With one, the app containers wait until it is healthy; without, until it
    /// has started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Vec<String>>,
    /// Absolute path of its data inside the container, e.g. `/var/lib/postgresql/data`: a
    /// named volume `<name>-data` is mounted there, so the data outlives the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Components whose containers depend on it; omitted: every component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<Vec<String>>,
    /// What the app uses it for, shown in OBSERVABILITY.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Prometheus settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusStack {
    /// Image; default the current long-term-support release (`contract::images`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The Prometheus release the generated files target, `3.5` or `2.53` (major.minor):
    /// command-line flags and scrape settings differ between them. Default: the image
    /// tag's version, else the default image's (3.x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Host port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// How often targets are scraped.
    #[serde(default = "PrometheusStack::default_interval")]
    pub scrape_interval: Duration,
    /// How often rules are evaluated; defaults to the scrape interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_interval: Option<Duration>,
    /// How long samples are kept.
    #[serde(default = "PrometheusStack::default_retention")]
    pub retention: Duration,
}

impl PrometheusStack {
    fn default_interval() -> Duration {
        Duration::from_secs(15)
    }
    fn default_retention() -> Duration {
        Duration::from_secs(15 * 86_400)
    }
}

impl Default for PrometheusStack {
    fn default() -> Self {
        Self {
            image: None,
            version: None,
            port: None,
            scrape_interval: Self::default_interval(),
            evaluation_interval: None,
            retention: Self::default_retention(),
        }
    }
}

/// A monitoring service with an image and a port.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackService {
    /// Whether compose runs it.
    #[serde(default = "crate::model::yes")]
    pub enabled: bool,
    /// Image and tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Host port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl Default for StackService {
    fn default() -> Self {
        Self {
            enabled: true,
            image: None,
            port: None,
        }
    }
}

/// Grafana settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrafanaStack {
    /// Whether compose runs it.
    #[serde(default = "crate::model::yes")]
    pub enabled: bool,
    /// Image and tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Host port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Admin user name.
    #[serde(default = "GrafanaStack::default_admin_user")]
    pub admin_user: String,
    /// Admin password: `${VAR}` only. While the variable is unset Grafana keeps its own
    /// first-login default (`admin`) and asks for a new password at the first sign-in.
    #[serde(default = "GrafanaStack::default_admin_password")]
    pub admin_password: EnvString,
}

impl GrafanaStack {
    fn default_admin_user() -> String {
        "admin".into()
    }
    fn default_admin_password() -> EnvString {
        EnvString::Env {
            var: "GRAFANA_ADMIN_PASSWORD".into(),
            default: None,
        }
    }
}

impl Default for GrafanaStack {
    fn default() -> Self {
        Self {
            enabled: true,
            image: None,
            port: None,
            admin_user: Self::default_admin_user(),
            admin_password: Self::default_admin_password(),
        }
    }
}
