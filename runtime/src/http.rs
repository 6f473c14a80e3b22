//! HTTP instrumentation: a request id on every request (a sane inbound `X-Request-ID`, else
//! a new UUID) returned on the response and recorded on the request's log span; RED metrics
//! labelled by the matched route template (a constant for unmatched paths, so scanners
//! cannot create series); a log line per request, with the client's address (`client_ip`)
//! when the spec declares that field.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
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
    contract::catalog::HTTP_METHODS[method_slot(method)]
}

/// The method's place in [`contract::catalog::HTTP_METHODS`] (the last one is `OTHER`),
/// found by comparing the parsed method rather than its text.
fn method_slot(method: &axum::http::Method) -> usize {
    use axum::http::Method;
    const KNOWN: [Method; 7] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    KNOWN.iter().position(|m| m == method).unwrap_or(KNOWN.len())
}

/// Status codes whose request counter a route keeps at hand; any other status is looked
/// up in the family on each request.
const KEPT_STATUSES: [u16; 20] = [
    200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 502, 503, 504,
];

fn kept_status_slot(status: StatusCode) -> Option<usize> {
    KEPT_STATUSES.iter().position(|s| *s == status.as_u16())
}

/// The series one route answers into for one method, resolved on its first request and
/// kept: RED metrics then cost an atomic add per series instead of three family lookups.
struct RouteSeries {
    /// The route label they were resolved for; a request with another label (a layer
    /// applied in an unusual place) takes the family lookups instead.
    route: Box<str>,
    method: &'static str,
    in_progress: crate::metrics::Gauge,
    duration: crate::metrics::Histogram,
    requests: crate::metrics::CounterFamily,
    /// Request counters by [`KEPT_STATUSES`] slot, each set on the first such response.
    statuses: [OnceLock<Counter>; KEPT_STATUSES.len()],
    /// Whether these series stand for exactly this route and method (none was folded into
    /// `other` by a budget); only such series are kept for the next request.
    own: bool,
}

impl RouteSeries {
    fn resolve(http: &crate::builtins::HttpMetrics, route: &str, method: &'static str) -> Self {
        let (in_progress, own_gauge) = http.in_progress.resolve(&[route, method]);
        let (duration, own_histogram) = http.duration.resolve(&[route, method]);
        Self {
            route: route.into(),
            method,
            in_progress,
            duration,
            requests: http.requests.clone(),
            statuses: Default::default(),
            own: own_gauge && own_histogram,
        }
    }

    fn count(&self, status: StatusCode) {
        let values = [&*self.route, self.method, status.as_str()];
        let Some(slot) = kept_status_slot(status).filter(|_| self.own) else {
            self.requests.apply(&values, Counter::inc);
            return;
        };
        if let Some(counter) = self.statuses[slot].get() {
            counter.inc();
            return;
        }
        let (counter, own) = self.requests.resolve(&values);
        counter.inc();
        if own {
            let _ = self.statuses[slot].set(counter);
        }
    }
}

/// The series of the route an [`Instrumented`] serves, one slot per method. axum applies
/// a layer to each route's handler of each method separately (and to the fallbacks), so
/// one `Instrumented` sees one route label, and the slot is filled once.
#[derive(Default)]
struct RouteCache {
    by_method: [OnceLock<Arc<RouteSeries>>; contract::catalog::HTTP_METHODS.len()],
}

impl RouteCache {
    fn series(&self, http: &crate::builtins::HttpMetrics, route: &str, method_slot: usize) -> Arc<RouteSeries> {
        let method = contract::catalog::HTTP_METHODS[method_slot];
        if let Some(kept) = self.by_method[method_slot].get() {
            if *kept.route == *route {
                return Arc::clone(kept);
            }
            return Arc::new(RouteSeries::resolve(http, route, method));
        }
        let series = Arc::new(RouteSeries::resolve(http, route, method));
        if series.own {
            let _ = self.by_method[method_slot].set(Arc::clone(&series));
        }
        series
    }
}

/// Decrements the in-progress gauge however the request ends (even when the client goes
/// away), and holds the series the response is counted into.
struct InProgress(Arc<RouteSeries>);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.in_progress.dec();
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
            routes: Arc::default(),
        }
    }
}

/// A service wrapped by [`ObsLayer`].
#[derive(Clone)]
pub struct Instrumented<S> {
    inner: S,
    obs: Observability,
    client_ip: Option<Arc<[Cidr]>>,
    /// Shared by every clone of this service (axum clones it per request).
    routes: Arc<RouteCache>,
}

/// What is known when a request starts and recorded when its response is ready.
struct Pending {
    started: Instant,
    request_id: HeaderValue,
    /// The route's series, when the request is counted (HTTP metrics on, path not excluded).
    counted: Option<InProgress>,
}

impl Pending {
    fn finish(self, response: &mut Response) {
        let elapsed = self.started.elapsed();
        let status = response.status();
        if let Some(InProgress(series)) = &self.counted {
            series.count(status);
            series.duration.observe(elapsed.as_secs_f64());
        }
        response.headers_mut().insert(REQUEST_ID.clone(), self.request_id);
        let latency_ms = (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0;
        if status.is_server_error() {
            crate::runtime_event!(ERROR, RuntimeEvent::RequestFailed, status = status.as_u16(), latency_ms);
        } else if self.counted.is_some() {
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
        let route_label = request
            .extensions()
            .get::<MatchedPath>()
            .map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
        let method_slot = method_slot(request.method());
        let method = contract::catalog::HTTP_METHODS[method_slot];
        let path = request.uri().path();
        let http = self
            .obs
            .builtins
            .http
            .as_ref()
            .filter(|h| !h.exclude.iter().any(|e| e == path || e == route_label));
        let counted = http.map(|h| {
            let series = self.routes.series(h, route_label, method_slot);
            series.in_progress.inc();
            InProgress(series)
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
            started,
            request_id,
            counted,
        };
        let inner = span.in_scope(|| self.inner.call(request));
        InstrumentedFuture {
            inner,
            span,
            pending: Some(pending),
        }
    }
}

/// A v4 UUID as a header value, formatted without going through `fmt`. Its bytes are
/// reference-counted from the start, so the copies for the request and the response cost
/// an atomic add rather than a second allocation.
fn new_request_id() -> HeaderValue {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
    HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(text)).expect("a hyphenated UUID is a valid header value")
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
    fn every_method_label_is_found_where_the_catalog_lists_it() {
        for (slot, name) in contract::catalog::HTTP_METHODS.iter().enumerate() {
            if *name == "OTHER" {
                continue;
            }
            let method = axum::http::Method::from_bytes(name.as_bytes()).unwrap();
            assert_eq!((method_slot(&method), method_label(&method)), (slot, *name));
        }
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
