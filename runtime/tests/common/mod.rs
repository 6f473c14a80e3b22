//! Helpers the runtime's integration tests share.

use std::sync::{Arc, Mutex};

/// A log writer that keeps every line in a buffer, for assertions.
pub fn capture() -> (runtime::logging::MakeWriter, Arc<Mutex<Vec<u8>>>) {
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = buffer.clone();
    (Arc::new(move || Box::new(Sink(sink.clone()))), buffer)
}

/// The JSON lines a [`capture`] buffer holds. Not every test file reads lines back, and
/// each compiles this module on its own.
#[allow(dead_code)]
pub fn lines(buffer: &Arc<Mutex<Vec<u8>>>) -> Vec<serde_json::Value> {
    String::from_utf8(buffer.lock().unwrap().clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Polls `done` every 50 ms for at most `within`; whether it came to hold.
#[allow(dead_code)]
pub async fn wait_until(within: std::time::Duration, done: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    done()
}
