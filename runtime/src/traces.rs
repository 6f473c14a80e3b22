//! Traces: a W3C trace context on every request, WebSocket session and job (taken from an
//! inbound `traceparent`, or started here), written as `trace_id` / `span_id` on their log
//! lines, and exported over OTLP (gRPC or HTTP/protobuf, as `tracing.protocol` says) with
//! the spec's sample ratio through the SDK's bounded batch queue.

use std::time::Duration;

use contract::model::{OtlpProtocol, Tracing};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::config::ServiceConfig;
use crate::http_client::CA_FILE_ENV;

/// Spans waiting for export before new ones are dropped (silently: the SDK's internal logs are off).
pub const QUEUE_SPANS: usize = 2048;
/// Spans in one export call.
pub const BATCH_SPANS: usize = 512;
/// How often a partial batch leaves.
pub const BATCH_EVERY: Duration = Duration::from_secs(1);
/// One export call, connection included, at most.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// The W3C header a caller's trace context arrives in.
pub const TRACEPARENT: &str = "traceparent";

/// Why trace export could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TracesError {
    #[error("tracing.otlp_endpoint `{endpoint}` is not a URL (`http://host:4317`, `host:4317`): {message}")]
    Endpoint { endpoint: String, message: String },
    #[error("tracing.sample_ratio {0} is not between 0 and 1")]
    Ratio(f64),
    #[error("cannot read the CA bundle {path} (named by {CA_FILE_ENV}): {message}")]
    CaFile { path: String, message: String },
    #[error("cannot build the OTLP exporter for {endpoint}: {message}")]
    Exporter { endpoint: String, message: String },
}

/// Where spans go, resolved from the spec and the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportTarget {
    /// The URL the exporter calls (`…/v1/traces` for HTTP).
    pub url: String,
    pub protocol: OtlpProtocol,
    pub ratio: f64,
}

impl ExportTarget {
    /// `None` when the spec has no `tracing` section or its endpoint resolves empty: spans
    /// still get ids for the logs, and nothing leaves the process.
    pub fn resolve(
        tracing: Option<&Tracing>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, TracesError> {
        let Some(tracing) = tracing else { return Ok(None) };
        let Some(endpoint) = tracing.otlp_endpoint.resolve(&env).filter(|e| !e.trim().is_empty()) else {
            return Ok(None);
        };
        let ratio = tracing.sample_ratio.to_f64();
        if !(0.0..=1.0).contains(&ratio) {
            return Err(TracesError::Ratio(ratio));
        }
        let insecure = tracing
            .insecure
            .as_ref()
            .and_then(|i| i.resolve(&env))
            .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
        let endpoint = endpoint.trim();
        // The seeds write `host:4317`, as the OpenTelemetry variables allow; the scheme then
        // follows `insecure`, like the official SDKs do.
        let base = if endpoint.contains("://") {
            endpoint.to_string()
        } else if insecure {
            format!("http://{endpoint}")
        } else {
            format!("https://{endpoint}")
        };
        let uri: http::Uri = base.parse().map_err(|e: http::uri::InvalidUri| TracesError::Endpoint {
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(TracesError::Endpoint {
                endpoint: endpoint.to_string(),
                message: "expected an http:// or https:// URL with a host".into(),
            });
        }
        let url = match tracing.protocol {
            OtlpProtocol::Grpc => base,
            OtlpProtocol::HttpProtobuf if base.trim_end_matches('/').ends_with("/v1/traces") => base,
            OtlpProtocol::HttpProtobuf => format!("{}/v1/traces", base.trim_end_matches('/')),
        };
        Ok(Some(Self {
            url,
            protocol: tracing.protocol,
            ratio,
        }))
    }
}

/// Whether `tracing.console_export` asks for spans on stderr too (`true`, `1`, `yes`).
pub fn console_export(tracing: Option<&Tracing>, env: impl Fn(&str) -> Option<String>) -> bool {
    tracing
        .and_then(|t| t.console_export.as_ref())
        .and_then(|c| c.resolve(&env))
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

/// The service's identity as OpenTelemetry resource attributes.
pub fn resource(config: &ServiceConfig) -> Resource {
    let mut attributes = vec![
        KeyValue::new("service.version", config.version.clone()),
        KeyValue::new("deployment.environment.name", config.environment.clone()),
    ];
    if !config.spec.service.components.is_empty() {
        attributes.push(KeyValue::new("service.namespace", config.spec.service.name.clone()));
    }
    if let Some(replica) = &config.replica {
        attributes.push(KeyValue::new("service.instance.id", replica.clone()));
    }
    Resource::builder_empty()
        .with_service_name(config.service_field())
        .with_attributes(attributes)
        .build()
}

/// The tracer provider: ids for every span; sampled spans exported to `target` when set,
/// and printed to stderr when `console` is. Needs a running tokio runtime (the exporters'
/// connections live on it).
pub fn provider(
    config: &ServiceConfig,
    target: Option<&ExportTarget>,
    console: bool,
    http: &crate::http_client::HttpClient,
    env: impl Fn(&str) -> Option<String>,
) -> Result<SdkTracerProvider, TracesError> {
    let mut builder = SdkTracerProvider::builder().with_resource(resource(config));
    let ratio = target.map_or(1.0, |t| t.ratio);
    if console {
        builder = builder.with_span_processor(
            BatchSpanProcessor::builder(Console)
                .with_batch_config(batch_config())
                .build(),
        );
    }
    let Some(target) = target else {
        if console {
            return Ok(builder.with_sampler(sampler(ratio)).build());
        }
        // Not sampled: spans carry valid ids for the logs and cost no recording.
        return Ok(builder.with_sampler(Sampler::AlwaysOff).build());
    };
    let failed = |message: String| TracesError::Exporter {
        endpoint: target.url.clone(),
        message,
    };
    let exporter = match target.protocol {
        OtlpProtocol::Grpc => {
            let mut exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(target.url.clone())
                .with_timeout(EXPORT_TIMEOUT);
            if target.url.starts_with("https://") {
                let mut tls = tonic::transport::ClientTlsConfig::new().with_webpki_roots();
                if let Some(path) = env(CA_FILE_ENV).filter(|p| !p.is_empty()) {
                    let pem = std::fs::read(&path).map_err(|e| TracesError::CaFile {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                    tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
                }
                exporter = exporter.with_tls_config(tls);
            }
            exporter.build().map_err(|e| failed(e.to_string()))?
        }
        OtlpProtocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(target.url.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .with_http_client(OnTokio {
                client: http.reqwest().clone(),
                runtime: tokio::runtime::Handle::current(),
            })
            .build()
            .map_err(|e| failed(e.to_string()))?,
    };
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch_config())
        .build();
    Ok(builder
        .with_sampler(sampler(ratio))
        .with_span_processor(processor)
        .build())
}

/// New traces kept at `ratio`; a caller's decision (the `traceparent` sampled flag) wins.
fn sampler(ratio: f64) -> Sampler {
    Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
}

/// The bounded queue every exporter sits behind.
fn batch_config() -> opentelemetry_sdk::trace::BatchConfig {
    BatchConfigBuilder::default()
        .with_max_queue_size(QUEUE_SPANS)
        .with_max_export_batch_size(BATCH_SPANS)
        .with_scheduled_delay(BATCH_EVERY)
        .build()
}

/// `console_export`: one JSON object per finished span on stderr (stdout keeps the logs).
#[derive(Debug)]
struct Console;

impl opentelemetry_sdk::trace::SpanExporter for Console {
    async fn export(&self, batch: Vec<opentelemetry_sdk::trace::SpanData>) -> opentelemetry_sdk::error::OTelSdkResult {
        use std::io::Write;
        let mut text = String::new();
        for span in batch {
            text.push_str(&console_line(&span).to_string());
            text.push('\n');
        }
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
        Ok(())
    }
}

fn console_line(span: &opentelemetry_sdk::trace::SpanData) -> serde_json::Value {
    let attributes: serde_json::Map<String, serde_json::Value> = span
        .attributes
        .iter()
        .map(|kv| (kv.key.to_string(), serde_json::Value::String(kv.value.to_string())))
        .collect();
    let duration = span.end_time.duration_since(span.start_time).unwrap_or_default();
    serde_json::json!({
        "span": span.name,
        "trace_id": span.span_context.trace_id().to_string(),
        "span_id": span.span_context.span_id().to_string(),
        "parent_span_id": span.parent_span_id.to_string(),
        "duration_ms": duration.as_secs_f64() * 1000.0,
        "attributes": attributes,
    })
}

/// The tracer the log layer hands spans to.
pub fn tracer(provider: &SdkTracerProvider) -> opentelemetry_sdk::trace::Tracer {
    provider.tracer("obs-runtime")
}

/// Exports what is queued, within `within`; off the async threads, since the SDK blocks
/// while its exporter (which runs on this runtime) works.
pub async fn flush(provider: &SdkTracerProvider, within: Duration) {
    let provider = provider.clone();
    let flushing = tokio::task::spawn_blocking(move || provider.force_flush());
    let _ = tokio::time::timeout(within, flushing).await;
}

/// Makes `span` continue the trace of an inbound `traceparent` header, when it holds a
/// valid one; otherwise the span starts a trace of its own.
pub fn continue_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    // A parsed name: looking up by `&str` would parse it again on every request.
    static TRACEPARENT_HEADER: http::HeaderName = http::HeaderName::from_static(TRACEPARENT);
    if !headers.contains_key(&TRACEPARENT_HEADER) {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Makes `span` continue the trace a `traceparent` value names; false when the value is
/// not one (the span then starts a trace of its own).
pub fn continue_from_traceparent(span: &tracing::Span, traceparent: &str) -> bool {
    let mut carrier = std::collections::HashMap::new();
    carrier.insert(TRACEPARENT.to_string(), traceparent.trim().to_string());
    let parent = TraceContextPropagator::new().extract(&carrier);
    parent.span().span_context().is_valid() && span.set_parent(parent).is_ok()
}

/// The `traceparent` value of `span`'s trace context, to hand to work it starts (a job
/// enqueued now, an outbound call); `None` outside a traced span.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = std::collections::HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// The W3C trace context of the current span, as a `traceparent` value.
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// The trace id (32 hex digits) of the current span, as the log lines write it; `None`
/// outside a traced span.
pub fn current_trace_id() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let ids = span.span_context();
    ids.is_valid().then(|| ids.trace_id().to_string())
}

/// The HTTP/protobuf exporter's client: the runtime's own (rustls, `OBS_CA_FILE`), with each
/// call run on the tokio runtime, since the SDK's batch thread polls it from outside one.
#[derive(Debug)]
struct OnTokio {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

/// Largest collector response read.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OnTokio {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        let call = async move {
            let (parts, body) = request.into_parts();
            let mut response = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .timeout(EXPORT_TIMEOUT)
                .send()
                .await?;
            let mut answer = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err("the collector's response is over 1 MiB".into());
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, opentelemetry_http::HttpError>(answer.body(bytes::Bytes::from(body))?)
        };
        self.runtime.spawn(call).await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracing_section(yaml: &str) -> Tracing {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn endpoints_get_a_scheme_from_insecure_and_a_path_for_http() {
        let no_env = |_: &str| None;
        let grpc = tracing_section("otlp_endpoint: '${OTEL:-localhost:4317}'\ninsecure: 'true'\nsample_ratio: 0.1");
        let target = ExportTarget::resolve(Some(&grpc), no_env).unwrap().unwrap();
        assert_eq!(target.url, "http://localhost:4317");
        assert_eq!(target.ratio, 0.1);
        let tls = tracing_section("otlp_endpoint: collector:4317");
        assert_eq!(
            ExportTarget::resolve(Some(&tls), no_env).unwrap().unwrap().url,
            "https://collector:4317"
        );
        let http = tracing_section("otlp_endpoint: http://collector:4318/\nprotocol: http/protobuf");
        assert_eq!(
            ExportTarget::resolve(Some(&http), no_env).unwrap().unwrap().url,
            "http://collector:4318/v1/traces"
        );
        let unset = tracing_section("otlp_endpoint: '${OTEL_EXPORTER_OTLP_ENDPOINT}'");
        assert_eq!(ExportTarget::resolve(Some(&unset), no_env).unwrap(), None);
        assert_eq!(ExportTarget::resolve(None, no_env).unwrap(), None);
        let bad = tracing_section("otlp_endpoint: 'ftp://x:1'");
        let error = ExportTarget::resolve(Some(&bad), no_env).unwrap_err().to_string();
        assert!(error.contains("tracing.otlp_endpoint"), "{error}");
    }

    #[test]
    fn a_console_line_names_the_span_its_ids_and_attributes() {
        use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
        let start = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let span = opentelemetry_sdk::trace::SpanData {
            span_context: SpanContext::new(
                TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
                SpanId::from_hex("00f067aa0ba902b7").unwrap(),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "request".into(),
            start_time: start,
            end_time: start + Duration::from_millis(12),
            attributes: vec![KeyValue::new("route", "/api")],
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: Status::Unset,
            instrumentation_scope: Default::default(),
        };
        let line = console_line(&span);
        assert_eq!(line["span"], "request");
        assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(line["span_id"], "00f067aa0ba902b7");
        assert_eq!(line["duration_ms"], 12.0);
        assert_eq!(line["attributes"]["route"], "/api");
        let yes = tracing_section("otlp_endpoint: x\nconsole_export: '${OTEL_CONSOLE_EXPORT:-false}'");
        assert!(!console_export(Some(&yes), |_| None));
        assert!(console_export(Some(&yes), |_| Some("true".into())));
    }

    #[test]
    fn a_traceparent_round_trips_through_a_span() {
        use tracing_subscriber::layer::SubscriberExt;
        let provider = SdkTracerProvider::builder().with_sampler(Sampler::AlwaysOff).build();
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer(&provider)));
        tracing::subscriber::with_default(subscriber, || {
            let inbound = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
            let span = tracing::info_span!("job");
            assert!(continue_from_traceparent(&span, inbound));
            let out = traceparent_of(&span).unwrap();
            assert!(out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{out}");
            assert!(
                !out.contains("00f067aa0ba902b7"),
                "a child has a span id of its own: {out}"
            );
            let fresh = tracing::info_span!("job");
            assert!(!continue_from_traceparent(&fresh, "not-a-traceparent"));
            let own = traceparent_of(&fresh).unwrap();
            assert!(!own.contains("4bf92f3577b34da6a3ce929d0e0e4736"), "{own}");
        });
    }
}
