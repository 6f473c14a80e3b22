//! The values behind one series: lock-free counters, gauges and histograms. Handles are
//! cheap `Arc` clones, so code can keep one and update it without any lookup.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::native::NativeBuckets;

/// A monotonically increasing count of events.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

fn add_f64(cell: &AtomicU64, delta: f64) {
    let mut current = cell.load(Ordering::Relaxed);
    loop {
        let next = (f64::from_bits(current) + delta).to_bits();
        match cell.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(seen) => current = seen,
        }
    }
}

/// A value that goes up and down.
#[derive(Debug, Clone, Default)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    pub fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    pub fn add(&self, delta: f64) {
        add_f64(&self.0, delta);
    }

    pub fn inc(&self) {
        self.add(1.0);
    }

    pub fn dec(&self) {
        self.add(-1.0);
    }

    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

#[derive(Debug)]
pub(crate) struct HistogramCore {
    pub(crate) bounds: Arc<[f64]>,
    /// One per bound, plus the `+Inf` bucket; not cumulative.
    pub(crate) counts: Box<[AtomicU64]>,
    pub(crate) sum: AtomicU64,
    pub(crate) count: AtomicU64,
    /// Exponential buckets, when the histogram is declared native.
    pub(crate) native: Option<NativeBuckets>,
}

/// Observations counted into buckets.
#[derive(Debug, Clone)]
pub struct Histogram(pub(crate) Arc<HistogramCore>);

impl Histogram {
    /// Classic buckets at `bounds` (none: only `+Inf`), and native ones at `native_schema`.
    pub(crate) fn with_native(bounds: Arc<[f64]>, native_schema: Option<i8>) -> Self {
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Self(Arc::new(HistogramCore {
            bounds,
            counts,
            sum: AtomicU64::new(0f64.to_bits()),
            count: AtomicU64::new(0),
            native: native_schema.map(NativeBuckets::new),
        }))
    }

    pub fn observe(&self, value: f64) {
        let core = &*self.0;
        // Bucket bounds are upper-inclusive (`le`); NaN compares false with every bound,
        // so it is sent to +Inf explicitly, as the Go client does.
        let index = if value.is_nan() {
            core.bounds.len()
        } else {
            core.bounds.partition_point(|bound| *bound < value)
        };
        core.counts[index].fetch_add(1, Ordering::Relaxed);
        if let Some(native) = &core.native {
            native.observe(value);
        }
        add_f64(&core.sum, value);
        core.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Observes the seconds elapsed since `start`.
    pub fn observe_since(&self, start: std::time::Instant) {
        self.observe(start.elapsed().as_secs_f64());
    }

    pub fn count(&self) -> u64 {
        self.0.count.load(Ordering::Relaxed)
    }

    pub fn sum(&self) -> f64 {
        f64::from_bits(self.0.sum.load(Ordering::Relaxed))
    }

    /// The native buckets, when the histogram has them.
    pub(crate) fn native(&self) -> Option<&NativeBuckets> {
        self.0.native.as_ref()
    }

    /// Cumulative counts per bound, then the total (`+Inf`).
    pub fn cumulative(&self) -> Vec<u64> {
        let mut running = 0;
        self.0
            .counts
            .iter()
            .map(|c| {
                running += c.load(Ordering::Relaxed);
                running
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_upper_inclusive_and_cumulative() {
        let h = Histogram::with_native(Arc::from(vec![0.1, 1.0, 5.0]), None);
        for v in [0.05, 0.1, 0.5, 1.0, 7.0, f64::NAN] {
            h.observe(v);
        }
        assert_eq!(h.cumulative(), vec![2, 4, 4, 6]);
        assert_eq!(h.count(), 6);
    }

    #[test]
    fn gauges_add_concurrently_without_losing_updates() {
        let g = Gauge::default();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..10_000).for_each(|_| g.inc()));
            }
        });
        assert_eq!(g.get(), 40_000.0);
    }
}
