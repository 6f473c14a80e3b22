//! Maps spec paths (`alerts[2].rules[0].for`) to the line and column where they are written,
//! so that validation errors, which see only typed values, can point into the file.

// hashbrown's default hasher (foldhash): SipHash over every node's path was a tenth of a large
// spec's load, and a spec is the author's own input, so no flooding to defend against.
use hashbrown::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column in the spec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Where one node is written: the key of its mapping entry (none for a sequence item or
/// the root) and its value.
#[derive(Debug, Default, Clone, Copy)]
struct Place {
    key: Option<Position>,
    value: Option<Position>,
}

/// Where every node of a YAML document is, keyed by spec path.
#[derive(Debug, Default, Clone)]
pub struct PositionIndex {
    /// One entry a node: its path is built and stored once for key and value alike.
    places: HashMap<Box<str>, Place>,
    /// Whether the document held any node at all (an empty or comment-only file holds none).
    has_content: bool,
    /// Deepest nesting of mappings and sequences.
    max_depth: usize,
    /// Keys written twice in one mapping: the entry's path and where the second one is.
    duplicates: Vec<(String, Position)>,
}

/// Why the YAML could not be indexed, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanFailure {
    pub kind: ScanFailureKind,
    pub message: String,
    pub position: Position,
}

/// What stopped the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanFailureKind {
    /// The YAML is malformed.
    Syntax,
    /// Mappings and sequences nest deeper than the limit (the place is where it is crossed).
    TooDeep,
    /// Aliases would expand the document past the limit (the place is the alias that does).
    AliasesTooLarge,
}

/// Deepest nesting the index follows before it stops.
pub const MAX_DEPTH: usize = 64;
/// How much text aliases may add when a reader expands them, in bytes: as much as a whole
/// spec may hold. A "billion laughs" document stays a few hundred bytes on disk and would
/// expand to gigabytes.
pub const MAX_ALIAS_EXPANSION: usize = 8 * 1024 * 1024;

impl PositionIndex {
    /// Indexes the first document of `text` in one linear pass over its events, without
    /// recursion (yaml-rust2's own loader recurses once per level, and a 50 KB file of
    /// `- - - …` overflows the stack); stops at the first syntax error, at nesting past
    /// [`MAX_DEPTH`], and at aliases that would expand past [`MAX_ALIAS_EXPANSION`].
    pub fn build(text: &str) -> Result<Self, ScanFailure> {
        let mut builder = Builder::default();
        // About one node to every dozen bytes in a spec written one entry a line: sized up
        // front, the table seldom grows, and growing rehashes every path stored so far.
        // Bounded, so a large file refused at its first line costs no large table.
        builder.index.places.reserve((text.len() / 12).min(1 << 18));
        let mut parser = Parser::new_from_str(text);
        let mut documents = 0;
        loop {
            let (event, mark) = parser.next_token().map_err(|error| ScanFailure {
                // The scanner caps flow nesting (`[[[…`) itself, as a scan error.
                kind: if error.info().contains("recursion limit") {
                    ScanFailureKind::TooDeep
                } else {
                    ScanFailureKind::Syntax
                },
                message: if error.info().contains("recursion limit") {
                    format!("the YAML nests deeper than the {MAX_DEPTH} levels an obs.yaml may")
                } else {
                    error.info().to_string()
                },
                position: Position {
                    line: error.marker().line(),
                    column: error.marker().col() + 1,
                },
            })?;
            if event == Event::DocumentStart {
                documents += 1;
                if documents > 1 {
                    // Whatever follows would reach the next parser unchecked.
                    return Err(ScanFailure {
                        kind: ScanFailureKind::Syntax,
                        message: "an obs.yaml holds one YAML document; a second one starts here".into(),
                        position: Position {
                            line: mark.line(),
                            column: mark.col() + 1,
                        },
                    });
                }
            }
            let last = event == Event::StreamEnd;
            builder.on_event(event, mark);
            if let Some(failure) = builder.failure.take() {
                return Err(failure);
            }
            if last {
                return Ok(builder.index);
            }
        }
    }

    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    pub fn has_content(&self) -> bool {
        self.has_content
    }

    /// Where the value at `path` starts; for a path that is not written (a missing field, a
    /// default), where its nearest written ancestor is.
    pub fn value(&self, path: &str) -> Option<Position> {
        let mut current = path;
        loop {
            if let Some(position) = self.places.get(current).and_then(|place| place.value) {
                return Some(position);
            }
            current = parent(current)?;
        }
    }

    /// The first key written twice in one mapping (any mapping: a section of the spec, a
    /// label map, a test's series), as its path and where the repeat is.
    pub fn first_duplicate_key(&self) -> Option<&(String, Position)> {
        self.duplicates.first()
    }

    /// Where the key of a mapping entry is written (for "unknown" or "duplicate" errors that
    /// are about the key, not its value); falls back to `value`.
    pub fn key(&self, path: &str) -> Option<Position> {
        self.places
            .get(path)
            .and_then(|place| place.key)
            .or_else(|| self.value(path))
    }
}

fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(&path[..cut])
}

fn child_of_map(parent: &str, key: &str) -> String {
    let dot = usize::from(!parent.is_empty());
    let mut child = String::with_capacity(parent.len() + dot + key.len());
    if !parent.is_empty() {
        child.push_str(parent);
        child.push('.');
    }
    child.push_str(key);
    child
}

fn item_of_seq(parent: &str, index: usize) -> String {
    let digits = index.checked_ilog10().unwrap_or(0) as usize + 1;
    let mut child = String::with_capacity(parent.len() + digits + 2);
    child.push_str(parent);
    child.push('[');
    // Written digit by digit, to the exact length the table keeps: `format!` was a
    // measurable share of indexing a large spec.
    let mut divisor = 10usize.pow(digits as u32 - 1);
    while divisor > 0 {
        child.push(char::from(b'0' + (index / divisor % 10) as u8));
        divisor /= 10;
    }
    child.push(']');
    child
}

enum Frame {
    Map {
        path: String,
        /// After a key: the entry's path and where its key is, until its value arrives.
        entry: Option<(String, Option<Position>)>,
    },
    Seq {
        path: String,
        next: usize,
    },
    /// A complex (non-scalar) mapping key, skipped whole: spec keys are always scalars.
    SkipKey {
        depth: usize,
    },
}

#[derive(Default)]
struct Builder {
    index: PositionIndex,
    stack: Vec<Frame>,
    /// Text each anchor stands for, in bytes, by anchor id.
    anchors: HashMap<usize, usize>,
    /// Collections still open: the anchor each defines (0: none) and the text seen inside
    /// so far.
    anchored: Vec<(usize, usize)>,
    /// Text aliases add when expanded, so far.
    expanded: usize,
    failure: Option<ScanFailure>,
}

impl Builder {
    /// Path of the node this event starts and where its key is, or `None` when the event is
    /// a mapping key.
    fn node_path(&mut self, key_text: Option<&str>, mark: Marker) -> Option<(String, Option<Position>)> {
        match self.stack.last_mut() {
            None => Some((String::new(), None)),
            Some(Frame::Map { path, entry }) => match entry.take() {
                Some(entry) => Some(entry),
                None => {
                    let position = Position {
                        line: mark.line(),
                        column: mark.col() + 1,
                    };
                    let child = child_of_map(path, key_text.unwrap_or_default());
                    // The first entry's value was recorded before this key was read.
                    if self.index.places.get(child.as_str()).is_some_and(|p| p.key.is_some()) {
                        self.index.duplicates.push((child.clone(), position));
                    }
                    *entry = Some((child, Some(position)));
                    None
                }
            },
            Some(Frame::Seq { path, next }) => {
                let child = item_of_seq(path, *next);
                *next += 1;
                Some((child, None))
            }
            Some(Frame::SkipKey { .. }) => None,
        }
    }

    /// Stores where the node at `path` is; the first place wins for a key written twice.
    fn record(&mut self, path: String, key: Option<Position>, mark: Marker) {
        self.index.has_content = true;
        let place = self.index.places.entry(path.into_boxed_str()).or_default();
        if place.key.is_none() {
            place.key = key;
        }
        place.value.get_or_insert(Position {
            line: mark.line(),
            column: mark.col() + 1,
        });
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { entry: None, .. }))
    }

    fn fail(&mut self, kind: ScanFailureKind, message: String, mark: Marker) {
        self.failure.get_or_insert(ScanFailure {
            kind,
            message,
            position: Position {
                line: mark.line(),
                column: mark.col() + 1,
            },
        });
    }

    /// Counts `size` bytes of text into the innermost open collection (it passes its total
    /// to the one around it when it ends).
    fn add_text(&mut self, size: usize) {
        if let Some((_, inside)) = self.anchored.last_mut() {
            *inside = inside.saturating_add(size);
        }
    }

    /// Tracks what anchors stand for and what aliases add (before the index sees the event).
    fn weigh(&mut self, event: &Event, mark: Marker) {
        match event {
            Event::Scalar(text, _, anchor, _) => {
                let size = text.len().max(1);
                if *anchor > 0 {
                    self.anchors.insert(*anchor, size);
                }
                self.add_text(size);
            }
            Event::Alias(anchor) => {
                let size = self.anchors.get(anchor).copied().unwrap_or(1);
                self.expanded = self.expanded.saturating_add(size);
                self.add_text(size);
                if self.expanded > MAX_ALIAS_EXPANSION {
                    self.fail(
                        ScanFailureKind::AliasesTooLarge,
                        format!("aliases here would expand the document by more than {MAX_ALIAS_EXPANSION} bytes"),
                        mark,
                    );
                }
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                // An unanchored collection is tracked too (as id 0) so that ends pair up.
                self.anchored.push((*anchor, 1));
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some((anchor, inside)) = self.anchored.pop() {
                    if anchor > 0 {
                        self.anchors.insert(anchor, inside);
                    }
                    if let Some((_, outer)) = self.anchored.last_mut() {
                        *outer = outer.saturating_add(inside);
                    }
                }
            }
            _ => {}
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        self.weigh(&event, mark);
        let open = self.stack.len();
        if let Some(Frame::SkipKey { depth }) = self.stack.last_mut() {
            match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    *depth += 1;
                    if open + *depth > MAX_DEPTH {
                        self.fail(
                            ScanFailureKind::TooDeep,
                            format!("the YAML nests deeper than the {MAX_DEPTH} levels an obs.yaml may"),
                            mark,
                        );
                    }
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    *depth -= 1;
                    if *depth == 0 {
                        self.stack.pop();
                        // The skipped key still needs a value slot in its map.
                        if let Some(Frame::Map { path, entry }) = self.stack.last_mut() {
                            *entry = Some((child_of_map(path, "?"), None));
                        }
                    }
                }
                _ => {}
            }
            return;
        }
        match event {
            Event::Scalar(text, ..) => {
                if let Some((path, key)) = self.node_path(Some(&text), mark) {
                    self.record(path, key, mark);
                }
            }
            Event::Alias(_) => {
                if let Some((path, key)) = self.node_path(Some("*alias"), mark) {
                    self.record(path, key, mark);
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if self.expecting_key() {
                    self.stack.push(Frame::SkipKey { depth: 1 });
                    return;
                }
                let Some((path, key)) = self.node_path(None, mark) else {
                    return;
                };
                self.record(path.clone(), key, mark);
                self.stack.push(if matches!(event, Event::MappingStart(..)) {
                    Frame::Map { path, entry: None }
                } else {
                    Frame::Seq { path, next: 0 }
                });
                self.index.max_depth = self.index.max_depth.max(self.stack.len());
                if self.stack.len() > MAX_DEPTH {
                    self.fail(
                        ScanFailureKind::TooDeep,
                        format!("the YAML nests deeper than the {MAX_DEPTH} levels an obs.yaml may"),
                        mark,
                    );
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
service:
  name: demo
alerts:
  - group: g
    rules:
      - name: A
        for: 5m
      - name: B
labels: {a: 1, b: [x, y]}
";

    #[test]
    fn finds_nested_values_and_keys() {
        let index = PositionIndex::build(DOC).unwrap();
        assert_eq!(index.value("service.name"), Some(Position { line: 2, column: 9 }));
        assert_eq!(
            index.value("alerts[0].rules[0].for"),
            Some(Position { line: 7, column: 14 })
        );
        assert_eq!(
            index.key("alerts[0].rules[0].for"),
            Some(Position { line: 7, column: 9 })
        );
        assert_eq!(
            index.value("alerts[0].rules[1].name"),
            Some(Position { line: 8, column: 15 })
        );
        assert_eq!(index.value("labels.b[1]"), Some(Position { line: 9, column: 23 }));
    }

    #[test]
    fn falls_back_to_the_nearest_written_ancestor() {
        let index = PositionIndex::build(DOC).unwrap();
        assert_eq!(
            index.value("alerts[0].rules[1].severity"),
            index.value("alerts[0].rules[1]")
        );
        assert_eq!(index.value("stack.prometheus"), index.value(""));
    }

    #[test]
    fn finds_a_key_written_twice_at_its_second_place() {
        let index = PositionIndex::build("service:\n  labels:\n    team: a\n    tier: b\n    team: c\n").unwrap();
        assert_eq!(
            index.first_duplicate_key(),
            Some(&("service.labels.team".to_string(), Position { line: 5, column: 5 }))
        );
        let same_key_elsewhere = PositionIndex::build("a: {x: 1}\nb: {x: 2}\nc: [{x: 1}, {x: 2}]\n").unwrap();
        assert_eq!(same_key_elsewhere.first_duplicate_key(), None);
    }

    #[test]
    fn names_sequence_items_by_their_index() {
        for (index, expected) in [
            (0, "a[0]"),
            (7, "a[7]"),
            (10, "a[10]"),
            (1234, "a[1234]"),
            (u32::MAX as usize, "a[4294967295]"),
        ] {
            let path = item_of_seq("a", index);
            assert_eq!(path, expected);
            assert_eq!(
                path.capacity(),
                path.len(),
                "exact, so the table's copy does not reallocate"
            );
        }
        assert_eq!(child_of_map("", "service"), "service");
        assert_eq!(child_of_map("service", "name"), "service.name");
    }

    #[test]
    fn knows_an_empty_document() {
        assert!(!PositionIndex::build("# only a comment\n").unwrap().has_content());
        assert_eq!(PositionIndex::build(DOC).unwrap().max_depth(), 5);
        assert!(PositionIndex::build("a: 1").unwrap().has_content());
    }

    #[test]
    fn reports_where_syntax_breaks() {
        let failure = PositionIndex::build("a: [1, 2\nb: 3\n").unwrap_err();
        assert_eq!(failure.position.line, 2);
    }
}
