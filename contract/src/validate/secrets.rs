//! Secret checks: passwords, DSNs and credentials must come from the environment or a file,
//! never be written in obs.yaml (and so never reach a generated file).

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::env_string::names_a_secret;
use crate::EnvString;

use super::Checker;

pub(super) fn check_all(checker: &mut Checker) {
    let spec = checker.spec;
    let mut must_be_env: Vec<(&str, &EnvString)> =
        vec![("stack.grafana.admin_password", &spec.stack.grafana.admin_password)];
    if let Some(es) = &spec.logging.elasticsearch {
        match &es.password {
            Some(password) => must_be_env.push(("logging.elasticsearch.password", password)),
            None if es.auth => checker.push(
                Diagnostic::new(
                    Code::MissingField,
                    "logging.elasticsearch.password",
                    "`auth: true` needs the password the server and the service share",
                )
                .with_help("add `password: ${ELASTICSEARCH_PASSWORD}`, or leave `auth` off for a local server"),
            ),
            None => {}
        }
    }
    if let Some(errors) = &spec.error_tracking {
        must_be_env.push(("error_tracking.sentry.dsn", &errors.sentry.dsn));
    }
    if let Some(password) = spec.logging.loki.as_ref().and_then(|l| l.password.as_ref()) {
        must_be_env.push(("logging.loki.password", password));
    }
    for (path, value) in must_be_env {
        match value {
            EnvString::Literal(_) => checker.push(
                Diagnostic::new(Code::SecretInline, path, "a secret is written inline")
                    .with_help("read it from the environment: `${VAR}` (without a default)"),
            ),
            EnvString::Env { default: Some(_), var } => checker.push(
                Diagnostic::new(
                    Code::SecretDefault,
                    path,
                    format!("`${{{var}:-…}}` bakes a default secret into the spec"),
                )
                .with_help(format!("write `${{{var}}}` and set it where the service runs")),
            ),
            EnvString::Env { default: None, .. } => {}
        }
    }
    let mut urls: Vec<(String, &EnvString)> = Vec::new();
    for (i, dependency) in spec.stack.dependencies.iter().enumerate() {
        for (key, value) in &dependency.environment {
            let path = format!("stack.dependencies[{i}].environment.{key}");
            // `*_FILE` names a path (a mounted secret), not the secret itself.
            if key.ends_with("_FILE") {
                continue;
            }
            if !names_a_secret(key) {
                urls.push((path, value));
                continue;
            }
            match value {
                EnvString::Literal(text) if !is_flag(text) => checker.push(
                    Diagnostic::new(
                        Code::SecretInline,
                        path,
                        format!("`{key}` holds a secret and is written inline"),
                    )
                    .with_help(format!(
                        "read it from the environment (`${{{key}}}`, without a default), or give `{key}_FILE: /run/secrets/<name>` if the image reads one"
                    )),
                ),
                EnvString::Env { var, default: Some(_) } => checker.push(
                    Diagnostic::new(
                        Code::SecretDefault,
                        path,
                        format!("`${{{var}:-…}}` bakes a default secret into the spec"),
                    )
                    .with_help(format!("write `${{{var}}}` and set it where the stack runs")),
                ),
                _ => {}
            }
        }
    }
    for (i, check) in spec.health.checks.iter().enumerate() {
        if let Some(target) = &check.target {
            urls.push((format!("health.checks[{i}].target"), target));
        }
    }
    if let Some(loki) = &spec.logging.loki {
        urls.push(("logging.loki.url".into(), &loki.url));
    }
    if let Some(tracing) = &spec.tracing {
        urls.push(("tracing.otlp_endpoint".into(), &tracing.otlp_endpoint));
    }
    if let Some(am) = &spec.alertmanager {
        for (i, receiver) in am.receivers.iter().enumerate() {
            if let Some(url) = receiver.webhook.as_ref().and_then(|w| w.url.as_ref()) {
                urls.push((format!("alertmanager.receivers[{i}].webhook.url"), url));
                if let EnvString::Env { var, default: None } = url {
                    checker.push(
                        Diagnostic::new(Code::WebhookUrlEnv, format!("alertmanager.receivers[{i}].webhook.url"), format!("Alertmanager cannot read `${{{var}}}` from the environment"))
                            .with_help(format!("give a default (`${{{var}:-http://…}}`) or put the URL in a mounted file and use `url_file`")),
                    );
                }
            }
        }
    }
    for (path, value) in urls {
        let Some(text) = value.default_value() else { continue };
        if let Some(reason) = credential_in_url(text) {
            checker.push(
                Diagnostic::new(Code::SecretInline, path, format!("the URL carries {reason}"))
                    .with_help("keep credentials out of obs.yaml: use a `*_file` field or `${VAR}`"),
            );
        }
    }
}

/// An empty value or a boolean switch (`MYSQL_ALLOW_EMPTY_PASSWORD: "yes"`) is no secret.
fn is_flag(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "" | "yes" | "no" | "true" | "false" | "on" | "off" | "0" | "1"
    )
}

/// Why a URL holds a secret: user info with a password, or a token-like query parameter.
pub(super) fn credential_in_url(url: &str) -> Option<&'static str> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') && authority.split('@').next().is_some_and(|user| user.contains(':')) {
        return Some("a user name and password");
    }
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let secret_keys = [
        "token",
        "key",
        "secret",
        "password",
        "apikey",
        "api_key",
        "access_token",
        "sig",
    ];
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(k, _)| k.to_ascii_lowercase()))
        .any(|key| secret_keys.contains(&key.as_str()))
        .then_some("a secret query parameter")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_credentials_in_urls() {
        assert!(credential_in_url("http://user:pw@host:80/x").is_some());
        assert!(credential_in_url("https://hooks.example.com/x?token=abc").is_some());
        assert!(credential_in_url("http://127.0.0.1:5001/alerts").is_none());
        assert!(credential_in_url("postgres:5432").is_none());
    }

    #[test]
    fn finds_secret_variable_names() {
        for key in [
            "POSTGRES_PASSWORD",
            "redis_password",
            "JWT_SECRET",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(names_a_secret(key), "{key}");
        }
        for key in [
            "POSTGRES_DB",
            "POSTGRES_USER",
            "POSTGRES_HOST_AUTH_METHOD",
            "REDIS_PORT",
        ] {
            assert!(!names_a_secret(key), "{key}");
        }
        assert!(is_flag("yes") && is_flag("") && !is_flag("hunter2"));
    }
}
