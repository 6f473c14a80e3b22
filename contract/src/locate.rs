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

/// Where every node of a YAML document is, keyed by spec path.
#[derive(Debug, Default, Clone)]
pub struct PositionIndex {
    values: HashMap<String, Position>,
    keys: HashMap<String, Position>,
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
            if let Some(position) = self.values.get(current) {
                return Some(*position);
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
        self.keys.get(path).copied().or_else(|| self.value(path))
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
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

enum Frame {
    Map {
        path: String,
        key: Option<String>,
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
    /// Path of the node this event starts, or `None` when the event is a mapping key.
    fn node_path(&mut self, key_text: Option<&str>, mark: Marker) -> Option<String> {
        let position = Position {
            line: mark.line(),
            column: mark.col() + 1,
        };
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map { path, key }) => match key.take() {
                Some(key) => Some(child_of_map(path, &key)),
                None => {
                    let key_text = key_text.unwrap_or_default().to_string();
                    let child = child_of_map(path, &key_text);
                    match self.index.keys.entry(child) {
                        hashbrown::hash_map::Entry::Occupied(first) => {
                            self.index.duplicates.push((first.key().clone(), position));
                        }
                        hashbrown::hash_map::Entry::Vacant(slot) => {
                            slot.insert(position);
                        }
                    }
                    *key = Some(key_text);
                    None
                }
            },
            Some(Frame::Seq { path, next }) => {
                let child = format!("{path}[{next}]");
                *next += 1;
                Some(child)
            }
            Some(Frame::SkipKey { .. }) => None,
        }
    }

    fn record(&mut self, path: String, mark: Marker) {
        self.index.has_content = true;
        self.index.values.entry(path).or_insert(Position {
            line: mark.line(),
            column: mark.col() + 1,
        });
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
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
                        if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                            *key = Some("?".into());
                        }
                    }
                }
                _ => {}
            }
            return;
        }
        match event {
            Event::Scalar(text, ..) => {
                if let Some(path) = self.node_path(Some(&text), mark) {
                    self.record(path, mark);
                }
            }
            Event::Alias(_) => {
                if let Some(path) = self.node_path(Some("*alias"), mark) {
                    self.record(path, mark);
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if self.expecting_key() {
                    self.stack.push(Frame::SkipKey { depth: 1 });
                    return;
                }
                let Some(path) = self.node_path(None, mark) else {
                    return;
                };
                self.record(path.clone(), mark);
                self.stack.push(if matches!(event, Event::MappingStart(..)) {
                    Frame::Map { path, key: None }
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
