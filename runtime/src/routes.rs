//! The endpoints the spec declares: liveness, readiness and detailed health with the
//! bodies of `contract::probe_bodies`, and the metrics exposition (text or OpenMetrics, optionally
//! behind a bearer token).

use axum::extract::{FromRef, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::metrics::Negotiated;
use crate::observability::Observability;

async fn liveness(State(obs): State<Observability>) -> Response {
    let state = obs.health_state_without_checks();
    Json(contract::probe_bodies::liveness_body(
        &obs.config.spec.health.liveness,
        &state,
    ))
    .into_response()
}

async fn readiness(State(obs): State<Observability>) -> Response {
    let state = obs
        .health
        .state(obs.started, &obs.config.version, obs.shutdown.is_shutting_down())
        .await;
    let (code, body) = contract::probe_bodies::readiness_body(&obs.config.spec.health.readiness, &state);
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        Json(body),
    )
        .into_response()
}

async fn detailed(State(obs): State<Observability>) -> Response {
    let state = obs
        .health
        .state(obs.started, &obs.config.version, obs.shutdown.is_shutting_down())
        .await;
    let (code, body) = contract::probe_bodies::detailed_body(&state);
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        Json(body),
    )
        .into_response()
}

/// Whether `presented` is the `token`, in a time that depends on the token's length only:
/// neither a matching prefix nor the presented length shows in how long the answer takes.
fn same(presented: &[u8], token: &[u8]) -> bool {
    let mut difference = u8::from(presented.len() != token.len());
    for (i, expected) in token.iter().enumerate() {
        difference |= presented.get(i).copied().unwrap_or(!expected) ^ expected;
    }
    std::hint::black_box(difference) == 0
}

/// The credentials of an `Authorization: Bearer …` header; the scheme is case-insensitive
/// (RFC 9110), the token is taken as sent.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| credentials.trim())
}

async fn metrics(State(obs): State<Observability>, headers: HeaderMap) -> Response {
    if let Some(token) = &obs.config.metrics_token {
        if !bearer(&headers).is_some_and(|p| same(p.as_bytes(), token.as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a bearer token is required\n",
            )
                .into_response();
        }
    }
    if let Some(lifecycle) = &obs.builtins.lifecycle {
        lifecycle.shutdown.set(obs.shutdown.elapsed_seconds());
    }
    let negotiated = Negotiated::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let body = obs.registry.exposition(negotiated);
    ([(header::CONTENT_TYPE, negotiated.content_type())], body).into_response()
}

impl Observability {
    /// A probe state for liveness, which checks nothing.
    fn health_state_without_checks(&self) -> contract::probe_bodies::ProbeState {
        contract::probe_bodies::ProbeState {
            timestamp: crate::logging::now_rfc3339(),
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            version: self.config.version.clone(),
            shutting_down: self.shutdown.is_shutting_down(),
            checks: Vec::new(),
        }
    }

    /// The probe routes (and metrics, unless they have their own port), for a router of
    /// any state that can hand out the `Observability` (`FromRef`, the axum way).
    pub fn routes<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
        Observability: FromRef<S>,
    {
        let health = &self.config.spec.health;
        let mut router = Router::new();
        for path in std::iter::once(&health.liveness.path).chain(&health.liveness.aliases) {
            router = router.route(path, get(liveness));
        }
        // A component declared without readiness (a worker nobody routes traffic to) serves
        // none: a 404 says so, where a 200 would claim a gate that is not there.
        if self.config.component.readiness {
            for path in std::iter::once(&health.readiness.path).chain(&health.readiness.aliases) {
                router = router.route(path, get(readiness));
            }
        }
        if let Some(detailed_probe) = &health.detailed {
            router = router.route(&detailed_probe.path, get(detailed));
        }
        if self.config.metrics_port.is_none() {
            router = router.merge(self.metrics_routes());
        }
        router
    }

    /// The exposition routes: `/metrics` and its aliases.
    pub fn metrics_routes<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
        Observability: FromRef<S>,
    {
        let endpoint = &self.config.spec.metrics.endpoint;
        let mut router = Router::new();
        for path in std::iter::once(&endpoint.path).chain(&endpoint.aliases) {
            router = router.route(path, get(metrics));
        }
        router
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_whole_token_matches() {
        assert!(same(b"s3cret", b"s3cret"));
        for other in [&b""[..], b"s", b"s3cre", b"s3cret!", b"S3cret", b"x3cret", b"s3creu"] {
            assert!(!same(other, b"s3cret"), "{:?}", String::from_utf8_lossy(other));
        }
        // Equal lengths: only the bytes decide.
        assert!(!same(b"\x00", b"\xff"));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };
        assert_eq!(bearer(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&headers("bearer abc")), Some("abc"));
        assert_eq!(bearer(&headers("BEARER  abc ")), Some("abc"));
        assert_eq!(bearer(&headers("Basic abc")), None);
        assert_eq!(bearer(&headers("Bearerabc")), None);
    }
}
