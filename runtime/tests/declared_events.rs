//! The runtime's part of every spec's `logging.events`: the demo's and each example's spec,
//! for each of its components, served for real (a request answered, one failed, a WebSocket
//! session, job runs, a shutdown), and every runtime event the spec binds is written with
//! the declared message and level, at the spec's level and case; one renamed is never
//! written under its default message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use contract::model::{LevelCase, RuntimeEvent};
use runtime::{Observability, ServiceConfig};
use serde_json::Value;

mod common;
use common::capture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn specs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut specs = vec![root.join("obs.yaml")];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .map(|entry| entry.unwrap().path().join("obs.yaml"))
        .filter(|path| path.exists())
        .collect();
    examples.sort();
    specs.extend(examples);
    specs
}

async fn get_status(address: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.lines().next().unwrap_or_default().to_string()
}

/// Everything the runtime writes for one component of `file` while it serves, is asked for
/// a request, a failing request, a WebSocket session and job runs, and shuts down.
async fn exercise(file: &Path, component: &str) -> (Observability, Vec<Value>) {
    let spec = contract::load_file(file).unwrap().spec;
    let env = |var: &str| (var == "OBS_COMPONENT").then(|| component.to_string());
    let mut config = ServiceConfig::resolve(spec, env).unwrap();
    config.spec.shutdown.drain = contract::Duration::from_millis(0);
    config.spec.shutdown.grace = contract::Duration::from_millis(2000);
    let obs = Observability::new(config, env).unwrap();
    for check in &obs.config.spec.health.checks {
        obs.health.register(&check.name, || async { Ok(()) });
    }
    let (writer, buffer) = capture();
    let _guard = tracing::subscriber::set_default(obs.subscriber(writer, env).unwrap());
    let routes: Router<Observability> = Router::new().route("/api/answered", get(|| async { "ok" })).route(
        "/api/broken",
        get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "no") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(runtime::serve_on(obs.clone(), routes, obs.clone(), listener, None));
    assert!(runtime::server::wait_until_listening(address, Duration::from_secs(5)).await);
    assert!(get_status(address, "/api/answered").await.contains("200"));
    assert!(get_status(address, "/api/broken").await.contains("500"));
    {
        let session = runtime::websocket::Session::open(None, "session-1".into());
        session.error("protocol");
    }
    let jobs = runtime::jobs::Jobs::default();
    let run = jobs.start("email", 1, None);
    run.retry(1, &"timeout");
    run.finish();
    jobs.start("email", 2, None).fail(&"bounced");
    drop(jobs.start("email", 3, None));
    obs.shutdown.begin();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    let lines = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (obs, lines)
}

#[tokio::test(flavor = "current_thread")]
async fn every_spec_gets_the_runtime_events_it_declares_as_declared() {
    let mut checked = 0;
    for file in specs() {
        let spec = contract::load_file(&file).unwrap().spec;
        let components: Vec<String> = if spec.service.components.is_empty() {
            vec!["app".into()]
        } else {
            spec.service.components.iter().map(|c| c.name.clone()).collect()
        };
        for component in components {
            let (obs, lines) = exercise(&file, &component).await;
            let logging = &obs.config.spec.logging;
            let where_ = format!("{} ({component})", file.display());
            let written = |message: &str| {
                lines
                    .iter()
                    .filter(|l| l[&logging.keys.message] == message)
                    .collect::<Vec<_>>()
            };
            for event in RuntimeEvent::ALL {
                let bound = logging.events.iter().any(|e| e.runtime.contains(&event));
                let (message, level) = logging.runtime_event(event);
                let expected_level = match logging.level_case {
                    LevelCase::Lower => level.as_str().to_string(),
                    LevelCase::Upper => level.as_str().to_ascii_uppercase(),
                };
                // The request line is the runtime's only for requests the HTTP group counts.
                let happens = event != RuntimeEvent::Request || obs.builtins.http.is_some();
                let shown = level >= obs.config.log_level;
                let found = written(message);
                if happens && shown {
                    assert!(
                        found.iter().any(|l| l[&logging.keys.level] == expected_level.as_str()),
                        "{where_}: `{}` not written as `{message}` at {expected_level}: {found:?}",
                        event.key()
                    );
                    checked += usize::from(bound);
                } else if !shown {
                    assert!(found.is_empty(), "{where_}: `{message}` is below the level: {found:?}");
                }
                if bound && message != event.default_message() {
                    assert!(
                        written(event.default_message()).is_empty(),
                        "{where_}: `{}` renamed to `{message}` is still written as `{}`",
                        event.key(),
                        event.default_message()
                    );
                }
            }
        }
    }
    assert!(checked >= 15, "only {checked} declared runtime events were checked");
}
