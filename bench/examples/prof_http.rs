//! One router of the HTTP benchmark called in memory N times, alone, for a profiler:
//! `valgrind --tool=callgrind target/release/examples/prof_http obs 20000` (or `layered`,
//! `bare`, `obs-logs`) counts instructions per function; `perf record -e cpu-clock` samples time.

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
    let router = {
        let _entered = runtime.enter();
        match which.as_str() {
            "bare" => bench::servers::bare(),
            "layered" => bench::servers::bare_layered(),
            "obs" | "obs-logs" => bench::servers::instrumented(),
            other => {
                eprintln!("unknown router {other}: bare, layered, obs or obs-logs");
                std::process::exit(2);
            }
        }
    };
    // `obs-logs`: the instrumented router writing its JSON line per request to a sink.
    let _logs = (which == "obs-logs").then(|| tracing::subscriber::set_default(bench::servers::sink_subscriber()));
    let nanos = bench::servers::nanos_per_request(&runtime, &router, requests);
    println!("{which}: {nanos:.0} ns per request over {requests} requests");
}
