//! Shipping log lines to Loki's push API: through the shared shipping queue (bounded,
//! batched every second or every 500 lines, retried with backoff), grouped into streams by
//! the spec's Loki labels, and POSTed as JSON with the tenant and basic-auth headers the
//! spec asks for. A batch Loki could not take (no answer, 429, 5xx) is tried again; one it
//! refused (another 4xx) is dropped and counted.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::http_client::HttpClient;
use crate::shipping::{Batching, Dropped, Queue, Sink};

/// Lines waiting to ship before new ones are dropped.
pub const QUEUE_LINES: usize = 10_000;
pub const BATCH_LINES: usize = 500;
const BATCH_EVERY: Duration = Duration::from_secs(1);
const PUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A line's stream labels, in the spec's order.
type Labels = Vec<(String, String)>;

/// One queued line.
#[derive(Debug, Clone)]
pub struct Entry {
    pub labels: Labels,
    pub nanos: u128,
    pub text: String,
}

/// The logging side: cheap to clone, never blocks.
#[derive(Clone)]
pub struct LokiSender {
    queue: Queue<Entry>,
    labels: Arc<Vec<String>>,
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
        self.queue.send(Entry {
            labels,
            nanos,
            text: text.to_string(),
        });
    }

    /// Lines dropped: the queue was full, or Loki refused them.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped().total()
    }

    /// Ships what is queued now; waits at most `timeout`, even when the queue is full
    /// because Loki is down.
    pub async fn flush(&self, timeout: Duration) {
        self.queue.flush(timeout).await;
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

/// Starts the shipper task on the current runtime; what never leaves is counted in `dropped`.
pub fn start(client: HttpClient, target: Target, dropped: Dropped) -> LokiSender {
    let sink = LokiSink {
        client,
        url: format!("{}/loki/api/v1/push", target.base_url.trim_end_matches('/')),
        headers: target.headers,
    };
    let batching = Batching {
        queue: QUEUE_LINES,
        batch: BATCH_LINES,
        every: BATCH_EVERY,
    };
    LokiSender {
        queue: crate::shipping::start(sink, batching, dropped),
        labels: Arc::new(target.labels),
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

struct LokiSink {
    client: HttpClient,
    url: String,
    headers: Vec<(String, String)>,
}

impl Sink for LokiSink {
    type Entry = Entry;

    /// A batch Loki could not take (no answer, 429, 5xx) stays for another try; one it
    /// refused (another 4xx) is dropped.
    async fn push(&self, batch: &mut Vec<Entry>) -> u64 {
        let body = push_body(batch).to_string();
        let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
        headers.extend(self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        match self
            .client
            .request("POST", &self.url, &headers, Some(body.as_bytes()), PUSH_TIMEOUT)
            .await
        {
            Ok(response) if (200..300).contains(&response.status) => {
                batch.clear();
                0
            }
            Ok(response) if response.status == 429 || response.status >= 500 => {
                eprintln!(
                    "obs: Loki push to {} answered {}; trying again",
                    self.url, response.status
                );
                0
            }
            Ok(response) => {
                eprintln!(
                    "obs: Loki push to {} answered {}: {}; dropping {} lines",
                    self.url,
                    response.status,
                    response.text(),
                    batch.len()
                );
                let refused = batch.len() as u64;
                batch.clear();
                refused
            }
            Err(error) => {
                eprintln!("obs: Loki push to {} failed: {error}; trying again", self.url);
                0
            }
        }
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
            Dropped::default(),
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
