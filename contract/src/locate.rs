//! Maps spec paths (`alerts[2].rules[0].for`) to the line and column where they are written,
//! so that validation errors, which see only typed values, can point into the file.

use std::collections::HashMap;

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

/// Why the YAML could not be indexed: its syntax, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanFailure {
    pub message: String,
    pub position: Position,
}

impl PositionIndex {
    /// Indexes `text` in one linear pass, or says where its syntax breaks.
    pub fn build(text: &str) -> Result<Self, ScanFailure> {
        let mut builder = Builder::default();
        Parser::new_from_str(text)
            .load(&mut builder, false)
            .map_err(|error| ScanFailure {
                message: error.info().to_string(),
                position: Position {
                    line: error.marker().line(),
                    column: error.marker().col() + 1,
                },
            })?;
        Ok(builder.index)
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
                        std::collections::hash_map::Entry::Occupied(first) => {
                            self.index.duplicates.push((first.key().clone(), position));
                        }
                        std::collections::hash_map::Entry::Vacant(slot) => {
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
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if let Some(Frame::SkipKey { depth }) = self.stack.last_mut() {
            match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => *depth += 1,
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
