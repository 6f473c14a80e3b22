//! Target 4: WebSocket messages per second through `/ws` with obs' instrumentation (session
//! accounting, message counter, size histogram, HTTP middleware on the upgrade) against
//! the same handler bare; and resident memory per idle connection at many sockets, each
//! server a separate process so its RSS is its own.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::servers::spawn;
use crate::{interleaved_over, median, Effort};

/// Which server a `serve` child runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Bare,
    Obs,
    /// Obs with `runtime::websocket::lean` buffers, as the demo serves.
    ObsLean,
}

async fn count_replies(
    mut socket: WebSocket,
    session: Option<runtime::websocket::Session>,
    sizes: Option<runtime::metrics::Histogram>,
) {
    let mut session = session;
    let mut count = 0u64;
    while let Some(Ok(message)) = socket.recv().await {
        let size = match &message {
            Message::Text(text) => text.len(),
            Message::Binary(data) => data.len(),
            Message::Close(_) => break,
            _ => continue,
        };
        count += 1;
        if let Some(session) = session.as_mut() {
            session.message();
        }
        if let Some(sizes) = &sizes {
            sizes.observe(size as f64);
        }
        if socket
            .send(Message::Text(format!("{{\"count\":{count}}}").into()))
            .await
            .is_err()
        {
            break;
        }
    }
}

async fn bare_ws(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|socket| count_replies(socket, None, None))
}

async fn obs_ws(upgrade: WebSocketUpgrade, State(obs): State<runtime::Observability>) -> Response {
    obs_upgrade(upgrade, obs)
}

async fn obs_lean_ws(upgrade: WebSocketUpgrade, State(obs): State<runtime::Observability>) -> Response {
    obs_upgrade(runtime::websocket::lean(upgrade), obs)
}

fn obs_upgrade(upgrade: WebSocketUpgrade, obs: runtime::Observability) -> Response {
    upgrade.on_upgrade(move |socket| {
        let sizes = obs
            .registry
            .histogram("websocket_message_size_bytes", &[])
            .ok()
            .map(|h| h.single());
        let session = runtime::websocket::Session::open(obs.builtins.websocket.clone(), String::new());
        let tracked = obs.shutdown.spawn(count_replies(socket, Some(session), sizes));
        async move {
            let _ = tracked.await;
        }
    })
}

pub fn router(kind: Kind) -> Router {
    match kind {
        Kind::Bare => Router::new().route("/ws", get(bare_ws)),
        Kind::Obs | Kind::ObsLean => {
            let spec = contract::load_bytes(
                b"service: {name: bench}\nmetrics:\n  builtin: {http: {}, websocket: {}}\n  custom:\n    - {name: websocket_message_size_bytes, type: histogram, help: Sizes., unit: bytes, buckets: [16, 64, 256, 1024]}\n",
                "bench.yaml",
            )
            .expect("loads")
            .spec;
            let config = runtime::ServiceConfig::resolve(spec, |_| None).expect("resolves");
            let obs = runtime::Observability::new(config, |_| None).expect("binds");
            let handler = if kind == Kind::Obs {
                get(obs_ws)
            } else {
                get(obs_lean_ws)
            };
            runtime::server::app(&obs, Router::new().route("/ws", handler), obs.clone())
        }
    }
}

/// Messages per second (acknowledged) through each server.
#[derive(Debug, Clone, PartialEq)]
pub struct ThroughputResult {
    pub bare: f64,
    pub obs: f64,
    pub obs_lean: f64,
}

fn messages_per_second(port: u16, sockets: u32, seconds: u64) -> f64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let load = obs_tools::loadtest::WsLoad {
        url: format!("ws://127.0.0.1:{port}/ws"),
        sockets,
        rate: 1000.0,
        duration: Duration::from_secs(seconds),
        // Closed loop: as fast as the server answers, so the server is what is measured.
        send_rate: f64::INFINITY,
    };
    runtime
        .block_on(obs_tools::loadtest::run_ws(&load, Arc::default()))
        .map(|s| s.throughput_per_second)
        .unwrap_or(0.0)
}

pub fn throughput(effort: Effort) -> ThroughputResult {
    let servers = [Kind::Bare, Kind::Obs, Kind::ObsLean].map(|kind| spawn(move || router(kind), false));
    let (seconds, sockets) = (effort.pick(3, 1), effort.pick(16, 2));
    let m = interleaved_over(effort.rounds, &servers, |s| {
        messages_per_second(s.port, sockets, seconds)
    });
    ThroughputResult {
        bare: m[0],
        obs: m[1],
        obs_lean: m[2],
    }
}

/// A `serve` child process.
struct ChildServer {
    child: Child,
    port: u16,
}

impl ChildServer {
    fn start(kind: Kind) -> anyhow::Result<Self> {
        let kind = match kind {
            Kind::Bare => "bare",
            Kind::Obs => "obs",
            Kind::ObsLean => "obs-lean",
        };
        let mut child = Command::new(bench_binary()?)
            .args(["serve", "--kind", kind])
            .stdout(Stdio::piped())
            .spawn()?;
        let port = listening_port(&mut child)?;
        Ok(Self { child, port })
    }

    fn rss_kb(&self) -> f64 {
        crate::resident_kib(Some(self.child.id())).unwrap_or(f64::NAN)
    }
}

/// The port a `serve` child announces on its first line (`listening on PORT`).
pub(crate) fn listening_port(child: &mut Child) -> anyhow::Result<u16> {
    let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    line.trim()
        .strip_prefix("listening on ")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("unexpected `{line}`"))
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `obs-bench` binary: this process when it is the bench, else the one beside it.
pub(crate) fn bench_binary() -> anyhow::Result<std::path::PathBuf> {
    let current = std::env::current_exe()?;
    if current.file_stem().is_some_and(|s| s == "obs-bench") {
        return Ok(current);
    }
    crate::sibling_binary("obs-bench", "OBS_BENCH_BIN")
}

/// Resident memory per idle connection, in kilobytes.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryResult {
    pub sockets: u32,
    pub bare_kb_per_connection: f64,
    pub obs_kb_per_connection: f64,
    pub obs_lean_kb_per_connection: f64,
}

fn kb_per_connection(kind: Kind, sockets: u32) -> anyhow::Result<f64> {
    let server = ChildServer::start(kind)?;
    std::thread::sleep(Duration::from_millis(200));
    let before = server.rss_kb();
    let url = format!("ws://127.0.0.1:{}/ws", server.port);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let progress: Arc<obs_tools::loadtest::Progress> = Arc::default();
    let hold = Duration::from_secs(u64::from(sockets) / 1000 + 6);
    let load = obs_tools::loadtest::WsLoad {
        url,
        sockets,
        rate: 5000.0,
        duration: hold,
        send_rate: 0.0,
    };
    let watched = progress.clone();
    let task = runtime.spawn(async move { obs_tools::loadtest::run_ws(&load, watched).await });
    let until = Instant::now() + hold;
    while progress.opened.load(std::sync::atomic::Ordering::Relaxed)
        + progress.failed.load(std::sync::atomic::Ordering::Relaxed)
        < u64::from(sockets)
        && Instant::now() < until
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let opened = progress.opened.load(std::sync::atomic::Ordering::Relaxed);
    let after = server.rss_kb();
    let _ = runtime.block_on(task);
    anyhow::ensure!(opened > 0, "no socket opened");
    Ok((after - before) / opened as f64)
}

pub fn memory(effort: Effort) -> anyhow::Result<MemoryResult> {
    let sockets = effort.pick(10_000, 50);
    // Room for the client's and the children's sockets; raised for this process only.
    let _ = rlimit::increase_nofile_limit(u64::from(sockets) * 2 + 1024);
    let mut bare = Vec::new();
    let mut obs = Vec::new();
    let mut lean = Vec::new();
    for _ in 0..effort.rounds {
        bare.push(kb_per_connection(Kind::Bare, sockets)?);
        obs.push(kb_per_connection(Kind::Obs, sockets)?);
        lean.push(kb_per_connection(Kind::ObsLean, sockets)?);
    }
    Ok(MemoryResult {
        sockets,
        bare_kb_per_connection: median(&bare),
        obs_kb_per_connection: median(&obs),
        obs_lean_kb_per_connection: median(&lean),
    })
}

/// Body of `obs-bench serve`: serve `kind` on a free port until killed.
pub fn serve(kind: Kind) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening on {}", listener.local_addr()?.port());
        use std::io::Write;
        std::io::stdout().flush()?;
        axum::serve(listener, router(kind)).await?;
        Ok(())
    })
}
