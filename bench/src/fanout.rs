//! WebSockets at scale: an obs server (a child process on the runtime's own serve loop,
//! shutdown and session accounting) holds N idle sockets, opened by a client child process;
//! measured are its resident memory per socket, how long one heartbeat takes to reach every
//! socket, and after SIGTERM how long until every socket has its close frame and the
//! process has exited. The descriptor limit is raised to the hard limit inside the bench's
//! processes only; when one process cannot hold N under it, the sockets are spread over as
//! few server processes (each with its own client process) as can hold them.

use std::io::{BufRead, BufReader, Write};
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
    /// The descriptor hard limit of this machine, which bounds the sockets of one process.
    pub fd_hard_limit: u64,
    /// Server processes the sockets were spread over (one unless a process cannot hold
    /// them all), each with its own client process.
    pub servers: u64,
    pub held: u64,
    pub kb_per_socket: f64,
    /// Milliseconds from asking for one heartbeat until every socket has read it; median.
    pub broadcast_ms: f64,
    pub broadcasts: usize,
    /// Sockets that read every heartbeat.
    pub reached_all: u64,
    /// After SIGTERM: close frames received, when the last arrived, when the last server
    /// process exited.
    pub close_frames: u64,
    pub last_close_ms: f64,
    pub exit_ms: f64,
    pub drain_ms: f64,
    pub grace_ms: f64,
}

/// Counters of one client process's sockets, as it last reported them.
#[derive(Default)]
struct Tally {
    opened: AtomicU64,
    failed: AtomicU64,
    beats: AtomicU64,
    closes: AtomicU64,
    broken: AtomicU64,
}

impl Tally {
    fn fields(&self) -> [&AtomicU64; 5] {
        [&self.opened, &self.failed, &self.beats, &self.closes, &self.broken]
    }
}

/// Sockets one process can hold here: the descriptor hard limit (to which the bench's
/// processes raise their soft limit) less a reserve for everything else.
pub fn per_process_limit() -> anyhow::Result<u64> {
    let hard = rlimit::getrlimit(rlimit::Resource::NOFILE)?.1;
    Ok(hard.saturating_sub(RESERVE))
}

/// Holds `sockets` idle sockets, at most `per_process` in any server process (and as many
/// in each client process): more than one process holds them only when one cannot.
pub fn run(sockets: u64, broadcasts: usize, per_process: u64) -> anyhow::Result<FanoutResult> {
    let hard = rlimit::getrlimit(rlimit::Resource::NOFILE)?.1;
    anyhow::ensure!(
        per_process > 0 && sockets > 0,
        "no room for sockets: {per_process} a process, {sockets} asked (descriptor limit {hard})"
    );
    let processes = sockets.div_ceil(per_process);
    let shares: Vec<u64> = (0..processes)
        .map(|i| sockets / processes + u64::from(i < sockets % processes))
        .collect();
    let mut servers = shares
        .iter()
        .map(|_| FanoutServer::start())
        .collect::<anyhow::Result<Vec<_>>>()?;
    std::thread::sleep(Duration::from_millis(200));
    let before: f64 = servers.iter().map(FanoutServer::rss_kb).sum();
    let clients = servers
        .iter()
        .zip(&shares)
        .map(|(server, share)| FanoutClients::start(server.port, *share))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let total = |field: fn(&Tally) -> &AtomicU64| -> u64 {
        clients.iter().map(|c| field(&c.tally).load(Ordering::Relaxed)).sum()
    };
    let opened = wait_for(
        || total(|t| &t.opened),
        sockets,
        Duration::from_secs(120),
        || total(|t| &t.failed) > 0 || clients.iter().any(FanoutClients::gone),
    );
    std::thread::sleep(Duration::from_millis(500));
    let held = total(|t| &t.opened);
    anyhow::ensure!(
        opened && held == sockets,
        "{held} of {sockets} sockets opened ({} failed)",
        total(|t| &t.failed)
    );
    let kb_per_socket = (servers.iter().map(FanoutServer::rss_kb).sum::<f64>() - before) / held as f64;
    let mut samples = Vec::new();
    for round in 1..=broadcasts as u64 {
        let started = Instant::now();
        for server in &mut servers {
            server.beat()?;
        }
        let reached = wait_for(|| total(|t| &t.beats), held * round, Duration::from_secs(30), || false);
        anyhow::ensure!(reached, "heartbeat {round} reached {} sockets", total(|t| &t.beats));
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(300));
    }
    let reached_all = total(|t| &t.beats) / broadcasts.max(1) as u64;
    let terminated = Instant::now();
    terminate(&servers)?;
    wait_for(|| total(|t| &t.closes), held, GRACE + Duration::from_secs(5), || false);
    let last_close_ms = terminated.elapsed().as_secs_f64() * 1000.0;
    let exit_ms = wait_exits(&mut servers, GRACE + Duration::from_secs(10), terminated)?;
    let close_frames = total(|t| &t.closes);
    drop(clients);
    Ok(FanoutResult {
        asked: sockets,
        fd_hard_limit: hard,
        servers: processes,
        held,
        kb_per_socket,
        broadcast_ms: median(&samples),
        broadcasts,
        reached_all,
        close_frames,
        last_close_ms,
        exit_ms,
        drain_ms: DRAIN.as_millis() as f64,
        grace_ms: GRACE.as_millis() as f64,
    })
}

/// Waits until `count()` reaches `target` (true) or the time is up or `give_up` says so.
fn wait_for(count: impl Fn() -> u64, target: u64, within: Duration, give_up: impl Fn() -> bool) -> bool {
    let until = Instant::now() + within;
    while count() < target {
        if Instant::now() > until || give_up() {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    true
}

/// Milliseconds from `since` until the last of `servers` exited; each must exit 0 (its
/// shutdown report clean) within `within`.
fn wait_exits(servers: &mut [FanoutServer], within: Duration, since: Instant) -> anyhow::Result<f64> {
    let until = Instant::now() + within;
    let mut running = servers.len();
    let mut last_ms = 0.0f64;
    let mut exited = vec![false; servers.len()];
    while running > 0 {
        for (server, exited) in servers.iter_mut().zip(&mut exited) {
            if *exited {
                continue;
            }
            if let Some(status) = server.child.try_wait()? {
                anyhow::ensure!(status.success(), "a server exited with {status}");
                *exited = true;
                running -= 1;
                last_ms = last_ms.max(since.elapsed().as_secs_f64() * 1000.0);
            }
        }
        anyhow::ensure!(
            running == 0 || Instant::now() < until,
            "{running} servers did not exit within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(last_ms)
}

/// SIGTERM to every server at once, as an orchestrator stopping them would.
fn terminate(servers: &[FanoutServer]) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .arg("-TERM")
        .args(servers.iter().map(|s| s.child.id().to_string()))
        .status()?;
    anyhow::ensure!(status.success(), "kill -TERM failed");
    Ok(())
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

/// How long a client process lives at most: opening, the heartbeats, the whole grace.
const CLIENT_LIFETIME: Duration = Duration::from_secs(600);

/// Body of `obs-bench hold-fanout`: `sockets` idle sockets to the server on `port`, on one
/// tokio thread; their counters (opened failed beats closes broken) printed as a line on
/// stdout each time they change, looked at every millisecond. Ends when every socket has
/// ended, when the parent closes its stdin or stops reading, or after [`CLIENT_LIFETIME`].
pub fn hold_clients(port: u16, sockets: u64) -> anyhow::Result<()> {
    let hard = rlimit::getrlimit(rlimit::Resource::NOFILE)?.1;
    rlimit::increase_nofile_limit(hard)?;
    std::thread::spawn(|| {
        // The bench holds stdin open while it runs; its end means the bench is gone.
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(3);
    });
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let tally = Arc::new(Tally::default());
    let url = format!("ws://127.0.0.1:{port}/ws");
    let started = Instant::now();
    let mut reported = [u64::MAX; 5];
    let mut spawned = 0;
    let mut out = std::io::stdout().lock();
    while started.elapsed() < CLIENT_LIFETIME {
        // Paced so the listen backlog never overflows into retried SYNs.
        for _ in 0..500.min(sockets - spawned) {
            client.spawn(hold(url.clone(), tally.clone()));
            spawned += 1;
        }
        let now = tally.fields().map(|f| f.load(Ordering::Relaxed));
        if now != reported {
            let [opened, failed, beats, closes, broken] = now;
            if writeln!(out, "{opened} {failed} {beats} {closes} {broken}")
                .and_then(|()| out.flush())
                .is_err()
            {
                break;
            }
            reported = now;
        }
        if spawned == sockets && now[1] + now[3] + now[4] == sockets {
            break;
        }
        std::thread::sleep(Duration::from_millis(if spawned < sockets { 20 } else { 1 }));
    }
    client.shutdown_background();
    Ok(())
}

/// A `hold-fanout` child and the counters it last reported.
struct FanoutClients {
    child: Child,
    /// Held open for the child's life: it exits when this closes.
    _stdin: ChildStdin,
    tally: Arc<Tally>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl FanoutClients {
    fn start(port: u16, sockets: u64) -> anyhow::Result<Self> {
        let mut child = Command::new(crate::websocket::bench_binary()?)
            .args([
                "hold-fanout",
                "--port",
                &port.to_string(),
                "--sockets",
                &sockets.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let stdin = child.stdin.take().ok_or_else(|| anyhow::anyhow!("no stdin"))?;
        let tally = Arc::new(Tally::default());
        let shared = tally.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let counts: Vec<u64> = line.split(' ').filter_map(|n| n.parse().ok()).collect();
                if let [_, _, _, _, _] = counts[..] {
                    for (field, count) in shared.fields().into_iter().zip(counts) {
                        field.store(count, Ordering::Relaxed);
                    }
                }
            }
        });
        Ok(Self {
            child,
            _stdin: stdin,
            tally,
            reader: Some(reader),
        })
    }

    /// Whether the process has ended (its reader saw the pipe close).
    fn gone(&self) -> bool {
        self.reader.as_ref().is_none_or(std::thread::JoinHandle::is_finished)
    }
}

impl Drop for FanoutClients {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
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
                    break;
                }
                let message = format!("{{\"type\":\"heartbeat\",\"n\":{n}}}");
                let _ = beating.send(message.into());
            }
            // The bench holds stdin open for the server's whole life: its end means the
            // bench is gone, and nothing should outlive it.
            std::process::exit(3);
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
