//! Where each key of the config file stands, so that errors found after decoding (a duplicate
//! source name, a missing credential) can still name a line and column.
//!
//! serde_yaml only reports positions for errors it raises itself; this index is built once from
//! the same text with a second, event-level parser and is consulted only when an error is printed.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column in the config file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Positions by path, in the form `sources[0].oauth2.client_id`.
#[derive(Debug, Default)]
pub struct PositionIndex {
    by_path: HashMap<String, Position>,
}

impl PositionIndex {
    pub fn build(text: &str) -> Self {
        let mut walker = Walker::default();
        // A syntax error is reported by serde_yaml with its own position; the index just stops.
        let _ = Parser::new_from_str(text).load(&mut walker, false);
        PositionIndex {
            by_path: walker.by_path,
        }
    }

    /// The position of `path`, or of the nearest enclosing path that is known.
    pub fn find(&self, path: &str) -> Option<Position> {
        let mut candidate = path;
        loop {
            if let Some(position) = self.by_path.get(candidate) {
                return Some(*position);
            }
            let cut = candidate.rfind(['.', '['])?;
            candidate = &candidate[..cut];
        }
    }
}

enum Frame {
    Mapping {
        path: String,
        pending_key: Option<String>,
        expecting_key: bool,
    },
    Sequence {
        path: String,
        next_index: usize,
    },
}

#[derive(Default)]
struct Walker {
    stack: Vec<Frame>,
    by_path: HashMap<String, Position>,
}

impl Walker {
    /// Called when a node starts: returns the node's path and records where it stands.
    fn enter_node(&mut self, mark: Marker) -> Option<String> {
        let position = Position {
            line: mark.line(),
            column: mark.col() + 1,
        };
        let path = match self.stack.last_mut() {
            None => String::new(),
            Some(Frame::Sequence { path, next_index }) => {
                let child = format!("{path}[{next_index}]");
                *next_index += 1;
                self.by_path.insert(child.clone(), position);
                child
            }
            Some(Frame::Mapping {
                path,
                pending_key,
                expecting_key,
            }) => {
                *expecting_key = true;
                let key = pending_key.take()?;
                if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                }
            }
        };
        Some(path)
    }

    /// A scalar in key position: remember it and where it is.
    fn take_key(&mut self, key: &str, mark: Marker) -> bool {
        if let Some(Frame::Mapping {
            path,
            pending_key,
            expecting_key,
        }) = self.stack.last_mut()
        {
            if *expecting_key {
                *expecting_key = false;
                let full = if path.is_empty() {
                    key.to_string()
                } else {
                    format!("{path}.{key}")
                };
                let position = Position {
                    line: mark.line(),
                    column: mark.col() + 1,
                };
                // A block mapping's start is reported at its first `:`; the first key is where
                // a reader sees the mapping begin.
                if let Some(start) = self.by_path.get_mut(path.as_str()) {
                    if (start.line, start.column) > (position.line, position.column) {
                        *start = position;
                    }
                }
                self.by_path.insert(full, position);
                *pending_key = Some(key.to_string());
                return true;
            }
        }
        false
    }
}

impl MarkedEventReceiver for Walker {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(value, ..) if self.take_key(&value, mark) => {}
            Event::Scalar(..) => {
                self.enter_node(mark);
            }
            Event::MappingStart(..) => {
                let path = self.enter_node(mark).unwrap_or_default();
                self.stack.push(Frame::Mapping {
                    path,
                    pending_key: None,
                    expecting_key: true,
                });
            }
            Event::SequenceStart(..) => {
                let path = self.enter_node(mark).unwrap_or_default();
                self.stack.push(Frame::Sequence {
                    path,
                    next_index: 0,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Alias(_) => {
                self.enter_node(mark);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_items_are_found_by_path() {
        let text = "global:\n  poll_interval: 1m\nsources:\n  - name: a\n    type: qlik\n  - name: b\n    oauth2:\n      client_id: x\n";
        let index = PositionIndex::build(text);
        assert_eq!(
            index.find("global.poll_interval"),
            Some(Position { line: 2, column: 3 })
        );
        assert_eq!(
            index.find("sources[1]"),
            Some(Position { line: 6, column: 5 })
        );
        assert_eq!(
            index.find("sources[1].name"),
            Some(Position { line: 6, column: 5 })
        );
        assert_eq!(
            index.find("sources[1].oauth2.client_id"),
            Some(Position { line: 8, column: 7 })
        );
        // An unknown deeper path falls back to its nearest known parent.
        assert_eq!(
            index.find("sources[0].type.nope"),
            Some(Position { line: 5, column: 5 })
        );
    }
}
