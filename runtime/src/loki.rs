//! Shipping log lines to Loki's push API: lines go through a bounded channel (full means
//! dropped and counted, never a blocked request), are batched every second or every 500
//! lines, grouped into streams by the spec's Loki labels, and POSTed as JSON with the
//! tenant and basic-auth headers the spec asks for. A batch Loki could not take (no answer,
//! 429, 5xx) is tried again with a doubling backoff, and no more lines are taken meanwhile,
//! so memory stays at the queue plus one batch; one it refused (another 4xx) is dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};

use crate::http_client::HttpClient;

/// Lines waiting to ship before new ones are dropped.
pub const QUEUE_LINES: usize = 10_000;
pub const BATCH_LINES: usize = 500;
const BATCH_EVERY: Duration = Duration::from_secs(1);
const PUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// First wait after a failed push; it doubles up to [`BACKOFF_MAX`].
pub const BACKOFF_FIRST: Duration = Duration::from_millis(500);
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// A line's stream labels, in the spec's order.
type Labels = Vec<(String, String)>;

/// One queued line.
#[derive(Debug, Clone)]
pub struct Entry {
    pub labels: Labels,
    pub nanos: u128,
    pub text: String,
}

enum Message {
    Line(Entry),
    Flush(oneshot::Sender<()>),
}

/// The logging side: cheap to clone, never blocks.
#[derive(Clone)]
pub struct LokiSender {
    tx: mpsc::Sender<Message>,
    labels: Arc<Vec<String>>,
    dropped: Arc<AtomicU64>,
}

impl LokiSender {
    /// Queues a line; its stream labels are taken from the line's fields.
    pub fn send(&self, line: &Map<String, Value>, text: &str) {
        let labels = self
            .labels
            .iter()
            .map(|name| {
                let value = match line.get(name) {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                (name.clone(), value)
            })
            .collect();
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        if self
            .tx
            .try_send(Message::Line(Entry {
                labels,
                nanos,
                text: text.to_string(),
            }))
            .is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Ships what is queued now; waits at most `timeout`, even when the queue is full
    /// because Loki is down.
    pub async fn flush(&self, timeout: Duration) {
        let (done, wait) = oneshot::channel();
        let _ = tokio::time::timeout(timeout, async {
            if self.tx.send(Message::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        })
        .await;
    }
}

/// Where and how lines are pushed.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Loki's base URL; `/loki/api/v1/push` is added.
    pub base_url: String,
    /// Log fields that become stream labels.
    pub labels: Vec<String>,
    /// Sent with every push: `X-Scope-OrgID`, `Authorization`.
    pub headers: Vec<(String, String)>,
}

/// Starts the shipper task on the current runtime.
pub fn start(client: HttpClient, target: Target) -> LokiSender {
    let (tx, rx) = mpsc::channel(QUEUE_LINES);
    let dropped = Arc::new(AtomicU64::new(0));
    let shipper = Shipper {
        client,
        url: format!("{}/loki/api/v1/push", target.base_url.trim_end_matches('/')),
        headers: target.headers,
        dropped: dropped.clone(),
    };
    tokio::spawn(shipper.run(rx));
    LokiSender {
        tx,
        labels: Arc::new(target.labels),
        dropped,
    }
}

/// The push body: one stream per distinct label set.
pub fn push_body(batch: &[Entry]) -> Value {
    let mut streams: Vec<(&Labels, Vec<Value>)> = Vec::new();
    for entry in batch {
        let value = json!([entry.nanos.to_string(), entry.text]);
        match streams.iter_mut().find(|(l, _)| **l == entry.labels) {
            Some((_, values)) => values.push(value),
            None => streams.push((&entry.labels, vec![value])),
        }
    }
    let streams: Vec<Value> = streams
        .into_iter()
        .map(|(labels, values)| {
            let stream: Map<String, Value> = labels
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            json!({ "stream": stream, "values": values })
        })
        .collect();
    json!({ "streams": streams })
}

/// What became of one push.
enum Pushed {
    Taken,
    /// Not taken now; worth trying again.
    Retry,
    /// Refused for good (a 4xx other than 429).
    Refused,
}

struct Shipper {
    client: HttpClient,
    url: String,
    headers: Vec<(String, String)>,
    dropped: Arc<AtomicU64>,
}

impl Shipper {
    async fn push(&self, batch: &[Entry]) -> Pushed {
        let body = push_body(batch).to_string();
        let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
        headers.extend(self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        // Logging a failure to ship logs would feed the failure back into the queue.
        match self
            .client
            .request("POST", &self.url, &headers, Some(body.as_bytes()), PUSH_TIMEOUT)
            .await
        {
            Ok(response) if (200..300).contains(&response.status) => Pushed::Taken,
            Ok(response) if response.status == 429 || response.status >= 500 => {
                eprintln!(
                    "obs: Loki push to {} answered {}; trying again",
                    self.url, response.status
                );
                Pushed::Retry
            }
            Ok(response) => {
                eprintln!(
                    "obs: Loki push to {} answered {}: {}; dropping {} lines",
                    self.url,
                    response.status,
                    response.text(),
                    batch.len()
                );
                Pushed::Refused
            }
            Err(error) => {
                eprintln!("obs: Loki push to {} failed: {error}; trying again", self.url);
                Pushed::Retry
            }
        }
    }

    /// Pushes the batch unless a backoff is running (`force`: a flush tries anyway).
    async fn attempt(&self, batch: &mut Vec<Entry>, backoff: &mut Backoff, force: bool) {
        if batch.is_empty() || (!force && !backoff.due()) {
            return;
        }
        match self.push(batch).await {
            Pushed::Taken => {
                batch.clear();
                backoff.reset();
            }
            Pushed::Refused => {
                self.dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
                batch.clear();
                backoff.reset();
            }
            Pushed::Retry => backoff.failed(),
        }
    }

    async fn run(self, mut rx: mpsc::Receiver<Message>) {
        let mut batch = Vec::new();
        let mut backoff = Backoff::default();
        let mut tick = tokio::time::interval(BATCH_EVERY);
        loop {
            tokio::select! {
                // A full batch waiting for Loki takes no more lines: the channel bounds them.
                message = rx.recv(), if batch.len() < BATCH_LINES => match message {
                    Some(Message::Line(entry)) => {
                        batch.push(entry);
                        if batch.len() >= BATCH_LINES {
                            self.attempt(&mut batch, &mut backoff, false).await;
                        }
                    }
                    Some(Message::Flush(done)) => {
                        self.attempt(&mut batch, &mut backoff, true).await;
                        let _ = done.send(());
                    }
                    None => {
                        self.attempt(&mut batch, &mut backoff, true).await;
                        return;
                    }
                },
                _ = tick.tick() => self.attempt(&mut batch, &mut backoff, false).await,
            }
        }
    }
}

/// When the next push may go after failures.
#[derive(Debug, Default)]
struct Backoff {
    wait: Option<Duration>,
    until: Option<tokio::time::Instant>,
}

impl Backoff {
    fn due(&self) -> bool {
        self.until.is_none_or(|until| tokio::time::Instant::now() >= until)
    }

    fn failed(&mut self) {
        let wait = self.wait.map_or(BACKOFF_FIRST, |w| (w * 2).min(BACKOFF_MAX));
        self.wait = Some(wait);
        self.until = Some(tokio::time::Instant::now() + wait);
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn groups_lines_into_streams_by_labels() {
        let info = vec![("level".to_string(), "info".to_string())];
        let error = vec![("level".to_string(), "error".to_string())];
        let entry = |labels: &Labels, nanos, text: &str| Entry {
            labels: labels.clone(),
            nanos,
            text: text.into(),
        };
        let body = push_body(&[entry(&info, 1, "a"), entry(&error, 2, "b"), entry(&info, 3, "c")]);
        assert_eq!(body["streams"].as_array().unwrap().len(), 2);
        assert_eq!(body["streams"][0]["values"][1], json!(["3", "c"]));
    }

    #[tokio::test]
    async fn ships_lines_to_a_loki_push_endpoint() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&request).contains("\"streams\"") || !request.ends_with(b"}") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            socket
                .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8(request).unwrap()
        });
        let sender = start(
            HttpClient::new(None).unwrap(),
            Target {
                base_url: url,
                labels: vec!["service".into(), "level".into()],
                headers: Vec::new(),
            },
        );
        let mut line = Map::new();
        line.insert("service".into(), json!("ws-counter"));
        line.insert("level".into(), json!("error"));
        sender.send(&line, "{\"message\":\"boom\"}");
        sender.flush(Duration::from_secs(5)).await;
        let request = tokio::time::timeout(Duration::from_secs(5), received)
            .await
            .unwrap()
            .unwrap();
        assert!(request.starts_with("POST /loki/api/v1/push HTTP/1.1"), "{request}");
        assert!(
            request.contains(r#""stream":{"service":"ws-counter","level":"error"}"#),
            "{request}"
        );
        assert!(request.contains("boom"));
    }
}
