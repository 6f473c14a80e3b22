//! Shipping log lines to Elasticsearch's `_bulk` API (`logging.elasticsearch`). Each line,
//! redacted as it was written, becomes a document with an `@timestamp`, created in the
//! daily index of its stream (`<prefix>-YYYY.MM.DD`, or `<prefix>-<stream>-…` when its
//! `stream` field names a declared stream) and, for an error or critical line, also in
//! `<prefix>-errors-…`. Lines go through the shared shipping queue (bounded, batched,
//! retried with backoff); a `_bulk` answer is read item by item: items Elasticsearch could
//! not take now (429, 5xx) are tried again, the ones it rejected are counted and the first
//! rejection is told once. Before the first line leaves, the ILM policy and the index
//! template are installed when they are missing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use contract::elasticsearch::{index_name, ERRORS_STREAM, STREAM_FIELD, TIMESTAMP_FIELD};
use serde_json::{Map, Value};

use crate::http_client::HttpClient;
use crate::shipping::{Batching, Dropped, Queue, Sink};

/// Documents waiting to ship before new ones are dropped.
pub const QUEUE_DOCUMENTS: usize = 10_000;
/// Documents in one `_bulk` request.
pub const BATCH_DOCUMENTS: usize = 500;
const BATCH_EVERY: Duration = Duration::from_secs(1);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One document bound for one index (an error line is two entries sharing the document).
#[derive(Debug, Clone)]
pub struct Entry {
    pub index: String,
    pub document: Arc<str>,
}

/// Where and how documents go.
#[derive(Debug, Clone)]
pub struct Target {
    /// `scheme://host:port`.
    pub base_url: String,
    pub prefix: String,
    /// The declared streams a line's `stream` field may name.
    pub streams: Vec<String>,
    /// Sent with every request: `Authorization` when the spec turns authentication on.
    pub headers: Vec<(String, String)>,
    /// The ILM policy and the index template, by name, installed when missing.
    pub policy: (String, Value),
    pub template: (String, Value),
}

/// The logging side: cheap to clone, never blocks.
#[derive(Clone)]
pub struct ElasticsearchSender {
    queue: Queue<Entry>,
    prefix: Arc<str>,
    streams: Arc<[String]>,
}

impl ElasticsearchSender {
    /// Queues a written line (`error`: it was written at error or critical level).
    pub fn send(&self, line: &Map<String, Value>, error: bool) {
        let now = time::OffsetDateTime::now_utc();
        let day = (now.year(), u8::from(now.month()), now.day());
        let stream = line
            .get(STREAM_FIELD)
            .and_then(Value::as_str)
            .filter(|s| self.streams.iter().any(|declared| declared == s));
        let mut document = Map::with_capacity(line.len() + 1);
        document.insert(TIMESTAMP_FIELD.into(), Value::String(rfc3339(now)));
        document.extend(line.iter().map(|(k, v)| (k.clone(), v.clone())));
        let document: Arc<str> = Value::Object(document).to_string().into();
        self.queue.send(Entry {
            index: index_name(&self.prefix, stream, day),
            document: document.clone(),
        });
        if error {
            self.queue.send(Entry {
                index: index_name(&self.prefix, Some(ERRORS_STREAM), day),
                document,
            });
        }
    }

    /// Documents dropped: the queue was full, or Elasticsearch rejected them.
    pub fn dropped(&self) -> &Dropped {
        self.queue.dropped()
    }

    /// Ships what is queued now; waits at most `timeout`.
    pub async fn flush(&self, timeout: Duration) {
        self.queue.flush(timeout).await;
    }
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.format(&format).unwrap_or_default()
}

/// Starts the shipper task on the current runtime; what never leaves is counted in `dropped`.
pub fn start(client: HttpClient, target: Target, dropped: Dropped) -> ElasticsearchSender {
    let Target {
        base_url,
        prefix,
        streams,
        headers,
        policy,
        template,
    } = target;
    let base = base_url.trim_end_matches('/').to_string();
    let sink = BulkSink {
        client,
        bulk_url: format!("{base}/_bulk"),
        base,
        headers,
        policy,
        template,
        installed: AtomicBool::new(false),
        told_install: AtomicBool::new(false),
        told_rejection: AtomicBool::new(false),
    };
    let batching = Batching {
        queue: QUEUE_DOCUMENTS,
        batch: BATCH_DOCUMENTS,
        every: BATCH_EVERY,
    };
    ElasticsearchSender {
        queue: crate::shipping::start(sink, batching, dropped),
        prefix: prefix.into(),
        streams: streams.into(),
    }
}

/// The `_bulk` body: a `create` action and the document, per entry, as NDJSON.
pub fn bulk_body(batch: &[Entry]) -> String {
    let mut body = String::with_capacity(batch.iter().map(|e| e.document.len() + e.index.len() + 32).sum());
    for entry in batch {
        let action = serde_json::json!({ "create": { "_index": entry.index } });
        body.push_str(&action.to_string());
        body.push('\n');
        body.push_str(&entry.document);
        body.push('\n');
    }
    body
}

/// Why the policy or the template could not be installed.
struct InstallError {
    /// Elasticsearch did not answer, or answered 429/5xx: worth trying again before shipping.
    retry: bool,
    message: String,
}

struct BulkSink {
    client: HttpClient,
    base: String,
    bulk_url: String,
    headers: Vec<(String, String)>,
    policy: (String, Value),
    template: (String, Value),
    installed: AtomicBool,
    told_install: AtomicBool,
    told_rejection: AtomicBool,
}

impl BulkSink {
    async fn call(
        &self,
        method: &str,
        url: &str,
        content_type: &str,
        body: Option<&[u8]>,
    ) -> Result<crate::http_client::Response, String> {
        let mut headers: Vec<(&str, &str)> = vec![("Content-Type", content_type)];
        headers.extend(self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.client.request(method, url, &headers, body, REQUEST_TIMEOUT).await
    }

    /// Puts the policy, then the template, each only when a GET says it is missing (an
    /// operator's change to either is kept).
    async fn install(&self) -> Result<(), InstallError> {
        let documents = [
            (
                "ILM policy",
                format!("{}/_ilm/policy/{}", self.base, self.policy.0),
                &self.policy.1,
            ),
            (
                "index template",
                format!("{}/_index_template/{}", self.base, self.template.0),
                &self.template.1,
            ),
        ];
        for (what, url, document) in documents {
            let failed = |retry, message: String| InstallError {
                retry,
                message: format!("{what} at {url}: {message}"),
            };
            let found = self
                .call("GET", &url, "application/json", None)
                .await
                .map_err(|e| failed(true, e))?;
            match found.status {
                200 => continue,
                404 => {}
                status => {
                    return Err(failed(
                        status == 429 || status >= 500,
                        format!("GET answered {status}: {}", found.text()),
                    ))
                }
            }
            let body = document.to_string();
            let put = self
                .call("PUT", &url, "application/json", Some(body.as_bytes()))
                .await
                .map_err(|e| failed(true, e))?;
            if !(200..300).contains(&put.status) {
                return Err(failed(
                    put.status == 429 || put.status >= 500,
                    format!("PUT answered {}: {}", put.status, put.text()),
                ));
            }
        }
        Ok(())
    }

    /// Reads a `_bulk` answer item by item: leaves in `batch` the items to try again and
    /// returns how many were rejected.
    fn settle(&self, batch: &mut Vec<Entry>, answer: &[u8]) -> u64 {
        let Ok(answer) = serde_json::from_slice::<Value>(answer) else {
            // 2xx without a readable body: taken, as far as anyone can tell.
            batch.clear();
            return 0;
        };
        if answer["errors"] != Value::Bool(true) {
            batch.clear();
            return 0;
        }
        let items = answer["items"].as_array().cloned().unwrap_or_default();
        let mut rejected = 0;
        let mut index = 0;
        batch.retain(|entry| {
            let item = items.get(index).and_then(|i| i.as_object()).and_then(|i| i.values().next());
            index += 1;
            let status = item.and_then(|i| i["status"].as_u64()).unwrap_or(200);
            if (200..300).contains(&status) {
                return false;
            }
            if status == 429 || status >= 500 {
                return true;
            }
            rejected += 1;
            if !self.told_rejection.swap(true, Ordering::Relaxed) {
                let error = item.map(|i| i["error"].to_string()).unwrap_or_default();
                eprintln!(
                    "obs: Elasticsearch rejected a line for {} ({status}): {error}; further rejections are only counted \
                     (obs_log_lines_dropped_total{{sink=\"elasticsearch\",reason=\"rejected\"}})",
                    entry.index
                );
            }
            false
        });
        rejected
    }
}

impl Sink for BulkSink {
    type Entry = Entry;

    async fn push(&self, batch: &mut Vec<Entry>) -> u64 {
        if !self.installed.load(Ordering::Relaxed) {
            match self.install().await {
                Ok(()) => self.installed.store(true, Ordering::Relaxed),
                Err(error) => {
                    if !self.told_install.swap(true, Ordering::Relaxed) {
                        let then = if error.retry {
                            "lines wait, and it is tried again"
                        } else {
                            "lines ship without it, mapped by Elasticsearch's defaults"
                        };
                        eprintln!("obs: cannot install the {}; {then}", error.message);
                    }
                    if error.retry {
                        return 0;
                    }
                    self.installed.store(true, Ordering::Relaxed);
                }
            }
        }
        let body = bulk_body(batch);
        match self
            .call("POST", &self.bulk_url, "application/x-ndjson", Some(body.as_bytes()))
            .await
        {
            Ok(answer) if (200..300).contains(&answer.status) => self.settle(batch, &answer.body),
            Ok(answer) if answer.status == 429 || answer.status >= 500 => {
                eprintln!(
                    "obs: Elasticsearch bulk to {} answered {}; trying again",
                    self.bulk_url, answer.status
                );
                0
            }
            Ok(answer) => {
                eprintln!(
                    "obs: Elasticsearch bulk to {} answered {}: {}; dropping {} lines",
                    self.bulk_url,
                    answer.status,
                    answer.text(),
                    batch.len()
                );
                let refused = batch.len() as u64;
                batch.clear();
                refused
            }
            Err(error) => {
                eprintln!(
                    "obs: Elasticsearch bulk to {} failed: {error}; trying again",
                    self.bulk_url
                );
                0
            }
        }
    }
}
