//! Shipping log lines to Loki's push API: lines go through a bounded channel (full means
//! dropped and counted, never a blocked request), are batched every second or every 500
//! lines, grouped into streams by the spec's Loki labels, and POSTed as JSON.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};

use crate::http_client::HttpClient;

/// Lines waiting to ship before new ones are dropped.
pub const QUEUE_LINES: usize = 10_000;
const BATCH_LINES: usize = 500;
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

    /// Ships what is queued now; waits at most `timeout`.
    pub async fn flush(&self, timeout: Duration) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = tokio::time::timeout(timeout, wait).await;
        }
    }
}

/// Starts the shipper task on the current runtime.
pub fn start(client: HttpClient, base_url: &str, labels: Vec<String>) -> LokiSender {
    let (tx, rx) = mpsc::channel(QUEUE_LINES);
    let url = format!("{}/loki/api/v1/push", base_url.trim_end_matches('/'));
    tokio::spawn(ship(client, url, rx));
    LokiSender {
        tx,
        labels: Arc::new(labels),
        dropped: Arc::default(),
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

async fn push(client: &HttpClient, url: &str, batch: &mut Vec<Entry>) {
    if batch.is_empty() {
        return;
    }
    let body = push_body(batch).to_string();
    batch.clear();
    let headers = [("Content-Type", "application/json")];
    match client
        .request("POST", url, &headers, Some(body.as_bytes()), PUSH_TIMEOUT)
        .await
    {
        Ok(response) if (200..300).contains(&response.status) => {}
        // Logging a failure to ship logs would feed the failure back into the queue.
        Ok(response) => eprintln!(
            "obs: Loki push to {url} answered {}: {}",
            response.status,
            response.text()
        ),
        Err(error) => eprintln!("obs: Loki push to {url} failed: {error}"),
    }
}

async fn ship(client: HttpClient, url: String, mut rx: mpsc::Receiver<Message>) {
    let mut batch = Vec::new();
    let mut tick = tokio::time::interval(BATCH_EVERY);
    loop {
        tokio::select! {
            message = rx.recv() => match message {
                Some(Message::Line(entry)) => {
                    batch.push(entry);
                    if batch.len() >= BATCH_LINES {
                        push(&client, &url, &mut batch).await;
                    }
                }
                Some(Message::Flush(done)) => {
                    push(&client, &url, &mut batch).await;
                    let _ = done.send(());
                }
                None => {
                    push(&client, &url, &mut batch).await;
                    return;
                }
            },
            _ = tick.tick() => push(&client, &url, &mut batch).await,
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
            &url,
            vec!["service".into(), "level".into()],
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
