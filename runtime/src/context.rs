//! Request context: fields a handler attaches to the request, WebSocket session or job it
//! runs in, carried onto every later line of that context — the runtime's own request line
//! and the lines of work spawned inside it (`Instrument::in_current_span`) included. The
//! build helper generates one function per field obs.yaml declares (`obs::log_fields::user_id`),
//! so a field the spec does not declare does not compile.

use tracing_subscriber::registry::LookupSpan;

use crate::logging::SpanFields;

/// A field's value as it appears on a line.
pub use serde_json::Value as FieldValue;

/// The span names that are a context: the runtime's request span, a WebSocket session and a
/// background job. Fields go to the innermost one around the caller.
pub const CONTEXT_SPANS: [&str; 3] = ["request", "websocket", "job"];

/// Attaches `field` to the innermost request, session or job the caller runs in; every line
/// written in it from now on carries the field. Returns whether a context was found (no
/// context, or logging not initialised: nothing to attach to, and nothing happens).
pub fn record(field: &str, value: impl Into<FieldValue>) -> bool {
    // `get_default` takes an FnMut, which runs once.
    let mut value = Some(value.into());
    let Some(id) = tracing::Span::current().id() else {
        return false;
    };
    tracing::dispatcher::get_default(|dispatch| {
        let Some(registry) = dispatch.downcast_ref::<tracing_subscriber::Registry>() else {
            return false;
        };
        let Some(span) = registry.span(&id) else { return false };
        let Some(context) = span.scope().find(|s| CONTEXT_SPANS.contains(&s.name())) else {
            return false;
        };
        let mut extensions = context.extensions_mut();
        if extensions.get_mut::<SpanFields>().is_none() {
            extensions.insert(SpanFields::default());
        }
        if let (Some(fields), Some(value)) = (extensions.get_mut::<SpanFields>(), value.take()) {
            fields.insert(field.to_string(), value);
        }
        true
    })
}

/// Every context field around the caller (outer contexts first, inner ones win), to carry
/// into work that outlives the request: a WebSocket session, a spawned task.
pub fn current_fields() -> serde_json::Map<String, FieldValue> {
    let Some(id) = tracing::Span::current().id() else {
        return serde_json::Map::new();
    };
    tracing::dispatcher::get_default(|dispatch| {
        let mut fields = serde_json::Map::new();
        let Some(registry) = dispatch.downcast_ref::<tracing_subscriber::Registry>() else {
            return fields;
        };
        let Some(span) = registry.span(&id) else { return fields };
        for context in span.scope().from_root() {
            if let Some(own) = context.extensions().get::<SpanFields>() {
                own.copy_into(&mut fields);
            }
        }
        fields
    })
}

/// Gives `span` the context `fields` it does not carry itself, so its lines carry them as if
/// it ran inside the context they came from. Returns whether the span could take them.
pub fn inherit(span: &tracing::Span, fields: serde_json::Map<String, FieldValue>) -> bool {
    let Some(id) = span.id() else { return false };
    let mut fields = Some(fields);
    tracing::dispatcher::get_default(|dispatch| {
        let Some(registry) = dispatch.downcast_ref::<tracing_subscriber::Registry>() else {
            return false;
        };
        let Some(span) = registry.span(&id) else { return false };
        let mut extensions = span.extensions_mut();
        if extensions.get_mut::<SpanFields>().is_none() {
            extensions.insert(SpanFields::default());
        }
        if let (Some(own), Some(fields)) = (extensions.get_mut::<SpanFields>(), fields.take()) {
            for (key, value) in fields {
                own.insert_if_absent(key, value);
            }
        }
        true
    })
}

/// The value of `field` on the innermost span around the caller that carries it.
pub fn get(field: &str) -> Option<FieldValue> {
    let id = tracing::Span::current().id()?;
    tracing::dispatcher::get_default(|dispatch| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span = registry.span(&id)?;
        span.scope()
            .find_map(|s| s.extensions().get::<SpanFields>().and_then(|f| f.get(field).cloned()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::tests::{capture, lines};
    use crate::logging::{LogSettings, SpecLayer};
    use serde_json::Value;
    use tracing::Instrument;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn a_recorded_field_reaches_every_later_line_of_its_context_and_no_other() {
        let settings = LogSettings::from_spec(&Default::default(), vec![]);
        let (writer, buffer) = capture();
        let subscriber = tracing_subscriber::registry().with(SpecLayer::new(settings, writer, None));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("before");
            let request = tracing::info_span!("request", request_id = "r-1");
            request.in_scope(|| {
                tracing::info!("not yet");
                let inner = tracing::info_span!("db query");
                inner.in_scope(|| assert!(record("user_id", "u-7")));
                assert_eq!(get("user_id"), Some(Value::from("u-7")));
                tracing::info!("request finished");
            });
            let spawned = async { tracing::info!("spawned work") }.instrument(request.clone());
            block_on(spawned);
            tracing::info!("after");
            assert!(!record("user_id", "outside"), "no context outside a request");
        });
        let lines = lines(&buffer);
        let user = |message: &str| {
            let line = lines.iter().find(|l| l["message"] == message).unwrap();
            line.get("user_id").cloned()
        };
        assert_eq!(user("before"), None);
        assert_eq!(user("not yet"), None);
        assert_eq!(user("request finished"), Some(Value::from("u-7")));
        assert_eq!(user("spawned work"), Some(Value::from("u-7")));
        assert_eq!(user("after"), None);
    }

    /// Runs a future on a runtime of its own, as a spawned task would run.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(future)
    }
}
