//! Error-log throttling through the runtime's own subscriber: of identical error lines
//! beyond the burst only the count remains, in the declared metric, per level; other
//! messages and other levels are untouched.

use runtime::{Observability, ServiceConfig};

mod common;
use common::{capture, lines};

fn observability() -> Observability {
    let yaml = "service: {name: analytics}\n\
                logging:\n  throttle: {window: 60s, burst: 2}\n";
    let spec = contract::load_bytes(yaml.as_bytes(), "obs.yaml").unwrap().spec;
    let config = ServiceConfig::resolve(spec, |_| None).unwrap();
    Observability::new(config, |_| None).unwrap()
}

#[tokio::test]
async fn repeats_beyond_the_burst_are_counted_not_written() {
    let obs = observability();
    let (writer, buffer) = capture();
    let _guard = tracing::subscriber::set_default(obs.subscriber(writer, |_| None).unwrap());
    for attempt in 0..20 {
        // Fields differ; the line is the same failure.
        tracing::error!(attempt, "connection pool timed out");
        tracing::warn!(attempt, "slow answer");
    }
    for _ in 0..5 {
        runtime::critical!("ledger out of balance");
    }
    tracing::error!("another failure");

    let written = lines(&buffer);
    let count = |message: &str| written.iter().filter(|l| l["message"] == message).count();
    assert_eq!(count("connection pool timed out"), 2, "the burst");
    assert_eq!(count("slow answer"), 20, "warnings are not throttled by default");
    assert_eq!(count("ledger out of balance"), 2);
    assert_eq!(count("another failure"), 1);
    let exposition = obs.registry.encode(runtime::metrics::Format::Text);
    assert!(
        exposition.contains("obs_log_lines_suppressed_total{level=\"error\"} 18"),
        "{exposition}"
    );
    assert!(exposition.contains("obs_log_lines_suppressed_total{level=\"critical\"} 3"));
}
