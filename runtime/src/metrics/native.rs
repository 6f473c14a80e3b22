//! Native (exponential) histogram buckets, as Prometheus 2.40+ scrapes them over protobuf:
//! bucket `k` of schema `s` holds observations in (2^((k-1)/2^s), 2^(k/2^s)], so one series
//! covers every magnitude at a relative resolution of 2^(2^-s) (schema 3: about 9%).
//! Buckets live in a window of counters that grows to the keys observed, so a series costs
//! memory for the range its values span, not for every possible bucket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock};

/// Observations at or below this magnitude count in the zero bucket: 2^-128, a bucket
/// boundary at every schema, as the Go client uses. Being non-zero, it also marks the
/// histogram as native to Prometheus 2.x, which looks for it.
pub const ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39;

/// The schemas Prometheus accepts.
pub const MIN_SCHEMA: i8 = contract::model::NativeHistogram::MIN_SCHEMA;
pub const MAX_SCHEMA: i8 = contract::model::NativeHistogram::MAX_SCHEMA;

/// Most buckets one side of a series keeps: at schema 8 a range of 2^32 (at the default 3,
/// 2^1024, every finite value). A key beyond it counts in the window's edge bucket, so
/// memory stays bounded whatever is observed; at schema 8 a series whose values span more
/// than 2^32 (say nanoseconds to hours) has its extreme values counted in the edge bucket
/// nearest them, which bounds their quantiles there. Sum and count stay exact.
const MAX_WINDOW: usize = 8192;

/// The bucket key of a positive, finite-or-infinite magnitude above [`ZERO_THRESHOLD`].
pub fn bucket_key(magnitude: f64, schema: i8) -> i32 {
    if magnitude.is_infinite() {
        return bucket_key(f64::MAX, schema) + 1;
    }
    let (fraction, exponent) = frexp(magnitude);
    if schema > 0 {
        let bounds = bounds(schema);
        let within = bounds.partition_point(|bound| *bound < fraction) as i32;
        within + (exponent - 1) * bounds.len() as i32
    } else {
        // Whole powers of two sit on a boundary: they belong to the bucket below.
        let key = if fraction == 0.5 { exponent - 1 } else { exponent };
        let shift = -i32::from(schema);
        (key + (1 << shift) - 1) >> shift
    }
}

/// `value = fraction × 2^exponent` with `fraction` in [0.5, 1), for normal positive values
/// (everything above the zero threshold is normal).
fn frexp(value: f64) -> (f64, i32) {
    let bits = value.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (fraction, biased - 1022)
}

/// The fractions 2^(i/2^schema)/2 at which the buckets of one power of two begin.
fn bounds(schema: i8) -> &'static [f64] {
    static TABLES: OnceLock<Vec<Vec<f64>>> = OnceLock::new();
    let tables = TABLES.get_or_init(|| {
        (1..=MAX_SCHEMA)
            .map(|s| {
                let n = 1usize << s;
                (0..n).map(|i| (i as f64 / n as f64).exp2() / 2.0).collect()
            })
            .collect()
    });
    &tables[(schema - 1) as usize]
}

/// Counters for a run of consecutive keys, grown on demand.
#[derive(Debug, Default)]
struct Window {
    first: i32,
    counts: Vec<AtomicU64>,
}

impl Window {
    fn slot(&self, key: i32) -> Option<&AtomicU64> {
        let index = usize::try_from(i64::from(key) - i64::from(self.first)).ok()?;
        self.counts.get(index)
    }

    /// Widens the window to hold `key`, or as near as [`MAX_WINDOW`] allows; returns the key
    /// that now counts it.
    fn grow_to(&mut self, key: i32) -> i32 {
        if self.counts.is_empty() {
            self.first = key;
            self.counts.push(AtomicU64::new(0));
            return key;
        }
        let last = self.first + self.counts.len() as i32 - 1;
        if key < self.first {
            let wanted = (self.first - key) as usize;
            let room = MAX_WINDOW.saturating_sub(self.counts.len());
            let added = wanted.min(room);
            let mut counts: Vec<AtomicU64> = (0..added).map(|_| AtomicU64::new(0)).collect();
            counts.append(&mut self.counts);
            self.counts = counts;
            self.first -= added as i32;
            self.first
        } else if key > last {
            let wanted = (key - last) as usize;
            let room = MAX_WINDOW.saturating_sub(self.counts.len());
            let added = wanted.min(room);
            self.counts.extend((0..added).map(|_| AtomicU64::new(0)));
            self.first + self.counts.len() as i32 - 1
        } else {
            key
        }
    }
}

/// One side (positive or negative values) of a native histogram.
#[derive(Debug, Default)]
struct Side(RwLock<Window>);

impl Side {
    fn add(&self, key: i32) {
        {
            let window = self.0.read().unwrap_or_else(|e| e.into_inner());
            if let Some(count) = window.slot(key) {
                count.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let mut window = self.0.write().unwrap_or_else(|e| e.into_inner());
        let key = window.grow_to(key);
        if let Some(count) = window.slot(key) {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The non-empty buckets as spans and deltas, the protobuf form: a span is a run of
    /// buckets (gaps of one or two empty buckets are kept inside it, cheaper than a new
    /// span), its offset the distance from the end of the previous span (from key 0 for
    /// the first), and each count written as the difference from the one before.
    fn spans(&self) -> Buckets {
        let window = self.0.read().unwrap_or_else(|e| e.into_inner());
        let mut buckets = Buckets::default();
        let mut previous_key: Option<i32> = None;
        let mut previous_count = 0i64;
        for (i, count) in window.counts.iter().enumerate() {
            let count = count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let key = window.first + i as i32;
            match previous_key {
                Some(previous) if key - previous <= 3 => {
                    // Empty buckets between stay in the span as zero counts.
                    for _ in previous + 1..key {
                        buckets.deltas.push(-previous_count);
                        previous_count = 0;
                    }
                    if let Some(span) = buckets.spans.last_mut() {
                        span.1 += (key - previous) as u32;
                    }
                }
                Some(previous) => buckets.spans.push((key - previous - 1, 1)),
                None => buckets.spans.push((key, 1)),
            }
            buckets.total += count;
            let count = count as i64;
            buckets.deltas.push(count - previous_count);
            previous_count = count;
            previous_key = Some(key);
        }
        buckets
    }
}

/// A side's buckets in protobuf form: spans (offset, length) and count deltas, and the
/// observations they hold, read in the same pass.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Buckets {
    pub spans: Vec<(i32, u32)>,
    pub deltas: Vec<i64>,
    pub total: u64,
}

/// The native buckets of one histogram series.
#[derive(Debug)]
pub struct NativeBuckets {
    schema: i8,
    zero: AtomicU64,
    /// NaN observations, which count in the total but in no bucket.
    nan: AtomicU64,
    positive: Side,
    negative: Side,
}

impl NativeBuckets {
    pub fn new(schema: i8) -> Self {
        Self {
            schema: schema.clamp(MIN_SCHEMA, MAX_SCHEMA),
            zero: AtomicU64::new(0),
            nan: AtomicU64::new(0),
            positive: Side::default(),
            negative: Side::default(),
        }
    }

    pub fn schema(&self) -> i8 {
        self.schema
    }

    /// Counts one observation; NaN counts in no bucket (it still counts in the total).
    pub fn observe(&self, value: f64) {
        if value.is_nan() {
            self.nan.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let magnitude = value.abs();
        if magnitude <= ZERO_THRESHOLD {
            self.zero.fetch_add(1, Ordering::Relaxed);
        } else if value > 0.0 {
            self.positive.add(bucket_key(magnitude, self.schema));
        } else {
            self.negative.add(bucket_key(magnitude, self.schema));
        }
    }

    pub fn nan_count(&self) -> u64 {
        self.nan.load(Ordering::Relaxed)
    }

    pub fn zero_count(&self) -> u64 {
        self.zero.load(Ordering::Relaxed)
    }

    pub fn positive(&self) -> Buckets {
        self.positive.spans()
    }

    pub fn negative(&self) -> Buckets {
        self.negative.spans()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bucket's upper bound, for checking keys against the definition.
    fn upper(key: i32, schema: i8) -> f64 {
        (f64::from(key) * (-f64::from(schema)).exp2()).exp2()
    }

    #[test]
    fn keys_follow_the_definition_at_every_schema() {
        for schema in MIN_SCHEMA..=MAX_SCHEMA {
            for value in [1e-9, 0.001, 0.1, 0.3, 0.9, 1.5, 3.0, 7.7, 1000.0, 3.3e7] {
                let key = bucket_key(value, schema);
                assert!(
                    value <= upper(key, schema) * (1.0 + 1e-12),
                    "{value} above bucket {key} at {schema}"
                );
                assert!(
                    value > upper(key - 1, schema) * (1.0 - 1e-12),
                    "{value} below bucket {key} at {schema}"
                );
            }
        }
    }

    #[test]
    fn powers_of_two_are_upper_bounds() {
        assert_eq!(bucket_key(1.0, 0), 0);
        assert_eq!(bucket_key(2.0, 0), 1);
        assert_eq!(bucket_key(2.5, 0), 2);
        assert_eq!(bucket_key(1.0, 3), 0);
        assert_eq!(bucket_key(2.0, 3), 8);
        assert_eq!(bucket_key(4.0, -1), 1);
        assert_eq!(bucket_key(4.1, -1), 2);
    }

    #[test]
    fn spans_keep_small_gaps_and_start_new_runs_after_large_ones() {
        let native = NativeBuckets::new(0);
        for value in [1.0, 1.0, 2.0, 16.0, 1024.0, -0.5, 0.0] {
            native.observe(value);
        }
        // Keys 0 (×2), 1, 4 (gap of two kept), then 10 after a gap of five.
        let positive = native.positive();
        assert_eq!(positive.spans, vec![(0, 5), (5, 1)]);
        assert_eq!(positive.deltas, vec![2, -1, -1, 0, 1, 0]);
        assert_eq!(native.negative().spans, vec![(-1, 1)]);
        assert_eq!(native.zero_count(), 1);
    }

    #[test]
    fn memory_stays_bounded_for_absurd_ranges() {
        let native = NativeBuckets::new(8);
        native.observe(1e-30);
        native.observe(1e30);
        native.observe(f64::INFINITY);
        let window = native.positive.0.read().unwrap();
        assert!(window.counts.len() <= MAX_WINDOW);
        let total: u64 = window.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        assert_eq!(total, 3);
    }
}
