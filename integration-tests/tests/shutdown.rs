//! A demo container stopped with SIGTERM: readiness answers 503 at once, requests keep
//! being served during the drain, the request in flight is answered, the container exits 0,
//! and its log records the shutdown duration.

use std::time::{Duration, Instant};

use integration_tests::*;
use runtime::http_client;

#[tokio::test]
async fn sigterm_flips_readiness_and_drops_no_request() {
    let port = free_port();
    let app = start_demo(port, "blue").await;
    let base = format!("http://127.0.0.1:{port}");
    let slow_url = format!("{base}/api/slow?ms=3000");
    let slow = tokio::spawn(async move { http_client::get(&slow_url, Duration::from_secs(30)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    let kill = std::process::Command::new("docker")
        .args(["kill", "--signal", "TERM", app.id()])
        .output()
        .unwrap();
    assert!(kill.status.success(), "{}", String::from_utf8_lossy(&kill.stderr));
    let ready = eventually(Duration::from_secs(3), "readiness 503 after SIGTERM", || {
        let url = format!("{base}/readyz");
        async move {
            let response = http_client::get(&url, Duration::from_secs(2)).await?;
            Ok((response.status == 503).then(|| response.text()))
        }
    })
    .await;
    let ready = match ready {
        Ok(body) => body,
        Err(error) => panic!("{error}\n{}", logs(&app).await),
    };
    assert!(ready.contains("\"shutting_down\":true"), "{ready}");
    // Still draining: new requests are served.
    assert!(signalled.elapsed() < Duration::from_millis(1500));
    let during = http_client::get(&format!("{base}/api/notes"), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(during.status, 200);
    let slow = slow.await.unwrap().expect("the request in flight is answered");
    assert_eq!(slow.status, 200);
    let stopped = eventually(Duration::from_secs(30), "the container exits", || async {
        Ok((!app.is_running().await.map_err(|e| e.to_string())?).then_some(()))
    })
    .await;
    assert!(stopped.is_ok(), "{}\n{}", stopped.unwrap_err(), logs(&app).await);
    assert_eq!(app.exit_code().await.unwrap(), Some(0));
    let stdout = String::from_utf8(app.stdout_to_vec().await.unwrap()).unwrap();
    let complete: serde_json::Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "shutdown complete")
        .unwrap_or_else(|| panic!("no `shutdown complete` line:\n{stdout}"));
    let seconds = complete["shutdown_seconds"].as_f64().unwrap();
    assert!(
        (2.0..15.0).contains(&seconds),
        "shutdown took {seconds}s; drain is 2s, grace 15s"
    );
    assert_eq!(complete["replica"], "blue");
}
