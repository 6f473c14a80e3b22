//! One `generate` of the synthetic spec of N metrics (BENCHMARKS.md section 5), alone, for a
//! profiler: `perf record -e cpu-clock target/release/examples/prof_generate 10000`.

fn main() -> anyhow::Result<()> {
    let metrics: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let spec = dir.path().join("obs.yaml");
    std::fs::write(&spec, bench::generator_scale::synthetic_spec(metrics))?;
    let started = std::time::Instant::now();
    generator::generate(&spec, &dir.path().join("generated")).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{metrics} metrics: {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
    Ok(())
}
