//! A JSON tree that remembers where every key and value was written, so that a problem found by
//! validation (not only a syntax error) can name its line and column.
//!
//! The text is first checked by `serde_json`, whose syntax errors are precise; this reader then
//! walks the same (known valid) text once more to record positions, keeping keys in the order
//! written and keeping keys written twice, which a `serde_json::Value` would silently collapse.
//! String and number tokens are decoded by `serde_json` itself, so escapes and number forms are
//! read exactly as the rest of the system reads them.

use serde_json::{Number, Value};

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: u32,
    pub column: u32,
}

/// A JSON value with the position of its first character (absent for values given as data).
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub value: NodeValue,
    pub pos: Option<Pos>,
    /// Byte offset of the value's first character in the text, for mapping inside strings.
    pub offset: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeValue {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Node>),
    Object(Vec<Member>),
}

/// One `"key": value` pair of an object, in the order written.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub key: String,
    pub key_pos: Option<Pos>,
    pub value: Node,
}

impl Node {
    /// A tree without positions, for a config given as data rather than text.
    pub(crate) fn from_value(value: &Value) -> Node {
        let value = match value {
            Value::Null => NodeValue::Null,
            Value::Bool(b) => NodeValue::Bool(*b),
            Value::Number(n) => NodeValue::Number(n.clone()),
            Value::String(s) => NodeValue::String(s.clone()),
            Value::Array(items) => NodeValue::Array(items.iter().map(Node::from_value).collect()),
            Value::Object(map) => NodeValue::Object(
                map.iter()
                    .map(|(k, v)| Member {
                        key: k.clone(),
                        key_pos: None,
                        value: Node::from_value(v),
                    })
                    .collect(),
            ),
        };
        Node {
            value,
            pos: None,
            offset: None,
        }
    }

    /// Back to a plain value (a key written twice keeps its last value, as `serde_json` does).
    pub(crate) fn to_value(&self) -> Value {
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Number(n) => Value::Number(n.clone()),
            NodeValue::String(s) => Value::String(s.clone()),
            NodeValue::Array(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            NodeValue::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|m| (m.key.clone(), m.value.to_value()))
                    .collect(),
            ),
        }
    }

    /// How the value's kind reads in a message ("a string", "an array", ...).
    pub(crate) fn kind(&self) -> &'static str {
        match &self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Number(_) => "a number",
            NodeValue::String(_) => "a string",
            NodeValue::Array(_) => "an array",
            NodeValue::Object(_) => "an object",
        }
    }
}

/// Read positions from text that `serde_json` has already accepted. `None` only if the two
/// readers disagree, in which case the caller falls back to a tree without positions.
pub(crate) fn read(text: &str) -> Option<Node> {
    let mut reader = Reader {
        text,
        i: 0,
        line: 1,
        column: 1,
    };
    reader.skip_whitespace();
    let node = reader.value(0)?;
    reader.skip_whitespace();
    (reader.i == text.len()).then_some(node)
}

/// The position of the `char_index`-th decoded character of a string node, found by walking its
/// raw token (so escapes such as `\"` or `\u00e9` are accounted for).
pub(crate) fn string_char_pos(text: &str, node: &Node, char_index: usize) -> Option<Pos> {
    let (mut pos, offset) = (node.pos?, node.offset?);
    let raw = text.get(offset..)?;
    let mut chars = raw.chars().skip(1); // the opening quote
    pos.column += 1;
    for _ in 0..char_index {
        let consumed = match chars.next()? {
            '\\' => match chars.next()? {
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let code = u32::from_str_radix(&hex, 16).ok()?;
                    if (0xD800..0xDC00).contains(&code) {
                        // A surrogate pair is one character written as two escapes.
                        chars.by_ref().take(6).for_each(drop);
                        12
                    } else {
                        6
                    }
                }
                _ => 2,
            },
            _ => 1,
        };
        pos.column += consumed;
    }
    Some(pos)
}

/// Nesting limit matching `serde_json`'s, so both readers accept the same documents.
const MAX_DEPTH: usize = 128;

struct Reader<'a> {
    text: &'a str,
    i: usize,
    line: u32,
    column: u32,
}

impl Reader<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.i..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.bump();
        }
    }

    fn expect(&mut self, c: char) -> Option<()> {
        (self.bump()? == c).then_some(())
    }

    fn value(&mut self, depth: usize) -> Option<Node> {
        if depth > MAX_DEPTH {
            return None;
        }
        let pos = self.pos();
        let offset = self.i;
        let value = match self.peek()? {
            '{' => NodeValue::Object(self.object(depth)?),
            '[' => NodeValue::Array(self.array(depth)?),
            '"' => NodeValue::String(self.string()?),
            't' => self.literal("true", NodeValue::Bool(true))?,
            'f' => self.literal("false", NodeValue::Bool(false))?,
            'n' => self.literal("null", NodeValue::Null)?,
            _ => NodeValue::Number(self.number()?),
        };
        Some(Node {
            value,
            pos: Some(pos),
            offset: Some(offset),
        })
    }

    fn literal(&mut self, word: &str, value: NodeValue) -> Option<NodeValue> {
        if !self.text[self.i..].starts_with(word) {
            return None;
        }
        for _ in 0..word.len() {
            self.bump();
        }
        Some(value)
    }

    fn number(&mut self) -> Option<Number> {
        let start = self.i;
        while matches!(self.peek(), Some('0'..='9' | '-' | '+' | '.' | 'e' | 'E')) {
            self.bump();
        }
        serde_json::from_str(&self.text[start..self.i]).ok()
    }

    fn string(&mut self) -> Option<String> {
        let start = self.i;
        self.expect('"')?;
        loop {
            match self.bump()? {
                '"' => break,
                '\\' => {
                    self.bump()?;
                }
                _ => {}
            }
        }
        serde_json::from_str(&self.text[start..self.i]).ok()
    }

    fn array(&mut self, depth: usize) -> Option<Vec<Node>> {
        self.expect('[')?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek()? == ']' {
            self.bump();
            return Some(items);
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.bump()? {
                ',' => {}
                ']' => return Some(items),
                _ => return None,
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<Vec<Member>> {
        self.expect('{')?;
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek()? == '}' {
            self.bump();
            return Some(members);
        }
        loop {
            self.skip_whitespace();
            let key_pos = self.pos();
            let key = self.string()?;
            self.skip_whitespace();
            self.expect(':')?;
            self.skip_whitespace();
            let value = self.value(depth + 1)?;
            members.push(Member {
                key,
                key_pos: Some(key_pos),
                value,
            });
            self.skip_whitespace();
            match self.bump()? {
                ',' => {}
                '}' => return Some(members),
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_and_values() {
        let text = "{\n  \"a\": [1, \"x\"],\n  \"b\": {\"c\": true}\n}";
        let root = read(text).unwrap();
        let NodeValue::Object(members) = &root.value else {
            panic!("object expected")
        };
        assert_eq!(members[0].key_pos, Some(Pos { line: 2, column: 3 }));
        assert_eq!(members[0].value.pos, Some(Pos { line: 2, column: 8 }));
        assert_eq!(members[1].key_pos, Some(Pos { line: 3, column: 3 }));
        assert_eq!(
            root.to_value(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn columns_count_characters_and_escapes_map_back() {
        let text = "{\"é\": \"a\\\"b\\u00e9c\"}";
        let root = read(text).unwrap();
        let NodeValue::Object(members) = &root.value else {
            panic!("object expected")
        };
        let s = &members[0].value;
        assert_eq!(s.pos, Some(Pos { line: 1, column: 7 }));
        // decoded `a"béc`: index 3 is `é`, written `\u00e9` starting at column 12
        assert_eq!(string_char_pos(text, s, 3).unwrap().column, 12);
        assert_eq!(string_char_pos(text, s, 4).unwrap().column, 18);
    }
}
