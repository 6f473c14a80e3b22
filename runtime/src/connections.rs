//! Accepting and serving HTTP/1.1 connections with the limits `axum::serve` lacks: a
//! header read timeout that also ends keep-alive connections left idle (and slowloris
//! clients trickling headers), a connection limit below the process's file-descriptor
//! limit that sheds the longest-idle connection to make room for a new one, and accept
//! errors such as "too many open files" that free a descriptor instead of spinning.
//! Shutdown stops accepting, lets each connection finish its request, and closes idle ones.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics::Counter;

/// How long a client may take to send a request's headers, counted from when the server
/// starts waiting for them: on a new connection, and between requests on a kept-alive one.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Descriptors kept out of the connection limit for everything else the process opens
/// (WebSockets after their upgrade, outgoing HTTP, files): a quarter, at least 64.
fn reserved_descriptors(limit: u64) -> u64 {
    (limit / 4).max(64)
}

/// The limits a server holds its connections to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_read_timeout: Duration,
    /// Connections served at once; a new one past it takes the place of the longest-idle.
    pub max_connections: usize,
}

/// Connections the separate metrics port holds at most (scrapers are few); taken out of
/// the main server's share so both together stay under the process's limit.
pub const METRICS_PORT_CONNECTIONS: usize = 64;

impl Limits {
    /// The share of these limits for the main server when a metrics port runs beside it,
    /// and the metrics port's own.
    pub fn split_for_metrics_port(self) -> (Self, Self) {
        let metrics = METRICS_PORT_CONNECTIONS.min(self.max_connections / 2).max(1);
        let main = Self {
            max_connections: self.max_connections.saturating_sub(metrics).max(1),
            ..self
        };
        (
            main,
            Self {
                max_connections: metrics,
                ..self
            },
        )
    }

    /// The defaults for this process: the header timeout above, and connections up to the
    /// soft file-descriptor limit less the reserve.
    pub fn for_this_process() -> Self {
        Self::for_descriptor_limit(descriptor_limit())
    }

    pub fn for_descriptor_limit(limit: u64) -> Self {
        let usable = limit.saturating_sub(reserved_descriptors(limit)).max(16);
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: usize::try_from(usable).unwrap_or(usize::MAX),
        }
    }
}

/// The soft limit on open files (`ulimit -n`), read from `/proc/self/limits`; 1,024 when
/// it cannot be read, and `u64::MAX` when unlimited.
pub fn descriptor_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| soft_open_files(&text))
        .unwrap_or(1024)
}

/// The soft "Max open files" of a `/proc/<pid>/limits` text.
fn soft_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    let soft = line.trim_start_matches("Max open files").split_whitespace().next()?;
    match soft {
        "unlimited" => Some(u64::MAX),
        number => number.parse().ok(),
    }
}

/// Why the server closed a connection on its own, counted in
/// `obs_http_connections_closed_total{reason}` when the spec declares it.
#[derive(Debug, Clone, Default)]
pub struct Closed {
    /// The client sent no complete request head within the header read timeout.
    pub header_timeout: Counter,
    /// The connection limit was reached and this idle connection made room for a new one.
    pub shed: Counter,
}

/// One connection being served: whether a request is in flight, and since when it idles.
struct Entry {
    in_flight: Arc<AtomicUsize>,
    idle_since: Arc<AtomicU64>,
    evict: CancellationToken,
}

/// The connections being served, to find the longest-idle one when room is needed.
#[derive(Default)]
struct Table {
    next_id: u64,
    entries: HashMap<u64, Entry>,
}

impl Table {
    /// Closes the connection idle the longest; false when every one has a request in flight.
    fn evict_longest_idle(&mut self) -> bool {
        let idle = self
            .entries
            .iter()
            .filter(|(_, e)| e.in_flight.load(Ordering::Acquire) == 0 && !e.evict.is_cancelled())
            .min_by_key(|(_, e)| e.idle_since.load(Ordering::Relaxed));
        match idle {
            Some((_, entry)) => {
                entry.evict.cancel();
                true
            }
            None => false,
        }
    }

    fn live(&self) -> usize {
        self.entries.values().filter(|e| !e.evict.is_cancelled()).count()
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then until every connection has
/// finished its request (the caller bounds that wait). Handlers see `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    closed: Closed,
    shutdown: impl Future<Output = ()>,
) {
    let started = Instant::now();
    let table = Arc::new(Mutex::new(Table::default()));
    let stopping = CancellationToken::new();
    let tracker = TaskTracker::new();
    let mut last_accept_error: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Said at most once a second rather than on every retry.
                if last_accept_error.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                    tracing::warn!(error = %error, "cannot accept a connection");
                    last_accept_error = Some(Instant::now());
                }
                // Out of descriptors (EMFILE, ENFILE): free one by closing the longest-idle
                // connection. Other errors concern one connection that is already gone.
                if matches!(error.raw_os_error(), Some(23 | 24)) {
                    if table.lock().expect("connection table").evict_longest_idle() {
                        closed.shed.inc();
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                continue;
            }
        };
        let mut guard = table.lock().expect("connection table");
        if guard.live() >= limits.max_connections {
            if guard.evict_longest_idle() {
                closed.shed.inc();
            } else {
                // Every connection is busy: this one waits for nothing, it is closed now.
                drop(guard);
                drop(stream);
                closed.shed.inc();
                continue;
            }
        }
        let id = guard.next_id;
        guard.next_id += 1;
        let in_flight = Arc::new(AtomicUsize::new(0));
        let idle_since = Arc::new(AtomicU64::new(elapsed_millis(started)));
        let evict = CancellationToken::new();
        guard.entries.insert(
            id,
            Entry {
                in_flight: in_flight.clone(),
                idle_since: idle_since.clone(),
                evict: evict.clone(),
            },
        );
        drop(guard);
        let connection = Connection {
            router: router.clone(),
            peer,
            in_flight,
            idle_since,
            started,
        };
        let table = table.clone();
        let stopping = stopping.clone();
        let closed = closed.clone();
        tracker.spawn(async move {
            connection.serve(stream, limits, evict, stopping, closed).await;
            table.lock().expect("connection table").entries.remove(&id);
        });
    }
    drop(listener);
    stopping.cancel();
    tracker.close();
    tracker.wait().await;
}

fn elapsed_millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What one connection's task needs.
struct Connection {
    router: Router,
    peer: SocketAddr,
    in_flight: Arc<AtomicUsize>,
    idle_since: Arc<AtomicU64>,
    started: Instant,
}

impl Connection {
    async fn serve(
        self,
        stream: tokio::net::TcpStream,
        limits: Limits,
        evict: CancellationToken,
        stopping: CancellationToken,
        closed: Closed,
    ) {
        let Connection {
            router,
            peer,
            in_flight,
            idle_since,
            started,
        } = self;
        let busy = in_flight.clone();
        let service = hyper::service::service_fn(move |mut request: axum::http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let guard = InFlight::start(in_flight.clone(), idle_since.clone(), started);
            let router = router.clone();
            async move {
                let Ok(response) = tower::ServiceExt::oneshot(router, request).await;
                // The request is in flight until its body has been written (or dropped).
                Ok::<_, std::convert::Infallible>(response.map(|body| {
                    axum::body::Body::new(http_body_util::BodyExt::map_frame(body, move |frame| {
                        let _held = &guard;
                        frame
                    }))
                }))
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .keep_alive(true);
        let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
        tokio::pin!(connection);
        let idle = || busy.load(Ordering::Acquire) == 0;
        let result = tokio::select! {
            result = connection.as_mut() => result,
            // Evicted or stopping: an idle connection is dropped, which closes its socket and
            // loses nothing (waiting on it would wait for a client that may never speak); a
            // busy one finishes its request and closes.
            () = evict.cancelled() => {
                if idle() {
                    return;
                }
                connection.as_mut().graceful_shutdown();
                connection.await
            }
            () = stopping.cancelled() => {
                if idle() {
                    return;
                }
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = result {
            if error.is_timeout() {
                closed.header_timeout.inc();
            }
        }
    }
}

/// A request in flight on a connection; when it ends, the connection idles from then on.
struct InFlight {
    count: Arc<AtomicUsize>,
    idle_since: Arc<AtomicU64>,
    started: Instant,
}

impl InFlight {
    fn start(count: Arc<AtomicUsize>, idle_since: Arc<AtomicU64>, started: Instant) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self {
            count,
            idle_since,
            started,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.idle_since.store(elapsed_millis(self.started), Ordering::Relaxed);
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_soft_open_files_limit() {
        let text = "Limit                     Soft Limit           Hard Limit           Units\n\
                    Max cpu time              unlimited            unlimited            seconds\n\
                    Max open files            1024                 524288               files\n";
        assert_eq!(soft_open_files(text), Some(1024));
        assert_eq!(
            soft_open_files("Max open files unlimited unlimited files"),
            Some(u64::MAX)
        );
        assert_eq!(soft_open_files("nothing"), None);
        assert!(descriptor_limit() >= 16);
    }

    #[test]
    fn the_limit_leaves_descriptors_for_everything_else() {
        assert_eq!(Limits::for_descriptor_limit(1024).max_connections, 768);
        assert_eq!(Limits::for_descriptor_limit(100).max_connections, 36);
        assert_eq!(Limits::for_descriptor_limit(10).max_connections, 16);
        assert_eq!(Limits::for_descriptor_limit(1_048_576).max_connections, 786_432);
    }
}
