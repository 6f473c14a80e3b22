//! Load generation for a service on loopback or a test host: WebSocket mode opens sockets
//! at a rate and sends messages on each at a rate, timing every reply; HTTP mode runs
//! concurrent GET loops. Everything stops at the deadline; counts are capped, so a run can
//! never grow without bound.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

/// Most sockets one run may open.
pub const MAX_SOCKETS: u32 = 100_000;
/// Longest run.
pub const MAX_DURATION: Duration = Duration::from_secs(6 * 3600);
/// How long a reply or a connection attempt may take before it counts as an error.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A WebSocket load profile.
#[derive(Debug, Clone)]
pub struct WsLoad {
    /// `ws://host:port/path`.
    pub url: String,
    pub sockets: u32,
    /// Sockets opened per second.
    pub rate: f64,
    pub duration: Duration,
    /// Messages each socket sends per second (0: hold the socket idle; infinity: send the
    /// next message as soon as the reply to the last one arrives).
    pub send_rate: f64,
}

/// An HTTP load profile.
#[derive(Debug, Clone)]
pub struct HttpLoad {
    pub url: String,
    pub concurrency: u32,
    pub duration: Duration,
    /// Requests per second over all workers; `None`: as fast as answers come.
    pub rps: Option<f64>,
}

/// Live counters, for a progress display.
#[derive(Debug, Default)]
pub struct Progress {
    pub opened: AtomicU64,
    pub failed: AtomicU64,
    pub sent: AtomicU64,
    pub acknowledged: AtomicU64,
    pub errors: AtomicU64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Latency {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// Nearest-rank percentiles of microsecond samples.
    pub fn of(mut micros: Vec<u64>) -> Self {
        if micros.is_empty() {
            return Self::default();
        }
        micros.sort_unstable();
        let at = |q: f64| {
            let rank = ((q * micros.len() as f64).ceil() as usize).clamp(1, micros.len());
            micros[rank - 1] as f64 / 1000.0
        };
        Self {
            p50_ms: at(0.50),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            max_ms: *micros.last().unwrap_or(&0) as f64 / 1000.0,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub mode: &'static str,
    pub target: String,
    pub seconds: f64,
    pub connections_opened: u64,
    pub connections_failed: u64,
    pub messages_sent: u64,
    pub messages_acknowledged: u64,
    /// Acknowledged messages (or answered requests) per second.
    pub throughput_per_second: f64,
    pub latency: Latency,
    pub errors: BTreeMap<String, u64>,
    /// HTTP mode: answers by status code.
    pub status: BTreeMap<String, u64>,
}

impl Summary {
    /// The human-readable report.
    pub fn text(&self) -> String {
        let mut out = format!("{} load on {} for {:.1}s\n", self.mode, self.target, self.seconds);
        if self.mode == "websocket" {
            out.push_str(&format!(
                "  connections: {} opened, {} failed\n",
                self.connections_opened, self.connections_failed
            ));
            out.push_str(&format!(
                "  messages:    {} sent, {} acknowledged\n",
                self.messages_sent, self.messages_acknowledged
            ));
        } else {
            let statuses: Vec<String> = self.status.iter().map(|(s, n)| format!("{s}: {n}")).collect();
            out.push_str(&format!(
                "  requests:    {} sent, {} answered ({})\n",
                self.messages_sent,
                self.messages_acknowledged,
                statuses.join(", ")
            ));
        }
        out.push_str(&format!("  throughput:  {:.1}/s\n", self.throughput_per_second));
        let l = &self.latency;
        out.push_str(&format!(
            "  latency:     p50 {:.2}ms  p95 {:.2}ms  p99 {:.2}ms  max {:.2}ms\n",
            l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
        ));
        if self.errors.is_empty() {
            out.push_str("  errors:      none\n");
        } else {
            let errors: Vec<String> = self.errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            out.push_str(&format!("  errors:      {}\n", errors.join(", ")));
        }
        out
    }
}

#[derive(Default)]
struct Collected {
    latencies: Vec<u64>,
    errors: BTreeMap<String, u64>,
    status: BTreeMap<String, u64>,
}

impl Collected {
    fn error(&mut self, kind: &str, progress: &Progress) {
        *self.errors.entry(kind.to_string()).or_default() += 1;
        progress.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// Checks a profile's bounds.
pub fn validate_ws(load: &WsLoad) -> Result<(), String> {
    if !(load.url.starts_with("ws://") || load.url.starts_with("wss://")) {
        return Err(format!("`{}` is not a ws:// URL", load.url));
    }
    if load.sockets == 0 || load.sockets > MAX_SOCKETS {
        return Err(format!("--sockets must be 1 to {MAX_SOCKETS}"));
    }
    if !(load.rate > 0.0 && load.rate.is_finite()) {
        return Err("--rate must be a positive number of sockets per second".into());
    }
    if !(load.send_rate >= 0.0 && (load.send_rate <= 1000.0 || load.send_rate == f64::INFINITY)) {
        return Err("--send-rate must be 0 to 1000 messages per second per socket, or inf".into());
    }
    if load.duration.is_zero() || load.duration > MAX_DURATION {
        return Err(format!("--duration must be 1 to {} seconds", MAX_DURATION.as_secs()));
    }
    Ok(())
}

/// How a socket paces its messages.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pace {
    Idle,
    Every(Duration),
    /// The next message as soon as the last one's reply arrives.
    Unpaced,
}

async fn ws_socket(
    url: String,
    deadline: tokio::time::Instant,
    pace: Pace,
    progress: Arc<Progress>,
    collected: Arc<Mutex<Collected>>,
) {
    let connect = tokio::time::timeout(REPLY_TIMEOUT, tokio_tungstenite::connect_async(&url)).await;
    let mut socket = match connect {
        Ok(Ok((socket, _))) => socket,
        Ok(Err(_)) | Err(_) => {
            progress.failed.fetch_add(1, Ordering::Relaxed);
            collected
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .error("connect", &progress);
            return;
        }
    };
    progress.opened.fetch_add(1, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut failure: Option<&'static str> = None;
    if pace != Pace::Idle {
        let mut tick = match pace {
            Pace::Every(every) => Some(tokio::time::interval(every)),
            _ => None,
        };
        let mut sequence = 0u64;
        loop {
            match tick.as_mut() {
                Some(tick) => tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = tick.tick() => {}
                },
                None if tokio::time::Instant::now() >= deadline => break,
                None => {}
            }
            sequence += 1;
            let sent = Instant::now();
            if socket
                .send(Message::Text(format!("message {sequence}").into()))
                .await
                .is_err()
            {
                failure = Some("send");
                break;
            }
            progress.sent.fetch_add(1, Ordering::Relaxed);
            let reply = loop {
                match tokio::time::timeout(REPLY_TIMEOUT, socket.next()).await {
                    Ok(Some(Ok(Message::Text(_) | Message::Binary(_)))) => break Ok(()),
                    Ok(Some(Ok(Message::Close(_)))) | Ok(None) => break Err("closed_by_server"),
                    Ok(Some(Ok(_))) => continue,
                    Ok(Some(Err(_))) => break Err("protocol"),
                    Err(_) => break Err("timeout"),
                }
            };
            match reply {
                Ok(()) => {
                    latencies.push(sent.elapsed().as_micros() as u64);
                    progress.acknowledged.fetch_add(1, Ordering::Relaxed);
                }
                Err(kind) => {
                    failure = Some(kind);
                    break;
                }
            }
        }
    } else {
        // Idle: hold the socket until the deadline, answering pings.
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                message = socket.next() => match message {
                    Some(Ok(Message::Close(_))) | None => { failure = Some("closed_by_server"); break; }
                    Some(Err(_)) => { failure = Some("protocol"); break; }
                    Some(Ok(_)) => {}
                }
            }
        }
    }
    if failure.is_none() {
        let _ = tokio::time::timeout(Duration::from_secs(2), socket.close(None)).await;
    }
    let mut collected = collected.lock().unwrap_or_else(|e| e.into_inner());
    collected.latencies.extend(latencies);
    if let Some(kind) = failure {
        collected.error(kind, &progress);
    }
}

/// Runs a WebSocket load profile.
pub async fn run_ws(load: &WsLoad, progress: Arc<Progress>) -> Result<Summary, String> {
    validate_ws(load)?;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + load.duration;
    let collected = Arc::new(Mutex::new(Collected::default()));
    let pace = if load.send_rate == 0.0 {
        Pace::Idle
    } else if load.send_rate.is_infinite() {
        Pace::Unpaced
    } else {
        Pace::Every(Duration::from_secs_f64(1.0 / load.send_rate))
    };
    let mut sockets = tokio::task::JoinSet::new();
    let open_every = Duration::from_secs_f64(1.0 / load.rate);
    let first = tokio::time::Instant::now();
    for i in 0..load.sockets {
        let at = first + open_every * i;
        if at >= deadline {
            break;
        }
        tokio::time::sleep_until(at).await;
        sockets.spawn(ws_socket(
            load.url.clone(),
            deadline,
            pace,
            progress.clone(),
            collected.clone(),
        ));
    }
    // Each socket stops at the deadline, or at most a reply timeout after it.
    let _ = tokio::time::timeout_at(deadline + REPLY_TIMEOUT + Duration::from_secs(5), async {
        while sockets.join_next().await.is_some() {}
    })
    .await;
    sockets.abort_all();
    let seconds = started.elapsed().as_secs_f64();
    let collected = std::mem::take(&mut *collected.lock().unwrap_or_else(|e| e.into_inner()));
    let acknowledged = progress.acknowledged.load(Ordering::Relaxed);
    Ok(Summary {
        mode: "websocket",
        target: load.url.clone(),
        seconds,
        connections_opened: progress.opened.load(Ordering::Relaxed),
        connections_failed: progress.failed.load(Ordering::Relaxed),
        messages_sent: progress.sent.load(Ordering::Relaxed),
        messages_acknowledged: acknowledged,
        throughput_per_second: acknowledged as f64 / seconds.max(1e-9),
        latency: Latency::of(collected.latencies),
        errors: collected.errors,
        status: BTreeMap::new(),
    })
}

/// Runs an HTTP load profile: `concurrency` loops of GET until the deadline.
pub async fn run_http(load: &HttpLoad, progress: Arc<Progress>) -> Result<Summary, String> {
    crate::http_client::Url::parse(&load.url)?;
    if load.concurrency == 0 || load.concurrency > 10_000 {
        return Err("--concurrency must be 1 to 10000".into());
    }
    if load.duration.is_zero() || load.duration > MAX_DURATION {
        return Err(format!("--duration must be 1 to {} seconds", MAX_DURATION.as_secs()));
    }
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + load.duration;
    let collected = Arc::new(Mutex::new(Collected::default()));
    let pace = load
        .rps
        .filter(|r| *r > 0.0)
        .map(|rps| Duration::from_secs_f64(f64::from(load.concurrency) / rps));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..load.concurrency {
        let (url, progress, collected) = (load.url.clone(), progress.clone(), collected.clone());
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut next = tokio::time::Instant::now();
            while tokio::time::Instant::now() < deadline {
                if let Some(pace) = pace {
                    tokio::time::sleep_until(next).await;
                    next += pace;
                }
                let sent = Instant::now();
                progress.sent.fetch_add(1, Ordering::Relaxed);
                match crate::http_client::get(&url, REPLY_TIMEOUT).await {
                    Ok(response) => {
                        latencies.push(sent.elapsed().as_micros() as u64);
                        progress.acknowledged.fetch_add(1, Ordering::Relaxed);
                        *collected
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .status
                            .entry(response.status.to_string())
                            .or_default() += 1;
                    }
                    Err(error) => {
                        let kind = if error.contains("no answer") {
                            "timeout"
                        } else {
                            "connect"
                        };
                        collected
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .error(kind, &progress);
                    }
                }
            }
            collected
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .latencies
                .extend(latencies);
        });
    }
    let _ = tokio::time::timeout_at(deadline + REPLY_TIMEOUT + Duration::from_secs(5), async {
        while workers.join_next().await.is_some() {}
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
        messages_sent: progress.sent.load(Ordering::Relaxed),
        messages_acknowledged: answered,
        throughput_per_second: answered as f64 / seconds.max(1e-9),
        latency: Latency::of(collected.latencies),
        errors: collected.errors,
        status: collected.status,
        ..Summary::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let latency = Latency::of((1..=100).map(|ms| ms * 1000).collect());
        assert_eq!(
            (latency.p50_ms, latency.p95_ms, latency.p99_ms, latency.max_ms),
            (50.0, 95.0, 99.0, 100.0)
        );
        assert_eq!(Latency::of(Vec::new()), Latency::default());
    }

    #[test]
    fn profiles_are_bounded() {
        let load = WsLoad {
            url: "ws://127.0.0.1:1/ws".into(),
            sockets: 10,
            rate: 1.0,
            duration: Duration::from_secs(1),
            send_rate: 1.0,
        };
        assert!(validate_ws(&load).is_ok());
        assert!(validate_ws(&WsLoad {
            sockets: MAX_SOCKETS + 1,
            ..load.clone()
        })
        .is_err());
        assert!(validate_ws(&WsLoad {
            duration: Duration::from_secs(7 * 3600),
            ..load.clone()
        })
        .is_err());
        assert!(validate_ws(&WsLoad {
            rate: 0.0,
            ..load.clone()
        })
        .is_err());
        for send_rate in [f64::INFINITY, 0.0] {
            assert!(
                validate_ws(&WsLoad {
                    send_rate,
                    ..load.clone()
                })
                .is_ok(),
                "{send_rate}"
            );
        }
        for send_rate in [1000.5, -1.0, f64::NAN, f64::NEG_INFINITY] {
            assert!(
                validate_ws(&WsLoad {
                    send_rate,
                    ..load.clone()
                })
                .is_err(),
                "{send_rate}"
            );
        }
        assert!(validate_ws(&WsLoad {
            url: "http://x".into(),
            ..load
        })
        .is_err());
    }

    #[tokio::test]
    async fn unreachable_targets_count_as_failed_connections() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let load = WsLoad {
            url: format!("ws://127.0.0.1:{port}/ws"),
            sockets: 3,
            rate: 100.0,
            duration: Duration::from_millis(500),
            send_rate: 1.0,
        };
        let summary = run_ws(&load, Arc::default()).await.unwrap();
        assert_eq!((summary.connections_opened, summary.connections_failed), (0, 3));
        assert_eq!(summary.errors.get("connect"), Some(&3));
    }
}
