//! Logs as the spec describes them: one JSON object per line with the spec's key names
//! (`ts`, `msg`, `lineno`…) and level case, the service's identity on every line, context
//! fields from the enclosing spans (`request_id`, `session_id`, `trace_id`, `route`…),
//! sensitive fields redacted, and optional shipping of each line to Loki.

use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

use contract::model::{LevelCase, LogFormat, LogKeys, LogLevel, Logging, RuntimeEvent};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::loki::LokiSender;

/// Written instead of a sensitive value.
pub const REDACTED: &str = "[REDACTED]";

/// The current time as RFC 3339 with milliseconds, UTC.
pub fn now_rfc3339() -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time::OffsetDateTime::now_utc().format(&format).unwrap_or_default()
}

/// Where lines go.
pub type MakeWriter = Arc<dyn Fn() -> Box<dyn Write + Send> + Send + Sync>;

/// What every line is built from.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    pub keys: LogKeys,
    pub level_case: LevelCase,
    pub redact: Vec<String>,
    /// Fields on every line: service, environment, version, replica.
    pub statics: Vec<(String, Value)>,
    /// The timestamp's pattern (`logging.timestamp_format`); `None`: RFC 3339.
    pub timestamp: Option<time::format_description::OwnedFormatItem>,
    /// Message and level of each runtime event, by key: the declared ones, else defaults.
    pub events: std::collections::HashMap<&'static str, (String, LogLevel)>,
    /// The level filter, to weigh a runtime event's declared level (the layer's own filter
    /// lets every runtime event through); `None`: every runtime event is written.
    pub levels: Option<tracing_subscriber::filter::Targets>,
}

impl LogSettings {
    pub fn from_spec(logging: &Logging, statics: Vec<(String, Value)>) -> Self {
        Self {
            format: logging.format,
            keys: logging.keys.clone(),
            level_case: logging.level_case,
            redact: logging.redact.iter().map(|r| r.to_ascii_lowercase()).collect(),
            statics,
            // Checked when the spec loaded; a pattern that still fails falls back to RFC 3339.
            timestamp: logging
                .timestamp_format
                .pattern()
                .and_then(|p| time::format_description::parse_owned::<2>(p).ok()),
            events: RuntimeEvent::ALL
                .into_iter()
                .map(|event| {
                    let (message, level) = logging.runtime_event(event);
                    (event.key(), (message.to_string(), level))
                })
                .collect(),
            levels: None,
        }
    }

    /// The current time as the spec writes it.
    pub fn timestamp(&self) -> String {
        match &self.timestamp {
            None => now_rfc3339(),
            Some(pattern) => time::OffsetDateTime::now_utc().format(pattern).unwrap_or_default(),
        }
    }

    /// Whether `key` contains one of the (lower-cased) redacted words, in any case;
    /// compared in place, since every field of every line asks.
    fn is_sensitive(&self, key: &str) -> bool {
        let key = key.as_bytes();
        self.redact.iter().any(|word| {
            let word = word.as_bytes();
            word.is_empty() || key.windows(word.len()).any(|w| w.eq_ignore_ascii_case(word))
        })
    }

    fn level_text(&self, word: &str) -> String {
        match self.level_case {
            LevelCase::Lower => word.to_string(),
            LevelCase::Upper => word.to_ascii_uppercase(),
        }
    }
}

/// When a request, session or job began and whether an error line was written inside it,
/// for its Sentry transaction.
#[derive(Debug, Clone, Copy)]
struct Timed {
    started: std::time::SystemTime,
    failed: bool,
}

/// Context fields recorded on a span, kept in its extensions, in the order first recorded.
/// A short list rather than a map: a span carries a handful of fields, most named by the
/// `&'static` names of its callsite, and a hashed map of owned names per span was a third
/// of what making a request's span cost the log layer (BENCHMARKS.md section 1b).
#[derive(Debug, Default, Clone)]
pub(crate) struct SpanFields(Vec<(Cow<'static, str>, Value)>);

impl SpanFields {
    /// Sets `key`, in its first place when it is already there.
    pub(crate) fn insert(&mut self, key: impl Into<Cow<'static, str>>, value: Value) {
        let key = key.into();
        match self.0.iter_mut().find(|(name, _)| *name == key) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((key, value)),
        }
    }

    /// Sets `key` unless it is already there.
    pub(crate) fn insert_if_absent(&mut self, key: String, value: Value) {
        if self.get(&key).is_none() {
            self.0.push((Cow::Owned(key), value));
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(name, _)| name == key).map(|(_, value)| value)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(name, value)| (name.as_ref(), value))
    }

    /// Copies every field into `map`, replacing what it held under the same names.
    pub(crate) fn copy_into(&self, map: &mut Map<String, Value>) {
        for (name, value) in self.iter() {
            map.insert(name.to_string(), value.clone());
        }
    }
}

/// Where a visitor puts the fields it reads.
trait FieldSink {
    fn put(&mut self, name: &'static str, value: Value);
}

impl FieldSink for Map<String, Value> {
    fn put(&mut self, name: &'static str, value: Value) {
        self.insert(name.to_string(), value);
    }
}

impl FieldSink for SpanFields {
    fn put(&mut self, name: &'static str, value: Value) {
        self.insert(name, value);
    }
}

struct Collect<'a, S>(&'a mut S);

/// Finds a runtime event's declared level from its key field, collecting nothing else.
struct DeclaredLevel<'a> {
    events: &'a std::collections::HashMap<&'static str, (String, LogLevel)>,
    level: Option<LogLevel>,
}

impl Visit for DeclaredLevel<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == crate::events::KEY_FIELD {
            self.level = self.events.get(value).map(|(_, level)| *level);
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl<S: FieldSink> Visit for Collect<'_, S> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.put(field.name(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.put(field.name(), Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.put(field.name(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.put(field.name(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.put(
            field.name(),
            serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number),
        );
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.put(field.name(), Value::Bool(value));
    }
}

/// The layer that writes lines.
pub struct SpecLayer {
    settings: Arc<LogSettings>,
    writer: MakeWriter,
    loki: Option<LokiSender>,
    /// Where error, critical and panic lines are also reported (Sentry), when set.
    errors: Option<crate::errors::ErrorReporter>,
    /// Elasticsearch shipping, when the spec turns it on.
    elasticsearch: Option<crate::elasticsearch::ElasticsearchSender>,
    /// Holds back repeats of identical error lines (`logging.throttle`).
    throttle: Option<Arc<crate::throttle::Throttle>>,
    /// The subscriber this layer is part of, to read the OpenTelemetry layer's trace context
    /// (set when registered; weak, since the subscriber owns the layer).
    dispatch: std::sync::OnceLock<tracing::dispatcher::WeakDispatch>,
}

/// Key of the W3C trace id (32 hex digits) on lines inside a traced span.
pub const TRACE_ID: &str = "trace_id";
/// Key of the W3C span id (16 hex digits) of the innermost span.
pub const SPAN_ID: &str = "span_id";

impl SpecLayer {
    pub fn new(settings: LogSettings, writer: MakeWriter, loki: Option<LokiSender>) -> Self {
        Self {
            settings: Arc::new(settings),
            writer,
            loki,
            errors: None,
            elasticsearch: None,
            throttle: None,
            dispatch: std::sync::OnceLock::new(),
        }
    }

    /// Throttles identical lines at the throttle's levels before they are written anywhere.
    pub fn with_throttle(mut self, throttle: Option<Arc<crate::throttle::Throttle>>) -> Self {
        self.throttle = throttle;
        self
    }

    /// Also ships every line to Elasticsearch.
    pub fn with_elasticsearch(mut self, elasticsearch: Option<crate::elasticsearch::ElasticsearchSender>) -> Self {
        self.elasticsearch = elasticsearch;
        self
    }

    /// Also reports error, critical and panic lines to `errors`.
    pub fn with_errors(mut self, errors: Option<crate::errors::ErrorReporter>) -> Self {
        self.errors = errors;
        self
    }

    /// Whether requests, sessions and jobs are timed as Sentry transactions.
    fn sends_transactions(&self) -> bool {
        self.errors.as_ref().is_some_and(|e| e.traces_rate() > 0.0)
    }

    /// How a written line is reported as an error, if it is one: by the level it was
    /// written at (a runtime event's declared level counts), a panic by its marker.
    fn severity(&self, line: &Map<String, Value>) -> Option<crate::errors::Severity> {
        use crate::errors::Severity;
        let keys = &self.settings.keys;
        let level = line.get(&keys.level).and_then(Value::as_str)?;
        if level.eq_ignore_ascii_case(LogLevel::Critical.as_str()) {
            return Some(Severity::Critical);
        }
        if !level.eq_ignore_ascii_case("error") {
            return None;
        }
        let is_panic = line.get("panic") == Some(&Value::Bool(true))
            && line.get(&keys.target).and_then(Value::as_str) == Some(crate::errors::PANIC_TARGET);
        Some(if is_panic { Severity::Panic } else { Severity::Error })
    }

    /// The trace and span ids of the innermost span around an event, from the
    /// OpenTelemetry layer beside this one, when there is one.
    fn trace_ids(&self, span: &tracing::span::Id) -> Option<(String, String)> {
        use opentelemetry::trace::TraceContextExt;
        let dispatch = self.dispatch.get()?.upgrade()?;
        let context = tracing_opentelemetry::get_otel_context(span, &dispatch)?;
        let otel_span = context.span();
        let ids = otel_span.span_context();
        ids.is_valid()
            .then(|| (ids.trace_id().to_string(), ids.span_id().to_string()))
    }

    /// The line for an event with its context, as a JSON object; `None` for a runtime event
    /// whose declared level the filter does not let through.
    fn line(&self, event: &Event<'_>, context: Map<String, Value>) -> Option<Map<String, Value>> {
        let settings = &self.settings;
        let keys = &settings.keys;
        let metadata = event.metadata();
        let mut fields = Map::new();
        event.record(&mut Collect(&mut fields));
        let mut message = fields.remove("message").unwrap_or(Value::String(String::new()));
        let mut target = metadata.target();
        let mut level = level_word(metadata.level());
        if metadata.target() == crate::events::TARGET {
            // The module that emitted it is the line's target, not the routing one.
            target = metadata.module_path().unwrap_or(target);
            let declared = fields
                .remove(crate::events::KEY_FIELD)
                .and_then(|key| key.as_str().and_then(|key| settings.events.get(key)).cloned());
            if let Some((declared_message, declared_level)) = declared {
                if let Some(levels) = &settings.levels {
                    if !levels.would_enable(target, &tracing_level(declared_level)) {
                        return None;
                    }
                }
                message = Value::String(declared_message);
                level = declared_level.as_str();
            }
        }
        if *metadata.level() == Level::ERROR && fields.get("critical") == Some(&Value::Bool(true)) {
            fields.remove("critical");
            level = LogLevel::Critical.as_str();
        }
        // Sized up front: growing an insertion-ordered map rehashes every key.
        let mut line = Map::with_capacity(6 + settings.statics.len() + context.len() + fields.len());
        line.insert(keys.timestamp.clone(), Value::String(settings.timestamp()));
        line.insert(keys.level.clone(), Value::String(settings.level_text(level)));
        line.insert(keys.message.clone(), message);
        line.insert(keys.target.clone(), Value::String(target.to_string()));
        if let Some(file) = metadata.file() {
            line.insert(keys.filename.clone(), Value::String(file.to_string()));
        }
        if let Some(number) = metadata.line() {
            line.insert(keys.line.clone(), Value::from(number));
        }
        for (key, value) in settings.statics.iter().cloned().chain(context).chain(fields) {
            let value = if settings.is_sensitive(&key) {
                Value::String(REDACTED.into())
            } else {
                value
            };
            line.insert(key, value);
        }
        Some(line)
    }

    /// False for a runtime event whose declared level the filter does not let through (the
    /// layer's own filter passes every runtime event so that its declared level decides).
    fn declared_level_enabled(&self, event: &Event<'_>) -> bool {
        let metadata = event.metadata();
        let Some(levels) = &self.settings.levels else {
            return true;
        };
        if metadata.target() != crate::events::TARGET {
            return true;
        }
        let mut declared = DeclaredLevel {
            events: &self.settings.events,
            level: None,
        };
        event.record(&mut declared);
        match declared.level {
            Some(level) => levels.would_enable(
                metadata.module_path().unwrap_or(metadata.target()),
                &tracing_level(level),
            ),
            None => true,
        }
    }

    fn text_line(&self, line: &Map<String, Value>) -> String {
        let keys = &self.settings.keys;
        let get = |k: &str| line.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let mut text = format!(
            "{} {:>5} {}",
            get(&keys.timestamp),
            get(&keys.level),
            get(&keys.message)
        );
        let standard = keys.all();
        for (key, value) in line {
            if !standard.contains(&key.as_str()) {
                text.push_str(&format!(" {key}={value}"));
            }
        }
        text
    }
}

impl<S> Layer<S> for SpecLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, id: &tracing::span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = SpanFields(Vec::with_capacity(attrs.fields().len()));
        attrs.record(&mut Collect(&mut fields));
        let mut extensions = span.extensions_mut();
        extensions.insert(fields);
        if self.sends_transactions() && is_context_span(attrs.metadata()) {
            extensions.insert(Timed {
                started: std::time::SystemTime::now(),
                failed: false,
            });
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: Context<'_, S>) {
        let Some(errors) = &self.errors else { return };
        let Some(span) = ctx.span(&id) else { return };
        let (timed, fields) = {
            let extensions = span.extensions();
            let Some(timed) = extensions.get::<Timed>().copied() else {
                return;
            };
            let mut fields = Map::new();
            if let Some(own) = extensions.get::<SpanFields>() {
                own.copy_into(&mut fields);
            }
            (timed, fields)
        };
        // Read before the OpenTelemetry layer (outside this one) ends the span.
        let Some((trace_id, span_id)) = self.trace_ids(&id) else {
            return;
        };
        errors.finished(&crate::errors::Finished {
            kind: span.name(),
            fields: &fields,
            trace_id: &trace_id,
            span_id: &span_id,
            started: timed.started,
            ended: std::time::SystemTime::now(),
            failed: timed.failed,
        });
    }

    fn on_record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        // Recorded first, then stored: formatting a value runs the caller's Debug code, which
        // may panic, and the panic hook logs; it must not find this span's extensions locked.
        let mut recorded = SpanFields::default();
        values.record(&mut Collect(&mut recorded));
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            for (name, value) in recorded.0 {
                fields.insert(name, value);
            }
        }
    }

    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !self.declared_level_enabled(event) {
            // Decided before anything is collected: at `warn`, every request's info event
            // would otherwise build its whole line only to be dropped.
            return;
        }
        let mut context = Map::new();
        let mut innermost = None;
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    fields.copy_into(&mut context);
                }
                innermost = Some(span.id());
            }
        }
        // A field the application recorded under the same name (a job's legacy trace id)
        // is kept: the spans say what the line is about.
        if let Some((trace_id, span_id)) = innermost.and_then(|id| self.trace_ids(&id)) {
            context.entry(TRACE_ID).or_insert(Value::String(trace_id));
            context.entry(SPAN_ID).or_insert(Value::String(span_id));
        }
        let Some(mut line) = self.line(event, context) else {
            return;
        };
        let severity = (self.errors.is_some() || self.elasticsearch.is_some())
            .then(|| self.severity(&line))
            .flatten();
        if severity.is_some() && self.sends_transactions() {
            // The request (session, job) it happened in ends as a failed transaction, whether
            // the throttle writes this line or not.
            for span in ctx.event_scope(event).into_iter().flatten() {
                if let Some(timed) = span.extensions_mut().get_mut::<Timed>() {
                    timed.failed = true;
                    break;
                }
            }
        }
        if let Some(throttle) = &self.throttle {
            // Held back from every destination alike: stdout, Loki, Elasticsearch, Sentry.
            if !throttle.admit(&mut line, &self.settings.keys) {
                return;
            }
        }
        let mut text = match self.settings.format {
            // Written straight from the map: no copy of it, and no `fmt` adapter in between.
            LogFormat::Json => serde_json::to_string(&line).unwrap_or_default(),
            LogFormat::Text => self.text_line(&line),
        };
        if let Some(loki) = &self.loki {
            loki.send(&line, &text);
        }
        if let Some(es) = &self.elasticsearch {
            es.send(&line, severity.is_some());
        }
        if let Some(errors) = &self.errors {
            if let Some(severity) = severity {
                errors.report(&line, &self.settings.keys, severity);
            }
        }
        text.push('\n');
        let mut writer = (self.writer)();
        let _ = writer.write_all(text.as_bytes());
    }
}

/// `tracing` has no level above ERROR: `critical` filters as an error.
fn tracing_level(level: LogLevel) -> tracing::Level {
    match level {
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Error | LogLevel::Critical => tracing::Level::ERROR,
    }
}

fn level_word(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// The level filter: `level` for everything, the spec's `targets` for other crates; a
/// non-empty `RUST_LOG` (`info,hyper=debug,my_crate::db=trace`) replaces both.
pub fn filter(
    level: LogLevel,
    targets: &std::collections::BTreeMap<String, LogLevel>,
    rust_log: Option<&str>,
) -> Result<tracing_subscriber::filter::Targets, String> {
    if let Some(directives) = rust_log.map(str::trim).filter(|d| !d.is_empty()) {
        return directives
            .parse()
            .map_err(|e| format!("RUST_LOG `{directives}` is not `target=level,…`: {e}"));
    }
    Ok(tracing_subscriber::filter::Targets::new()
        .with_default(tracing_level(level))
        .with_targets(
            targets
                .iter()
                .map(|(target, level)| (target.clone(), tracing_level(*level))),
        ))
}

/// Whether `metadata` is one of the spans that carry a line's context and trace (a request,
/// a WebSocket session, a job): on at every level, so that a warning under `LOG_LEVEL=warn`
/// still has its request id and trace id, and the trace is still exported.
pub fn is_context_span(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.is_span() && matches!(metadata.name(), "request" | "websocket" | "job")
}

/// `levels` letting every runtime event through, for the log layer to weigh each by the
/// level the spec declares for it (kept in [`LogSettings::levels`]).
pub fn with_runtime_events(levels: tracing_subscriber::filter::Targets) -> tracing_subscriber::filter::Targets {
    levels.with_target(crate::events::TARGET, tracing::Level::TRACE)
}

/// tracing-subscriber items for code that builds its own subscriber around `SpecLayer`.
pub mod reexport {
    pub use tracing_subscriber::layer::SubscriberExt;
    pub use tracing_subscriber::registry;
    pub use tracing_subscriber::Layer;
}

/// Writes to stdout, one locked write per line so lines never interleave.
pub fn stdout() -> MakeWriter {
    Arc::new(|| Box::new(std::io::stdout()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;
    use tracing_subscriber::layer::SubscriberExt;

    /// A writer that keeps lines for assertions.
    pub fn capture() -> (MakeWriter, Arc<Mutex<Vec<u8>>>) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(data);
                Ok(data.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        (Arc::new(move || Box::new(Sink(sink.clone()))), buffer)
    }

    pub fn lines(buffer: &Arc<Mutex<Vec<u8>>>) -> Vec<Value> {
        String::from_utf8(buffer.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn timestamps_follow_the_spec_pattern() {
        let logging: Logging =
            serde_yaml::from_str("timestamp_format: '[year]-[month]-[day] [hour]:[minute]:[second]'").unwrap();
        let stamp = LogSettings::from_spec(&logging, vec![]).timestamp();
        let shape = regex_lite_shape(&stamp);
        assert_eq!(shape, "dddd-dd-dd dd:dd:dd", "{stamp}");
        let rfc = LogSettings::from_spec(&Logging::default(), vec![]).timestamp();
        assert_eq!(regex_lite_shape(&rfc), "dddd-dd-ddTdd:dd:dd.dddZ", "{rfc}");
        assert!(serde_yaml::from_str::<Logging>("timestamp_format: '[yaer]'").is_err());
    }

    /// Digits as `d`, the rest as is.
    fn regex_lite_shape(text: &str) -> String {
        text.chars().map(|c| if c.is_ascii_digit() { 'd' } else { c }).collect()
    }

    #[test]
    fn levels_come_from_the_spec_targets_unless_rust_log_says() {
        use tracing::level_filters::LevelFilter;
        use tracing_subscriber::filter::Targets;
        let logging = Logging::default();
        let level = |filter: &Targets, target: &str| {
            filter
                .iter()
                .find(|(t, _)| *t == target)
                .map(|(_, l)| l)
                .unwrap_or(filter.default_level().unwrap_or(LevelFilter::OFF))
        };
        let spec = filter(LogLevel::Debug, &logging.targets, None).unwrap();
        assert_eq!(level(&spec, "hyper"), LevelFilter::WARN);
        assert_eq!(spec.default_level(), Some(LevelFilter::DEBUG));
        let env = filter(LogLevel::Debug, &logging.targets, Some("warn,hyper=trace")).unwrap();
        assert_eq!(level(&env, "hyper"), LevelFilter::TRACE);
        assert_eq!(env.default_level(), Some(LevelFilter::WARN));
        assert!(
            filter(LogLevel::Info, &logging.targets, Some("  ")).is_ok(),
            "empty: the spec's"
        );
        let bad = filter(LogLevel::Info, &logging.targets, Some("hyper=loud")).unwrap_err();
        assert!(bad.contains("RUST_LOG"), "{bad}");
    }

    #[test]
    fn runtime_events_take_the_declared_message_and_level_and_critical_is_a_level() {
        let logging: Logging = serde_yaml::from_str(
            "level_case: upper\nevents:\n  - {message: request, level: debug, runtime: [request]}\n  - {message: Connection established, runtime: [websocket_connected]}",
        )
        .unwrap();
        let mut settings = LogSettings::from_spec(&logging, vec![]);
        settings.levels = Some(filter(LogLevel::Info, &logging.targets, None).unwrap());
        let (writer, buffer) = capture();
        let subscriber = tracing_subscriber::registry().with(SpecLayer::new(settings, writer, None).with_filter(
            with_runtime_events(filter(LogLevel::Info, &logging.targets, None).unwrap()),
        ));
        tracing::subscriber::with_default(subscriber, || {
            crate::runtime_event!(INFO, RuntimeEvent::Request, status = 200u16);
            crate::runtime_event!(INFO, RuntimeEvent::WebsocketConnected, session_id = "s-1");
            crate::runtime_event!(INFO, RuntimeEvent::ShutdownStarted);
            crate::critical!(disk = "/data", "disk full");
        });
        let lines = lines(&buffer);
        let messages: Vec<&str> = lines.iter().map(|l| l["message"].as_str().unwrap()).collect();
        assert_eq!(
            messages,
            ["Connection established", "shutdown started", "disk full"],
            "`request` is declared at debug, below the level"
        );
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["session_id"], "s-1");
        assert_eq!(lines[0]["target"], "runtime::logging::tests", "the emitting module");
        assert!(lines[0].get(crate::events::KEY_FIELD).is_none());
        assert_eq!(lines[2]["level"], "CRITICAL");
        assert_eq!(lines[2]["disk"], "/data");
        assert!(lines[2].get("critical").is_none());
    }

    #[test]
    fn lines_use_the_spec_keys_context_and_redaction() {
        let logging: Logging = serde_yaml::from_str(
            "keys: {timestamp: ts, message: msg, line: lineno}\nlevel_case: upper\nredact: [password, token]",
        )
        .unwrap();
        let settings = LogSettings::from_spec(&logging, vec![("service".into(), Value::from("api"))]);
        let (writer, buffer) = capture();
        let subscriber = tracing_subscriber::registry().with(SpecLayer::new(settings, writer, None));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = "abc-123", route = "/api/notes");
            let _entered = span.enter();
            tracing::info!(
                user_password = "hunter2",
                api_token = "t0k3n",
                SESSION_TOKEN = "upper",
                count = 3,
                "WebSocket connected\n\"forged\": true"
            );
        });
        let line = &lines(&buffer)[0];
        assert_eq!(line["level"], "INFO");
        assert_eq!(
            line["msg"], "WebSocket connected\n\"forged\": true",
            "a newline cannot forge a second line"
        );
        assert!(line["ts"].as_str().unwrap().ends_with('Z'));
        assert!(line["lineno"].is_u64());
        assert_eq!(line["service"], "api");
        assert_eq!(line["request_id"], "abc-123");
        assert_eq!(line["route"], "/api/notes");
        assert_eq!(line["user_password"], REDACTED);
        assert_eq!(line["api_token"], REDACTED);
        assert_eq!(line["SESSION_TOKEN"], REDACTED, "in any case");
        assert_eq!(line["count"], 3);
        assert_eq!(
            String::from_utf8(buffer.lock().unwrap().clone())
                .unwrap()
                .lines()
                .count(),
            1
        );
    }

    #[test]
    fn span_fields_keep_their_first_place_and_replace_in_it() {
        let mut fields = SpanFields::default();
        fields.insert("request_id", Value::from("r-1"));
        fields.insert("route", Value::from("/a"));
        fields.insert(String::from("user_id"), Value::from(7));
        fields.insert("request_id", Value::from("r-2"));
        fields.insert_if_absent("route".into(), Value::from("/ignored"));
        fields.insert_if_absent("tenant".into(), Value::from("t"));
        let order: Vec<(&str, &Value)> = fields.iter().collect();
        assert_eq!(
            order,
            [
                ("request_id", &Value::from("r-2")),
                ("route", &Value::from("/a")),
                ("user_id", &Value::from(7)),
                ("tenant", &Value::from("t")),
            ]
        );
        assert_eq!(fields.get("user_id"), Some(&Value::from(7)));
        assert_eq!(fields.get("missing"), None);
        let mut line = Map::new();
        line.insert("route".into(), Value::from("/outer"));
        line.insert("message".into(), Value::from("m"));
        fields.copy_into(&mut line);
        assert_eq!(line["route"], "/a", "the inner span's value wins");
        assert_eq!(line.len(), 5);
    }
}
