//! What a running process needs from its spec and environment: which component it is, its
//! ports, identity (environment, version, replica), log level and the optional metrics token.

use contract::model::{LogLevel, Spec};
use contract::topology::ComponentView;
use contract::Catalog;

/// Component chosen when the spec has several (`api`, `worker`).
pub const COMPONENT_ENV: &str = "OBS_COMPONENT";
/// Replica name (`blue`, `green`), added to logs.
pub const REPLICA_ENV: &str = "OBS_REPLICA";
/// Overrides the spec's log level.
pub const LOG_LEVEL_ENV: &str = "LOG_LEVEL";

/// Why a configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}={value:?} names no component of the spec; components: {known}")]
    UnknownComponent {
        var: &'static str,
        value: String,
        known: String,
    },
    #[error("the binary's handles are for component `{component}`, which the spec it runs with does not declare (components: {known}); set OBS_COMPONENT or run the spec it was built from")]
    BuiltComponentMissing { component: String, known: String },
    #[error("{var}={value:?} is not a port number")]
    BadPort { var: String, value: String },
    #[error("{var}={value:?} is not a log level (debug, info, warn, error)")]
    BadLevel { var: &'static str, value: String },
    #[error("{var}={value:?} is not a whole number of seconds above 0")]
    BadSeconds { var: String, value: String },
    #[error("metrics.endpoint.bearer_token_env names {var}, which is unset or empty: /metrics would be open to anyone; set {var} to the token scrapers send, or drop bearer_token_env from the spec")]
    MetricsTokenUnset { var: String },
}

/// A service's own interval setting: whole seconds above 0 from `var`, or `default` when the
/// variable is unset or empty.
pub fn seconds_env(
    env: impl Fn(&str) -> Option<String>,
    var: &str,
    default: std::time::Duration,
) -> Result<std::time::Duration, ConfigError> {
    match env(var).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(value) => match value.trim().parse::<u64>() {
            Ok(seconds) if seconds > 0 => Ok(std::time::Duration::from_secs(seconds)),
            _ => Err(ConfigError::BadSeconds { var: var.into(), value }),
        },
    }
}

/// The resolved configuration of one process.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub spec: Spec,
    pub catalog: Catalog,
    pub component: ComponentView,
    pub replica: Option<String>,
    pub environment: String,
    pub version: String,
    pub port: u16,
    /// `Some` when `/metrics` is served on its own port.
    pub metrics_port: Option<u16>,
    pub log_level: LogLevel,
    pub metrics_token: Option<String>,
    /// Header read timeout and connection limit of the servers (from this process's
    /// file-descriptor limit; tests shorten them).
    pub connection_limits: crate::connections::Limits,
}

fn parse_level(value: &str) -> Option<LogLevel> {
    match value.trim().to_ascii_lowercase().as_str() {
        "debug" | "trace" => Some(LogLevel::Debug),
        "info" => Some(LogLevel::Info),
        "warn" | "warning" => Some(LogLevel::Warn),
        "error" | "critical" => Some(LogLevel::Error),
        _ => None,
    }
}

impl ServiceConfig {
    /// Resolves the spec against an environment lookup (the process environment in
    /// production, a map in tests).
    pub fn resolve(spec: Spec, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::resolve_for(spec, None, env)
    }

    /// [`ServiceConfig::resolve`] with the component to run when `OBS_COMPONENT` is unset
    /// (the one the binary's handles were built for); `None`: the spec's first.
    pub fn resolve_for(
        spec: Spec,
        default_component: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let resolved = contract::Resolved::of(&spec);
        Self::resolve_with(spec, &resolved, default_component, env)
    }

    /// [`ServiceConfig::resolve_for`] with the spec already resolved (by its validation).
    pub fn resolve_with(
        spec: Spec,
        resolved: &contract::Resolved,
        default_component: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let (catalog, components) = (resolved.catalog.clone(), &resolved.components);
        let known = || {
            components
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let find = |name: &str| components.iter().find(|c| c.name == name).cloned();
        let component = match env(COMPONENT_ENV).filter(|v| !v.is_empty()) {
            Some(name) => find(&name).ok_or_else(|| ConfigError::UnknownComponent {
                var: COMPONENT_ENV,
                value: name.clone(),
                known: known(),
            })?,
            None => match default_component {
                Some(name) => find(name).ok_or_else(|| ConfigError::BuiltComponentMissing {
                    component: name.to_string(),
                    known: known(),
                })?,
                None => components[0].clone(),
            },
        };
        let port = match component
            .port_env
            .as_deref()
            .and_then(|var| env(var).filter(|v| !v.is_empty()).map(|v| (var, v)))
        {
            Some((var, value)) => value
                .trim()
                .parse()
                .map_err(|_| ConfigError::BadPort { var: var.into(), value })?,
            None => component.port,
        };
        let metrics_port = component.has_separate_metrics_port().then_some(component.metrics_port);
        let log_level = match env(LOG_LEVEL_ENV).filter(|v| !v.is_empty()) {
            Some(value) => parse_level(&value).ok_or(ConfigError::BadLevel {
                var: LOG_LEVEL_ENV,
                value,
            })?,
            None => spec.logging.level,
        };
        // A spec that asks for a token never serves /metrics without one (fail closed).
        let metrics_token = match spec.metrics.endpoint.bearer_token_env.as_deref() {
            None => None,
            Some(var) => match env(var).filter(|t| !t.trim().is_empty()) {
                // Secrets read from files often end in a newline; scrapers send none.
                Some(token) => Some(token.trim().to_string()),
                None => return Err(ConfigError::MetricsTokenUnset { var: var.to_string() }),
            },
        };
        Ok(Self {
            environment: spec
                .service
                .environment
                .resolve(&env)
                .unwrap_or_else(|| "unknown".into()),
            version: spec.service.version.resolve(&env).unwrap_or_else(|| "unknown".into()),
            replica: env(REPLICA_ENV).filter(|v| !v.is_empty()),
            catalog,
            component,
            port,
            metrics_port,
            log_level,
            metrics_token,
            connection_limits: crate::connections::Limits::for_this_process(),
            spec,
        })
    }

    /// Resolves against the process environment.
    pub fn from_env(spec: Spec) -> Result<Self, ConfigError> {
        Self::resolve(spec, |var| std::env::var(var).ok())
    }

    /// The value of the `service` log field: the component when there are several.
    pub fn service_field(&self) -> String {
        if self.spec.service.components.is_empty() {
            self.spec.service.name.clone()
        } else {
            self.component.name.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Spec {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn picks_the_component_and_its_port_from_the_environment() {
        let s = spec("service: {name: pw, components: [{name: api, port: 8000}, {name: worker, port: 9091, port_env: WORKER_PORT}]}");
        let config = ServiceConfig::resolve(s.clone(), |v| match v {
            "OBS_COMPONENT" => Some("worker".into()),
            "WORKER_PORT" => Some("9999".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!((config.component.name.as_str(), config.port), ("worker", 9999));
        assert_eq!(config.service_field(), "worker");
        let error = ServiceConfig::resolve(s, |v| (v == "OBS_COMPONENT").then(|| "nope".into())).unwrap_err();
        assert!(error.to_string().contains("components: api, worker"), "{error}");
    }

    #[test]
    fn the_built_component_is_the_default_and_must_exist() {
        let s = spec("service: {name: pw, components: [{name: api, port: 8000}, {name: worker, port: 9091}]}");
        let config = ServiceConfig::resolve_for(s.clone(), Some("worker"), |_| None).unwrap();
        assert_eq!(config.component.name, "worker");
        let error = ServiceConfig::resolve_for(s, Some("web"), |_| None)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`web`") && error.contains("components: api, worker"),
            "{error}"
        );
    }

    #[test]
    fn resolves_identity_and_level_with_defaults() {
        let s = spec("service: {name: ws, environment: '${APP_ENV:-dev}', version: '1.2.3'}\nlogging: {level: warn}");
        let config = ServiceConfig::resolve(s.clone(), |_| None).unwrap();
        assert_eq!(
            (config.environment.as_str(), config.version.as_str(), config.log_level),
            ("dev", "1.2.3", LogLevel::Warn)
        );
        let config = ServiceConfig::resolve(s.clone(), |v| (v == "LOG_LEVEL").then(|| "DEBUG".into())).unwrap();
        assert_eq!(config.log_level, LogLevel::Debug);
        assert!(ServiceConfig::resolve(s, |v| (v == "LOG_LEVEL").then(|| "loud".into())).is_err());
    }

    #[test]
    fn intervals_are_whole_positive_seconds_or_the_default() {
        let default = std::time::Duration::from_secs(30);
        let env = |value: &'static str| move |_: &str| Some(value.to_string());
        assert_eq!(seconds_env(|_| None, "EVERY", default).unwrap(), default);
        assert_eq!(seconds_env(env(""), "EVERY", default).unwrap(), default);
        assert_eq!(seconds_env(env(" 2 "), "EVERY", default).unwrap().as_secs(), 2);
        for bad in ["0", "-1", "1.5", "soon"] {
            let error = seconds_env(env(bad), "EVERY", default).unwrap_err().to_string();
            assert!(error.starts_with("EVERY="), "{error}");
        }
    }
}
