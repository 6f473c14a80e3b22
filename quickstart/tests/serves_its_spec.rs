//! The quickstart binary, run as a user would: it serves exactly the metrics its own
//! obs.yaml declares (no more, no fewer, right types and labels), counts through its typed
//! handles, answers its probes, and exits 0 on SIGTERM. Every wait is bounded.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use runtime::http_client;

const BIN: &str = env!("CARGO_BIN_EXE_quickstart");
const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/obs.yaml");

#[tokio::test]
async fn serves_exactly_its_declared_metrics_through_typed_handles() {
    let mut child = Command::new(BIN)
        .env("PORT", "0")
        .env_remove("OBS_SPEC")
        .env_remove("OBS_COMPONENT")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the quickstart binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("\"service started\"") {
                let _ = tx.send(line);
            }
        }
    });
    let started = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("logs `service started` within 20s");
    let started: serde_json::Value = serde_json::from_str(&started).unwrap();
    assert_eq!(started["service"], "greeter", "its own spec's identity: {started}");
    let port: u16 = started["address"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let timeout = Duration::from_secs(5);

    let hello = http_client::get(&format!("{base}/hello/ada"), timeout).await.unwrap();
    assert_eq!((hello.status, hello.text().as_str()), (200, "hello, ada\n"));
    let ready = http_client::get(&format!("{base}/readyz"), timeout).await.unwrap();
    assert_eq!(ready.status, 200);

    let exposition = http_client::get(&format!("{base}/metrics"), timeout)
        .await
        .unwrap()
        .text();
    let families = contract::exposition::parse(&exposition).unwrap();
    let loaded = contract::load_file(std::path::Path::new(SPEC)).unwrap();
    let catalog = contract::Catalog::from_spec(&loaded.spec);
    let component = contract::topology::components(&loaded.spec)[0].name.clone();
    let findings = contract::conformance::compare(&catalog, &component, &families);
    assert!(
        findings.is_empty(),
        "exposition differs from obs.yaml: {findings:?}\n{exposition}"
    );
    assert!(
        exposition.contains("greetings_total{language=\"en\"} 1"),
        "{exposition}"
    );
    assert!(
        exposition.contains("greetings_total{language=\"fr\"} 0"),
        "{exposition}"
    );
    assert!(
        !exposition.contains("websocket_") && !exposition.contains("api_items_created_total"),
        "nothing of the demo's spec: {exposition}"
    );

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let until = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < until, "exits within 30s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}
