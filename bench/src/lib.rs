//! Benchmarks of obs against the crates people would use instead, each figure a ratio of
//! medians measured side by side in one run: cases alternate within every round, so a noisy
//! neighbour on a shared machine slows all of them alike.

pub mod fanout;
pub mod generator_scale;
pub mod hot;
pub mod lifecycle;
pub mod native;
pub mod scale_out;
pub mod scrape;
pub mod series_memory;
pub mod servers;
pub mod soak;
pub mod traces;
pub mod websocket;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A workspace binary built beside this one: `target/<profile>/<name>` (tests run from
/// `target/<profile>/deps`, one level deeper), or the path `env_var` names.
pub fn sibling_binary(name: &str, env_var: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        return Ok(path.into());
    }
    let current = std::env::current_exe()?;
    for dir in current.ancestors().skip(1).take(2) {
        let candidate = dir.join(name);
        if candidate.exists() {
            return Ok(candidate);
        }
    }
    anyhow::bail!(
        "{name} is not built next to {}; build it with the same profile, or set {env_var}",
        current.display()
    )
}

/// Median of samples (upper median for an even count).
pub fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Measures cases `0..count` once per round, in turn, and returns each case's median.
fn rounds_of(rounds: usize, count: usize, mut measure: impl FnMut(usize) -> f64) -> Vec<f64> {
    let mut samples = vec![Vec::with_capacity(rounds); count];
    for _ in 0..rounds {
        for (case, out) in samples.iter_mut().enumerate() {
            out.push(measure(case));
        }
    }
    samples.iter().map(|s| median(s)).collect()
}

/// Runs every case once per round, in turn, and returns each case's median.
pub fn interleaved(rounds: usize, cases: &mut [&mut dyn FnMut() -> f64]) -> Vec<f64> {
    rounds_of(rounds, cases.len(), |case| cases[case]())
}

/// [`interleaved`] over one measurement applied to each of `subjects`.
pub fn interleaved_over<T>(rounds: usize, subjects: &[T], measure: impl Fn(&T) -> f64) -> Vec<f64> {
    rounds_of(rounds, subjects.len(), |case| measure(&subjects[case]))
}

/// Seconds per call of `f`, repeating it until at least `min` has passed.
pub fn seconds_per_call(min: Duration, mut f: impl FnMut()) -> f64 {
    let started = Instant::now();
    let mut calls = 0u64;
    while calls == 0 || started.elapsed() < min {
        f();
        calls += 1;
    }
    started.elapsed().as_secs_f64() / calls as f64
}

/// Runs `task` on a single-threaded tokio runtime of its own thread: a server the benchmark
/// talks to, kept off the runtime that measures.
pub fn spawn_runtime_thread<F>(task: impl FnOnce() -> F + Send + 'static)
where
    F: std::future::Future<Output = ()>,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(task());
    });
}

/// How much effort a run spends: `smoke` proves the code runs in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effort {
    pub rounds: usize,
    pub smoke: bool,
}

impl Effort {
    pub const SMOKE: Effort = Effort { rounds: 1, smoke: true };

    pub fn full(rounds: usize) -> Self {
        Self { rounds, smoke: false }
    }

    /// The full-size value, or the tiny one for a smoke run.
    pub fn pick<T>(&self, full: T, smoke: T) -> T {
        if self.smoke {
            smoke
        } else {
            full
        }
    }
}

/// A Markdown table.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n|{}|\n",
        header.join(" | "),
        header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

/// Resident memory (`VmRSS`) of process `pid`, or of this process, in KiB; `None` once the
/// process is gone or the kernel does not say.
pub fn resident_kib(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_interleaving() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        let order = std::cell::RefCell::new(String::new());
        let mut samples_a = vec![5.0, 1.0, 3.0].into_iter();
        let mut a = || {
            order.borrow_mut().push('a');
            samples_a.next().unwrap_or(0.0)
        };
        let mut b = || {
            order.borrow_mut().push('b');
            2.0
        };
        let medians = interleaved(3, &mut [&mut a, &mut b]);
        assert_eq!(medians, vec![3.0, 2.0]);
        assert_eq!(order.into_inner(), "ababab", "cases alternate within each round");
    }
}
