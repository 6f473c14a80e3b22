//! The local stand-ins for the official `postgres:16-alpine` and `redis:7-alpine` images
//! (`obs-postgres:local` and `obs-redis:local`, built by `integration-tests/images/build.sh`;
//! no registry is reachable here) do what generated compose files rely on: a compose project
//! using them the way a user's compose file does (POSTGRES_DB / POSTGRES_USER /
//! POSTGRES_HOST_AUTH_METHOD=trust, or POSTGRES_PASSWORD; a named volume for the data; the
//! `pg_isready -U <user>` and `redis-cli ping` healthchecks) comes up healthy; a client
//! outside the containers reaches the created database as that user without a password
//! under trust, with the password (and not without it) otherwise, and writes and reads
//! rows; Redis answers SET/GET over its port with persistence off; and a new postgres
//! container on the same volume starts without initialising again, with the data intact.

use std::process::{Command, Output};
use std::time::Duration;

use integration_tests::{eventually, free_port};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

/// Image names, overridable so the test can run against the official images.
fn postgres_image() -> String {
    std::env::var("OBS_POSTGRES_IMAGE").unwrap_or_else(|_| "obs-postgres:local".into())
}

fn redis_image() -> String {
    std::env::var("OBS_REDIS_IMAGE").unwrap_or_else(|_| "obs-redis:local".into())
}

const HEALTHY_WITHIN: Duration = Duration::from_secs(90);

/// A compose project in a temporary directory, taken down with its volumes on drop.
struct Project {
    name: String,
    dir: tempfile::TempDir,
}

impl Project {
    fn start(compose_yaml: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), compose_yaml).unwrap();
        let project = Project {
            name: format!("obs-deps-{}-{}", std::process::id(), free_port()),
            dir,
        };
        project.run(&["up", "-d"]);
        project
    }

    fn compose(&self, args: &[&str]) -> Output {
        Command::new("docker-compose")
            .args(["-p", &self.name, "-f", "docker-compose.yml"])
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("docker-compose runs")
    }

    /// `docker-compose ARGS`, which must succeed.
    fn run(&self, args: &[&str]) {
        let output = self.compose(args);
        assert!(
            output.status.success(),
            "docker-compose {} failed:\n{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr),
            self.logs()
        );
    }

    fn logs(&self) -> String {
        String::from_utf8_lossy(&self.compose(&["logs", "--no-color", "--tail", "40"]).stdout).into_owned()
    }

    /// The id of the service's container.
    fn container(&self, service: &str) -> String {
        let output = self.compose(&["ps", "-q", service]);
        let id = String::from_utf8_lossy(&output.stdout).trim().to_string();
        assert!(!id.is_empty(), "no container for {service}:\n{}", self.logs());
        id
    }

    /// Waits until Docker reports the service's healthcheck as passing; fails early when the
    /// container stops.
    async fn wait_healthy(&self, service: &str) {
        let id = self.container(service);
        let result = eventually(HEALTHY_WITHIN, &format!("{service} healthy"), || {
            let id = id.clone();
            async move {
                let output = Command::new("docker")
                    .args(["inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", &id])
                    .output()
                    .map_err(|e| e.to_string())?;
                let state = String::from_utf8_lossy(&output.stdout).trim().to_string();
                match state.split_once(' ') {
                    Some((_, "healthy")) => Ok(Some(Ok(()))),
                    Some(("exited" | "dead", _)) => Ok(Some(Err(format!("{service} stopped: {state}")))),
                    _ => Err(format!("state {state:?}")),
                }
            }
        })
        .await
        .and_then(|stopped| stopped);
        if let Err(error) = result {
            panic!("{error}\n{}", self.logs());
        }
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--remove-orphans", "--timeout", "5"]);
    }
}

/// A connection to the published postgres port; its driver runs in the background.
async fn connect(config: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(config, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// One reply element of the Redis protocol (RESP2), as far as this test needs it.
#[derive(Debug, PartialEq)]
enum Reply {
    Status(String),
    Error(String),
    Integer(i64),
    Bulk(Option<String>),
    Array(Vec<Reply>),
}

/// Sends one command as a RESP array of bulk strings and reads the reply.
async fn redis(stream: &mut BufReader<TcpStream>, args: &[&str]) -> Reply {
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.get_mut().write_all(request.as_bytes()).await.unwrap();
    let line = read_line(stream).await;
    match line.strip_prefix('*') {
        Some(count) => {
            let mut items = Vec::new();
            for _ in 0..count.parse::<i64>().unwrap() {
                let line = read_line(stream).await;
                items.push(read_element(stream, &line).await);
            }
            Reply::Array(items)
        }
        None => read_element(stream, &line).await,
    }
}

/// One CRLF-terminated line, without the CRLF.
async fn read_line(stream: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_line(&mut line))
        .await
        .expect("Redis answers within 10s")
        .unwrap();
    line.strip_suffix("\r\n")
        .unwrap_or_else(|| panic!("RESP line {line:?}"))
        .to_string()
}

/// The element that `line` starts (not an array: the replies used here do not nest).
async fn read_element(stream: &mut BufReader<TcpStream>, line: &str) -> Reply {
    let (kind, rest) = line.split_at(1);
    match kind {
        "+" => Reply::Status(rest.into()),
        "-" => Reply::Error(rest.into()),
        ":" => Reply::Integer(rest.parse().unwrap()),
        "$" => match usize::try_from(rest.parse::<i64>().unwrap()) {
            Err(_) => Reply::Bulk(None),
            Ok(len) => {
                let mut data = vec![0; len + 2];
                stream.read_exact(&mut data).await.unwrap();
                data.truncate(len);
                Reply::Bulk(Some(String::from_utf8(data).unwrap()))
            }
        },
        _ => panic!("unexpected RESP line {line:?}"),
    }
}

fn bulk(text: &str) -> Reply {
    Reply::Bulk(Some(text.into()))
}

#[tokio::test]
async fn local_postgres_and_redis_images_serve_a_compose_project_like_the_official_ones() {
    let (db_port, secured_port, redis_port) = (free_port(), free_port(), free_port());
    let (postgres, redis_img) = (postgres_image(), redis_image());
    let project = Project::start(&format!(
        r#"services:
  db:
    image: {postgres}
    environment:
      POSTGRES_DB: shop
      POSTGRES_HOST_AUTH_METHOD: trust
      POSTGRES_USER: shopkeeper
    volumes:
      - db-data:/var/lib/postgresql/data
    ports:
      - '127.0.0.1:{db_port}:5432'
    healthcheck:
      test: [CMD, pg_isready, '-U', shopkeeper]
      interval: 1s
      timeout: 3s
      retries: 90
  secured-db:
    image: {postgres}
    environment:
      POSTGRES_USER: owner
      POSTGRES_PASSWORD: e2e-only
    ports:
      - '127.0.0.1:{secured_port}:5432'
    healthcheck:
      test: [CMD, pg_isready, '-U', owner]
      interval: 1s
      timeout: 3s
      retries: 90
  redis:
    image: {redis_img}
    ports:
      - '127.0.0.1:{redis_port}:6379'
    healthcheck:
      test: [CMD, redis-cli, ping]
      interval: 1s
      timeout: 3s
      retries: 90
volumes:
  db-data: {{}}
"#
    ));
    for service in ["db", "secured-db", "redis"] {
        project.wait_healthy(service).await;
    }

    // Trust: the user reaches its database from outside the container without a password.
    let trusted = format!("host=127.0.0.1 port={db_port} user=shopkeeper dbname=shop");
    let client = connect(&trusted)
        .await
        .unwrap_or_else(|e| panic!("{trusted}: {e}\n{}", project.logs()));
    client
        .batch_execute(
            "CREATE TABLE orders (id integer PRIMARY KEY, item text NOT NULL);
             INSERT INTO orders VALUES (1, 'teapot'), (2, 'kettle');",
        )
        .await
        .unwrap();
    let rows = client
        .query(
            "SELECT item, current_user::text, current_database()::text FROM orders ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let rows: Vec<(String, String, String)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(
        rows,
        [
            ("teapot".into(), "shopkeeper".into(), "shop".into()),
            ("kettle".into(), "shopkeeper".into(), "shop".into())
        ]
    );
    drop(client);

    // A password and no method: scram-sha-256 for other hosts, the database named after
    // the user.
    let secured = format!("host=127.0.0.1 port={secured_port} user=owner dbname=owner");
    let client = connect(&format!("{secured} password=e2e-only"))
        .await
        .unwrap_or_else(|e| panic!("{secured}: {e}\n{}", project.logs()));
    let row = client
        .query_one("SELECT current_database()::text, 1 + 1", &[])
        .await
        .unwrap();
    assert_eq!((row.get::<_, String>(0), row.get::<_, i32>(1)), ("owner".into(), 2));
    drop(client);
    for wrong in [format!("{secured} password=wrong"), secured.clone()] {
        match connect(&wrong).await {
            Ok(_) => panic!("{wrong} was let in"),
            Err(error) => assert!(
                error.code() == Some(&SqlState::INVALID_PASSWORD) || format!("{error:?}").contains("password missing"),
                "{wrong}: {error:?}"
            ),
        }
    }

    // Redis on all interfaces without protected mode, persistence off.
    let stream = TcpStream::connect(("127.0.0.1", redis_port)).await.unwrap();
    let mut stream = BufReader::new(stream);
    assert_eq!(
        redis(&mut stream, &["SET", "greeting", "hello world"]).await,
        Reply::Status("OK".into())
    );
    assert_eq!(redis(&mut stream, &["GET", "greeting"]).await, bulk("hello world"));
    assert_eq!(redis(&mut stream, &["GET", "missing"]).await, Reply::Bulk(None));
    assert_eq!(redis(&mut stream, &["INCR", "visits"]).await, Reply::Integer(1));
    assert_eq!(
        redis(&mut stream, &["CONFIG", "GET", "save"]).await,
        Reply::Array(vec![bulk("save"), bulk("")])
    );
    assert_eq!(
        redis(&mut stream, &["CONFIG", "GET", "appendonly"]).await,
        Reply::Array(vec![bulk("appendonly"), bulk("no")])
    );
    let unknown = redis(&mut stream, &["NOSUCHCOMMAND"]).await;
    assert!(matches!(unknown, Reply::Error(_)), "{unknown:?}");

    // A new container on the same volume (what `up` does after an image change) keeps the
    // data and does not initialise again.
    let first = project.container("db");
    project.run(&["rm", "--stop", "--force", "db"]);
    project.run(&["up", "-d", "db"]);
    let second = project.container("db");
    assert_ne!(first, second, "compose reused the container");
    project.wait_healthy("db").await;
    let client = connect(&trusted).await.unwrap();
    let items: Vec<String> = client
        .query("SELECT item FROM orders ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(items, ["teapot", "kettle"]);
    drop(client);
    let logs = Command::new("docker").args(["logs", &second]).output().unwrap();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&logs.stdout),
        String::from_utf8_lossy(&logs.stderr)
    );
    assert!(logs.contains("Skipping initialization"), "{logs}");
    assert!(!logs.contains("initdb"), "{logs}");
}
