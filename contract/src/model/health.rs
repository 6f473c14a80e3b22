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
    /// Logs in to the PostgreSQL server `target` names, a libpq URL
    /// `postgres://[user[:password]@]host[:port][/dbname][?...]` (or `postgresql://`; port
    /// 5432 by default, `%`-escapes decoded, as in `DATABASE_URL`), runs `SELECT 1` and
    /// expects `1`. It connects without TLS, so a target asking for `sslmode=require` is
    /// invalid; without a user it logs in as the service's OS user, as libpq does.
    Postgres,
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
    /// `host:port` for tcp, a URL for http, `host:port` or a `redis://` URL for redis, a
    /// `postgres://` URL for postgres; unused for custom.
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

/// Where a `postgres` check connects, and the credentials it logs in with: a libpq URL
/// `postgres://[user[:password]@]host[:port][/dbname][?key=value&...]`. `Debug` never
/// shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresTarget {
    /// Host name or IP address (without the brackets of `[::1]`).
    pub host: String,
    /// 5432 unless the URL names another.
    pub port: u16,
    /// `None`: the service's OS user, as libpq does.
    pub user: Option<String>,
    /// Sent to the server only when it asks; `Debug` shows `***`.
    pub password: Option<String>,
    /// `None`: the server's default, a database named after the user.
    pub dbname: Option<String>,
}

impl std::fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("dbname", &self.dbname)
            .finish()
    }
}

/// Why a `postgres` target is not one the check can use. The messages quote nothing of
/// the target, so no part of a password can reach a diagnostic or a check's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostgresTargetError {
    #[error("does not start with `postgres://` or `postgresql://`")]
    Scheme,
    #[error("names no host (the check connects over TCP)")]
    NoHost,
    #[error("names a Unix socket directory as its host; the check connects over TCP")]
    SocketHost,
    #[error("names several hosts; the check probes one")]
    SeveralHosts,
    #[error("has a port that is not a number from 1 to 65535")]
    Port,
    #[error("has an invalid `%`-escape")]
    Escape,
    #[error("has a query that is not `key=value&...`")]
    Query,
    #[error("asks for TLS with its `sslmode`, and the check connects without TLS")]
    Tls,
}

impl PostgresTarget {
    /// The default port of a PostgreSQL server.
    pub const DEFAULT_PORT: u16 = 5432;

    /// Reads a libpq URL. The query's `host`, `port`, `user`, `password` and `dbname`
    /// override the URL's parts, as in libpq; other parameters are ignored, except an
    /// `sslmode` that requires TLS.
    pub fn parse(target: &str) -> Result<Self, PostgresTargetError> {
        let rest = target
            .strip_prefix("postgresql://")
            .or_else(|| target.strip_prefix("postgres://"))
            .ok_or(PostgresTargetError::Scheme)?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, dbname) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (user, password) = match userinfo.map(|u| u.split_once(':').unwrap_or((u, ""))) {
            Some((user, password)) => (decode(user)?, decode(password)?),
            None => (None, None),
        };
        if hostport.contains(',') {
            return Err(PostgresTargetError::SeveralHosts);
        }
        let (host, port) = match hostport.strip_prefix('[') {
            Some(bracketed) => {
                let (host, after) = bracketed.split_once(']').ok_or(PostgresTargetError::NoHost)?;
                match after {
                    "" => (host, None),
                    _ => (host, Some(after.strip_prefix(':').ok_or(PostgresTargetError::Port)?)),
                }
            }
            None => match hostport.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            },
        };
        let mut target = Self {
            host: decode(host)?.unwrap_or_default(),
            port: Self::DEFAULT_PORT,
            user,
            password,
            dbname: decode(dbname)?,
        };
        let mut port = port.map(str::to_string);
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or(PostgresTargetError::Query)?;
            let value = decode(value)?;
            match key {
                "host" => target.host = value.unwrap_or_default(),
                "port" => port = value,
                "user" => target.user = value,
                "password" => target.password = value,
                "dbname" => target.dbname = value,
                "sslmode" if matches!(value.as_deref(), Some("require" | "verify-ca" | "verify-full")) => {
                    return Err(PostgresTargetError::Tls)
                }
                _ => {}
            }
        }
        if let Some(port) = port {
            target.port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or(PostgresTargetError::Port)?;
        }
        if target.host.is_empty() {
            return Err(PostgresTargetError::NoHost);
        }
        if target.host.contains(',') {
            return Err(PostgresTargetError::SeveralHosts);
        }
        if target.host.starts_with('/') {
            return Err(PostgresTargetError::SocketHost);
        }
        Ok(target)
    }
}

/// `%XX`-decodes one part of a URL; `None` for an empty part.
fn decode(part: &str) -> Result<Option<String>, PostgresTargetError> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(PostgresTargetError::Escape)?;
            let hex = std::str::from_utf8(hex).map_err(|_| PostgresTargetError::Escape)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| PostgresTargetError::Escape)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).map_err(|_| PostgresTargetError::Escape)?;
    Ok((!text.is_empty()).then_some(text))
}

#[cfg(test)]
mod postgres_target_tests {
    use super::{PostgresTarget, PostgresTargetError as E};

    fn parse(target: &str) -> PostgresTarget {
        PostgresTarget::parse(target).unwrap_or_else(|e| panic!("{target}: {e}"))
    }

    #[test]
    fn reads_database_urls() {
        let full = parse("postgres://app:s3cr@t@db.internal:6432/orders?sslmode=disable&application_name=x");
        assert_eq!(full.host, "db.internal");
        assert_eq!(full.port, 6432);
        assert_eq!(full.user.as_deref(), Some("app"));
        assert_eq!(full.password.as_deref(), Some("s3cr@t"));
        assert_eq!(full.dbname.as_deref(), Some("orders"));

        let bare = parse("postgresql://db");
        assert_eq!(
            (bare.host.as_str(), bare.port, bare.user, bare.password, bare.dbname),
            ("db", 5432, None, None, None)
        );

        let user_only = parse("postgres://app@db/");
        assert_eq!((user_only.user.as_deref(), user_only.password), (Some("app"), None));

        let empty_password = parse("postgres://app:@db:5432/orders");
        assert_eq!(empty_password.password, None);

        let ipv6 = parse("postgres://app@[::1]:5433/orders");
        assert_eq!((ipv6.host.as_str(), ipv6.port), ("::1", 5433));
        assert_eq!(parse("postgres://[::1]/orders").port, 5432);
    }

    #[test]
    fn decodes_escapes_and_honours_query_parameters() {
        let escaped = parse("postgres://app%40corp:p%3Ass%2Fw%25rd@db/my%20db");
        assert_eq!(escaped.user.as_deref(), Some("app@corp"));
        assert_eq!(escaped.password.as_deref(), Some("p:ss/w%rd"));
        assert_eq!(escaped.dbname.as_deref(), Some("my db"));

        let query = parse("postgres://db/orders?user=app&password=pw&port=6543&dbname=other&sslmode=prefer");
        assert_eq!(query.user.as_deref(), Some("app"));
        assert_eq!(query.password.as_deref(), Some("pw"));
        assert_eq!(query.port, 6543);
        assert_eq!(query.dbname.as_deref(), Some("other"));
        assert_eq!(parse("postgres:///orders?host=db").host, "db");
    }

    #[test]
    fn refuses_what_the_check_cannot_use() {
        for (bad, why) in [
            ("db:5432", E::Scheme),
            ("redis://db:6379", E::Scheme),
            ("postgres://", E::NoHost),
            ("postgres://app:pw@/orders", E::NoHost),
            ("postgres://db:0/orders", E::Port),
            ("postgres://db:5432x/orders", E::Port),
            ("postgres://db:/orders", E::Port),
            ("postgres://db/orders?port=99999", E::Port),
            ("postgres://[::1]x/orders", E::Port),
            ("postgres://a:5432,b:5432/orders", E::SeveralHosts),
            ("postgres://%2Fvar%2Frun%2Fpostgresql/orders", E::SocketHost),
            ("postgres://app:p%zzw@db/orders", E::Escape),
            ("postgres://app:p%2@db", E::Escape),
            ("postgres://db/orders?sslmode", E::Query),
            ("postgres://db/orders?sslmode=require", E::Tls),
            ("postgres://db/orders?sslmode=verify-full", E::Tls),
        ] {
            assert_eq!(PostgresTarget::parse(bad), Err(why), "{bad}");
        }
    }

    #[test]
    fn never_shows_the_password() {
        let target = parse("postgres://app:hunter2@db/orders");
        assert!(!format!("{target:?}").contains("hunter2"));
        for bad in [
            "postgres://app:hunter2@db:5432x/orders",
            "postgres://app:hunter2/orders",
            "postgres://app:hunter2%zz@db",
            "app:hunter2@db:5432",
            "postgres://db/x?password=hunter2&sslmode=require",
        ] {
            let error = PostgresTarget::parse(bad).unwrap_err().to_string();
            assert!(!error.contains("hunter2"), "{error}");
        }
    }
}
