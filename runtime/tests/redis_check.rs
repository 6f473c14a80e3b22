//! The `redis` dependency check against a real Redis server (Debian's redis-server, which
//! scripts/test.sh installs), started by the test on a loopback port: up when it answers
//! PING, authenticated when the target carries a password, down with the reason otherwise.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use contract::model::HealthCheck;
use runtime::health::HealthChecks;
use runtime::http_client::HttpClient;

/// A redis-server child on a free loopback port, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start(password: Option<&str>) -> Redis {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut args = vec![
            "--port".to_string(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            String::new(),
            "--appendonly".into(),
            "no".into(),
        ];
        if let Some(password) = password {
            args.extend(["--requirepass".into(), password.to_string()]);
        }
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/test.sh installs Debian's redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { child, port }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn checks(targets: &[(&str, String)]) -> HealthChecks {
    let yaml: Vec<String> = targets
        .iter()
        .map(|(name, target)| format!("{{name: {name}, kind: redis, target: '{target}', timeout: 2s}}"))
        .collect();
    let declared: Vec<HealthCheck> = serde_yaml::from_str(&format!("[{}]", yaml.join(", "))).unwrap();
    HealthChecks::new(&declared, HttpClient::new(None).unwrap(), |_| None)
}

#[tokio::test]
async fn a_redis_check_is_up_only_when_redis_answers_ping() {
    let open = Redis::start(None);
    let guarded = Redis::start(Some("s3cret"));
    let gone_port = {
        let gone = Redis::start(None);
        gone.port
    };
    let health = checks(&[
        ("open", format!("127.0.0.1:{}", open.port)),
        ("url", format!("redis://127.0.0.1:{}/0", open.port)),
        ("authenticated", format!("redis://:s3cret@127.0.0.1:{}", guarded.port)),
        ("no_password", format!("127.0.0.1:{}", guarded.port)),
        ("wrong_password", format!("redis://:nope@127.0.0.1:{}", guarded.port)),
        ("stopped", format!("127.0.0.1:{gone_port}")),
    ]);
    let results = health.run().await;
    let by_name = |name: &str| results.iter().find(|r| r.name == name).unwrap();
    for up in ["open", "url", "authenticated"] {
        assert!(by_name(up).up, "{up}: {:?}", by_name(up).error);
    }
    let no_password = by_name("no_password");
    assert!(!no_password.up);
    assert!(
        no_password.error.as_deref().unwrap().contains("NOAUTH"),
        "{no_password:?}"
    );
    let wrong = by_name("wrong_password");
    assert!(!wrong.up);
    let error = wrong.error.as_deref().unwrap();
    assert!(error.starts_with("authentication failed"), "{error}");
    assert!(!error.contains("nope"), "the password leaked into `{error}`");
    assert!(!by_name("stopped").up);
}

#[tokio::test]
async fn a_server_that_is_not_redis_is_down_not_hung() {
    // An HTTP-ish peer that answers something else and keeps the connection open.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _peer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n").await;
            held.push(socket);
        }
    });
    let started = Instant::now();
    let results = checks(&[("impostor", format!("127.0.0.1:{port}"))]).run().await;
    assert!(!results[0].up);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered within the timeout"
    );
    assert!(
        results[0].error.as_deref().unwrap().contains("instead of PONG"),
        "{:?}",
        results[0].error
    );
}
