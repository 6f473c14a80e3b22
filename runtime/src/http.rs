//! HTTP instrumentation: a request id on every request (a sane inbound `X-Request-ID`, else
//! a new UUID) returned on the response and recorded on the request's log span; RED metrics
//! labelled by the matched route template (a constant for unmatched paths, so scanners
//! cannot create series); a log line per request, with the client's address (`client_ip`)
//! when the spec declares that field.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use contract::catalog::UNMATCHED_ROUTE;
use contract::cidr::Cidr;
use contract::model::RuntimeEvent;
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::Span;

use crate::client_ip::client_ip;
use crate::metrics::Counter;
use crate::observability::Observability;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longest inbound request id accepted.
pub const MAX_REQUEST_ID: usize = 128;

/// The request id of the request being handled, for handlers (jobs carry it as trace id):
/// extract `RequestId` or `Option<RequestId>`. The layer leaves exactly one sane
/// `X-Request-ID` on every request it passes on, so this reads that header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.headers.get(&REQUEST_ID).and_then(sane_request_id).map(RequestId))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestId {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let found = <Self as axum::extract::OptionalFromRequestParts<S>>::from_request_parts(parts, state).await;
        match found {
            Ok(Some(id)) => Ok(id),
            _ => Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                "no request id: the obs layer is not installed",
            )),
        }
    }
}

/// An inbound id is used only when short and made of `[A-Za-z0-9._:-]`, so it cannot
/// inject anything into logs or headers.
pub fn is_sane_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(b))
}

/// The inbound id as text when it is sane.
pub fn sane_request_id(value: &HeaderValue) -> Option<String> {
    is_sane_request_id(value)
        .then(|| value.to_str().ok().map(str::to_string))
        .flatten()
}

/// The method label: the common ones, else `OTHER`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    contract::catalog::HTTP_METHODS
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

/// The instrumentation as a tower layer: `router.layer(ObsLayer::new(obs))`. Hand-written
/// rather than `axum::middleware::from_fn` because that boxes a future and clones the inner
/// service on every request, which cost a measurable share of throughput (BENCHMARKS.md).
#[derive(Clone)]
pub struct ObsLayer {
    obs: Observability,
    /// The proxies whose forwarding headers are believed, when request lines carry
    /// `client_ip` (the spec declares it); `None`: they do not.
    client_ip: Option<Arc<[Cidr]>>,
}

impl ObsLayer {
    pub fn new(obs: Observability) -> Self {
        let spec = &obs.config.spec;
        let client_ip = spec
            .logging
            .fields
            .iter()
            .any(|f| f == CLIENT_IP)
            .then(|| spec.service.trusted_proxies.clone().into());
        Self { obs, client_ip }
    }
}

/// The log field holding the client's address.
pub const CLIENT_IP: &str = "client_ip";

impl<S> Layer<S> for ObsLayer {
    type Service = Instrumented<S>;

    fn layer(&self, inner: S) -> Instrumented<S> {
        Instrumented {
            inner,
            obs: self.obs.clone(),
            client_ip: self.client_ip.clone(),
        }
    }
}

/// A service wrapped by [`ObsLayer`].
#[derive(Clone)]
pub struct Instrumented<S> {
    inner: S,
    obs: Observability,
    client_ip: Option<Arc<[Cidr]>>,
}

/// What is known when a request starts and recorded when its response is ready.
struct Pending {
    obs: Observability,
    started: Instant,
    request_id: HeaderValue,
    route: Option<MatchedPath>,
    method: &'static str,
    counted: bool,
    _in_progress: Option<InProgress>,
}

impl Pending {
    fn route(&self) -> &str {
        self.route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
    }

    fn finish(self, response: &mut Response) {
        let elapsed = self.started.elapsed();
        let status = response.status();
        if let Some(http) = self.obs.builtins.http.as_ref().filter(|_| self.counted) {
            let route = self.route();
            http.requests
                .apply(&[route, self.method, status.as_str()], Counter::inc);
            http.duration
                .apply(&[route, self.method], |h| h.observe(elapsed.as_secs_f64()));
        }
        response.headers_mut().insert(REQUEST_ID.clone(), self.request_id);
        let latency_ms = (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0;
        if status.is_server_error() {
            crate::runtime_event!(ERROR, RuntimeEvent::RequestFailed, status = status.as_u16(), latency_ms);
        } else if self.counted {
            crate::runtime_event!(INFO, RuntimeEvent::Request, status = status.as_u16(), latency_ms);
        } else {
            tracing::debug!(status = status.as_u16(), latency_ms, "request finished");
        }
    }
}

impl<S> Service<Request> for Instrumented<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = InstrumentedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let inbound = request
            .headers()
            .get(&REQUEST_ID)
            .filter(|v| is_sane_request_id(v))
            .cloned();
        let request_id = match inbound {
            Some(id) => id,
            None => {
                // Absent or unusable: handlers and logs see the id we made instead.
                let id = new_request_id();
                request.headers_mut().insert(REQUEST_ID.clone(), id.clone());
                id
            }
        };
        let request_id_text = request_id.to_str().unwrap_or_default();
        let route = request.extensions().get::<MatchedPath>().cloned();
        let route_label = route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
        let method = method_label(request.method());
        let path = request.uri().path();
        let http = self
            .obs
            .builtins
            .http
            .as_ref()
            .filter(|h| !h.exclude.iter().any(|e| e == path || e == route_label));
        let in_progress = http.map(|h| {
            let gauge = h.in_progress.with(&[route_label, method]);
            gauge.inc();
            InProgress(gauge)
        });
        let span = tracing::info_span!(
            "request",
            request_id = %request_id_text,
            route = %route_label,
            method = %method,
            client_ip = tracing::field::Empty
        );
        crate::traces::continue_from_headers(&span, request.headers());
        if let Some(trusted) = &self.client_ip {
            let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
            if let Some(peer) = peer {
                span.record(
                    CLIENT_IP,
                    tracing::field::display(client_ip(request.headers(), peer, trusted)),
                );
            }
        }
        let pending = Pending {
            obs: self.obs.clone(),
            started,
            counted: http.is_some(),
            route,
            method,
            request_id,
            _in_progress: in_progress,
        };
        let inner = span.in_scope(|| self.inner.call(request));
        InstrumentedFuture {
            inner,
            span,
            pending: Some(pending),
        }
    }
}

/// A v4 UUID as a header value, formatted without going through `fmt`.
fn new_request_id() -> HeaderValue {
    let mut buffer = uuid::Uuid::encode_buffer();
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
    HeaderValue::from_str(text).expect("a hyphenated UUID is a valid header value")
}

pin_project! {
    /// The inner service's future, in the request's span, recording the response when ready.
    pub struct InstrumentedFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        pending: Option<Pending>,
    }
}

impl<F, E> Future for InstrumentedFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        // A handler that panics answers 500, counted and logged like any failure (the panic
        // hook has written the panic itself, with this request's context), instead of
        // dropping the connection with nothing recorded.
        let mut inner = this.inner;
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.as_mut().poll(cx)));
        let mut response = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => result?,
            Err(_) => {
                let mut failed = Response::new(axum::body::Body::empty());
                *failed.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                failed
            }
        };
        if let Some(pending) = this.pending.take() {
            pending.finish(&mut response);
        }
        Poll::Ready(Ok(response))
    }
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
