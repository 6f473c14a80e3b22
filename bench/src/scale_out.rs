//! How the scrape path grows: a synthetic target server on loopback exposes N services × M
//! series (values change every scrape), and the same targets are scraped by one Prometheus,
//! then by 1, 2 and 4 vmagent shards writing to one VictoriaMetrics (Debian's binaries, run
//! as child processes on loopback). Each case runs alone, is warmed up, then measured over a
//! window: samples ingested per second against the samples the targets offer, the CPU
//! (cores) and resident memory of every process of the case.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::routing::get;
use axum::Router;

/// One size of the synthetic fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fleet {
    pub services: usize,
    pub series_per_service: usize,
}

impl Fleet {
    pub fn series(&self) -> usize {
        self.services * self.series_per_service
    }
}

/// What scrapes and stores in one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scrapers {
    /// One Prometheus server, scraping and storing.
    Prometheus,
    /// This many vmagent shards (each target scraped by one) and one VictoriaMetrics.
    VmAgents(usize),
}

impl Scrapers {
    pub fn label(&self) -> String {
        match self {
            Scrapers::Prometheus => "1 Prometheus".into(),
            Scrapers::VmAgents(1) => "1 vmagent + VictoriaMetrics".into(),
            Scrapers::VmAgents(n) => format!("{n} vmagent shards + VictoriaMetrics"),
        }
    }
}

/// One case measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub fleet: Fleet,
    pub scrapers: Scrapers,
    /// Samples the targets offer per second (series ÷ scrape interval).
    pub offered_per_second: f64,
    /// Samples stored per second over the window.
    pub ingested_per_second: f64,
    /// CPU of the scrapers, and of the store (VictoriaMetrics; 0 for Prometheus), in cores.
    pub scraper_cores: f64,
    pub store_cores: f64,
    /// Resident memory of the scrapers (summed) and of the store, in MiB.
    pub scraper_mib: f64,
    pub store_mib: f64,
}

impl Measured {
    /// The share of offered samples that were stored.
    pub fn kept_up(&self) -> f64 {
        self.ingested_per_second / self.offered_per_second
    }
}

/// How long a case warms up and how long it is measured.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub interval: Duration,
    pub warm_up: Duration,
    pub window: Duration,
}

/// The synthetic targets: service `i` answers `/svc/i/metrics` with its M series, from two
/// prepared texts taken in turn, so every scrape sees new values without the server
/// spending the machine's CPU on formatting.
struct Targets {
    bodies: Vec<[String; 2]>,
    scrapes: AtomicU64,
}

fn exposition(service: usize, series: usize, round: u64) -> String {
    let mut text = String::with_capacity(series * 64);
    text.push_str("# HELP synthetic_requests_total Requests served.\n# TYPE synthetic_requests_total counter\n");
    for i in 0..series {
        let value = (i as u64 + 1) * 10 + round;
        text.push_str(&format!(
            "synthetic_requests_total{{service=\"s{service}\",route=\"/r{}\",series=\"{i}\"}} {value}\n",
            i % 50
        ));
    }
    text
}

async fn serve_metrics(State(targets): State<Arc<Targets>>, UrlPath(service): UrlPath<usize>) -> String {
    let round = targets.scrapes.fetch_add(1, Ordering::Relaxed);
    targets
        .bodies
        .get(service)
        .map(|pair| pair[(round % 2) as usize].clone())
        .unwrap_or_default()
}

/// Starts the target server on its own runtime thread; returns its port.
fn start_targets(fleet: Fleet) -> anyhow::Result<u16> {
    let bodies = (0..fleet.services)
        .map(|s| {
            [
                exposition(s, fleet.series_per_service, 0),
                exposition(s, fleet.series_per_service, 1),
            ]
        })
        .collect();
    let targets = Arc::new(Targets {
        bodies,
        scrapes: AtomicU64::new(0),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    crate::spawn_runtime_thread(move || async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        let app = Router::new()
            .route("/svc/{service}/metrics", get(serve_metrics))
            .with_state(targets);
        let _ = axum::serve(listener, app).await;
    });
    Ok(port)
}

/// `count` distinct free ports: all bound at once, then released for the children.
fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    listeners.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

/// A Prometheus-format scrape config of every synthetic service.
fn scrape_config(fleet: Fleet, target_port: u16, interval: Duration) -> String {
    let mut text = format!(
        "global:\n  scrape_interval: {}s\n  scrape_timeout: {}s\nscrape_configs:\n  - job_name: synthetic\n    static_configs:\n",
        interval.as_secs(),
        interval.as_secs()
    );
    for service in 0..fleet.services {
        text.push_str(&format!(
            "      - targets: ['127.0.0.1:{target_port}']\n        labels: {{__metrics_path__: /svc/{service}/metrics, service_index: '{service}'}}\n"
        ));
    }
    text
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `binary` with its output in `log`, read back when a case fails.
fn spawn(binary: &str, args: &[String], log: &Path) -> anyhow::Result<Process> {
    let output = std::fs::File::create(log)?;
    let child = Command::new(binary)
        .args(args)
        .stdout(Stdio::null())
        .stderr(output)
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!("cannot start {binary} ({e}); install Debian's prometheus and victoria-metrics")
        })?;
    Ok(Process(child))
}

/// User + system CPU seconds a process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command.
    (ticks(11) + ticks(12)) / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    // Linux reports CPU time in USER_HZ, 100 on every architecture it runs on here.
    100.0
}

/// The sum of every sample of `metric` in a Prometheus text exposition at `url`.
async fn scraped_sum(url: &str, metric: &str) -> Option<f64> {
    let body = runtime::http_client::get(url, Duration::from_secs(10)).await.ok()?;
    let text = body.text();
    let mut total = 0.0;
    let mut found = false;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        if &line[..name_end] != metric {
            continue;
        }
        if let Some(value) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            total += value;
            found = true;
        }
    }
    found.then_some(total)
}

/// Waits until `url` answers, within `within`.
async fn wait_up(url: &str, within: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    while started.elapsed() < within {
        if runtime::http_client::get(url, Duration::from_secs(2))
            .await
            .is_ok_and(|r| r.status == 200)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("{url} did not answer within {within:?}")
}

/// The processes of one case, the store's ingest counter and its URL.
struct Running {
    scrapers: Vec<Process>,
    store: Option<Process>,
    counter_url: String,
    counter: &'static str,
    _dir: tempfile::TempDir,
}

fn start(scrapers: Scrapers, config: &str) -> anyhow::Result<Running> {
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("scrape.yml");
    std::fs::write(&config_path, config)?;
    let path = |p: &Path| p.to_string_lossy().into_owned();
    match scrapers {
        Scrapers::Prometheus => {
            let port = free_ports(1)?[0];
            let prometheus = spawn(
                "prometheus",
                &[
                    format!("--config.file={}", path(&config_path)),
                    format!("--storage.tsdb.path={}", path(&dir.path().join("data"))),
                    format!("--web.listen-address=127.0.0.1:{port}"),
                ],
                &dir.path().join("prometheus.log"),
            )?;
            Ok(Running {
                scrapers: vec![prometheus],
                store: None,
                counter_url: format!("http://127.0.0.1:{port}/metrics"),
                counter: "prometheus_tsdb_head_samples_appended_total",
                _dir: dir,
            })
        }
        Scrapers::VmAgents(shards) => {
            let ports = free_ports(shards + 1)?;
            let store_port = ports[0];
            let store = spawn(
                "victoria-metrics",
                &[
                    format!("-storageDataPath={}", path(&dir.path().join("vm"))),
                    format!("-httpListenAddr=127.0.0.1:{store_port}"),
                ],
                &dir.path().join("victoria-metrics.log"),
            )?;
            let mut agents = Vec::new();
            for member in 0..shards {
                let port = ports[member + 1];
                agents.push(spawn(
                    "vmagent",
                    &[
                        format!("-promscrape.config={}", path(&config_path)),
                        format!("-remoteWrite.url=http://127.0.0.1:{store_port}/api/v1/write"),
                        format!(
                            "-remoteWrite.tmpDataPath={}",
                            path(&dir.path().join(format!("agent{member}")))
                        ),
                        format!("-httpListenAddr=127.0.0.1:{port}"),
                        format!("-promscrape.cluster.membersCount={shards}"),
                        format!("-promscrape.cluster.memberNum={member}"),
                    ],
                    &dir.path().join(format!("vmagent{member}.log")),
                )?);
            }
            Ok(Running {
                scrapers: agents,
                store: Some(store),
                counter_url: format!("http://127.0.0.1:{store_port}/metrics"),
                counter: "vm_rows_inserted_total",
                _dir: dir,
            })
        }
    }
}

fn pids(processes: &[Process]) -> Vec<u32> {
    processes.iter().map(|p| p.0.id()).collect()
}

fn cores(pids: &[u32], before: &[f64], seconds: f64) -> f64 {
    pids.iter()
        .zip(before)
        .map(|(pid, b)| cpu_seconds(*pid) - b)
        .sum::<f64>()
        / seconds
}

fn mib(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|pid| crate::resident_kib(Some(*pid)))
        .sum::<f64>()
        / 1024.0
}

/// Attempts per case: a child that dies or a counter that cannot be read (a port taken
/// between choosing and binding it, on a busy machine) costs one fresh start.
const ATTEMPTS: usize = 3;

/// Runs one case against the fleet's targets (served on `target_port`) and measures it,
/// starting it afresh when an attempt fails; the last failure is the error.
fn measure(fleet: Fleet, target_port: u16, scrapers: Scrapers, timing: Timing) -> anyhow::Result<Measured> {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        match measure_once(fleet, target_port, scrapers, timing) {
            Ok(measured) => return Ok(measured),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no attempt ran")))
}

/// The first child of a case that has exited, with the end of its log.
fn exited(running: &mut Running) -> Option<String> {
    let dir = running._dir.path().to_path_buf();
    for process in running.scrapers.iter_mut().chain(running.store.iter_mut()) {
        if let Ok(Some(status)) = process.0.try_wait() {
            let logs: Vec<String> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .map(|text| text.lines().rev().take(5).collect::<Vec<_>>().join(" | "))
                .collect();
            return Some(format!("a child exited ({status}): {}", logs.join(" || ")));
        }
    }
    None
}

fn measure_once(fleet: Fleet, target_port: u16, scrapers: Scrapers, timing: Timing) -> anyhow::Result<Measured> {
    let config = scrape_config(fleet, target_port, timing.interval);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut running = start(scrapers, &config)?;
        wait_up(&running.counter_url, Duration::from_secs(30)).await?;
        tokio::time::sleep(timing.warm_up).await;
        let scraper_pids = pids(&running.scrapers);
        let store_pids = pids(running.store.as_slice());
        let scraper_cpu: Vec<f64> = scraper_pids.iter().map(|p| cpu_seconds(*p)).collect();
        let store_cpu: Vec<f64> = store_pids.iter().map(|p| cpu_seconds(*p)).collect();
        let counter = |running: &Running| (running.counter_url.clone(), running.counter);
        let (url, name) = counter(&running);
        let first = scraped_sum(&url, name)
            .await
            .ok_or_else(|| anyhow::anyhow!("{url} has no {name}"))?;
        let started = Instant::now();
        tokio::time::sleep(timing.window).await;
        let last = scraped_sum(&url, name)
            .await
            .ok_or_else(|| anyhow::anyhow!("{url} has no {name}"))?;
        let seconds = started.elapsed().as_secs_f64();
        if let Some(failure) = exited(&mut running) {
            anyhow::bail!("{}: {failure}", scrapers.label());
        }
        Ok(Measured {
            fleet,
            scrapers,
            offered_per_second: fleet.series() as f64 / timing.interval.as_secs_f64(),
            ingested_per_second: (last - first) / seconds,
            scraper_cores: cores(&scraper_pids, &scraper_cpu, seconds),
            store_cores: cores(&store_pids, &store_cpu, seconds),
            scraper_mib: mib(&scraper_pids),
            store_mib: mib(&store_pids),
        })
    })
}

/// Every case for every fleet size, one after another. Each fleet's target server serves
/// until the benchmark process ends (idle once its cases are done).
pub fn run(fleets: &[Fleet], timing: Timing) -> anyhow::Result<Vec<Measured>> {
    let mut out = Vec::new();
    for fleet in fleets {
        let target_port = start_targets(*fleet)?;
        for scrapers in [
            Scrapers::Prometheus,
            Scrapers::VmAgents(1),
            Scrapers::VmAgents(2),
            Scrapers::VmAgents(4),
        ] {
            out.push(measure(*fleet, target_port, scrapers, timing)?);
        }
    }
    Ok(out)
}

/// The binaries a run needs, for a clear message before anything starts.
pub fn missing_binaries() -> Vec<&'static str> {
    ["prometheus", "vmagent", "victoria-metrics"]
        .into_iter()
        .filter(|b| which(b).is_none())
        .collect()
}

fn which(binary: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(binary))
        .find(|p| p.is_file())
}
