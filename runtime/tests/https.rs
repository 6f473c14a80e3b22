//! `https://` dependency checks and Loki pushes against a local TLS server whose
//! self-signed certificate the test trusts through `OBS_CA_FILE`, the way an operator
//! trusts a private CA; without that file the same check is down on certificate grounds.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use runtime::{Observability, ServiceConfig};
use serde_json::{json, Map};
use tokio::sync::mpsc;
use tokio_rustls::rustls;

mod common;

/// A TLS server on 127.0.0.1:0 serving `router`; returns its base URL and the PEM of its
/// self-signed certificate (valid for 127.0.0.1 and localhost).
async fn tls_server(router: Router) -> (String, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let pem = certified.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                // A client that rejects the certificate ends the handshake: nothing to serve.
                let Ok(stream) = acceptor.accept(socket).await else {
                    return;
                };
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router))
                    .await;
            });
        }
    });
    (url, pem)
}

/// A Loki push endpoint over TLS: its base URL, the CA file that trusts it, the push bodies
/// it receives, and the directory holding the CA file (dropped at the end of the test).
async fn loki_over_tls() -> (String, std::path::PathBuf, mpsc::Receiver<String>, tempfile::TempDir) {
    let (tx, rx) = mpsc::channel::<String>(8);
    let router = Router::new().route(
        "/loki/api/v1/push",
        post(move |body: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body).await;
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let (url, pem) = tls_server(router).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    (url, ca, rx, dir)
}

fn spec_with(url: &str) -> contract::Spec {
    let yaml = format!(
        "service: {{name: tls-client}}\n\
         health:\n  checks:\n    - {{name: upstream, kind: http, target: '{url}/health', timeout: 3s}}\n"
    );
    contract::load_bytes(yaml.as_bytes(), "tls.obs.yaml").unwrap().spec
}

fn observability(url: &str, ca_file: Option<String>) -> Observability {
    let lookup = move |var: &str| match var {
        runtime::http_client::CA_FILE_ENV => ca_file.clone(),
        _ => None,
    };
    let config = ServiceConfig::resolve(spec_with(url), &lookup).unwrap();
    Observability::new(config, &lookup).unwrap()
}

#[tokio::test]
async fn an_https_dependency_check_is_up_when_its_ca_is_trusted_and_down_otherwise() {
    let (url, pem) = tls_server(Router::new().route("/health", get(|| async { "ok" }))).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();

    let trusted = observability(&url, Some(ca.display().to_string()));
    let results = trusted.health.run().await;
    assert!(results[0].up, "{:?}", results[0].error);

    let untrusted = observability(&url, None);
    let results = untrusted.health.run().await;
    assert!(!results[0].up);
    let error = results[0].error.clone().unwrap_or_default();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
}

#[tokio::test]
async fn log_lines_are_pushed_to_loki_over_https() {
    let (url, ca, mut rx, _dir) = loki_over_tls().await;
    let obs = observability(&url, Some(ca.display().to_string()));

    let sender = runtime::loki::start(
        obs.http.clone(),
        runtime::loki::Target {
            base_url: url.clone(),
            labels: vec!["service".into(), "level".into()],
            headers: Vec::new(),
        },
        runtime::shipping::Dropped::default(),
    );
    let mut line = Map::new();
    line.insert("service".into(), json!("tls-client"));
    line.insert("level".into(), json!("error"));
    sender.send(&line, r#"{"message":"shipped over tls"}"#);
    sender.flush(Duration::from_secs(5)).await;

    let body = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a push arrives within 5s")
        .unwrap();
    let pushed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        pushed["streams"][0]["stream"],
        json!({"service": "tls-client", "level": "error"})
    );
    assert_eq!(
        pushed["streams"][0]["values"][0][1],
        r#"{"message":"shipped over tls"}"#
    );
    assert_eq!(sender.dropped(), 0);
}

/// The whole path a service takes: the spec's `logging.loki` with an https URL, turned on by
/// its variable, `init_logging`, a `tracing` event, `flush_logs`. The only test here that
/// installs the process-wide subscriber.
#[tokio::test]
async fn a_spec_with_an_https_loki_url_ships_its_log_lines_there() {
    let (url, ca, mut rx, _dir) = loki_over_tls().await;
    let yaml = "service: {name: tls-logger}\n\
                logging:\n  loki: {url: '${LOKI_URL}', enabled: '${LOKI_ENABLED:-false}', labels: [service, level]}\n";
    let spec = contract::load_bytes(yaml.as_bytes(), "tls-logger.obs.yaml")
        .unwrap()
        .spec;
    let (ca_path, loki_url) = (ca.display().to_string(), url.clone());
    let env = move |var: &str| match var {
        runtime::http_client::CA_FILE_ENV => Some(ca_path.clone()),
        "LOKI_URL" => Some(loki_url.clone()),
        "LOKI_ENABLED" => Some("true".into()),
        _ => None,
    };
    let config = ServiceConfig::resolve(spec, &env).unwrap();
    let obs = Observability::new(config, &env).unwrap();
    let sink: runtime::logging::MakeWriter = Arc::new(|| Box::new(std::io::sink()));
    obs.init_logging(sink, &env).unwrap();
    tracing::error!(order = 42, "payment declined");
    obs.flush_logs().await;

    let body = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a push arrives within 5s")
        .unwrap();
    let pushed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        pushed["streams"][0]["stream"],
        json!({"service": "tls-logger", "level": "error"})
    );
    let line: serde_json::Value = serde_json::from_str(pushed["streams"][0]["values"][0][1].as_str().unwrap()).unwrap();
    assert_eq!(line["message"], "payment declined", "{line}");
    assert_eq!(line["order"], 42, "{line}");
}

#[tokio::test]
async fn a_spec_with_elasticsearch_over_https_ships_its_lines_there() {
    let (tx, mut rx) = mpsc::channel::<String>(8);
    // Enough of Elasticsearch for the runtime: nothing installed yet, PUTs taken, _bulk created.
    let router = Router::new()
        .route(
            "/_bulk",
            post(move |body: String| {
                let tx = tx.clone();
                async move {
                    let items: Vec<_> = body
                        .lines()
                        .step_by(2)
                        .map(|_| json!({"create": {"status": 201}}))
                        .collect();
                    let _ = tx.send(body).await;
                    axum::Json(json!({"errors": false, "items": items}))
                }
            }),
        )
        .fallback(get(|| async { axum::http::StatusCode::NOT_FOUND }).put(|| async { "{}" }));
    let (url, pem) = tls_server(router).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    let port = url.rsplit(':').next().unwrap().to_string();
    let yaml = format!(
        "service: {{name: tls-client}}\n\
         logging:\n  elasticsearch: {{enabled: 'true', scheme: https, host: 127.0.0.1, port: '{port}', index_prefix: logs}}\n"
    );
    let spec = contract::load_bytes(yaml.as_bytes(), "tls.obs.yaml").unwrap().spec;
    let ca_file = ca.display().to_string();
    let lookup = move |var: &str| (var == runtime::http_client::CA_FILE_ENV).then(|| ca_file.clone());
    let config = ServiceConfig::resolve(spec, &lookup).unwrap();
    let obs = Observability::new(config, &lookup).unwrap();
    let (writer, _buffer) = common::capture();
    let _guard = tracing::subscriber::set_default(obs.subscriber(writer, &lookup).unwrap());
    tracing::info!("over tls");
    obs.flush_logs().await;
    let body = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a _bulk request within 10 s")
        .unwrap();
    assert!(body.contains("\"_index\":\"logs-"), "{body}");
    assert!(body.contains("over tls"), "{body}");
}
