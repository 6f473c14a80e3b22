//! The `postgres` dependency check against a real PostgreSQL server (Debian's postgresql,
//! which scripts/test.sh installs), run by the test in a fresh cluster on a loopback port
//! with password (SCRAM) authentication: up when it logs in and `SELECT 1` answers 1; down,
//! saying authentication failed and without quoting the password, when the password is
//! wrong or missing; down once the server stops; and down within its timeout when the peer
//! accepts TCP and never answers.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use contract::model::HealthCheck;
use contract::probe_bodies::CheckResult;
use runtime::health::HealthChecks;
use runtime::http_client::HttpClient;

const USER: &str = "app";
const PASSWORD: &str = "correct-horse-battery";

/// The newest PostgreSQL server binaries Debian installs, `/usr/lib/postgresql/<major>/bin`.
fn binaries() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").is_file().then_some((major, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .expect("PostgreSQL under /usr/lib/postgresql/*/bin (scripts/test.sh installs Debian's postgresql)")
}

/// The user and group PostgreSQL runs as: it refuses to run as root, so under root the test
/// runs it as the `postgres` user Debian's package creates; otherwise as the test's user.
fn server_owner() -> Option<(u32, u32)> {
    let running_as_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !running_as_root {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let entry = passwd
        .lines()
        .find(|line| line.starts_with("postgres:"))
        .expect("a `postgres` user to run PostgreSQL as (Debian's postgresql package creates it)");
    let fields: Vec<&str> = entry.split(':').collect();
    Some((fields[2].parse().unwrap(), fields[3].parse().unwrap()))
}

/// Waits at most `within` for `child` to exit.
fn wait_for(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A PostgreSQL server in its own temporary cluster on a free loopback port, whose only
/// user is `USER` with `PASSWORD`; stopped (and its cluster removed) when dropped.
struct Postgres {
    child: Option<Child>,
    port: u16,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
    // Dropped after `Drop::drop` has stopped the server.
    dir: tempfile::TempDir,
}

impl Postgres {
    fn start() -> Postgres {
        let bin = binaries();
        let owner = server_owner();
        let dir = tempfile::tempdir().unwrap();
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, format!("{PASSWORD}\n")).unwrap();
        if let Some((uid, gid)) = owner {
            for path in [dir.path(), &pwfile] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
            }
        }
        let mut server = Postgres {
            child: None,
            port: 0,
            bin,
            owner,
            dir,
        };
        let data = server.dir.path().join("data");
        let mut initdb = server
            .command("initdb", "initdb.log")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                USER,
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .spawn()
            .expect("initdb runs");
        match wait_for(&mut initdb, Duration::from_secs(120)) {
            Some(status) if status.success() => {}
            outcome => {
                let _ = initdb.kill();
                panic!("initdb: {outcome:?}\n{}", server.log("initdb.log"));
            }
        }
        server.port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = server
            .command("postgres", "postgres.log")
            .arg("-D")
            .arg(&data)
            .args(["-h", "127.0.0.1", "-p", &server.port.to_string(), "-k"])
            .arg(server.dir.path())
            .args([
                "-c",
                "fsync=off",
                "-c",
                "max_connections=20",
                "-c",
                "shared_buffers=16MB",
            ])
            .spawn()
            .expect("postgres runs");
        server.child = Some(child);
        server.wait_until_accepting(Duration::from_secs(60));
        server
    }

    /// One of the PostgreSQL binaries, run in the cluster's directory as its owner, with
    /// stdout and stderr written to `log` there.
    fn command(&self, name: &str, log: &str) -> Command {
        let log = std::fs::File::create(self.dir.path().join(log)).unwrap();
        let mut command = Command::new(self.bin.join(name));
        command
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// Until `pg_isready` says the server accepts connections (not merely that its port is
    /// open: a starting server refuses logins).
    fn wait_until_accepting(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("postgres exited with {status}:\n{}", self.log("postgres.log"));
            }
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-t", "2"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("pg_isready runs");
            if ready.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not accept connections within {within:?}:\n{}",
                self.log("postgres.log")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `postgres://<userinfo>@127.0.0.1:<port>/<dbname>`.
    fn url(&self, userinfo: &str, dbname: &str) -> String {
        format!("postgres://{userinfo}@127.0.0.1:{}/{dbname}", self.port)
    }

    /// Fast shutdown (SIGINT), then SIGKILL if it takes over 15 seconds.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        if wait_for(&mut child, Duration::from_secs(15)).is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Postgres checks of `(name, target)`, each with `timeout`.
fn checks(targets: &[(&str, String)], timeout: &str) -> HealthChecks {
    let yaml: Vec<String> = targets
        .iter()
        .map(|(name, target)| format!("{{name: {name}, kind: postgres, target: '{target}', timeout: {timeout}}}"))
        .collect();
    let declared: Vec<HealthCheck> = serde_yaml::from_str(&format!("[{}]", yaml.join(", "))).unwrap();
    HealthChecks::new(&declared, HttpClient::new(None).unwrap(), |_| None)
}

fn result<'a>(results: &'a [CheckResult], name: &str) -> &'a CheckResult {
    results.iter().find(|r| r.name == name).unwrap()
}

/// The check's error, asserting it is down and does not quote `password`.
fn down<'a>(results: &'a [CheckResult], name: &str, password: &str) -> &'a str {
    let check = result(results, name);
    assert!(!check.up, "{name} should be down: {check:?}");
    let error = check.error.as_deref().unwrap();
    assert!(!error.contains(password), "{name}: the password leaked into `{error}`");
    error
}

#[tokio::test]
async fn a_postgres_check_is_up_only_when_it_logs_in_and_selects_1() {
    let mut server = Postgres::start();
    let health = checks(
        &[
            ("right", server.url(&format!("{USER}:{PASSWORD}"), "postgres")),
            (
                "query_parameters",
                format!(
                    "postgresql://127.0.0.1:{}/postgres?user={USER}&password={PASSWORD}&sslmode=disable",
                    server.port
                ),
            ),
            (
                "wrong_password",
                server.url(&format!("{USER}:wrong-staple"), "postgres"),
            ),
            ("no_password", server.url(USER, "postgres")),
            ("no_database", server.url(&format!("{USER}:{PASSWORD}"), "absent")),
        ],
        "5s",
    );
    let results = health.run().await;
    for up in ["right", "query_parameters"] {
        let check = result(&results, up);
        assert!(check.up, "{up}: {:?}", check.error);
    }
    let wrong = down(&results, "wrong_password", "wrong-staple");
    assert!(wrong.starts_with("authentication failed: "), "{wrong}");
    let missing = down(&results, "no_password", PASSWORD);
    assert!(missing.starts_with("authentication failed: "), "{missing}");
    let absent = down(&results, "no_database", PASSWORD);
    assert!(
        absent.starts_with("connect failed: ") && absent.contains("does not exist"),
        "{absent}"
    );

    server.stop();
    let stopped = checks(
        &[("stopped", server.url(&format!("{USER}:{PASSWORD}"), "postgres"))],
        "5s",
    )
    .run()
    .await;
    let error = down(&stopped, "stopped", PASSWORD);
    assert!(error.starts_with("connect failed: "), "{error}");
}

#[tokio::test]
async fn a_peer_that_never_answers_is_down_within_the_timeout() {
    // Accepts connections and never says a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = Instant::now();
    let results = checks(
        &[(
            "silent",
            format!("postgres://{USER}:{PASSWORD}@127.0.0.1:{port}/postgres"),
        )],
        "300ms",
    )
    .run()
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered within the timeout"
    );
    let error = down(&results, "silent", PASSWORD);
    assert!(error.contains("timed out after 300ms"), "{error}");
}
