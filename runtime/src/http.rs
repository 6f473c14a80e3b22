//! HTTP instrumentation: a request id on every request (a sane inbound `X-Request-ID`, else
//! a new UUID) returned on the response and recorded on the request's log span; RED metrics
//! labelled by the matched route template (a constant for unmatched paths, so scanners
//! cannot create series); a log line per request.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use spec::catalog::UNMATCHED_ROUTE;
use tracing::Instrument;

use crate::observability::Observability;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longest inbound request id accepted.
pub const MAX_REQUEST_ID: usize = 128;

/// The request id of the request being handled, for handlers (jobs carry it as trace id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// An inbound id is used only when short and made of `[A-Za-z0-9._:-]`, so it cannot
/// inject anything into logs or headers.
pub fn sane_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let ok = !text.is_empty()
        && text.len() <= MAX_REQUEST_ID
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    ok.then(|| text.to_string())
}

/// The method label: the common ones, else `OTHER`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    spec::catalog::HTTP_METHODS
        .iter()
        .copied()
        .find(|m| *m == method.as_str())
        .unwrap_or("OTHER")
}

/// Decrements the in-progress gauge however the request ends (even when the client goes away).
struct InProgress(crate::metrics::Gauge);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The middleware; install with `axum::middleware::from_fn_with_state(obs, instrument)`.
pub async fn instrument(State(obs): State<Observability>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(sane_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    request.extensions_mut().insert(RequestId(request_id.clone()));
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE.to_string(), |p| p.as_str().to_string());
    let method = method_label(request.method());
    let path = request.uri().path().to_string();
    let http = obs
        .builtins
        .http
        .as_ref()
        .filter(|h| !h.exclude.iter().any(|e| *e == path || *e == route));
    let _in_progress = http.map(|h| {
        let gauge = h.in_progress.with(&[&route, method]);
        gauge.inc();
        InProgress(gauge)
    });
    let span = tracing::info_span!("request", request_id = %request_id, route = %route, method = %method);
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status();
    if let Some(http) = http {
        http.requests.with(&[&route, method, status.as_str()]).inc();
        http.duration.with(&[&route, method]).observe(elapsed.as_secs_f64());
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    let latency_ms = (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0;
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), latency_ms, "request failed");
        } else if http.is_some() {
            tracing::info!(status = status.as_u16(), latency_ms, "request finished");
        } else {
            tracing::debug!(status = status.as_u16(), latency_ms, "request finished");
        }
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_sane_request_ids() {
        let ok = HeaderValue::from_static("abc-123_x.y:z");
        assert_eq!(sane_request_id(&ok).as_deref(), Some("abc-123_x.y:z"));
        for bad in ["", "has space", "quote\"", "{\"json\":1}"] {
            assert!(
                sane_request_id(&HeaderValue::from_str(bad).unwrap_or(HeaderValue::from_static(""))).is_none(),
                "{bad}"
            );
        }
        let long = HeaderValue::from_str(&"a".repeat(MAX_REQUEST_ID + 1)).unwrap();
        assert!(sane_request_id(&long).is_none());
        let binary = HeaderValue::from_bytes(&[0xff, 0xfe]).unwrap();
        assert!(sane_request_id(&binary).is_none());
    }

    #[test]
    fn unknown_methods_are_other() {
        assert_eq!(method_label(&axum::http::Method::GET), "GET");
        assert_eq!(
            method_label(&axum::http::Method::from_bytes(b"PROPFIND").unwrap()),
            "OTHER"
        );
    }
}
