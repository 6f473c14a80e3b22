//! Load generation for a service on loopback or a test host: WebSocket mode opens sockets
//! at a rate and sends messages on each at a rate, timing every reply; HTTP mode keeps one
//! connection per worker alive and sends as fast as answers come, or at a fixed rate with
//! latency measured from each request's intended send time. Everything stops at the
//! deadline; latencies go into HDR histograms, so memory stays flat however long it runs.

mod http;
mod ws;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

pub use http::run_http;
pub use ws::{run_ws, validate_ws};

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
    /// `http://` or `https://` URL to GET.
    pub url: String,
    /// Workers, each with its own kept-alive connection.
    pub concurrency: u32,
    pub duration: Duration,
    /// Requests per second over all workers; `None`: as fast as answers come. With a
    /// rate, latency counts from when each request was due, not when it was sent, so a
    /// stalled server shows up in the percentiles (coordinated omission, as wrk2 corrects it).
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

/// Longest latency a histogram records; slower answers are clamped to it.
const MAX_LATENCY_MICROS: u64 = 3_600_000_000;

/// A latency histogram in microseconds, three significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3).expect("static histogram bounds are valid")
}

/// Records one latency, clamped into the histogram's range.
pub fn record(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let micros = (elapsed.as_micros() as u64).clamp(1, MAX_LATENCY_MICROS);
    histogram.saturating_record(micros);
}

impl Latency {
    /// Percentiles of a microsecond histogram.
    pub fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Self {
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p95_ms: ms(histogram.value_at_quantile(0.95)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            max_ms: ms(histogram.max()),
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
    /// Reply latency; in fixed-rate HTTP mode counted from each request's intended send time.
    pub latency: Latency,
    /// Fixed-rate HTTP mode: latency from the actual send, what an uncorrected tool reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_latency: Option<Latency>,
    /// Fixed-rate HTTP mode: requests sent later than due because the last answer was late.
    pub late_requests: u64,
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
        let line = |l: &Latency| {
            format!(
                "p50 {:.2}ms  p95 {:.2}ms  p99 {:.2}ms  max {:.2}ms",
                l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
            )
        };
        match &self.service_latency {
            Some(service) => {
                out.push_str(&format!(
                    "  latency:     {} (from the intended send time)\n",
                    line(&self.latency)
                ));
                out.push_str(&format!("  service:     {} (from the actual send)\n", line(service)));
                out.push_str(&format!("  late sends:  {}\n", self.late_requests));
            }
            None => out.push_str(&format!("  latency:     {}\n", line(&self.latency))),
        }
        if self.errors.is_empty() {
            out.push_str("  errors:      none\n");
        } else {
            let errors: Vec<String> = self.errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            out.push_str(&format!("  errors:      {}\n", errors.join(", ")));
        }
        out
    }
}

struct Collected {
    latencies: Histogram<u64>,
    errors: BTreeMap<String, u64>,
    status: BTreeMap<String, u64>,
}

impl Default for Collected {
    fn default() -> Self {
        Self {
            latencies: histogram(),
            errors: BTreeMap::new(),
            status: BTreeMap::new(),
        }
    }
}

impl Collected {
    fn error(&mut self, kind: &str, progress: &Progress) {
        *self.errors.entry(kind.to_string()).or_default() += 1;
        progress.errors.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut h = histogram();
        for ms in 1..=100u64 {
            record(&mut h, Duration::from_millis(ms));
        }
        let latency = Latency::of(&h);
        // Three significant digits: within 0.1% of the exact nearest rank.
        for (got, want) in [
            (latency.p50_ms, 50.0),
            (latency.p95_ms, 95.0),
            (latency.p99_ms, 99.0),
            (latency.max_ms, 100.0),
        ] {
            assert!((got - want).abs() <= want * 0.001, "{got} vs {want}");
        }
        assert_eq!(Latency::of(&histogram()), Latency::default());
        record(&mut h, Duration::from_secs(7200));
        assert!(Latency::of(&h).max_ms <= 3_600_000.0 * 1.001, "clamped, not lost");
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
            ..load.clone()
        })
        .is_err());
        let error = validate_ws(&WsLoad {
            url: "wss://example.test/ws".into(),
            ..load
        })
        .unwrap_err();
        assert!(error.contains("wss:// is not supported"), "{error}");
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
