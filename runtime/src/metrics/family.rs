//! Labelled metric families. Each distinct label tuple is its own series, keyed by the
//! values themselves (never by a hash alone, so `("ab","c")` and `("a","bc")` stay apart).
//! Open labels are capped: past a label's budget new values fold into `other`, and the
//! family's `obs_series_dropped_total{metric}` child counts each fold. A family whose
//! labels are all closed keeps its series in a fixed array reached without a lock.

use std::sync::{Arc, RwLock};

use contract::catalog::OVERFLOW_VALUE;

use super::cells::Counter;
use super::open_series::OpenSeries;

/// Longest label value kept; longer values are cut at a character boundary.
pub const MAX_LABEL_VALUE_BYTES: usize = 128;

/// How a label's values are bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelValues {
    /// Exactly these values; anything else is a programming error reported as `other`.
    Closed(Vec<String>),
    /// Any value, at most this many distinct ones before `other`.
    Open(u64),
}

/// A label of a family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSchema {
    pub name: String,
    pub values: LabelValues,
}

/// One series: its rendered label text (`a="x",b="y"`) and its cell.
#[derive(Debug, Clone)]
pub struct Series<C> {
    pub labels: Arc<str>,
    pub cell: C,
}

pub use super::open_series::escape_label_value;

fn render_labels(names: &[String], values: &[&str]) -> Arc<str> {
    let mut text = String::new();
    for (i, (name, value)) in names.iter().zip(values).enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(name);
        text.push_str("=\"");
        escape_label_value(value, &mut text);
        text.push('"');
    }
    Arc::from(text)
}

fn truncate(value: &str) -> &str {
    if value.len() <= MAX_LABEL_VALUE_BYTES {
        return value;
    }
    let mut end = MAX_LABEL_VALUE_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// A family of series of one cell type.
#[derive(Debug)]
pub struct Family<C> {
    labels: Vec<LabelSchema>,
    label_names: Vec<String>,
    /// Which labels are open (count distinct values against a budget).
    open_labels: Vec<bool>,
    max_series: usize,
    make: fn(&FamilyCells) -> C,
    cells: FamilyCells,
    /// All-closed families: every combination, created up front, in index order.
    closed: Option<Box<[Series<C>]>>,
    open: RwLock<OpenSeries<C>>,
    dropped: Option<Counter>,
    /// Counts nothing anyone scrapes: what a closed family hands out for values outside
    /// its set, so callers never fail and the exposition never shows them.
    detached: C,
}

/// What a new cell needs (histogram bounds, native schema).
#[derive(Debug, Clone, Default)]
pub struct FamilyCells {
    pub bounds: Option<Arc<[f64]>>,
    pub native_schema: Option<i8>,
}

impl<C: Clone> Family<C> {
    pub(crate) fn new(
        labels: Vec<LabelSchema>,
        max_series: u64,
        cells: FamilyCells,
        make: fn(&FamilyCells) -> C,
        dropped: Option<Counter>,
    ) -> Self {
        let label_names: Vec<String> = labels.iter().map(|l| l.name.clone()).collect();
        let all_closed = labels.iter().all(|l| matches!(l.values, LabelValues::Closed(_)));
        let closed = all_closed.then(|| {
            let mut combos: Vec<Vec<&str>> = vec![Vec::new()];
            for label in &labels {
                let LabelValues::Closed(values) = &label.values else {
                    unreachable!("all closed")
                };
                combos = combos
                    .into_iter()
                    .flat_map(|prefix| {
                        values.iter().map(move |v| {
                            let mut next = prefix.clone();
                            next.push(v.as_str());
                            next
                        })
                    })
                    .collect();
            }
            combos
                .iter()
                .map(|values| Series {
                    labels: render_labels(&label_names, values),
                    cell: make(&cells),
                })
                .collect::<Vec<_>>()
                .into_boxed_slice()
        });
        Self {
            open: RwLock::new(OpenSeries::new(labels.len())),
            open_labels: labels
                .iter()
                .map(|l| matches!(l.values, LabelValues::Open(_)))
                .collect(),
            labels,
            label_names,
            max_series: usize::try_from(max_series).unwrap_or(usize::MAX).max(1),
            make,
            detached: make(&cells),
            cells,
            closed,
            dropped,
        }
    }

    pub fn label_names(&self) -> &[String] {
        &self.label_names
    }

    pub fn labels(&self) -> &[LabelSchema] {
        &self.labels
    }

    /// The series of an all-closed family by the index of each label's value.
    pub fn closed_series(&self, indices: &[usize]) -> Option<&C> {
        let closed = self.closed.as_ref()?;
        let mut flat = 0;
        for (label, index) in self.labels.iter().zip(indices) {
            let LabelValues::Closed(values) = &label.values else {
                return None;
            };
            if *index >= values.len() {
                return None;
            }
            flat = flat * values.len() + index;
        }
        closed.get(flat).map(|s| &s.cell)
    }

    /// Index into the closed table for these values, if every value is allowed.
    fn closed_position(&self, values: &[&str]) -> Option<usize> {
        let mut flat = 0;
        for (label, value) in self.labels.iter().zip(values) {
            let LabelValues::Closed(allowed) = &label.values else {
                return None;
            };
            flat = flat * allowed.len() + allowed.iter().position(|a| a == value)?;
        }
        Some(flat)
    }

    /// The series for these label values, created if new (within the caps).
    pub fn series(&self, values: &[&str]) -> C {
        self.visit(values, C::clone)
    }

    /// Runs `f` on the series for these label values (created if new, within the caps)
    /// without taking a handle of it: the hot path of a one-off update.
    pub fn visit<R>(&self, values: &[&str], f: impl FnOnce(&C) -> R) -> R {
        self.find(values, |cell, _| f(cell))
    }

    /// The series for these label values and whether it stands for exactly them: false
    /// when a value was too long or folded into `other` (a budget was reached, and counted
    /// as a drop as `visit` does). Callers that keep series aside (the HTTP layer's per-route
    /// cache) keep only the ones that are theirs, so every later overflow is still counted.
    pub fn resolve(&self, values: &[&str]) -> (C, bool) {
        self.find(values, |cell, own| (cell.clone(), own))
    }

    /// Runs `f` on the series for these values (created if new, within the caps) and
    /// whether it is the values' own (none cut to length or folded into `other`).
    fn find<R>(&self, values: &[&str], f: impl FnOnce(&C, bool) -> R) -> R {
        assert_eq!(
            values.len(),
            self.labels.len(),
            "label values do not match the family's labels"
        );
        // Copy only when a value is too long: the common case allocates nothing.
        let cut = values.iter().any(|v| v.len() > MAX_LABEL_VALUE_BYTES);
        let owned: Vec<&str>;
        let truncated: &[&str] = if cut {
            owned = values.iter().map(|v| truncate(v)).collect();
            &owned
        } else {
            values
        };
        if let Some(closed) = &self.closed {
            if let Some(flat) = self.closed_position(truncated) {
                return f(&closed[flat].cell, !cut);
            }
            // A value outside a closed set is a caller bug: count it, never create it.
            self.count_drop();
            return f(&self.detached, false);
        }
        {
            let open = self.open.read().unwrap_or_else(|e| e.into_inner());
            if let Some(cell) = open.get(truncated) {
                return f(cell, !cut);
            }
        }
        let (cell, own) = self.create(truncated);
        f(&cell, own && !cut)
    }

    /// The slow path of [`Family::find`]: a series not seen yet, under the write lock;
    /// with whether it is the values' own series (false: folded into `other`).
    fn create(&self, truncated: &[&str]) -> (C, bool) {
        let mut open = self.open.write().unwrap_or_else(|e| e.into_inner());
        let mut folded = false;
        let mut capped: Vec<&str> = Vec::with_capacity(truncated.len());
        for (i, (label, value)) in self.labels.iter().zip(truncated).enumerate() {
            let kept = match &label.values {
                LabelValues::Closed(allowed) => {
                    if allowed.iter().any(|a| a == value) {
                        *value
                    } else {
                        folded = true;
                        OVERFLOW_VALUE
                    }
                }
                LabelValues::Open(max) => {
                    // Values count against the budget once a series carries them; series
                    // are never removed, so a value turned away now stays turned away.
                    if open.has_seen(i, value) || (open.distinct(i) as u64) < *max {
                        *value
                    } else {
                        folded = true;
                        OVERFLOW_VALUE
                    }
                }
            };
            capped.push(kept);
        }
        if open.len() >= self.max_series && open.get(&capped).is_none() {
            // The family's own budget: every open label becomes `other`.
            folded = true;
            for (value, label) in capped.iter_mut().zip(&self.labels) {
                if matches!(label.values, LabelValues::Open(_)) {
                    *value = OVERFLOW_VALUE;
                }
            }
        }
        if folded {
            self.count_drop();
        }
        if let Some(cell) = open.get(&capped) {
            return (cell.clone(), !folded);
        }
        let cell = (self.make)(&self.cells);
        open.insert(&capped, &self.open_labels, cell.clone());
        (cell, !folded)
    }

    fn count_drop(&self) {
        if let Some(dropped) = &self.dropped {
            dropped.inc();
        }
    }

    /// The series of an all-closed family by each label's value index, borrowed: no lock,
    /// no reference count. Indices out of range give the detached cell.
    pub fn closed_ref(&self, indices: &[usize]) -> &C {
        self.closed_series(indices).unwrap_or(&self.detached)
    }

    /// Calls `visit` with every series' rendered labels and cell, closed ones first, then
    /// in creation order.
    pub fn for_each(&self, mut visit: impl FnMut(&str, &C)) {
        if let Some(closed) = &self.closed {
            closed.iter().for_each(|s| visit(&s.labels, &s.cell));
        }
        let open = self.open.read().unwrap_or_else(|e| e.into_inner());
        open.for_each(&self.label_names, visit);
    }

    /// How many series exist.
    pub fn len(&self) -> usize {
        self.closed.as_ref().map_or(0, |c| c.len()) + self.open.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter_family(labels: Vec<LabelSchema>, max_series: u64, dropped: Option<Counter>) -> Family<Counter> {
        Family::new(
            labels,
            max_series,
            FamilyCells::default(),
            |_| Counter::default(),
            dropped,
        )
    }

    fn open(name: &str, max: u64) -> LabelSchema {
        LabelSchema {
            name: name.into(),
            values: LabelValues::Open(max),
        }
    }

    #[test]
    fn tuples_that_concatenate_alike_stay_distinct() {
        let family = counter_family(vec![open("a", 10), open("b", 10)], 100, None);
        family.series(&["ab", "c"]).inc();
        family.series(&["a", "bc"]).inc_by(2);
        assert_eq!(family.series(&["ab", "c"]).get(), 1);
        assert_eq!(family.series(&["a", "bc"]).get(), 2);
        assert_eq!(family.len(), 2);
    }

    #[test]
    fn open_labels_fold_into_other_past_their_budget() {
        let dropped = Counter::default();
        let family = counter_family(vec![open("client", 3)], 1000, Some(dropped.clone()));
        for i in 0..10_000 {
            family.series(&[&format!("client-{i}")]).inc();
        }
        assert_eq!(family.len(), 4, "three clients and other");
        assert_eq!(dropped.get(), 9_997);
        let mut labels = Vec::new();
        family.for_each(|l, _| labels.push(l.to_string()));
        assert_eq!(labels.last().unwrap(), "client=\"other\"");
        assert_eq!(family.series(&["other"]).get(), 9_997);
    }

    #[test]
    fn resolve_says_whether_the_series_is_the_values_own() {
        let dropped = Counter::default();
        let family = counter_family(vec![open("client", 2)], 1000, Some(dropped.clone()));
        let (first, kept) = family.resolve(&["a"]);
        assert!(kept);
        first.inc();
        assert!(family.resolve(&["a"]).1, "found again");
        assert!(family.resolve(&["b"]).1);
        let (folded, kept) = family.resolve(&["c"]);
        assert!(!kept, "past the budget: other");
        folded.inc();
        assert_eq!(dropped.get(), 1, "counted as visit counts it");
        assert_eq!(family.series(&["other"]).get(), 1);
        assert_eq!(family.series(&["a"]).get(), 1);
        let long = "x".repeat(MAX_LABEL_VALUE_BYTES + 1);
        assert!(!family.resolve(&[&long]).1, "a truncated value is not the caller's own");
    }

    #[test]
    fn the_family_budget_holds_even_when_label_budgets_would_allow_more() {
        let dropped = Counter::default();
        let family = counter_family(vec![open("a", 100), open("b", 100)], 10, Some(dropped.clone()));
        for i in 0..50 {
            family.series(&[&i.to_string(), &i.to_string()]).inc();
        }
        assert!(family.len() <= 11, "{} series", family.len());
        assert!(dropped.get() >= 39);
    }

    #[test]
    fn closed_families_are_created_up_front_and_reject_unknown_values() {
        let dropped = Counter::default();
        let family = counter_family(
            vec![
                LabelSchema {
                    name: "kind".into(),
                    values: LabelValues::Closed(vec!["note".into(), "task".into()]),
                },
                LabelSchema {
                    name: "ok".into(),
                    values: LabelValues::Closed(vec!["yes".into(), "no".into()]),
                },
            ],
            4,
            Some(dropped.clone()),
        );
        assert_eq!(family.len(), 4);
        family.closed_series(&[1, 0]).unwrap().inc();
        assert_eq!(family.series(&["task", "yes"]).get(), 1);
        family.series(&["bogus", "yes"]).inc();
        assert_eq!(dropped.get(), 1);
        assert_eq!(family.len(), 4);
    }

    #[test]
    fn long_and_hostile_values_are_bounded_and_escaped() {
        let family = counter_family(vec![open("v", 10)], 100, None);
        let huge = "é".repeat(1_000_000);
        family.series(&[&huge]).inc();
        family.series(&["line\nbreak \"quoted\" back\\slash"]).inc();
        let mut labels = Vec::new();
        family.for_each(|l, _| labels.push(l.to_string()));
        assert!(labels[0].len() < MAX_LABEL_VALUE_BYTES + 10);
        assert_eq!(labels[1], r#"v="line\nbreak \"quoted\" back\\slash""#);
    }
}
