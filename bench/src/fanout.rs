//! WebSockets at scale: one obs server (a child process on the runtime's own serve loop,
//! shutdown and session accounting) holds N idle sockets; measured are its resident memory
//! per socket, how long one heartbeat takes to reach every socket, and after SIGTERM how
//! long until every socket has its close frame and the process has exited. N is what the
//! machine's file-descriptor hard limit allows, up to the 50,000 asked (the limit is raised
//! to the hard limit inside the bench processes only).

use std::io::Write;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::median;

/// Sockets the issue asks one server to hold.
pub const ASKED: u64 = 50_000;
/// Descriptors each process keeps for everything but the sockets.
const RESERVE: u64 = 400;
/// The server's shutdown: the drain keeps serving for a moment, the grace bounds it all.
const DRAIN: Duration = Duration::from_millis(500);
const GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq)]
pub struct FanoutResult {
    pub asked: u64,
    /// The descriptor hard limit of this machine, which bounds the sockets.
    pub fd_hard_limit: u64,
    pub held: u64,
    pub kb_per_socket: f64,
    /// Milliseconds from asking for one heartbeat until every socket has read it; median.
    pub broadcast_ms: f64,
    pub broadcasts: usize,
    /// Sockets that read every heartbeat.
    pub reached_all: u64,
    /// After SIGTERM: close frames received, when the last arrived, when the process exited.
    pub close_frames: u64,
    pub last_close_ms: f64,
    pub exit_ms: f64,
    pub drain_ms: f64,
    pub grace_ms: f64,
}

/// Counters the client's socket tasks share.
#[derive(Default)]
struct Tally {
    opened: AtomicU64,
    failed: AtomicU64,
    beats: AtomicU64,
    closes: AtomicU64,
    broken: AtomicU64,
}

pub fn run(sockets: u64, broadcasts: usize) -> anyhow::Result<FanoutResult> {
    let hard = rlimit::getrlimit(rlimit::Resource::NOFILE)?.1;
    let _ = rlimit::increase_nofile_limit(hard);
    let held_target = sockets.min(hard.saturating_sub(RESERVE));
    anyhow::ensure!(
        held_target > 0,
        "the descriptor limit ({hard}) leaves no room for sockets"
    );
    let mut server = FanoutServer::start()?;
    std::thread::sleep(Duration::from_millis(200));
    let before = server.rss_kb();
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let tally = Arc::new(Tally::default());
    let url = format!("ws://127.0.0.1:{}/ws", server.port);
    let mut tasks = Vec::new();
    for _ in 0..held_target {
        let (tally, url) = (tally.clone(), url.clone());
        tasks.push(client.spawn(hold(url, tally)));
        // Paced so the listen backlog never overflows into retried SYNs.
        if tasks.len() % 500 == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let opened = wait_for(&tally.opened, held_target, Duration::from_secs(120), || {
        tally.failed.load(Ordering::Relaxed) > 0
    });
    std::thread::sleep(Duration::from_millis(500));
    let held = tally.opened.load(Ordering::Relaxed);
    anyhow::ensure!(
        opened && held == held_target,
        "{held} of {held_target} sockets opened ({} failed)",
        tally.failed.load(Ordering::Relaxed)
    );
    let kb_per_socket = (server.rss_kb() - before) / held as f64;
    let mut samples = Vec::new();
    for round in 1..=broadcasts as u64 {
        let started = Instant::now();
        server.beat()?;
        let reached = wait_for(&tally.beats, held * round, Duration::from_secs(30), || false);
        anyhow::ensure!(
            reached,
            "heartbeat {round} reached {} sockets",
            tally.beats.load(Ordering::Relaxed)
        );
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(300));
    }
    let reached_all = tally.beats.load(Ordering::Relaxed) / broadcasts.max(1) as u64;
    let terminated = Instant::now();
    server.terminate()?;
    wait_for(&tally.closes, held, GRACE + Duration::from_secs(5), || false);
    let last_close_ms = terminated.elapsed().as_secs_f64() * 1000.0;
    let exit_ms = server.wait_exit(GRACE + Duration::from_secs(10), terminated)?;
    drop(client);
    Ok(FanoutResult {
        asked: sockets,
        fd_hard_limit: hard,
        held,
        kb_per_socket,
        broadcast_ms: median(&samples),
        broadcasts,
        reached_all,
        close_frames: tally.closes.load(Ordering::Relaxed),
        last_close_ms,
        exit_ms,
        drain_ms: DRAIN.as_secs_f64() * 1000.0,
        grace_ms: GRACE.as_secs_f64() * 1000.0,
    })
}

/// Waits until `counter` reaches `target` (true) or the time is up or `give_up` says so.
fn wait_for(counter: &AtomicU64, target: u64, within: Duration, give_up: impl Fn() -> bool) -> bool {
    let until = Instant::now() + within;
    while counter.load(Ordering::Relaxed) < target {
        if Instant::now() > until || give_up() {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    true
}

/// One client socket: opened, then reading until the server closes it.
async fn hold(url: String, tally: Arc<Tally>) {
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096);
    let connected = tokio::time::timeout(
        Duration::from_secs(60),
        tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), false),
    )
    .await;
    let Ok(Ok((mut socket, _))) = connected else {
        tally.failed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    tally.opened.fetch_add(1, Ordering::Relaxed);
    use tokio_tungstenite::tungstenite::Message as Frame;
    loop {
        match socket.next().await {
            Some(Ok(Frame::Text(_))) => {
                tally.beats.fetch_add(1, Ordering::Relaxed);
            }
            Some(Ok(Frame::Close(_))) => {
                tally.closes.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Some(Ok(_)) => {}
            _ => {
                tally.broken.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// The `serve-fanout` child.
struct FanoutServer {
    child: Child,
    stdin: ChildStdin,
    port: u16,
}

impl FanoutServer {
    fn start() -> anyhow::Result<Self> {
        let mut child = Command::new(crate::websocket::bench_binary()?)
            .arg("serve-fanout")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take().ok_or_else(|| anyhow::anyhow!("no stdin"))?;
        let port = crate::websocket::listening_port(&mut child)?;
        Ok(Self { child, stdin, port })
    }

    fn beat(&mut self) -> anyhow::Result<()> {
        self.stdin.write_all(b"beat\n")?;
        Ok(self.stdin.flush()?)
    }

    fn terminate(&self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        Ok(())
    }

    /// Milliseconds from `since` until the child exited.
    fn wait_exit(&mut self, within: Duration, since: Instant) -> anyhow::Result<f64> {
        let until = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::ensure!(status.success(), "the server exited with {status}");
                return Ok(since.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::ensure!(Instant::now() < until, "the server did not exit within {within:?}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn rss_kb(&self) -> f64 {
        crate::resident_kib(Some(self.child.id())).unwrap_or(f64::NAN)
    }
}

impl Drop for FanoutServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone)]
struct Fanout {
    obs: runtime::Observability,
    heartbeat: broadcast::Sender<Arc<str>>,
}

impl axum::extract::FromRef<Fanout> for runtime::Observability {
    fn from_ref(state: &Fanout) -> Self {
        state.obs.clone()
    }
}

async fn upgrade(upgrade: WebSocketUpgrade, State(app): State<Fanout>) -> Response {
    runtime::websocket::lean(upgrade).on_upgrade(move |socket| {
        let shutdown = app.obs.shutdown.clone();
        shutdown.spawn(session(socket, app));
        std::future::ready(())
    })
}

/// What a heartbeat service's session does: forward each heartbeat, close with 1001 when
/// the service drains, end when the client goes.
async fn session(mut socket: WebSocket, app: Fanout) {
    let _session = runtime::websocket::Session::open(app.obs.builtins.websocket.clone(), String::new());
    let mut heartbeats = app.heartbeat.subscribe();
    let mut draining = std::pin::pin!(app.obs.shutdown.draining());
    loop {
        let beat = tokio::select! {
            _ = &mut draining => {
                runtime::websocket::close_going_away(&mut socket).await;
                return;
            }
            beat = heartbeats.recv() => match beat {
                Ok(beat) => beat,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            message = socket.recv() => match message {
                None | Some(Ok(Message::Close(_))) | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
        };
        if runtime::websocket::send(&mut socket, Message::Text(beat.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Body of `obs-bench serve-fanout`: an obs WebSocket server on a free port; a line on
/// stdin broadcasts one heartbeat; SIGTERM shuts it down the runtime's way.
pub fn serve() -> anyhow::Result<()> {
    let hard = rlimit::getrlimit(rlimit::Resource::NOFILE)?.1;
    let limit = rlimit::increase_nofile_limit(hard)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let spec = contract::load_bytes(
            format!(
                "service: {{name: fanout}}\nmetrics:\n  builtin: {{http: {{}}, websocket: {{}}}}\nshutdown: {{drain: {}ms, grace: {}s}}\n",
                DRAIN.as_millis(),
                GRACE.as_secs()
            )
            .as_bytes(),
            "fanout.yaml",
        )
        .map_err(|e| anyhow::anyhow!("{e:?}"))?
        .spec;
        let mut config = runtime::ServiceConfig::resolve(spec, |_| None)?;
        // Every descriptor but a reserve may be a socket: the bench holds as many as it can.
        config.connection_limits.max_connections = usize::try_from(limit.saturating_sub(RESERVE / 2))?;
        let obs = runtime::Observability::new(config, |_| None)?;
        obs.shutdown.on_signals();
        let (heartbeat, _) = broadcast::channel::<Arc<str>>(4);
        let beating = heartbeat.clone();
        std::thread::spawn(move || {
            for (n, line) in std::io::stdin().lines().enumerate() {
                if line.is_err() {
                    return;
                }
                let message = format!("{{\"type\":\"heartbeat\",\"n\":{n}}}");
                let _ = beating.send(message.into());
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening on {}", listener.local_addr()?.port());
        std::io::stdout().flush()?;
        let app = Fanout {
            obs: obs.clone(),
            heartbeat,
        };
        let routes = Router::new().route("/ws", get(upgrade));
        let report = runtime::serve_on(obs, routes, app, listener, None).await?;
        anyhow::ensure!(report.clean, "shutdown was not clean");
        Ok(())
    })
}
