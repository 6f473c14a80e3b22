//! obs-bench: the benchmarks of BENCHMARKS.md, side by side and interleaved, printed as
//! Markdown. `obs-bench all --rounds 5` for the record; `--smoke` for a seconds-long check.

use std::time::Duration;

use clap::{Parser, Subcommand};

use bench::websocket::Kind;
use bench::{table, Effort};

#[derive(Parser, Debug)]
#[command(name = "obs-bench", about = "obs against its peers, ratios of interleaved medians")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Rounds per case (the median is reported).
    #[arg(long, global = true, default_value_t = 5)]
    rounds: usize,
    /// Tiny sizes, one round: proves every benchmark still runs.
    #[arg(long, global = true)]
    smoke: bool,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
enum Command {
    /// Every benchmark.
    All,
    /// HTTP instrumentation overhead.
    Http,
    /// The load tester against wrk on the same server.
    Drivers,
    /// What trace context and OTLP export cost a request.
    Traces,
    /// Encoding /metrics.
    Scrape,
    /// Classic against native histograms: series, bytes, encode time.
    Native,
    /// Counting on the hot path.
    Hot,
    /// WebSocket throughput and memory per idle connection.
    Ws,
    /// WebSockets at scale: memory per idle socket, a heartbeat to every socket, SIGTERM
    /// with every socket open.
    Fanout {
        /// Sockets to hold (bounded by the descriptor hard limit).
        #[arg(long, default_value_t = bench::fanout::ASKED)]
        sockets: u64,
    },
    /// Generator scaling.
    Generator,
    /// How the scrape path grows: one Prometheus against 1, 2 and 4 vmagent shards writing
    /// to VictoriaMetrics, over synthetic targets (Debian's binaries; not part of `all`).
    ScaleOut {
        /// Synthetic services per fleet size, one size per value.
        #[arg(long, value_delimiter = ',', default_values_t = vec![100, 400, 1000])]
        services: Vec<usize>,
        /// Series each service exposes.
        #[arg(long, default_value_t = 1000)]
        series: usize,
        /// Scrape interval, seconds.
        #[arg(long, default_value_t = 5)]
        interval: u64,
        /// Seconds measured per case, after a warm-up of three intervals.
        #[arg(long, default_value_t = 30)]
        window: u64,
    },
    /// Demo start-up and SIGTERM to exit.
    Lifecycle,
    /// The demo under mixed HTTP and WebSocket load for a long while: RSS, open fds and
    /// series sampled, the trend after warm-up fitted (not part of `all`).
    Soak {
        /// How long the load runs, in minutes.
        #[arg(long, default_value_t = 30)]
        minutes: u64,
        /// Seconds between samples.
        #[arg(long, default_value_t = 10)]
        every: u64,
        /// Minutes of warm-up left out of the trend.
        #[arg(long, default_value_t = 5)]
        warm_up: u64,
        /// WebSockets held open for the whole run.
        #[arg(long, default_value_t = 50)]
        held: usize,
        /// Where to write the plot.
        #[arg(long, default_value = "soak.svg")]
        svg: std::path::PathBuf,
    },
    /// Build one registry of N series and print its resident growth in bytes (used by
    /// obs-bench itself for the scrape section's memory table).
    #[command(hide = true)]
    SeriesMemory {
        #[arg(long, value_enum)]
        registry: bench::series_memory::Registry,
        #[arg(long)]
        series: usize,
    },
    /// Serve the fan-out benchmark's WebSocket server (used by obs-bench itself).
    #[command(hide = true)]
    ServeFanout,
    /// Hold the fan-out benchmark's client sockets (used by obs-bench itself).
    #[command(hide = true)]
    HoldFanout {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        sockets: u64,
    },
    /// Serve a WebSocket server for the memory benchmark (used by obs-bench itself).
    #[command(hide = true)]
    Serve {
        #[arg(long, value_enum)]
        kind: Kind,
    },
}

fn ratio(a: f64, b: f64) -> String {
    format!("{:.3}", a / b)
}

fn http(effort: Effort) -> String {
    let r = bench::servers::run(effort);
    let cpu = bench::servers::in_memory(effort);
    let cpu_row = |name: &str, ns: f64| vec![name.to_string(), format!("{ns:.0}"), format!("{:.0}", ns - cpu.bare)];
    let cpu_rows = vec![
        cpu_row("bare axum", cpu.bare),
        cpu_row("bare axum + an empty layer", cpu.bare_layered),
        cpu_row("obs middleware", cpu.obs),
        cpu_row("axum-prometheus 0.10", cpu.axum_prometheus),
    ];
    let rows = vec![
        vec!["bare axum".into(), format!("{:.0}", r.bare), "1.000".into()],
        vec![
            "bare axum + an empty layer (the floor of any per-route middleware)".into(),
            format!("{:.0}", r.bare_layered),
            ratio(r.bare_layered, r.bare),
        ],
        vec![
            "obs middleware (metrics, request id, span)".into(),
            format!("{:.0}", r.obs),
            ratio(r.obs, r.bare),
        ],
        vec![
            "obs middleware + JSON log line per request".into(),
            format!("{:.0}", r.obs_with_logs),
            ratio(r.obs_with_logs, r.bare),
        ],
        vec![
            "axum-prometheus 0.10".into(),
            format!("{:.0}", r.axum_prometheus),
            ratio(r.axum_prometheus, r.bare),
        ],
    ];
    format!(
        "### 1. HTTP instrumentation overhead\n\nOne single-threaded server each, driven by {} with {} connections for {}s per round, {} rounds.\nobs ÷ axum-prometheus = {}. The logging server wrote {:.2} log lines per request.\n\n{}\n\nThe same routers called in memory (no sockets), CPU per request:\n\n{}",
        r.driver,
        effort.pick(32, 4),
        effort.pick(3, 1),
        effort.rounds,
        ratio(r.obs, r.axum_prometheus),
        r.log_lines_per_request,
        table(&["server", "requests/s", "÷ bare"], &rows),
        table(&["router", "ns per request", "ns over bare"], &cpu_rows)
    )
}

fn traces(effort: Effort) -> anyhow::Result<String> {
    let r = bench::traces::run(effort)?;
    let base = r.nanos[0];
    let (floor, traced) = (
        r.nanos[bench::traces::NO_LINES_FLOOR],
        r.nanos[bench::traces::NO_LINES_TRACED],
    );
    let rows: Vec<Vec<String>> = bench::traces::CASES
        .iter()
        .zip(&r.nanos)
        .take(bench::traces::NO_LINES_FLOOR)
        .map(|(case, ns)| {
            vec![
                case.to_string(),
                format!("{ns:.0}"),
                format!("{:.0}", ns - base),
                ratio(base, *ns),
            ]
        })
        .collect();
    Ok(format!(
        "### 1b. Tracing overhead\n\nThe instrumented router writing its JSON line per request, called in memory on one thread (the exporter's connection on a second), {} requests per case per round, {} rounds; the receiver (another thread) got {} spans in all.\n\n{}\n\nWithout request lines (`logging.level: warn`; the request span is still made and exported), OTLP/gRPC at 10%: the middleware costs {:.0} ns a request over the empty layer under the same subscriber ({:.0} vs {:.0} ns).",
        r.requests_per_case,
        effort.rounds,
        r.spans_received,
        table(&["subscriber", "ns per request", "ns over no trace layer", "throughput ÷ no trace layer"], &rows),
        traced - floor,
        traced,
        floor
    ))
}

fn drivers(effort: Effort) -> anyhow::Result<String> {
    let r = bench::servers::drivers(effort)?;
    let rows = vec![
        vec!["wrk -t1".into(), format!("{:.0}", r.wrk), "1.000".into()],
        vec![
            "obs-tools loadtest --mode http (one thread, kept-alive connections)".into(),
            format!("{:.0}", r.loadtest),
            ratio(r.loadtest, r.wrk),
        ],
    ];
    Ok(format!(
        "### Load tester against wrk\n\nThe bare axum server (one thread), driven by each with {} connections for {}s per round, {} rounds, interleaved.\nloadtest ÷ wrk = {}.\n\n{}",
        r.connections,
        r.seconds,
        effort.rounds,
        ratio(r.loadtest, r.wrk),
        table(&["driver", "requests/s", "÷ wrk"], &rows)
    ))
}

fn fanout(effort: Effort, sockets: u64) -> anyhow::Result<String> {
    let per_process = bench::fanout::per_process_limit()?;
    // A tenth and a fifth of the sockets asked, the most one process holds under the
    // descriptor limit when that is fewer, and all of them: the growth from one size to the
    // next shows what more would cost. The smoke run splits 200 sockets over two processes.
    let (mut sizes, per_process) = effort.pick(
        (
            [sockets / 10, sockets / 5, per_process.min(sockets), sockets].to_vec(),
            per_process,
        ),
        (vec![100, 200], 150),
    );
    sizes.sort_unstable();
    sizes.dedup();
    let mut results = Vec::new();
    for size in sizes {
        results.push(bench::fanout::run(size, effort.pick(effort.rounds, 1), per_process)?);
    }
    let last = results.last().ok_or_else(|| anyhow::anyhow!("no size measured"))?;
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            vec![
                format!("{} of {}", r.held, r.asked),
                r.servers.to_string(),
                format!("{:.1}", r.kb_per_socket),
                format!("{:.0}", r.broadcast_ms),
                format!("{:.1}", r.broadcast_ms * 1000.0 / r.held as f64),
                format!("{}", r.reached_all),
                format!("{} of {}", r.close_frames, r.held),
                format!("{:.0}", r.last_close_ms),
                format!("{:.0}", r.exit_ms),
            ]
        })
        .collect();
    Ok(format!(
        "### 4b. WebSockets at scale\n\nobs servers (the runtime's serve loop and shutdown, session accounting, lean buffers) in child processes, each with its own client process (one tokio thread); descriptor hard limit {} (raised to it inside the bench only), so at most {} sockets a process; heartbeat median of {} per size; SIGTERM to every server at once, drain {:.0} ms and grace {:.0} ms.\n\n{}",
        last.fd_hard_limit,
        per_process,
        last.broadcasts,
        last.drain_ms,
        last.grace_ms,
        table(
            &[
                "sockets held",
                "server processes",
                "KB per idle socket",
                "heartbeat to all, ms",
                "µs per socket",
                "sockets that read every heartbeat",
                "close frames after SIGTERM",
                "last close frame, ms after SIGTERM",
                "last exit, ms after SIGTERM"
            ],
            &rows
        )
    ))
}

fn native(effort: Effort) -> anyhow::Result<String> {
    let results = [
        bench::native::demo(effort.pick(20_000, 200), effort)?,
        bench::native::large(effort.pick(1_000_000, 1_400), effort.pick(20, 3), effort)?,
    ];
    let rows: Vec<Vec<String>> = results
        .iter()
        .flat_map(|r| {
            let classic_text = r.forms[0].clone();
            r.forms.iter().map(move |f| {
                vec![
                    r.workload.clone(),
                    r.label_sets.to_string(),
                    f.name.to_string(),
                    f.stored_series.to_string(),
                    f.bytes.to_string(),
                    format!("{:.3}", f.encode * 1000.0),
                    ratio(f.stored_series as f64, classic_text.stored_series as f64),
                    ratio(f.bytes as f64, classic_text.bytes as f64),
                    ratio(f.encode, classic_text.encode),
                ]
            })
        })
        .collect();
    Ok(format!(
        "### Classic against native histograms\n\nThe same observations in each form; series are what Prometheus stores from one scrape, ratios against the classic text exposition.\n\n{}",
        table(
            &[
                "workload",
                "label sets",
                "form",
                "series stored",
                "bytes",
                "encode ms",
                "series ÷ classic",
                "bytes ÷ classic",
                "time ÷ classic"
            ],
            &rows
        )
    ))
}

fn scrape(effort: Effort) -> anyhow::Result<String> {
    let sizes = effort.pick(vec![1_000, 10_000, 100_000, 1_000_000], vec![100]);
    let rows: Vec<Vec<String>> = sizes
        .into_iter()
        .map(|n| {
            let r = bench::scrape::run(n, effort);
            vec![
                n.to_string(),
                format!("{:.3}", r.obs * 1000.0),
                format!("{:.3}", r.prometheus * 1000.0),
                format!("{:.3}", r.prometheus_client * 1000.0),
                ratio(r.obs, r.prometheus_client),
                ratio(r.obs, r.prometheus),
            ]
        })
        .collect();
    let memory = bench::series_memory::run(effort.pick(1_000_000, 1_000))?;
    let memory_rows = vec![vec![
        memory.series.to_string(),
        format!("{:.0}", memory.obs),
        format!("{:.0}", memory.prometheus_client),
        format!("{:.0}", memory.prometheus_client_pairs),
        format!("{:.0}", memory.prometheus),
        ratio(memory.obs, memory.prometheus_client),
        ratio(memory.obs, memory.prometheus_client_pairs),
    ]];
    Ok(format!(
        "### 2. Encoding /metrics\n\nOne counter family with N label values, full text exposition per call.\n\n{}\n\nResident memory per series, each registry built alone in a child process:\n\n{}",
        table(
            &[
                "series",
                "obs ms",
                "prometheus ms",
                "prometheus-client ms",
                "obs ÷ prometheus-client",
                "obs ÷ prometheus"
            ],
            &rows
        ),
        table(
            &[
                "series",
                "obs bytes per series",
                "prometheus-client, derived label struct",
                "prometheus-client, name/value pairs",
                "prometheus bytes per series",
                "obs ÷ prometheus-client (struct)",
                "obs ÷ prometheus-client (pairs)"
            ],
            &memory_rows
        )
    ))
}

fn scale_out(services: &[usize], series: usize, interval: u64, window: u64) -> anyhow::Result<String> {
    let missing = bench::scale_out::missing_binaries();
    anyhow::ensure!(
        missing.is_empty(),
        "not installed: {} (Debian's prometheus and victoria-metrics)",
        missing.join(", ")
    );
    let interval = Duration::from_secs(interval.max(1));
    let timing = bench::scale_out::Timing {
        interval,
        warm_up: interval * 3,
        window: Duration::from_secs(window.max(1)),
    };
    let fleets: Vec<bench::scale_out::Fleet> = services
        .iter()
        .map(|&services| bench::scale_out::Fleet {
            services,
            series_per_service: series,
        })
        .collect();
    let results = bench::scale_out::run(&fleets, timing)?;
    // Prometheus stores what it scrapes itself: no separate store to measure.
    let store = |m: &bench::scale_out::Measured, value: f64, decimals: usize| match m.scrapers {
        bench::scale_out::Scrapers::Prometheus => "–".to_string(),
        _ => format!("{value:.decimals$}"),
    };
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|m| {
            vec![
                format!("{} × {}", m.fleet.services, m.fleet.series_per_service),
                m.scrapers.label(),
                format!("{:.0}", m.offered_per_second),
                format!("{:.0}", m.ingested_per_second),
                format!("{:.3}", m.kept_up()),
                format!("{:.2}", m.scraper_cores),
                store(m, m.store_cores, 2),
                format!("{:.0}", m.scraper_mib),
                store(m, m.store_mib, 0),
                format!(
                    "{:.0}",
                    (m.scraper_mib + m.store_mib) * 1024.0 * 1024.0 / m.fleet.series() as f64
                ),
            ]
        })
        .collect();
    Ok(format!(
        "### 5. How the scrape path grows

Synthetic targets on loopback (values change every scrape), scrape interval {} s, warm-up {} s, {} s measured per case, cases one after another.

{}",
        timing.interval.as_secs(),
        timing.warm_up.as_secs(),
        timing.window.as_secs(),
        table(
            &[
                "services × series",
                "scrapers",
                "samples offered/s",
                "samples stored/s",
                "stored ÷ offered",
                "scraper cores",
                "VictoriaMetrics cores",
                "scraper MiB",
                "VictoriaMetrics MiB",
                "bytes per series, all processes",
            ],
            &rows
        )
    ))
}

fn hot(effort: Effort) -> String {
    let one = bench::hot::run(1, effort);
    let two = bench::hot::run(2, effort);
    let row = |name: &str, a: f64, b: f64| vec![name.to_string(), format!("{a:.1}"), format!("{b:.1}")];
    let rows = vec![
        row("obs: inc() on a typed handle", one.obs_handle_inc, two.obs_handle_inc),
        row(
            "obs: closed labels by index (typed `with(Enum)`), then inc()",
            one.obs_closed_lookup_inc,
            two.obs_closed_lookup_inc,
        ),
        row(
            "obs: open labels by value, then inc()",
            one.obs_open_lookup_inc,
            two.obs_open_lookup_inc,
        ),
        row(
            "obs: open labels by value, apply(Counter::inc) (no handle taken)",
            one.obs_open_apply_inc,
            two.obs_open_apply_inc,
        ),
        row(
            "prometheus: cached child inc()",
            one.prometheus_cached_inc,
            two.prometheus_cached_inc,
        ),
        row(
            "prometheus: with_label_values().inc()",
            one.prometheus_lookup_inc,
            two.prometheus_lookup_inc,
        ),
    ];
    format!(
        "### 3. Counting on the hot path\n\nWall time per operation; with two threads both hit the same series (contended).\nobs lookup by value ÷ prometheus with_label_values: {} (1 thread), {} (2 threads).\n\n{}",
        ratio(one.obs_open_lookup_inc, one.prometheus_lookup_inc),
        ratio(two.obs_open_lookup_inc, two.prometheus_lookup_inc),
        table(&["operation", "ns, 1 thread", "ns, 2 threads"], &rows)
    )
}

fn ws(effort: Effort) -> anyhow::Result<String> {
    let t = bench::websocket::throughput(effort);
    let m = bench::websocket::memory(effort)?;
    let rows = vec![
        vec![
            "bare handler".into(),
            format!("{:.0}", t.bare),
            "1.000".into(),
            format!("{:.1}", m.bare_kb_per_connection),
        ],
        vec![
            "obs-instrumented".into(),
            format!("{:.0}", t.obs),
            ratio(t.obs, t.bare),
            format!("{:.1}", m.obs_kb_per_connection),
        ],
        vec![
            "obs-instrumented, `runtime::websocket::lean` (4 KiB read buffer, as the demo)".into(),
            format!("{:.0}", t.obs_lean),
            ratio(t.obs_lean, t.bare),
            format!("{:.1}", m.obs_lean_kb_per_connection),
        ],
    ];
    Ok(format!(
        "### 4. WebSocket\n\nMessages acknowledged per second over {} sockets for {}s per round, {} rounds; resident memory growth of the server process per idle socket at {} sockets.\n\n{}",
        effort.pick(16, 2),
        effort.pick(3, 1),
        effort.rounds,
        m.sockets,
        table(&["server", "messages/s", "÷ bare", "KB per idle connection"], &rows)
    ))
}

fn generator(effort: Effort) -> anyhow::Result<String> {
    let sizes = effort.pick(vec![100, 1_000, 5_000, 10_000], vec![20, 40]);
    let command = bench::generator_scale::generator_binary()?;
    let results = bench::generator_scale::run(&sizes, effort, &command)?;
    let base = results
        .first()
        .map(|r| r.command_seconds / r.metrics as f64)
        .unwrap_or(f64::NAN);
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let per = r.command_seconds / r.metrics as f64;
            vec![
                r.metrics.to_string(),
                format!("{}", r.bytes / 1024),
                r.files.to_string(),
                format!("{:.1}", r.seconds * 1000.0),
                format!("{:.1}", r.command_seconds * 1000.0),
                format!("{:.3}", per * 1000.0),
                ratio(per, base),
            ]
        })
        .collect();
    Ok(format!(
        "### 5. Generator\n\nLoad, validate, render and write; one alert per 10 metrics, one panel per 5. Each round calls `generator::generate` in the bench's process, then runs `{}` on the same spec (spawn to exit).\n\n{}",
        command.display(),
        table(
            &[
                "metrics",
                "spec KB",
                "files",
                "ms, library in process",
                "ms, the generator command",
                "command ms per metric",
                "per-metric cost ÷ smallest"
            ],
            &rows
        )
    ))
}

fn lifecycle(effort: Effort) -> anyhow::Result<String> {
    let r = bench::lifecycle::run(effort)?;
    Ok(format!(
        "### 6. Demo service lifecycle\n\n{}",
        table(
            &[
                "spawn to readiness 200 ms",
                "SIGTERM to exit ms",
                "configured drain ms",
                "exit ÷ drain"
            ],
            &[vec![
                format!("{:.1}", r.startup_ms),
                format!("{:.1}", r.shutdown_ms),
                format!("{:.0}", r.drain_ms),
                ratio(r.shutdown_ms, r.drain_ms)
            ]]
        )
    ))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let effort = if cli.smoke {
        Effort::SMOKE
    } else {
        Effort::full(cli.rounds)
    };
    let command = cli.command.unwrap_or(Command::All);
    let sections: Vec<String> = match command {
        Command::Serve { kind } => return bench::websocket::serve(kind),
        Command::ServeFanout => return bench::fanout::serve(),
        Command::HoldFanout { port, sockets } => return bench::fanout::hold_clients(port, sockets),
        Command::SeriesMemory { registry, series } => return bench::series_memory::child(registry, series),
        Command::Soak {
            minutes,
            every,
            warm_up,
            held,
            svg,
        } => {
            let (length, period) = if cli.smoke {
                (Duration::from_secs(30), Duration::from_secs(2))
            } else {
                (Duration::from_secs(minutes * 60), Duration::from_secs(every))
            };
            let warm_up = Duration::from_secs(warm_up * 60).min(length / 3);
            let soak = bench::soak::run(length, period, warm_up, held)?;
            std::fs::write(&svg, soak.svg())?;
            // About 30 rows whatever the length.
            let every_row = (soak.samples.len() / 30).max(1);
            vec![format!(
                "### Soak: {} min, a sample every {} s, warm-up {} s (plot: {})\n\n{}",
                length.as_secs() / 60,
                period.as_secs(),
                warm_up.as_secs(),
                svg.display(),
                soak.markdown(every_row)
            )]
        }
        Command::Http => vec![http(effort)],
        Command::Drivers => vec![drivers(effort)?],
        Command::Traces => vec![traces(effort)?],
        Command::Scrape => vec![scrape(effort)?],
        Command::Native => vec![native(effort)?],
        Command::Hot => vec![hot(effort)],
        Command::Ws => vec![ws(effort)?],
        Command::Fanout { sockets } => vec![fanout(effort, sockets)?],
        Command::Generator => vec![generator(effort)?],
        Command::Lifecycle => vec![lifecycle(effort)?],
        Command::ScaleOut {
            services,
            series,
            interval,
            window,
        } => {
            let (services, series, interval, window) = if cli.smoke {
                (vec![4], 50, 1, 2)
            } else {
                (services, series, interval, window)
            };
            vec![scale_out(&services, series, interval, window)?]
        }
        Command::All => vec![
            http(effort),
            traces(effort)?,
            drivers(effort)?,
            scrape(effort)?,
            native(effort)?,
            hot(effort),
            ws(effort)?,
            fanout(effort, bench::fanout::ASKED)?,
            generator(effort)?,
            lifecycle(effort)?,
        ],
    };
    for section in sections {
        println!("{section}");
    }
    Ok(())
}
