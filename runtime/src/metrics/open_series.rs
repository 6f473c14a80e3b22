//! The open series of a family, packed for memory: every series' label values, escaped as
//! the exposition writes them and each closed by a `"` (escaping leaves no bare quote), live
//! back to back in one string; a series is its end offset there and its cell; the lookup
//! tables hold series numbers only. Values are not stored a second time: a lookup compares
//! the caller's values with the escaped text in place (escaping is one-to-one, so equal text
//! means equal values), and the exposition renders `name="value"` from it as it writes.

use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::{DefaultHashBuilder, HashTable};

#[derive(Debug)]
pub(crate) struct OpenSeries<C> {
    text: String,
    /// Where each series' values end in `text` (they start where the previous one's end).
    ends: Vec<u32>,
    cells: Vec<C>,
    /// Series numbers, hashed by all their label values.
    index: HashTable<u32>,
    /// Per label: the series that first carried each distinct value (the label budgets).
    /// Unused with a single label, whose distinct values are the series themselves.
    seen: Vec<HashTable<u32>>,
    labels: usize,
    hasher: DefaultHashBuilder,
}

impl<C> OpenSeries<C> {
    pub(crate) fn new(labels: usize) -> Self {
        Self {
            text: String::new(),
            ends: Vec::new(),
            cells: Vec::new(),
            index: HashTable::new(),
            seen: (0..labels).map(|_| HashTable::new()).collect(),
            labels,
            hasher: DefaultHashBuilder::default(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.cells.len()
    }

    /// The escaped values of series `n`, each closed by `"`.
    fn values_of(&self, n: usize) -> &str {
        values_in(&self.text, &self.ends, n)
    }

    /// Calls `visit` with each series' rendered labels (`a="x",b="y"`) and cell, in
    /// creation order; one buffer is reused for the rendering.
    pub(crate) fn for_each(&self, names: &[String], mut visit: impl FnMut(&str, &C)) {
        let mut rendered = String::new();
        for (n, cell) in self.cells.iter().enumerate() {
            rendered.clear();
            let values = self.values_of(n);
            for (label, name) in names.iter().enumerate() {
                if label > 0 {
                    rendered.push(',');
                }
                rendered.push_str(name);
                rendered.push_str("=\"");
                rendered.push_str(value_span(values, label));
                rendered.push('"');
            }
            visit(&rendered, cell);
        }
    }

    /// The cell of the series with exactly these values.
    pub(crate) fn get(&self, values: &[&str]) -> Option<&C> {
        self.position(values).map(|n| &self.cells[n])
    }

    fn position(&self, values: &[&str]) -> Option<usize> {
        let hash = hash_values(&self.hasher, values.iter().copied());
        self.index
            .find(hash, |&n| matches_all(self.values_of(n as usize), values))
            .map(|&n| n as usize)
    }

    /// How many distinct values label `label` has carried.
    pub(crate) fn distinct(&self, label: usize) -> usize {
        if self.labels == 1 {
            return self.len();
        }
        self.seen[label].len()
    }

    /// Whether label `label` has carried `value`.
    pub(crate) fn has_seen(&self, label: usize, value: &str) -> bool {
        if self.labels == 1 {
            return self.position(&[value]).is_some();
        }
        let hash = hash_one(&self.hasher, value);
        self.seen[label]
            .find(hash, |&n| {
                escaped_eq(value_span(self.values_of(n as usize), label), value)
            })
            .is_some()
    }

    /// Adds the series for `values` (the caller checked it is absent); `open` says which
    /// labels count distinct values.
    pub(crate) fn insert(&mut self, values: &[&str], open: &[bool], cell: C) {
        for value in values {
            escape_label_value(value, &mut self.text);
            self.text.push('"');
        }
        let end = u32::try_from(self.text.len()).expect("label text of a family stays under 4 GiB");
        let n = u32::try_from(self.cells.len()).expect("a family holds under 4 billion series");
        if self.labels > 1 {
            for (label, value) in values.iter().enumerate().filter(|(label, _)| open[*label]) {
                if !self.has_seen(label, value) {
                    let (seen, ends, text, hasher) = (&mut self.seen[label], &self.ends, &self.text, &self.hasher);
                    let hash = hash_one(hasher, value);
                    seen.insert_unique(hash, n, |&m| {
                        let values = pending_values_in(text, ends, m as usize, end);
                        hash_one(hasher, &unescape(value_span(values, label)))
                    });
                }
            }
        }
        self.ends.push(end);
        self.cells.push(cell);
        let hash = hash_values(&self.hasher, values.iter().copied());
        let (ends, text, hasher, labels) = (&self.ends, &self.text, &self.hasher, self.labels);
        self.index.insert_unique(hash, n, |&m| {
            hash_stored(hasher, values_in(text, ends, m as usize), labels)
        });
    }
}

/// Escapes a label value for the text exposition format.
pub fn escape_label_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The escaped values of series `n`.
fn values_in<'a>(text: &'a str, ends: &[u32], n: usize) -> &'a str {
    let start = if n == 0 { 0 } else { ends[n - 1] as usize };
    &text[start..ends[n] as usize]
}

/// Series `n`'s values while a new series (ending at `pending_end`, not yet in `ends`) is
/// being added.
fn pending_values_in<'a>(text: &'a str, ends: &[u32], n: usize, pending_end: u32) -> &'a str {
    let start = if n == 0 { 0 } else { ends[n - 1] as usize };
    let end = ends.get(n).copied().unwrap_or(pending_end) as usize;
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

/// [`hash_values`] of a stored series' values, read back from the text one by one (a
/// rehash runs this for every series under the write lock: nothing is collected).
fn hash_stored(hasher: &DefaultHashBuilder, values: &str, labels: usize) -> u64 {
    let mut state = hasher.build_hasher();
    state.write_usize(labels);
    for label in 0..labels {
        unescape(value_span(values, label)).hash(&mut state);
    }
    state.finish()
}

/// The escaped value of label `label` among a series' values (up to its closing quote).
fn value_span(values: &str, label: usize) -> &str {
    let bytes = values.as_bytes();
    let mut at = 0;
    for i in 0..=label {
        let start = at;
        while at < bytes.len() && bytes[at] != b'"' {
            at += if bytes[at] == b'\\' { 2 } else { 1 };
        }
        let end = at.min(bytes.len());
        if i == label {
            return &values[start..end];
        }
        at = end + 1; // past the closing quote
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

/// Whether a series' stored values are exactly these, in one pass over them: a value with
/// nothing to escape (nearly all) is one slice comparison.
fn matches_all(stored: &str, values: &[&str]) -> bool {
    let bytes = stored.as_bytes();
    let mut at = 0;
    for value in values {
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
            if end >= bytes.len() || !escaped_eq(&stored[at..end], value) {
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
            assert!(series.get(values).is_none(), "{values:?} absent before");
            series.insert(values, &open, n);
        }
        // Enough more to make the tables grow and rehash from the stored text.
        for n in 0..2_000 {
            let (a, b) = (format!("v\"{n}"), format!("w\\{n}\n"));
            series.insert(&[&a, &b], &open, 100 + n);
        }
        for (n, values) in tricky.iter().enumerate() {
            assert_eq!(series.get(values), Some(&n), "{values:?}");
        }
        for n in 0..2_000 {
            let (a, b) = (format!("v\"{n}"), format!("w\\{n}\n"));
            assert_eq!(series.get(&[&a, &b]), Some(&(100 + n)));
        }
        assert!(series.get(&["x", "c"]).is_none());
        assert!(series.get(&["abc", ""]).is_none());
        assert_eq!(series.len(), tricky.len() + 2_000);
        let mut rendered = Vec::new();
        series.for_each(&names, |labels, _| rendered.push(labels.to_string()));
        assert_eq!(rendered[3], r#"a="quote\"d",b="back\\slash""#);
        assert_eq!(rendered[4], r#"a="new\nline",b="""#);
        assert_eq!(rendered.len(), tricky.len() + 2_000);
        assert!(series.has_seen(0, "quote\"d"));
        assert!(series.has_seen(1, "\\n"));
        assert!(!series.has_seen(1, "\n"), "the escaped form is not the value");
        assert_eq!(series.distinct(0), tricky.len() + 2_000, "no value of `a` repeats");
        assert_eq!(series.distinct(1), tricky.len() + 2_000);
    }

    #[test]
    fn distinct_values_count_once_per_label() {
        let mut series = OpenSeries::new(2);
        for (n, (route, status)) in [("/a", "200"), ("/a", "500"), ("/b", "200")].iter().enumerate() {
            series.insert(&[route, status], &[true, true], n);
        }
        assert_eq!((series.distinct(0), series.distinct(1)), (2, 2));
        let mut closed = OpenSeries::new(2);
        closed.insert(&["/a", "200"], &[false, true], 0);
        assert_eq!(
            (closed.distinct(0), closed.distinct(1)),
            (0, 1),
            "closed labels count nothing"
        );
        // One label: its distinct values are the series themselves, no table of their own.
        let mut single = OpenSeries::new(1);
        for (n, client) in ["a", "b", "a\"q"].iter().enumerate() {
            single.insert(&[client], &[true], n);
        }
        assert_eq!(single.distinct(0), 3);
        assert!(single.has_seen(0, "a\"q") && !single.has_seen(0, "c"));
        let mut rendered = Vec::new();
        single.for_each(&names(&["client"]), |labels, cell| {
            rendered.push(format!("{labels}:{cell}"))
        });
        assert_eq!(rendered, [r#"client="a":0"#, r#"client="b":1"#, r#"client="a\"q":2"#]);
    }
}
