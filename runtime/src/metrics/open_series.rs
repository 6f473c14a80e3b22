//! The open series of a family, packed for memory: every series' rendered label text
//! (`a="x",b="y"`, what the exposition writes) lives back to back in one string, each
//! series is an end offset and its cell, and the lookup tables hold series numbers only.
//! Label values are not stored a second time: a lookup compares the caller's values with
//! the escaped text in place (escaping is one-to-one, so equal text means equal values).

use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::{DefaultHashBuilder, HashTable};

/// One series: where its label text ends in [`OpenSeries::text`] (it starts where the one
/// before ends) and its cell.
#[derive(Debug)]
struct Entry<C> {
    end: u32,
    cell: C,
}

#[derive(Debug)]
pub(crate) struct OpenSeries<C> {
    text: String,
    entries: Vec<Entry<C>>,
    /// Series numbers, hashed by all their label values.
    index: HashTable<u32>,
    /// Per label: the series that first carried each distinct value (the label budgets).
    seen: Vec<HashTable<u32>>,
    hasher: DefaultHashBuilder,
}

impl<C> OpenSeries<C> {
    pub(crate) fn new(labels: usize) -> Self {
        Self {
            text: String::new(),
            entries: Vec::new(),
            index: HashTable::new(),
            seen: (0..labels).map(|_| HashTable::new()).collect(),
            hasher: DefaultHashBuilder::default(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The rendered label text of series `n`.
    fn labels_of(&self, n: usize) -> &str {
        let start = if n == 0 { 0 } else { self.entries[n - 1].end as usize };
        &self.text[start..self.entries[n].end as usize]
    }

    /// Each series' label text and cell, in creation order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &C)> {
        (0..self.entries.len()).map(|n| (self.labels_of(n), &self.entries[n].cell))
    }

    /// The cell of the series with exactly these values.
    pub(crate) fn get(&self, names: &[String], values: &[&str]) -> Option<&C> {
        let hash = hash_values(&self.hasher, values.iter().copied());
        self.index
            .find(hash, |&n| matches_all(self.labels_of(n as usize), names, values))
            .map(|&n| &self.entries[n as usize].cell)
    }

    /// How many distinct values label `label` has carried.
    pub(crate) fn distinct(&self, label: usize) -> usize {
        self.seen[label].len()
    }

    /// Whether label `label` has carried `value`.
    pub(crate) fn has_seen(&self, names: &[String], label: usize, value: &str) -> bool {
        let hash = hash_one(&self.hasher, value);
        self.seen[label]
            .find(hash, |&n| {
                escaped_eq(value_span(self.labels_of(n as usize), names, label), value)
            })
            .is_some()
    }

    /// Adds the series for `values` (the caller checked it is absent), rendering its
    /// labels once; `open` says which labels count distinct values.
    pub(crate) fn insert(&mut self, names: &[String], values: &[&str], open: &[bool], cell: C) {
        for (i, (name, value)) in names.iter().zip(values).enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            self.text.push_str(name);
            self.text.push_str("=\"");
            super::family::escape_label_value(value, &mut self.text);
            self.text.push('"');
        }
        let end = u32::try_from(self.text.len()).expect("label text of a family stays under 4 GiB");
        let n = u32::try_from(self.entries.len()).expect("a family holds under 4 billion series");
        for (label, value) in values.iter().enumerate().filter(|(label, _)| open[*label]) {
            if !self.has_seen(names, label, value) {
                let (seen, entries, text, hasher) = (&mut self.seen[label], &self.entries, &self.text, &self.hasher);
                let hash = hash_one(hasher, value);
                seen.insert_unique(hash, n, |&m| {
                    let labels = labels_in(text, entries, m as usize, end);
                    hash_one(hasher, &unescape(value_span(labels, names, label)))
                });
            }
        }
        self.entries.push(Entry { end, cell });
        let hash = hash_values(&self.hasher, values.iter().copied());
        let (entries, text, hasher) = (&self.entries, &self.text, &self.hasher);
        self.index.insert_unique(hash, n, |&m| {
            let labels = labels_in(text, entries, m as usize, end);
            let spans = (0..names.len()).map(|label| value_span(labels, names, label));
            let owned: Vec<std::borrow::Cow<'_, str>> = spans.map(unescape).collect();
            hash_values(hasher, owned.iter().map(|v| &**v))
        });
    }
}

/// Series `n`'s label text while a new series (ending at `pending_end`) is being added.
fn labels_in<'a, C>(text: &'a str, entries: &[Entry<C>], n: usize, pending_end: u32) -> &'a str {
    let start = if n == 0 { 0 } else { entries[n - 1].end as usize };
    let end = entries.get(n).map_or(pending_end, |e| e.end) as usize;
    &text[start..end]
}

fn hash_one(hasher: &DefaultHashBuilder, value: &str) -> u64 {
    hasher.hash_one(value)
}

// `str`'s Hash writes a terminator after the bytes, so hashing the values in sequence
// cannot confuse ("ab","c") with ("a","bc"); equality compares values anyway.
fn hash_values<'a>(hasher: &DefaultHashBuilder, values: impl ExactSizeIterator<Item = &'a str>) -> u64 {
    let mut state = hasher.build_hasher();
    state.write_usize(values.len());
    for value in values {
        value.hash(&mut state);
    }
    state.finish()
}

/// The escaped value of label `label` in a rendered label text (between its quotes).
fn value_span<'a>(labels: &'a str, names: &[String], label: usize) -> &'a str {
    let bytes = labels.as_bytes();
    let mut at = 0;
    for (i, name) in names.iter().enumerate().take(label + 1) {
        if i > 0 {
            at += 1; // the comma
        }
        at += name.len() + 2; // name="
        let start = at;
        while at < bytes.len() && bytes[at] != b'"' {
            at += if bytes[at] == b'\\' { 2 } else { 1 };
        }
        if i == label {
            return &labels[start..at];
        }
        at += 1; // the closing quote
    }
    ""
}

/// Whether `escaped` is `raw` as the exposition escapes it. Escaping touches only ASCII
/// bytes, which never occur inside a multi-byte character, so bytes can be compared.
fn escaped_eq(escaped: &str, raw: &str) -> bool {
    let mut escaped = escaped.bytes();
    for byte in raw.bytes() {
        let ok = match byte {
            b'\\' => escaped.next() == Some(b'\\') && escaped.next() == Some(b'\\'),
            b'"' => escaped.next() == Some(b'\\') && escaped.next() == Some(b'"'),
            b'\n' => escaped.next() == Some(b'\\') && escaped.next() == Some(b'n'),
            other => escaped.next() == Some(other),
        };
        if !ok {
            return false;
        }
    }
    escaped.next().is_none()
}

/// The raw value of an escaped one (borrowed when nothing was escaped).
fn unescape(escaped: &str) -> std::borrow::Cow<'_, str> {
    if !escaped.contains('\\') {
        return std::borrow::Cow::Borrowed(escaped);
    }
    let mut raw = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            raw.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => raw.push('\n'),
            Some(other) => raw.push(other),
            None => {}
        }
    }
    std::borrow::Cow::Owned(raw)
}

/// Whether a rendered label text holds exactly these values, in one pass over it: a value
/// with nothing to escape (nearly all) is one slice comparison.
fn matches_all(labels: &str, names: &[String], values: &[&str]) -> bool {
    let bytes = labels.as_bytes();
    let mut at = 0;
    for (i, (name, value)) in names.iter().zip(values).enumerate() {
        at += usize::from(i > 0) + name.len() + 2; // [,]name="
        if at > bytes.len() {
            return false;
        }
        if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
            let end = at + value.len();
            if bytes.get(at..end) != Some(value.as_bytes()) || bytes.get(end) != Some(&b'"') {
                return false;
            }
            at = end + 1;
        } else {
            let mut end = at;
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            if end > bytes.len() || !escaped_eq(&labels[at..end], value) {
                return false;
            }
            at = end + 1;
        }
    }
    at == bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_each_series_by_its_values_however_they_are_escaped() {
        let names = names(&["a", "b"]);
        let open = [true, true];
        let mut series = OpenSeries::new(2);
        let tricky = [
            ["x", "y"],
            ["ab", "c"],
            ["a", "bc"],
            ["quote\"d", "back\\slash"],
            ["new\nline", ""],
            ["ünï", "\\n"],
            ["", "\\\""],
        ];
        for (n, values) in tricky.iter().enumerate() {
            assert!(series.get(&names, values).is_none(), "{values:?} absent before");
            series.insert(&names, values, &open, n);
        }
        // Enough more to make the tables grow and rehash from the stored text.
        for n in 0..2_000 {
            let (a, b) = (format!("v\"{n}"), format!("w\\{n}\n"));
            series.insert(&names, &[&a, &b], &open, 100 + n);
        }
        for (n, values) in tricky.iter().enumerate() {
            assert_eq!(series.get(&names, values), Some(&n), "{values:?}");
        }
        for n in 0..2_000 {
            let (a, b) = (format!("v\"{n}"), format!("w\\{n}\n"));
            assert_eq!(series.get(&names, &[&a, &b]), Some(&(100 + n)));
        }
        assert!(series.get(&names, &["x", "c"]).is_none());
        assert!(series.get(&names, &["abc", ""]).is_none());
        assert_eq!(series.len(), tricky.len() + 2_000);
        assert_eq!(
            series.iter().nth(3).map(|(l, _)| l),
            Some(r#"a="quote\"d",b="back\\slash""#)
        );
        assert!(series.has_seen(&names, 0, "quote\"d"));
        assert!(series.has_seen(&names, 1, "\\n"));
        assert!(!series.has_seen(&names, 1, "\n"), "the escaped form is not the value");
        assert_eq!(series.distinct(0), tricky.len() + 2_000, "no value of `a` repeats");
        assert_eq!(series.distinct(1), tricky.len() + 2_000);
    }

    #[test]
    fn distinct_values_count_once_per_label() {
        let names = names(&["route", "status"]);
        let mut series = OpenSeries::new(2);
        for (n, (route, status)) in [("/a", "200"), ("/a", "500"), ("/b", "200")].iter().enumerate() {
            series.insert(&names, &[route, status], &[true, true], n);
        }
        assert_eq!((series.distinct(0), series.distinct(1)), (2, 2));
        let mut closed = OpenSeries::new(2);
        closed.insert(&names, &["/a", "200"], &[false, true], 0);
        assert_eq!(
            (closed.distinct(0), closed.distinct(1)),
            (0, 1),
            "closed labels count nothing"
        );
    }
}
