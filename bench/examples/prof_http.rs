//! One router of the HTTP benchmark called in memory N times, alone, for a profiler:
//! `valgrind --tool=callgrind target/release/examples/prof_http obs 20000` (or `layered`,
//! `bare`, `obs-logs`, `obs-traced`) counts instructions per function; `perf record -e cpu-clock` samples time.

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "obs".into());
    let requests: u32 = std::env::args()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut traced = None;
    let router = {
        let _entered = runtime.enter();
        match which.as_str() {
            "bare" => bench::servers::bare(),
            "layered" => bench::servers::bare_layered(),
            "obs" | "obs-logs" => bench::servers::instrumented(),
            "obs-traced" => {
                // Exports to a closed port: failed batches cost what sent ones do (BENCHMARKS.md 1b).
                let closed = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .map(|a| a.port())
                    .expect("a free port");
                let (router, dispatch, obs) = bench::traces::quiet_traced(closed);
                traced = Some((dispatch, obs));
                router
            }
            other => {
                eprintln!("unknown router {other}: bare, layered, obs, obs-logs or obs-traced");
                std::process::exit(2);
            }
        }
    };
    // `obs-logs`: the instrumented router writing its JSON line per request to a sink.
    let _logs = (which == "obs-logs").then(|| tracing::subscriber::set_default(bench::servers::sink_subscriber()));
    // `obs-traced`: the runtime's subscriber, OTLP export at 10%, no request lines.
    let _traced = traced
        .as_ref()
        .map(|(dispatch, _)| tracing::dispatcher::set_default(dispatch));
    let nanos = bench::servers::nanos_per_request(&runtime, &router, requests);
    println!("{which}: {nanos:.0} ns per request over {requests} requests");
}
