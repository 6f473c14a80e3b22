//! The soak: the demo service under mixed HTTP and WebSocket load for a long while (30
//! minutes for the record), its resident memory, open file descriptors and exposed series
//! sampled at a fixed period, and the trend after warm-up fitted as a straight line. What
//! goes up without bound shows as a slope; the table and an SVG plot go to BENCHMARKS.md.
//! The load is bounded in rate and connections and stops by itself at the end.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// One sample of the process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub seconds: f64,
    pub rss_kib: f64,
    pub fds: f64,
    pub series: f64,
    pub requests: u64,
    pub failures: u64,
}

/// A chart's title and the value it draws.
type Chart = (&'static str, fn(&Sample) -> f64);

/// A soak's samples and what they say.
#[derive(Debug, Clone)]
pub struct Soak {
    pub samples: Vec<Sample>,
    /// Samples before this index are the warm-up, left out of the fits.
    pub warm_up: usize,
    /// Each kind of failed request or session, and how many.
    pub failures: BTreeMap<String, u64>,
}

/// Slope of a least-squares line through `(x, y)`, per unit of x.
pub fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let numerator: f64 = points.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
    let denominator: f64 = points.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    if denominator == 0.0 {
        0.0
    } else {
        numerator / denominator
    }
}

impl Soak {
    fn after_warm_up(&self) -> &[Sample] {
        &self.samples[self.warm_up.min(self.samples.len())..]
    }

    /// Change per minute after warm-up, fitted over every sample.
    pub fn per_minute(&self, value: fn(&Sample) -> f64) -> f64 {
        let points: Vec<(f64, f64)> = self
            .after_warm_up()
            .iter()
            .map(|s| (s.seconds / 60.0, value(s)))
            .collect();
        slope(&points)
    }

    /// The table of samples (every `every`-th) and the fitted slopes, as Markdown.
    pub fn markdown(&self, every: usize) -> String {
        let mut rows: Vec<Vec<String>> = self
            .samples
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every.max(1) == 0 || *i + 1 == self.samples.len())
            .map(|(_, s)| {
                vec![
                    format!("{:.0}", s.seconds),
                    format!("{:.0}", s.rss_kib),
                    format!("{:.0}", s.fds),
                    format!("{:.0}", s.series),
                    s.requests.to_string(),
                    s.failures.to_string(),
                ]
            })
            .collect();
        rows.push(vec![
            "slope per minute after warm-up".into(),
            format!("{:+.1}", self.per_minute(|s| s.rss_kib)),
            format!("{:+.2}", self.per_minute(|s| s.fds)),
            format!("{:+.2}", self.per_minute(|s| s.series)),
            String::new(),
            String::new(),
        ]);
        let mut text = crate::table(
            &["seconds", "RSS KiB", "open fds", "series", "requests", "failed"],
            &rows,
        );
        if !self.failures.is_empty() {
            text.push_str("\nFailures by kind:\n\n");
            for (kind, count) in &self.failures {
                text.push_str(&format!("- {kind}: {count}\n"));
            }
        }
        text
    }

    /// Three stacked line charts (RSS, fds, series over time), the warm-up shaded.
    pub fn svg(&self) -> String {
        let (width, height, pad) = (720.0, 160.0, 48.0);
        let total = self.samples.last().map(|s| s.seconds).unwrap_or(1.0).max(1.0);
        let warm = self.samples.get(self.warm_up).map(|s| s.seconds).unwrap_or(0.0);
        let charts: [Chart; 3] = [
            ("resident memory, KiB", |s| s.rss_kib),
            ("open file descriptors", |s| s.fds),
            ("series on /metrics", |s| s.series),
        ];
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
            height * 3.0
        );
        for (index, (title, value)) in charts.iter().enumerate() {
            let top = index as f64 * height;
            let values: Vec<f64> = self.samples.iter().map(value).collect();
            let max = values.iter().cloned().fold(f64::MIN, f64::max).max(1.0);
            let min = values.iter().cloned().fold(f64::MAX, f64::min).min(max);
            let span = (max - min).max(max * 0.05).max(1.0);
            let (low, high) = (min - span * 0.1, max + span * 0.1);
            let x = |seconds: f64| pad + (width - 2.0 * pad) * seconds / total;
            let y = |v: f64| top + height - pad / 2.0 - (height - pad) * (v - low) / (high - low);
            out.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#eeeeee\"/>\n",
                x(0.0),
                top + pad / 2.0,
                x(warm) - x(0.0),
                height - pad
            ));
            out.push_str(&format!(
                "<text x=\"{pad}\" y=\"{:.1}\">{title} (min {min:.0}, max {max:.0}; warm-up shaded)</text>\n",
                top + 16.0
            ));
            let points: Vec<String> = self
                .samples
                .iter()
                .map(|s| format!("{:.1},{:.1}", x(s.seconds), y(value(s))))
                .collect();
            out.push_str(&format!(
                "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"{}\"/>\n",
                points.join(" ")
            ));
            out.push_str(&format!(
                "<line x1=\"{pad}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\" stroke=\"#999\"/>\n<text x=\"{1:.1}\" y=\"{2:.1}\" text-anchor=\"end\">{3:.0} s</text>\n",
                top + height - pad / 2.0,
                width - pad,
                top + height - 4.0,
                total
            ));
        }
        out.push_str("</svg>\n");
        out
    }
}

/// The demo, started on a free port with its logs discarded (read, so it never blocks).
struct Demo {
    child: Child,
    port: u16,
}

impl Demo {
    fn start() -> anyhow::Result<Self> {
        let binary = crate::lifecycle::demo_binary()?;
        // `service started`, which carries the port, is an info line; the rest is read away.
        let child = Command::new(binary)
            .args(["--port", "0", "--log-level", "info"])
            .env_remove("OBS_SPEC")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        // Owned from here, so the process is killed on every way out.
        let mut demo = Self { child, port: 0 };
        let stdout = demo.child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
                    if value["message"] == "service started" {
                        let port = value["address"]
                            .as_str()
                            .and_then(|a| a.rsplit(':').next())
                            .and_then(|p| p.parse::<u16>().ok());
                        let _ = port_tx.send(port);
                    }
                }
            }
        });
        demo.port = port_rx
            .recv_timeout(Duration::from_secs(20))
            .ok()
            .flatten()
            .ok_or_else(|| anyhow::anyhow!("obs-demo never logged `service started`"))?;
        Ok(demo)
    }

    fn rss_kib(&self) -> f64 {
        crate::resident_kib(Some(self.child.id())).unwrap_or(0.0)
    }

    fn alive(&self) -> bool {
        std::path::Path::new(&format!("/proc/{}/status", self.child.id())).exists()
            && std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
                .is_ok_and(|status| !status.lines().any(|l| l.starts_with("State:") && l.contains('Z')))
    }

    fn fds(&self) -> f64 {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|entries| entries.count() as f64)
            .unwrap_or(0.0)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Counts what the load did, and each kind of failure.
#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    failures: AtomicU64,
    kinds: std::sync::Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    fn record(&self, ok: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One HTTP answer of `what` that should have had a status in `expected`.
    fn answer(&self, what: &str, answer: &Result<runtime::http_client::Response, String>, expected: &[u16]) {
        let failure = match answer {
            Ok(response) if expected.contains(&response.status) => None,
            Ok(response) => Some(format!("{what}: status {}", response.status)),
            // The error text without what varies per request (addresses, ids).
            Err(error) => Some(format!(
                "{what}: {}",
                error.split(':').next_back().unwrap_or(error).trim()
            )),
        };
        self.record(failure.is_none());
        if let Some(kind) = failure {
            *self
                .kinds
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(kind)
                .or_default() += 1;
        }
    }

    fn failed(&self, kind: &str) {
        self.record(false);
        *self
            .kinds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind.to_string())
            .or_default() += 1;
    }
}

/// One HTTP worker: a mix of reads, writes undone, errors, slow requests and jobs, paced.
async fn http_worker(base: String, tally: Arc<Tally>, stop: Arc<AtomicBool>, pace: Duration) {
    use runtime::http_client::request;
    let timeout = Duration::from_secs(5);
    let json = [("Content-Type", "application/json")];
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        // Every tenth round also an error, a slow request and a job.
        round = (round + 1) % 10;
        let created = request(
            "POST",
            &format!("{base}/api/notes"),
            &json,
            Some(b"{\"text\": \"soak\"}"),
            timeout,
        )
        .await;
        let id = created
            .as_ref()
            .ok()
            .filter(|r| r.status == 201)
            .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
            .and_then(|v| v["id"].as_u64());
        match (&created, id) {
            (_, Some(_)) => tally.record(true),
            (Ok(r), None) if r.status == 201 => tally.failed("create note: no id in the answer"),
            _ => tally.answer("create note", &created, &[201]),
        }
        if let Some(id) = id {
            let got = request("GET", &format!("{base}/api/notes/{id}"), &[], None, timeout).await;
            tally.answer("read note", &got, &[200]);
            let deleted = request("DELETE", &format!("{base}/api/notes/{id}"), &[], None, timeout).await;
            tally.answer("delete note", &deleted, &[200, 204]);
        }
        let listed = request("GET", &format!("{base}/api/notes"), &[], None, timeout).await;
        tally.answer("list notes", &listed, &[200]);
        let missing = request("GET", &format!("{base}/api/notes/999999999"), &[], None, timeout).await;
        tally.answer("missing note", &missing, &[404]);
        if round == 0 {
            let failed = request("GET", &format!("{base}/api/error"), &[], None, timeout).await;
            tally.answer("error route", &failed, &[500]);
            let slow = request("GET", &format!("{base}/api/slow?ms=20"), &[], None, timeout).await;
            tally.answer("slow route", &slow, &[200]);
            let job = request(
                "POST",
                &format!("{base}/api/jobs"),
                &json,
                Some(b"{\"type\": \"email\"}"),
                timeout,
            )
            .await;
            tally.answer("submit job", &job, &[202]);
        }
        tokio::time::sleep(pace).await;
    }
}

/// One WebSocket worker: opens a socket, exchanges a few messages, closes it, again.
async fn websocket_worker(url: String, tally: Arc<Tally>, stop: Arc<AtomicBool>, pace: Duration) {
    while !stop.load(Ordering::Relaxed) {
        let session = async {
            let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.ok()?;
            for i in 0..5 {
                socket.send(Message::Text(format!("soak {i}").into())).await.ok()?;
                loop {
                    match socket.next().await? {
                        Ok(Message::Text(_)) => break,
                        Ok(_) => continue,
                        Err(_) => return None,
                    }
                }
            }
            socket.close(None).await.ok()?;
            Some(())
        };
        match tokio::time::timeout(Duration::from_secs(10), session).await {
            Ok(Some(())) => tally.record(true),
            Ok(None) => tally.failed("websocket session: connection or exchange failed"),
            Err(_) => tally.failed("websocket session: no answer within 10 s"),
        }
        tokio::time::sleep(pace).await;
    }
}

/// Runs the soak for `length`, sampling every `period`; the first `warm_up` is left out of
/// the fits. `held` WebSockets stay open throughout, beside the churning ones.
pub fn run(length: Duration, period: Duration, warm_up: Duration, held: usize) -> anyhow::Result<Soak> {
    let demo = Demo::start()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let base = format!("http://127.0.0.1:{}", demo.port);
    let ws_url = format!("ws://127.0.0.1:{}/ws", demo.port);
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let samples = runtime.block_on(async {
        let mut held_sockets = Vec::new();
        for _ in 0..held {
            if let Ok((socket, _)) = tokio_tungstenite::connect_async(ws_url.as_str()).await {
                held_sockets.push(socket);
            }
        }
        let mut workers = Vec::new();
        for _ in 0..2 {
            workers.push(tokio::spawn(http_worker(
                base.clone(),
                tally.clone(),
                stop.clone(),
                Duration::from_millis(5),
            )));
        }
        workers.push(tokio::spawn(websocket_worker(
            ws_url.clone(),
            tally.clone(),
            stop.clone(),
            Duration::from_millis(20),
        )));
        let started = Instant::now();
        let mut samples = Vec::new();
        let mut next = started;
        while started.elapsed() <= length {
            let metrics = runtime::http_client::get(&format!("{base}/metrics"), Duration::from_secs(5)).await;
            let series = metrics
                .map(|r| {
                    r.text()
                        .lines()
                        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                        .count() as f64
                })
                .unwrap_or(0.0);
            if !demo.alive() {
                break;
            }
            samples.push(Sample {
                seconds: started.elapsed().as_secs_f64(),
                rss_kib: demo.rss_kib(),
                fds: demo.fds(),
                series,
                requests: tally.requests.load(Ordering::Relaxed),
                failures: tally.failures.load(Ordering::Relaxed),
            });
            next += period;
            tokio::time::sleep_until(next.into()).await;
        }
        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            let _ = tokio::time::timeout(Duration::from_secs(15), worker).await;
        }
        drop(held_sockets);
        samples
    });
    if !demo.alive() {
        anyhow::bail!("obs-demo died during the soak, after {} samples", samples.len());
    }
    let warm_up = samples
        .iter()
        .position(|s| s.seconds >= warm_up.as_secs_f64())
        .unwrap_or(0);
    let failures = std::mem::take(&mut *tally.kinds.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(Soak {
        samples,
        warm_up,
        failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_fits_a_line() {
        assert_eq!(slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]), 2.0);
        assert_eq!(slope(&[(0.0, 4.0), (1.0, 4.0)]), 0.0);
        assert_eq!(slope(&[(1.0, 4.0)]), 0.0);
    }
}
