//! HTTP load: each worker holds one kept-alive HTTP/1.1 connection (hyper's client
//! connection, over TLS for `https://`) and sends GETs back to back, or on a fixed schedule.
//! A connection the server closes is reopened and counted; nothing waits past the deadline
//! plus one reply timeout.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio_rustls::rustls;

use super::{histogram, record, Collected, HttpLoad, Latency, Progress, Summary, MAX_DURATION, REPLY_TIMEOUT};

/// Where the requests go, parsed once.
#[derive(Debug, Clone)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
    /// `Host` header value.
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url.parse().map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("`{url}` is not an http:// or https:// URL")),
        };
        let authority = uri.authority().ok_or_else(|| format!("`{url}` has no host"))?;
        let host = authority.host().trim_matches(['[', ']']).to_string();
        if host.is_empty() {
            return Err(format!("`{url}` has no host"));
        }
        Ok(Self {
            tls,
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            authority: authority.as_str().to_string(),
            host,
            path: uri.path_and_query().map_or("/".into(), |p| p.as_str().to_string()),
        })
    }
}

/// Trusts the Mozilla roots and the PEM bundle `OBS_CA_FILE` names, like the runtime.
fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = std::env::var_os(runtime::http_client::CA_FILE_ENV).filter(|p| !p.is_empty()) {
        let certificates = rustls::pki_types::CertificateDer::pem_file_iter(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.to_string_lossy()))?;
        for certificate in certificates {
            let certificate = certificate.map_err(|e| format!("{}: {e}", path.to_string_lossy()))?;
            roots
                .add(certificate)
                .map_err(|e| format!("{}: {e}", path.to_string_lossy()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

type Sender = SendRequest<Empty<Bytes>>;

/// Opens a connection and starts driving it; the sender sends on it.
async fn connect(target: &Target, tls: Option<&tokio_rustls::TlsConnector>) -> Result<Sender, String> {
    let stream = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| e.to_string())?;
    // Small requests back to back: Nagle would hold each one for the last one's ACK.
    let _ = stream.set_nodelay(true);
    match tls {
        Some(connector) => {
            let name = rustls::pki_types::ServerName::try_from(target.host.clone()).map_err(|e| e.to_string())?;
            let stream = connector.connect(name, stream).await.map_err(|e| e.to_string())?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            Ok(sender)
        }
        None => {
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            Ok(sender)
        }
    }
}

/// One request on a kept-alive connection, its body read so the connection can be reused.
async fn exchange(sender: &mut Sender, target: &Target) -> Result<u16, &'static str> {
    sender.ready().await.map_err(|_| "connection")?;
    let request = Request::get(target.path.as_str())
        .header(hyper::header::HOST, target.authority.as_str())
        .header(hyper::header::USER_AGENT, "obs-loadtest")
        .body(Empty::<Bytes>::new())
        .map_err(|_| "request")?;
    let response = sender.send_request(request).await.map_err(|_| "connection")?;
    let status = response.status().as_u16();
    response.into_body().collect().await.map_err(|_| "body")?;
    Ok(status)
}

/// What one worker saw.
struct Worker {
    latencies: hdrhistogram::Histogram<u64>,
    service: hdrhistogram::Histogram<u64>,
    late: u64,
}

async fn work(
    target: Arc<Target>,
    tls: Option<tokio_rustls::TlsConnector>,
    schedule: Option<(tokio::time::Instant, Duration)>,
    deadline: tokio::time::Instant,
    progress: Arc<Progress>,
    collected: Arc<Mutex<Collected>>,
) -> Worker {
    let mut worker = Worker {
        latencies: histogram(),
        service: histogram(),
        late: 0,
    };
    let mut statuses: Vec<(u16, u64)> = Vec::new();
    let mut errors: Vec<&'static str> = Vec::new();
    let mut sender: Option<Sender> = None;
    let mut due = schedule.map(|(first, _)| first);
    while tokio::time::Instant::now() < deadline {
        // With a schedule, the time this request was due: latency counts from it.
        let mut intended = None;
        if let (Some(at), Some((_, every))) = (due.as_mut(), schedule) {
            if *at >= deadline {
                break;
            }
            if tokio::time::Instant::now() > *at + Duration::from_millis(1) {
                worker.late += 1;
            } else {
                tokio::time::sleep_until(*at).await;
            }
            intended = Some(*at);
            *at += every;
        }
        let mut current = match sender.take() {
            Some(open) if !open.is_closed() => open,
            _ => match tokio::time::timeout(REPLY_TIMEOUT, connect(&target, tls.as_ref())).await {
                Ok(Ok(open)) => {
                    progress.opened.fetch_add(1, Ordering::Relaxed);
                    open
                }
                Ok(Err(_)) | Err(_) => {
                    progress.failed.fetch_add(1, Ordering::Relaxed);
                    errors.push("connect");
                    progress.errors.fetch_add(1, Ordering::Relaxed);
                    // A refused port answers at once: don't spin on it.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let sent = Instant::now();
        progress.sent.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(REPLY_TIMEOUT, exchange(&mut current, &target)).await {
            Ok(Ok(status)) => {
                let done = tokio::time::Instant::now();
                record(&mut worker.service, sent.elapsed());
                match intended {
                    Some(intended) => record(&mut worker.latencies, done.saturating_duration_since(intended)),
                    None => record(&mut worker.latencies, sent.elapsed()),
                }
                progress.acknowledged.fetch_add(1, Ordering::Relaxed);
                match statuses.iter_mut().find(|(s, _)| *s == status) {
                    Some((_, n)) => *n += 1,
                    None => statuses.push((status, 1)),
                }
                sender = Some(current);
            }
            Ok(Err(kind)) => {
                errors.push(kind);
                progress.errors.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                errors.push("timeout");
                progress.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let mut collected = collected.lock().unwrap_or_else(|e| e.into_inner());
    for (status, n) in statuses {
        *collected.status.entry(status.to_string()).or_default() += n;
    }
    for kind in errors {
        *collected.errors.entry(kind.to_string()).or_default() += 1;
    }
    worker
}

/// Runs an HTTP load profile.
pub async fn run_http(load: &HttpLoad, progress: Arc<Progress>) -> Result<Summary, String> {
    let target = Arc::new(Target::parse(&load.url)?);
    if load.concurrency == 0 || load.concurrency > 10_000 {
        return Err("--concurrency must be 1 to 10000".into());
    }
    if load.duration.is_zero() || load.duration > MAX_DURATION {
        return Err(format!("--duration must be 1 to {} seconds", MAX_DURATION.as_secs()));
    }
    let rps = match load.rps {
        Some(rps) if !(rps > 0.0 && rps <= 10_000_000.0) => {
            return Err("--rps must be a positive number of requests per second, at most 10000000".into())
        }
        other => other,
    };
    let tls = if target.tls { Some(tls_connector()?) } else { None };
    let started = Instant::now();
    let start = tokio::time::Instant::now();
    let deadline = start + load.duration;
    let collected = Arc::new(Mutex::new(Collected::default()));
    let mut workers = tokio::task::JoinSet::new();
    for index in 0..load.concurrency {
        // Worker i sends at start + i/rps, then every concurrency/rps: together, rps evenly spaced.
        let schedule = rps.map(|rps| {
            (
                start + Duration::from_secs_f64(f64::from(index) / rps),
                Duration::from_secs_f64(f64::from(load.concurrency) / rps),
            )
        });
        workers.spawn(work(
            target.clone(),
            tls.clone(),
            schedule,
            deadline,
            progress.clone(),
            collected.clone(),
        ));
    }
    let mut latencies = histogram();
    let mut service = histogram();
    let mut late = 0;
    let _ = tokio::time::timeout_at(deadline + REPLY_TIMEOUT + Duration::from_secs(5), async {
        while let Some(joined) = workers.join_next().await {
            if let Ok(worker) = joined {
                let _ = latencies.add(&worker.latencies);
                let _ = service.add(&worker.service);
                late += worker.late;
            }
        }
    })
    .await;
    workers.abort_all();
    let seconds = started.elapsed().as_secs_f64();
    let collected = std::mem::take(&mut *collected.lock().unwrap_or_else(|e| e.into_inner()));
    let answered = progress.acknowledged.load(Ordering::Relaxed);
    Ok(Summary {
        mode: "http",
        target: load.url.clone(),
        seconds,
        connections_opened: progress.opened.load(Ordering::Relaxed),
        connections_failed: progress.failed.load(Ordering::Relaxed),
        messages_sent: progress.sent.load(Ordering::Relaxed),
        messages_acknowledged: answered,
        throughput_per_second: answered as f64 / seconds.max(1e-9),
        latency: Latency::of(&latencies),
        service_latency: rps.is_some().then(|| Latency::of(&service)),
        late_requests: late,
        errors: collected.errors,
        status: collected.status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let t = Target::parse("http://127.0.0.1:9091/metrics?x=1").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.path.as_str()),
            (false, "127.0.0.1", 9091, "/metrics?x=1")
        );
        let t = Target::parse("https://[::1]/").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.authority.as_str()),
            (true, "::1", 443, "[::1]")
        );
        assert!(Target::parse("ftp://x/").is_err());
        assert!(Target::parse("/just/a/path").is_err());
    }

    async fn server(delay_every: Option<(u64, Duration)>) -> String {
        use std::sync::atomic::AtomicU64;
        let count = Arc::new(AtomicU64::new(0));
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(move || {
                let count = count.clone();
                async move {
                    let n = count.fetch_add(1, Ordering::Relaxed) + 1;
                    if let Some((every, pause)) = delay_every {
                        if n.is_multiple_of(every) {
                            tokio::time::sleep(pause).await;
                        }
                    }
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    #[tokio::test]
    async fn keeps_each_workers_connection_alive() {
        let url = server(None).await;
        let load = HttpLoad {
            url,
            concurrency: 4,
            duration: Duration::from_millis(500),
            rps: None,
        };
        let summary = run_http(&load, Arc::default()).await.unwrap();
        assert!(summary.messages_acknowledged > 20, "{summary:?}");
        assert_eq!(summary.connections_opened, 4, "one connection per worker: {summary:?}");
        assert_eq!(summary.status.get("200"), Some(&summary.messages_acknowledged));
        assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    }

    #[tokio::test]
    async fn fixed_rate_latency_counts_the_wait_a_stall_causes() {
        // One worker at 100/s; every 50th answer stalls 200 ms. The requests due during a
        // stall are sent late; measured from when they were due, they show the stall.
        let url = server(Some((50, Duration::from_millis(200)))).await;
        let load = HttpLoad {
            url,
            concurrency: 1,
            duration: Duration::from_millis(1500),
            rps: Some(100.0),
        };
        let summary = run_http(&load, Arc::default()).await.unwrap();
        let service = summary.service_latency.clone().unwrap();
        assert!(summary.late_requests > 10, "{summary:?}");
        assert!(
            summary.latency.p95_ms > 100.0,
            "corrected p95 shows the stall: {summary:?}"
        );
        assert!(
            service.p95_ms < summary.latency.p95_ms / 2.0,
            "the uncorrected p95 hides it: {summary:?}"
        );
        assert!(summary.messages_sent <= 160, "the rate holds: {summary:?}");
    }
}
