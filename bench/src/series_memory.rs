//! Memory per series: a child process builds one registry of N labelled counter series
//! (obs, `prometheus-client` with a derived label struct or with name/value pairs, or the
//! `prometheus` crate) and reports how much its resident
//! set grew, so no implementation's allocations or freed pages blur another's.

use std::process::Command;

/// Which registry a child builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Registry {
    Obs,
    /// prometheus-client with a derived label struct, as its documentation writes labels.
    PrometheusClient,
    /// prometheus-client keyed by a vector of name/value pairs.
    PrometheusClientPairs,
    Prometheus,
}

/// The label set prometheus-client's documentation derives for a family.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub(crate) struct IdLabel {
    pub id: String,
}

impl Registry {
    fn arg(self) -> &'static str {
        match self {
            Registry::Obs => "obs",
            Registry::PrometheusClient => "prometheus-client",
            Registry::PrometheusClientPairs => "prometheus-client-pairs",
            Registry::Prometheus => "prometheus",
        }
    }
}

/// Resident memory growth per series, in bytes, for each registry.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesMemory {
    pub series: usize,
    pub obs: f64,
    pub prometheus_client: f64,
    pub prometheus_client_pairs: f64,
    pub prometheus: f64,
}

pub fn run(series: usize) -> anyhow::Result<SeriesMemory> {
    Ok(SeriesMemory {
        series,
        obs: in_child(Registry::Obs, series)?,
        prometheus_client: in_child(Registry::PrometheusClient, series)?,
        prometheus_client_pairs: in_child(Registry::PrometheusClientPairs, series)?,
        prometheus: in_child(Registry::Prometheus, series)?,
    })
}

/// Bytes of resident memory per series a child measured for `registry`.
fn in_child(registry: Registry, series: usize) -> anyhow::Result<f64> {
    let output = Command::new(crate::websocket::bench_binary()?)
        .args([
            "series-memory",
            "--registry",
            registry.arg(),
            "--series",
            &series.to_string(),
        ])
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "series-memory {}: {}",
        registry.arg(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let grown: f64 = text
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("series-memory printed `{text}`"))?;
    Ok(grown / series as f64)
}

/// The child's side: builds the registry, each series counted once, and prints the bytes
/// its resident set grew by (the labels' text built before the first reading).
pub fn child(registry: Registry, series: usize) -> anyhow::Result<()> {
    let values: Vec<String> = (0..series).map(|i| i.to_string()).collect();
    let before = resident_bytes()?;
    let grown = match registry {
        Registry::Obs => {
            let built = crate::scrape::obs_registry(0, series);
            let family = built.counter("bench_requests_total", &["id"]).expect("declared");
            for value in &values {
                family.with(&[value]).inc();
            }
            let grown = resident_bytes()? - before;
            std::hint::black_box(built);
            grown
        }
        Registry::PrometheusClient => {
            let mut built = prometheus_client::registry::Registry::default();
            let family = prometheus_client::metrics::family::Family::<
                IdLabel,
                prometheus_client::metrics::counter::Counter,
            >::default();
            built.register("bench_requests", "Requests.", family.clone());
            for value in &values {
                family.get_or_create(&IdLabel { id: value.clone() }).inc();
            }
            let grown = resident_bytes()? - before;
            std::hint::black_box(built);
            grown
        }
        Registry::PrometheusClientPairs => {
            let mut built = prometheus_client::registry::Registry::default();
            let family = prometheus_client::metrics::family::Family::<
                Vec<(String, String)>,
                prometheus_client::metrics::counter::Counter,
            >::default();
            built.register("bench_requests", "Requests.", family.clone());
            for value in &values {
                family.get_or_create(&vec![("id".to_string(), value.clone())]).inc();
            }
            let grown = resident_bytes()? - before;
            std::hint::black_box(built);
            grown
        }
        Registry::Prometheus => {
            let built = prometheus::Registry::new();
            let vec =
                prometheus::IntCounterVec::new(prometheus::Opts::new("bench_requests_total", "Requests."), &["id"])
                    .expect("valid");
            built.register(Box::new(vec.clone())).expect("registered once");
            for value in &values {
                vec.with_label_values(&[value]).inc();
            }
            let grown = resident_bytes()? - before;
            std::hint::black_box(built);
            grown
        }
    };
    println!("{grown}");
    Ok(())
}

fn resident_bytes() -> anyhow::Result<f64> {
    crate::resident_kib(None)
        .map(|kib| kib * 1024.0)
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/self/status"))
}
