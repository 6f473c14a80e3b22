//! `Observability`: everything a service shares with its handlers — configuration, the
//! metric registry and builtin handles, dependency checks, the shutdown phases, the clock
//! since start — built once from the spec.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

use crate::builtins::Builtins;
use crate::config::{ConfigError, ServiceConfig};
use crate::embedded::{EmbeddedSpec, SpecError};
use crate::health::HealthChecks;
use crate::http_client::{ClientError, HttpClient};
use crate::logging::{LogSettings, MakeWriter, SpecLayer};
use crate::loki::LokiSender;
use crate::metrics::{MetricError, Registry};
use crate::shutdown::Shutdown;

/// Why the observability of a process could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Metric(#[from] MetricError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Logging(#[from] LoggingError),
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("Loki shipping is enabled but its URL is not set")]
    LokiUrlMissing,
    #[error("cannot read the Loki password from {path} (logging.loki.password_file): {message}")]
    LokiPasswordFile { path: String, message: String },
    #[error("logging.loki.username is set but neither password nor password_file gives a password")]
    LokiPasswordMissing,
    #[error("logging.elasticsearch: {0}")]
    Elasticsearch(String),
    #[error(
        "logging.elasticsearch.auth is on but logging.elasticsearch.password gives no password (set its variable)"
    )]
    ElasticsearchPasswordMissing,
    #[error("logging is already initialised")]
    AlreadyInitialised,
    #[error("{0}")]
    Filter(String),
    #[error(transparent)]
    Traces(#[from] crate::traces::TracesError),
    #[error(transparent)]
    Errors(#[from] crate::errors::ErrorsError),
}

/// The tenant and basic-auth headers of Loki pushes, from the environment or a file.
fn loki_headers(
    loki: &contract::model::Loki,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, LoggingError> {
    let value = |v: &Option<contract::EnvString>| {
        v.as_ref()
            .and_then(|v| v.resolve(&env))
            .filter(|v| !v.trim().is_empty())
    };
    let mut headers = Vec::new();
    if let Some(tenant) = value(&loki.tenant) {
        headers.push(("X-Scope-OrgID".to_string(), tenant));
    }
    if let Some(user) = value(&loki.username) {
        let password = match value(&loki.password_file) {
            Some(path) => std::fs::read_to_string(&path)
                .map(|p| p.trim_end_matches(['\r', '\n']).to_string())
                .map_err(|e| LoggingError::LokiPasswordFile {
                    path,
                    message: e.to_string(),
                })?,
            None => value(&loki.password).ok_or(LoggingError::LokiPasswordMissing)?,
        };
        let credentials = crate::base64::standard(format!("{user}:{password}").as_bytes());
        headers.push(("Authorization".to_string(), format!("Basic {credentials}")));
    }
    Ok(headers)
}

/// Where Elasticsearch shipping goes, from the spec and the environment; `None` while
/// `logging.elasticsearch.enabled` is not `true`.
fn elasticsearch_target(
    logging: &contract::model::Logging,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<crate::elasticsearch::Target>, LoggingError> {
    let Some(es) = &logging.elasticsearch else {
        return Ok(None);
    };
    let value = |v: &contract::EnvString| v.resolve(&env).map(|v| v.trim().to_string()).unwrap_or_default();
    if !value(&es.enabled).eq_ignore_ascii_case("true") {
        return Ok(None);
    }
    let (scheme, host, port) = (value(&es.scheme), value(&es.host), value(&es.port));
    if !matches!(scheme.as_str(), "http" | "https") {
        return Err(LoggingError::Elasticsearch(format!(
            "scheme `{scheme}` is not `http` or `https`"
        )));
    }
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        return Err(LoggingError::Elasticsearch(format!(
            "host `{host}` is not a host name or address"
        )));
    }
    if port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(LoggingError::Elasticsearch(format!(
            "port `{port}` is not a port number"
        )));
    }
    // An IPv6 address goes in brackets; any other `:` is a port in the wrong field.
    let host = match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::Ipv6Addr>()
    {
        Ok(address) => format!("[{address}]"),
        Err(_) if host.contains(':') => {
            return Err(LoggingError::Elasticsearch(format!(
                "host `{host}` holds a `:`; write the host alone in `host` and the port in `port`"
            )))
        }
        Err(_) => host,
    };
    let mut headers = Vec::new();
    if es.auth {
        let user = es.user.as_ref().map(&value).unwrap_or_default();
        let password = es.password.as_ref().map(&value).unwrap_or_default();
        if user.is_empty() {
            return Err(LoggingError::Elasticsearch(
                "auth is on but `user` gives no user".into(),
            ));
        }
        if password.is_empty() {
            return Err(LoggingError::ElasticsearchPasswordMissing);
        }
        let credentials = crate::base64::standard(format!("{user}:{password}").as_bytes());
        headers.push(("Authorization".to_string(), format!("Basic {credentials}")));
    }
    let name = contract::elasticsearch::policy_name(es);
    Ok(Some(crate::elasticsearch::Target {
        base_url: format!("{scheme}://{host}:{port}"),
        prefix: es.index_prefix.clone(),
        streams: es.streams.clone(),
        headers,
        policy: (name.clone(), contract::elasticsearch::ilm_policy(es)),
        template: (name, contract::elasticsearch::index_template(logging, es)),
    }))
}

/// Shared by the server and every handler. One reference count: axum clones the state
/// several times per request (middleware, extractors), so a clone must cost one atomic.
#[derive(Clone)]
pub struct Observability(Arc<ObservabilityState>);

/// What an [`Observability`] handle points to; read through the handle.
pub struct ObservabilityState {
    pub config: Arc<ServiceConfig>,
    pub registry: Arc<Registry>,
    pub builtins: Builtins,
    pub health: HealthChecks,
    /// The client dependency checks and log shipping use (trusts `OBS_CA_FILE`).
    pub http: HttpClient,
    pub shutdown: Shutdown,
    /// Where the lifecycle metrics are pushed, when the spec names a Pushgateway.
    pub pushgateway: Option<crate::pushgateway::Pusher>,
    /// When the process started (for uptime and the start-up duration).
    pub started: Instant,
    loki: OnceLock<LokiSender>,
    elasticsearch: OnceLock<crate::elasticsearch::ElasticsearchSender>,
    traces: OnceLock<opentelemetry_sdk::trace::SdkTracerProvider>,
    errors: OnceLock<crate::errors::ErrorReporter>,
}

impl Deref for Observability {
    type Target = ObservabilityState;

    fn deref(&self) -> &ObservabilityState {
        &self.0
    }
}

impl std::fmt::Debug for Observability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observability")
            .field("service", &self.config.spec.service.name)
            .finish_non_exhaustive()
    }
}

impl Observability {
    /// Builds every family of the spec for this component, binds the builtin handles and
    /// the dependency checks.
    pub fn new(config: ServiceConfig, env: impl Fn(&str) -> Option<String>) -> Result<Self, StartError> {
        let registry = Registry::from_catalog(&config.catalog, &config.component.name);
        let builtins = Builtins::bind(&config.spec, &config.catalog, &config.component.name, &registry)?;
        let http = HttpClient::from_env(&env)?;
        let health = HealthChecks::new(&config.spec.health.checks, http.clone(), &env);
        let shutdown = Shutdown::new(config.spec.shutdown.drain.to_std(), config.spec.shutdown.grace.to_std());
        let names = builtins
            .lifecycle
            .as_ref()
            .map(|l| (l.names.0.as_str(), l.names.1.as_str()));
        let pushgateway = crate::pushgateway::Pusher::of(&config, names, &env);
        Ok(Self(Arc::new(ObservabilityState {
            config: Arc::new(config),
            registry: Arc::new(registry),
            builtins,
            health,
            http,
            shutdown,
            pushgateway,
            started: Instant::now(),
            loki: OnceLock::new(),
            elasticsearch: OnceLock::new(),
            traces: OnceLock::new(),
            errors: OnceLock::new(),
        })))
    }

    /// Everything from the spec a binary was built with (or the one `OBS_SPEC` names), for
    /// the component its handles are for unless `OBS_COMPONENT` says otherwise.
    pub fn from_embedded(embedded: EmbeddedSpec, env: impl Fn(&str) -> Option<String>) -> Result<Self, StartError> {
        let (spec, resolved) = embedded.load_resolved(&env)?;
        let config = ServiceConfig::resolve_with(spec, &resolved, Some(embedded.component), &env)?;
        Self::new(config, env)
    }

    /// What a service binary does first, from the process environment: the spec it was
    /// built with (or the one `OBS_SPEC` names) for its component, JSON logs on stdout (and
    /// to Loki when the spec enables it), and SIGTERM or Ctrl-C starting the graceful
    /// shutdown. Needs a running tokio runtime.
    pub fn start(embedded: EmbeddedSpec) -> Result<Self, StartError> {
        let env = |var: &str| std::env::var(var).ok();
        let obs = Self::from_embedded(embedded, env)?;
        obs.init_logging(crate::logging::stdout(), env)?;
        obs.shutdown.on_signals();
        Ok(obs)
    }

    /// Fields on every log line: service, environment, version, and the replica if any.
    pub fn log_statics(&self) -> Vec<(String, Value)> {
        let config = &self.config;
        let mut statics = vec![
            ("service".to_string(), Value::String(config.service_field())),
            ("environment".to_string(), Value::String(config.environment.clone())),
            ("version".to_string(), Value::String(config.version.clone())),
        ];
        if let Some(replica) = &config.replica {
            statics.push(("replica".into(), Value::String(replica.clone())));
        }
        statics
    }

    /// Installs the process-wide log subscriber writing to `writer` (stdout in production);
    /// starts Loki shipping when the spec enables it, and trace export when its `tracing`
    /// endpoint is set. Needs a running tokio runtime.
    pub fn init_logging(&self, writer: MakeWriter, env: impl Fn(&str) -> Option<String>) -> Result<(), LoggingError> {
        let subscriber = self.subscriber(writer, env)?;
        tracing::subscriber::set_global_default(subscriber).map_err(|_| LoggingError::AlreadyInitialised)
    }

    /// The subscriber [`init_logging`](Self::init_logging) installs, for a caller (a test)
    /// that scopes it to one thread instead.
    pub fn subscriber(
        &self,
        writer: MakeWriter,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<impl tracing::Subscriber + Send + Sync, LoggingError> {
        let logging = &self.config.spec.logging;
        if let Some(loki) = &logging.loki {
            let enabled = loki
                .enabled
                .resolve(&env)
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
            let url = match (enabled, loki.url.resolve(&env)) {
                (true, Some(url)) if !url.is_empty() => Some(url),
                (true, _) => return Err(LoggingError::LokiUrlMissing),
                _ => None,
            };
            if let Some(url) = url {
                if self.loki.get().is_some() {
                    return Err(LoggingError::AlreadyInitialised);
                }
                let target = crate::loki::Target {
                    base_url: url,
                    labels: loki.labels.clone(),
                    headers: loki_headers(loki, &env)?,
                };
                let dropped = self.log_drops("loki");
                let _ = self.loki.set(crate::loki::start(self.http.clone(), target, dropped));
            }
        }
        if let Some(target) = elasticsearch_target(logging, &env)? {
            let dropped = self.log_drops("elasticsearch");
            let sender = crate::elasticsearch::start(self.http.clone(), target, dropped);
            if self.elasticsearch.set(sender).is_err() {
                return Err(LoggingError::AlreadyInitialised);
            }
        }
        let filter = crate::logging::filter(self.config.log_level, &logging.targets, env("RUST_LOG").as_deref())
            .map_err(LoggingError::Filter)?;
        let target = crate::traces::ExportTarget::resolve(self.config.spec.tracing.as_ref(), &env)?;
        let console = crate::traces::console_export(self.config.spec.tracing.as_ref(), &env);
        let provider = crate::traces::provider(&self.config, target.as_ref(), console, &self.http, &env)?;
        // Code location, thread and target of a span say where the runtime's middleware
        // is, the same on every request, and busy/idle times cost two clock reads per poll:
        // not worth it per span. Lines below
        // warn stay out of the spans (they are in the logs, under the same trace id); a
        // warning or an error becomes a span event, and an error the span's status.
        let span_filter = filter.clone();
        let spans = tracing_opentelemetry::layer()
            .with_tracer(crate::traces::tracer(&provider))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_context_activation(false)
            .with_tracked_inactivity(false)
            .with_filter(tracing_subscriber::filter::filter_fn(move |metadata| {
                crate::logging::is_context_span(metadata)
                    || ((metadata.is_span() || *metadata.level() <= tracing::Level::WARN)
                        && span_filter.would_enable(metadata.target(), metadata.level()))
            }));
        if self.traces.set(provider).is_err() {
            return Err(LoggingError::AlreadyInitialised);
        }
        let errors = crate::errors::ErrorReporter::from_spec(&self.config, &self.http, &env)?;
        if let Some(reporter) = &errors {
            if self.errors.set(reporter.clone()).is_err() {
                return Err(LoggingError::AlreadyInitialised);
            }
        }
        // A panic is a JSON line (and a report) in the request's context, not bare stderr.
        crate::errors::install_panic_hook();
        let mut settings = LogSettings::from_spec(logging, self.log_statics());
        settings.levels = Some(filter.clone());
        let line_filter = crate::logging::with_runtime_events(filter);
        let throttle = logging.throttle.as_ref().map(|t| {
            let family = self
                .registry
                .counter(contract::catalog::LOG_LINES_SUPPRESSED, &["level"])
                .ok();
            let levels = t
                .levels
                .iter()
                .map(|level| {
                    let counter = family.as_ref().map(|f| f.with(&[level.as_str()])).unwrap_or_default();
                    (level.as_str().to_string(), counter)
                })
                .collect();
            std::sync::Arc::new(crate::throttle::Throttle::new(t.window.to_std(), t.burst, levels))
        });
        let lines = SpecLayer::new(settings, writer, self.loki.get().cloned())
            .with_throttle(throttle)
            .with_elasticsearch(self.elasticsearch.get().cloned())
            .with_errors(errors)
            .with_filter(tracing_subscriber::filter::filter_fn(move |metadata| {
                crate::logging::is_context_span(metadata)
                    || line_filter.would_enable(metadata.target(), metadata.level())
            }));
        // The lines layer is inside the spans layer so that it sees a closing span before
        // the OpenTelemetry layer ends it (a Sentry transaction reads its ids then).
        Ok(tracing_subscriber::registry().with(lines).with(spans))
    }

    /// Exports the spans still queued, within `within`.
    pub async fn flush_traces(&self, within: std::time::Duration) {
        if let Some(provider) = self.traces.get() {
            crate::traces::flush(provider, within).await;
        }
    }

    /// Sends the error reports still queued for Sentry, within `within`.
    pub async fn flush_errors(&self, within: std::time::Duration) {
        if let Some(errors) = self.errors.get() {
            errors.flush(within).await;
        }
    }

    /// Ships what is still queued for Loki and Elasticsearch, each within 3 s, side by side.
    pub async fn flush_logs(&self) {
        let within = std::time::Duration::from_secs(3);
        let loki = async {
            if let Some(loki) = self.loki.get() {
                loki.flush(within).await;
            }
        };
        let elasticsearch = async {
            if let Some(es) = self.elasticsearch.get() {
                es.flush(within).await;
            }
        };
        tokio::join!(loki, elasticsearch);
    }

    /// The counters of connections the servers close on their own: the series of
    /// `obs_http_connections_closed_total` (unregistered ones if the spec lacks it).
    pub fn connection_closes(&self) -> crate::connections::Closed {
        match self
            .registry
            .counter(contract::catalog::CONNECTIONS_CLOSED, &["reason"])
        {
            Ok(family) => crate::connections::Closed {
                header_timeout: family.with(&["header_timeout"]),
                shed: family.with(&["shed"]),
            },
            Err(_) => crate::connections::Closed::default(),
        }
    }

    /// The counters of lines bound for `sink` that never left: the series of
    /// `obs_log_lines_dropped_total` (unregistered ones if this component lacks it).
    fn log_drops(&self, sink: &str) -> crate::shipping::Dropped {
        let family = self
            .registry
            .counter(contract::catalog::LOG_LINES_DROPPED, &["sink", "reason"]);
        match family {
            Ok(family) => crate::shipping::Dropped {
                queue_full: family.with(&[sink, "queue_full"]),
                rejected: family.with(&[sink, "rejected"]),
            },
            Err(_) => crate::shipping::Dropped::default(),
        }
    }
}
