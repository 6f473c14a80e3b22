//! A `custom` check the spec declares but no code registers is said at start-up, once, as a
//! warning naming it, instead of being found later as a readiness that never turns green.
//! Its own test binary: it installs the process-wide log subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use runtime::{Observability, ServiceConfig};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<serde_json::Value> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

#[tokio::test]
async fn an_unregistered_custom_check_is_reported_when_the_service_starts() {
    let spec: contract::Spec = serde_yaml::from_str(
        "service: {name: pw}\nshutdown: {drain: 100ms, grace: 2s}\nhealth:\n  checks:\n    - {name: migrations, kind: custom}\n    - {name: cache, kind: custom}\n",
    )
    .unwrap();
    let config = ServiceConfig::resolve(spec, |_| None).unwrap();
    let obs = Observability::new(config, |_| None).unwrap();
    obs.health.register("cache", || async { Ok(()) });
    let captured = Captured::default();
    let sink = captured.clone();
    obs.init_logging(Arc::new(move || Box::new(sink.clone())), |_| None)
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = obs.shutdown.clone();
    let server = tokio::spawn(runtime::serve_on(obs.clone(), Router::new(), obs, listener, None));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !captured
        .lines()
        .iter()
        .any(|l| l["msg"] == "service started" || l["message"] == "service started")
    {
        assert!(tokio::time::Instant::now() < deadline, "no `service started` line");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.begin();
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    let lines = captured.lines();
    let reports: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l.to_string().contains("has no code registered"))
        .collect();
    assert_eq!(reports.len(), 1, "{lines:#?}");
    let report = reports[0].to_string();
    assert!(report.contains("migrations"), "{report}");
    assert!(report.to_lowercase().contains("warn"), "{report}");
    assert!(!report.contains("cache"), "{report}");
}
