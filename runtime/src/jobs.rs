//! Background jobs as the builtin `jobs` group counts them, whatever holds the queue (a
//! channel in the process, a database table): queue depth per type, one span per job run
//! with its id and type that continues the trace of the request that enqueued it (its W3C
//! `traceparent`, stored with the job), so that a request and the work it started share one
//! `trace_id` in the logs and in the trace backend; retries, and on the way out
//! `jobs_processed_total`, `job_duration_seconds` and `jobs_trace_total{trace=present|missing}`
//! with the run's log line.

use std::fmt::Display;
use std::time::Instant;

use tracing::Span;

use crate::builtins::JobMetrics;
use crate::observability::Observability;

use crate::events::RuntimeEvent;

/// The default messages of a job run's lines (obs.yaml can declare others).
pub const STARTED: &str = RuntimeEvent::JobStarted.default_message();
pub const RETRIED: &str = RuntimeEvent::JobRetried.default_message();
pub const FINISHED: &str = RuntimeEvent::JobFinished.default_message();
pub const FAILED: &str = RuntimeEvent::JobFailed.default_message();
pub const CANCELLED: &str = RuntimeEvent::JobCancelled.default_message();

/// The job accounting of one component; cheap to clone. Without the builtin `jobs` group
/// in the spec it still gives spans and lines, and counts nothing.
#[derive(Debug, Clone, Default)]
pub struct Jobs {
    metrics: Option<JobMetrics>,
}

impl Observability {
    /// Job accounting bound to this component's builtin `jobs` metrics.
    pub fn jobs(&self) -> Jobs {
        Jobs {
            metrics: self.builtins.jobs.clone(),
        }
    }
}

/// What to store with a job enqueued now, as its trace: the W3C `traceparent` of the
/// request (or job, or session) the caller runs in; `None` outside one.
pub fn current_trace() -> Option<String> {
    crate::traces::current_traceparent()
}

impl Jobs {
    /// A job of `kind` joined the queue.
    pub fn enqueued(&self, kind: &str) {
        if let Some(m) = &self.metrics {
            m.queue_depth.with(&[kind]).inc();
        }
    }

    /// A job of `kind` left the queue (taken by a worker, or dropped).
    pub fn dequeued(&self, kind: &str) {
        if let Some(m) = &self.metrics {
            m.queue_depth.with(&[kind]).dec();
        }
    }

    /// The queue holds `depth` jobs of `kind`, as counted by whatever holds it.
    pub fn set_depth(&self, kind: &str, depth: usize) {
        if let Some(m) = &self.metrics {
            m.queue_depth.with(&[kind]).set(depth as f64);
        }
    }

    /// A worker starts job `id` of `kind`; `trace` is what [`current_trace`] gave the
    /// enqueuer. A `traceparent` makes the run a child span of the enqueuing request, in its
    /// trace; any other text (an id from a producer outside this runtime) is written as the
    /// lines' `trace_id` and `request_id` as it came. Run the job's work inside
    /// [`RunningJob::span`] and end it with [`RunningJob::finish`] or [`RunningJob::fail`].
    pub fn start(&self, kind: &str, id: impl Display, trace: Option<&str>) -> RunningJob {
        // A root of its own: a job is its own context, not a part of the loop that took it.
        let span = tracing::info_span!(
            parent: None,
            "job",
            job_id = %id,
            job_type = %kind,
            trace_id = tracing::field::Empty,
            request_id = tracing::field::Empty
        );
        let trace = trace.map(str::trim).filter(|t| !t.is_empty());
        if let Some(foreign) = trace.filter(|t| !crate::traces::continue_from_traceparent(&span, t)) {
            span.record("trace_id", foreign);
            span.record("request_id", foreign);
        }
        span.in_scope(|| crate::runtime_event!(INFO, RuntimeEvent::JobStarted));
        RunningJob {
            metrics: self.metrics.clone(),
            kind: kind.to_string(),
            traced: trace.is_some(),
            started: Instant::now(),
            span,
            ended: false,
        }
    }
}

/// One run of a job, from start to its outcome.
#[derive(Debug)]
pub struct RunningJob {
    metrics: Option<JobMetrics>,
    kind: String,
    traced: bool,
    started: Instant,
    span: Span,
    ended: bool,
}

impl RunningJob {
    /// The job's span: its id, type and trace id on every line written inside it.
    pub fn span(&self) -> Span {
        self.span.clone()
    }

    /// The attempt `attempt` failed and the job will run again.
    pub fn retry(&self, attempt: u32, error: &dyn Display) {
        if let Some(m) = &self.metrics {
            m.retries.with(&[&self.kind]).inc();
        }
        self.span
            .in_scope(|| crate::runtime_event!(WARN, RuntimeEvent::JobRetried, attempt, error = %error));
    }

    /// The attempt `attempt` failed and the job goes back to the queue, to be run again
    /// by a later [`Jobs::start`]: counted as a retry, with no outcome yet.
    pub fn requeue(mut self, attempt: u32, error: &dyn Display) {
        self.retry(attempt, error);
        self.ended = true;
    }

    /// The job succeeded.
    pub fn finish(mut self) {
        self.end("succeeded");
        self.span
            .in_scope(|| crate::runtime_event!(INFO, RuntimeEvent::JobFinished));
    }

    /// The job failed for good.
    pub fn fail(mut self, error: &dyn Display) {
        self.end("failed");
        self.span
            .in_scope(|| crate::runtime_event!(ERROR, RuntimeEvent::JobFailed, error = %error));
    }

    fn end(&mut self, status: &str) {
        self.ended = true;
        let Some(m) = &self.metrics else { return };
        let trace = if self.traced { "present" } else { "missing" };
        m.processed.with(&[&self.kind, status]).inc();
        m.trace.with(&[&self.kind, status, trace]).inc();
        m.duration
            .with(&[&self.kind])
            .observe(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for RunningJob {
    /// Neither finished nor failed: cancelled (a shutdown's deadline, a panic). Not counted
    /// as an outcome, since whatever holds the queue may run it again.
    fn drop(&mut self) {
        if !self.ended {
            self.span
                .in_scope(|| crate::runtime_event!(WARN, RuntimeEvent::JobCancelled));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::tests::{capture, lines};
    use crate::logging::{LogSettings, SpecLayer};
    use tracing_subscriber::layer::SubscriberExt;

    fn observability() -> Observability {
        let spec = "service: {name: w}\nmetrics:\n  builtin:\n    jobs: {types: [email]}\n";
        let embedded = crate::EmbeddedSpec {
            yaml: spec,
            file: "obs.yaml",
            component: "app",
        };
        Observability::from_embedded(embedded, |_| None).unwrap()
    }

    #[test]
    fn a_job_run_moves_every_job_metric_and_carries_its_trace_onto_its_lines() {
        let obs = observability();
        let jobs = obs.jobs();
        let settings = LogSettings::from_spec(&Default::default(), vec![]);
        let (writer, buffer) = capture();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(crate::traces::tracer(&provider)))
            .with(SpecLayer::new(settings, writer, None));
        let mut request_trace = String::new();
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!("request", request_id = "req-9");
            request.in_scope(|| tracing::info!("enqueueing"));
            let trace = request.in_scope(current_trace);
            assert!(trace.as_deref().is_some_and(|t| t.starts_with("00-")), "{trace:?}");
            assert_eq!(current_trace(), None, "outside a span: no trace");
            request_trace = trace.clone().unwrap();
            jobs.start("email", 11, Some("legacy-id")).finish();
            jobs.enqueued("email");
            jobs.enqueued("email");
            jobs.dequeued("email");
            let run = jobs.start("email", 7, trace.as_deref());
            run.span().in_scope(|| tracing::info!("sending"));
            run.retry(1, &"smtp timeout");
            run.finish();
            jobs.start("email", 8, None).fail(&"bounced");
            jobs.start("email", 10, None).requeue(1, &"busy");
            drop(jobs.start("email", 9, None));
        });
        let text = obs.registry.encode(crate::metrics::Format::Text);
        for expected in [
            r#"queue_depth{type="email"} 1"#,
            r#"jobs_processed_total{type="email",status="succeeded"} 2"#,
            r#"jobs_processed_total{type="email",status="failed"} 1"#,
            r#"job_retries_total{type="email"} 2"#,
            r#"jobs_trace_total{type="email",status="succeeded",trace="present"} 2"#,
            r#"jobs_trace_total{type="email",status="failed",trace="missing"} 1"#,
            r#"job_duration_seconds_count{type="email"} 3"#,
        ] {
            assert!(text.contains(expected), "{expected} in\n{text}");
        }
        let lines = lines(&buffer);
        let enqueueing = lines.iter().find(|l| l["message"] == "enqueueing").unwrap();
        let sending = lines.iter().find(|l| l["message"] == "sending").unwrap();
        assert_eq!(sending["job_id"], "7");
        assert_eq!(
            sending["trace_id"], enqueueing["trace_id"],
            "the job continues the request's trace"
        );
        assert!(request_trace.contains(enqueueing["trace_id"].as_str().unwrap()));
        assert_eq!(sending["trace_id"].as_str().unwrap().len(), 32);
        assert_ne!(sending["span_id"], enqueueing["span_id"], "a span of its own");
        let legacy = lines.iter().find(|l| l["job_id"] == "11").unwrap();
        assert_eq!(
            (&legacy["trace_id"], &legacy["request_id"]),
            (&"legacy-id".into(), &"legacy-id".into())
        );
        let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
        assert_eq!(
            messages,
            [
                "enqueueing",
                STARTED,
                FINISHED,
                STARTED,
                "sending",
                RETRIED,
                FINISHED,
                STARTED,
                FAILED,
                STARTED,
                RETRIED,
                STARTED,
                CANCELLED
            ]
        );
    }
}
