//! Serving: the app's routes merged with the spec's endpoints, instrumented, on the
//! spec's port(s), until a graceful shutdown completes. Readiness turns 503 when shutdown
//! begins; the listener closes after the drain delay; in-flight requests finish (bounded
//! by the grace deadline, which axum alone does not enforce); tracked WebSockets and jobs
//! finish or are abandoned at the deadline; the shutdown duration is recorded and logged.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::FromRef;
use axum::Router;
use tokio::net::TcpListener;

use crate::observability::Observability;

/// The body limit axum's extractors apply when no `DefaultBodyLimit` is set (2 MiB).
const AXUM_DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// What a finished shutdown reports.
#[derive(Debug, Clone, PartialEq)]
pub struct ShutdownReport {
    pub seconds: f64,
    /// Whether every request and tracked task finished before the grace deadline.
    pub clean: bool,
}

/// The full router: the app's routes with its state `S`, the probes and metrics, the
/// instrumentation middleware. `S` is the service's own state; it only has to hand out the
/// `Observability` (`impl FromRef<S> for Observability`, or `S = Observability`).
pub fn app<S>(obs: &Observability, routes: Router<S>, state: S) -> Router
where
    S: Clone + Send + Sync + 'static,
    Observability: FromRef<S>,
{
    let body_limit = usize::try_from(obs.config.spec.service.limits.request_body_bytes).unwrap_or(usize::MAX);
    let routes = routes.merge(obs.routes::<S>());
    // Extractors (JSON, form, bytes, text) read at most this much; past it, 413. axum's own
    // default is the spec's default, and the layer costs an extension per request, so it is
    // added only for another limit.
    let routes = if body_limit == AXUM_DEFAULT_BODY_LIMIT {
        routes
    } else {
        routes.layer(axum::extract::DefaultBodyLimit::max(body_limit))
    };
    routes.layer(crate::http::ObsLayer::new(obs.clone())).with_state(state)
}

/// Binds the spec's port (and metrics port) on all interfaces and serves.
pub async fn serve<S>(obs: Observability, routes: Router<S>, state: S) -> anyhow::Result<ShutdownReport>
where
    S: Clone + Send + Sync + 'static,
    Observability: FromRef<S>,
{
    let listener = TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], obs.config.port))).await?;
    let metrics = match obs.config.metrics_port {
        Some(port) => Some(TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))).await?),
        None => None,
    };
    serve_on(obs, routes, state, listener, metrics).await
}

/// Serves on listeners the caller bound (tests bind port 0).
pub async fn serve_on<S>(
    obs: Observability,
    routes: Router<S>,
    state: S,
    listener: TcpListener,
    metrics: Option<TcpListener>,
) -> anyhow::Result<ShutdownReport>
where
    S: Clone + Send + Sync + 'static,
    Observability: FromRef<S>,
{
    let router = app(&obs, routes, state);
    let address = listener.local_addr()?;
    // Handlers may ask for the peer's address (`ConnectInfo<SocketAddr>`), e.g. for `client_ip`.
    let (limits, metrics_limits) = match metrics {
        Some(_) => obs.config.connection_limits.split_for_metrics_port(),
        None => (obs.config.connection_limits, obs.config.connection_limits),
    };
    let main = crate::connections::serve(
        listener,
        router,
        limits,
        obs.connection_closes(),
        obs.shutdown.draining(),
    );
    let metrics_server = metrics.map(|listener| {
        let router = obs.metrics_routes::<Observability>().with_state(obs.clone());
        let server = crate::connections::serve(
            listener,
            router,
            metrics_limits,
            obs.connection_closes(),
            obs.shutdown.deadline(),
        );
        tokio::spawn(server)
    });
    let startup = obs.started.elapsed().as_secs_f64();
    if let Some(lifecycle) = &obs.builtins.lifecycle {
        lifecycle.startup.set(startup);
    }
    crate::runtime_event!(
        INFO,
        crate::events::RuntimeEvent::ServiceStarted,
        address = %address,
        startup_seconds = startup
    );
    let startup_push = obs.pushgateway.clone().map(|pusher| {
        // In the background, a few tries: the Pushgateway may start after the service.
        let http = obs.http.clone();
        tokio::spawn(async move {
            for attempt in 1..=5 {
                match pusher.push(&http, startup, None).await {
                    Ok(()) => return,
                    Err(error) if attempt == 5 => {
                        tracing::warn!(error = %error, "cannot push the start-up time to the Pushgateway")
                    }
                    Err(_) => tokio::time::sleep(std::time::Duration::from_secs(2)).await,
                }
            }
        })
    });
    for check in obs.health.unregistered() {
        // Said once, loudly, rather than discovered as a readiness that never turns green.
        tracing::warn!(
            check = %check,
            "custom health check has no code registered; it reports down until the service registers it"
        );
    }
    let served = tokio::select! {
        () = main => true,
        _ = obs.shutdown.deadline() => false,
    };
    if !served {
        tracing::warn!("grace deadline reached with requests still in flight; abandoning them");
    }
    let tasks_done = obs.shutdown.wait_for_tasks().await;
    if !tasks_done {
        tracing::warn!(
            running = obs.shutdown.running_tasks(),
            "grace deadline reached with tasks still running; abandoning them"
        );
    }
    let seconds = obs.shutdown.elapsed_seconds();
    if let Some(lifecycle) = &obs.builtins.lifecycle {
        lifecycle.shutdown.set(seconds);
    }
    crate::runtime_event!(
        INFO,
        crate::events::RuntimeEvent::ShutdownComplete,
        shutdown_seconds = seconds,
        clean = served && tasks_done
    );
    if let Some(handle) = metrics_server {
        handle.abort();
    }
    if let Some(retrying) = startup_push {
        // A late start-up push would replace the group and erase the shutdown duration.
        retrying.abort();
    }
    if let Some(pusher) = &obs.pushgateway {
        // The last word on this process: Prometheus never scrapes the shutdown duration.
        if let Err(error) = pusher.push(&obs.http, startup, Some(seconds)).await {
            tracing::warn!(error = %error, "cannot push the shutdown duration to the Pushgateway");
        }
    }
    obs.flush_traces(std::time::Duration::from_secs(3)).await;
    obs.flush_errors(std::time::Duration::from_secs(2)).await;
    obs.flush_logs().await;
    Ok(ShutdownReport {
        seconds,
        clean: served && tasks_done,
    })
}

/// Waits until `address` accepts connections (for tests and the healthcheck), bounded.
pub async fn wait_until_listening(address: SocketAddr, within: std::time::Duration) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if tokio::net::TcpStream::connect(address).await.is_ok() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}
