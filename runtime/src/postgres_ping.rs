//! The `postgres` dependency check: log in to the server a libpq URL names (without TLS),
//! run `SELECT 1`, expect `1`, and close the connection. Its errors say which step failed
//! and never carry the target's password.

use std::error::Error as _;

use contract::model::PostgresTarget;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Config, NoTls, SimpleQueryMessage};

/// The connection's task, aborted when the check is dropped (on its timeout, or on a hung
/// server), so no socket outlives the check.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Logs in to the PostgreSQL server `target` names and runs `SELECT 1`. The caller bounds
/// it in time.
pub async fn ping(target: &str) -> Result<(), String> {
    let target = PostgresTarget::parse(target).map_err(|reason| format!("the target {reason}"))?;
    let mut config = Config::new();
    config
        .host(&target.host)
        .port(target.port)
        .ssl_mode(tokio_postgres::config::SslMode::Disable)
        .application_name("obs-health-check");
    if let Some(user) = &target.user {
        config.user(user);
    }
    if let Some(password) = &target.password {
        config.password(password);
    }
    if let Some(dbname) = &target.dbname {
        config.dbname(dbname);
    }
    let (client, connection) = config.connect(NoTls).await.map_err(|e| login_failure(&e))?;
    let mut connection = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    // The simple protocol: no prepared statement, so it also passes through a pooler
    // such as PgBouncer in transaction mode.
    let answer = client.simple_query("SELECT 1").await;
    // Dropping the client lets the connection send Terminate and close.
    drop(client);
    let _ = (&mut connection.0).await;
    let value = answer
        .map_err(|e| format!("query failed: {}", describe(&e)))?
        .into_iter()
        .find_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_string)),
            _ => None,
        });
    match value {
        Some(Some(one)) if one == "1" => Ok(()),
        Some(Some(other)) => Err(format!("query failed: `SELECT 1` answered `{other}`")),
        Some(None) => Err("query failed: `SELECT 1` answered NULL".into()),
        None => Err("query failed: `SELECT 1` answered no row".into()),
    }
}

/// Why logging in failed: the server refused the credentials, or the connection failed.
fn login_failure(error: &tokio_postgres::Error) -> String {
    let refused_credentials = error.code().is_some_and(|code| {
        *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    });
    // tokio-postgres's own words when the server asks for a password the target lacks, or
    // when the SCRAM exchange fails.
    let text = describe(error);
    if text.contains("password missing") {
        "authentication failed: the server asks for a password and the target has none".into()
    } else if refused_credentials || error.to_string() == "authentication error" {
        format!("authentication failed: {text}")
    } else {
        format!("connect failed: {text}")
    }
}

/// The server's message for a database error, else the innermost causes (the error's own
/// text, such as "error connecting to server", only when it has no cause).
fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return db.message().to_string();
    }
    let mut causes = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    if causes.is_empty() {
        error.to_string()
    } else {
        causes.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unusable_target_is_refused_without_its_password() {
        let error = ping("postgres://app:hunter2@db:5432x/orders").await.unwrap_err();
        assert!(error.starts_with("the target has a port"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_failure() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = ping(&format!("postgres://app:hunter2@127.0.0.1:{port}/orders"))
            .await
            .unwrap_err();
        assert!(error.starts_with("connect failed: "), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
}
