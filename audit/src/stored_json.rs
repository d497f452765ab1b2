//! Stored JSON text that is canonical already, recognised without parsing it into a tree.
//!
//! This code stores payloads and metadata as serde_json writes maps whose keys it keeps
//! sorted, which is the canonical form: most stored text can be copied into the export as it
//! is. Checking that takes one pass over the bytes, where building a `serde_json::Value` and
//! writing it back allocates for every key and string. The check accepts only text that
//! parsing and [`crate::canonical::write_canonical`] would give back byte for byte; whatever
//! it does not accept (white space, unsorted, duplicate or escaped keys, fractions and
//! exponents, `-0`, `\u` and `\/` escapes, deep nesting, invalid JSON) goes through the tree,
//! so the export is the same either way.

/// Deeper text goes through the tree (serde_json itself stops at 128 levels).
const MAX_DEPTH: usize = 64;
/// Integers that surely fit `i64` and `u64`; longer ones may turn into floats when parsed.
const MAX_INTEGER_DIGITS: usize = 18;

/// Whether `text` is a JSON value in canonical form.
pub(crate) fn is_canonical(text: &str) -> bool {
    let mut scanner = Scanner::new(text);
    scanner.value(0) && scanner.at == text.len()
}

/// The string members of a canonical metadata object that the export reads.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct MetadataStrings<'a> {
    pub correlation_id: Option<&'a str>,
    pub causation_id: Option<&'a str>,
    pub actor: Option<&'a str>,
}

/// When `text` is a canonical JSON object: the values of its `correlation_id`,
/// `causation_id` and `actor` members that are strings (as `Value::get(..).as_str()` would
/// see them). `None` when the text is not canonical, or one of these strings has an escape.
pub(crate) fn canonical_metadata(text: &str) -> Option<MetadataStrings<'_>> {
    let mut scanner = Scanner::new(text);
    if scanner.bytes.first() != Some(&b'{') {
        return None;
    }
    let mut strings = MetadataStrings::default();
    let mut escaped = false;
    let complete = scanner.object(1, &mut |key, value| {
        let slot = match key {
            "correlation_id" => &mut strings.correlation_id,
            "causation_id" => &mut strings.causation_id,
            "actor" => &mut strings.actor,
            _ => return,
        };
        if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            escaped |= inner.contains('\\');
            *slot = Some(inner);
        }
    });
    (complete && scanner.at == text.len() && !escaped).then_some(strings)
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner {
            text,
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    fn value(&mut self, depth: usize) -> bool {
        match self.bytes.get(self.at) {
            Some(b'{') => self.object(depth + 1, &mut |_, _| {}),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().is_some(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.integer(),
            _ => false,
        }
    }

    /// An object whose keys are unescaped and strictly increasing (what a sorted map
    /// writes); `member` sees each key and the text of its value.
    fn object(&mut self, depth: usize, member: &mut dyn FnMut(&'a str, &'a str)) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        self.at += 1;
        if self.eat(b'}') {
            return true;
        }
        let mut previous: Option<&[u8]> = None;
        loop {
            let key_start = self.at + 1;
            if self.bytes.get(self.at) != Some(&b'"') || self.string() != Some(false) {
                return false;
            }
            let key = &self.bytes[key_start..self.at - 1];
            if previous.is_some_and(|previous| previous >= key) {
                return false;
            }
            previous = Some(key);
            if !self.eat(b':') {
                return false;
            }
            let value_start = self.at;
            if !self.value(depth) {
                return false;
            }
            member(
                &self.text[key_start..key_start + key.len()],
                &self.text[value_start..self.at],
            );
            if !self.eat(b',') {
                return self.eat(b'}');
            }
        }
    }

    fn array(&mut self, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        self.at += 1;
        if self.eat(b']') {
            return true;
        }
        loop {
            if !self.value(depth) {
                return false;
            }
            if !self.eat(b',') {
                return self.eat(b']');
            }
        }
    }

    /// A string with only the escapes serde_json writes in short form; `Some(true)` when it
    /// has any.
    fn string(&mut self) -> Option<bool> {
        self.at += 1;
        let mut escaped = false;
        loop {
            match *self.bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some(escaped);
                }
                b'\\' => match self.bytes.get(self.at + 1)? {
                    b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => {
                        self.at += 2;
                        escaped = true;
                    }
                    _ => return None,
                },
                0x00..=0x1f => return None,
                _ => self.at += 1,
            }
        }
    }

    fn literal(&mut self, literal: &[u8]) -> bool {
        let found = self.bytes[self.at..].starts_with(literal);
        if found {
            self.at += literal.len();
        }
        found
    }

    /// An integer as serde_json writes an `i64` or `u64`: no leading zero, no `-0`.
    fn integer(&mut self) -> bool {
        let negative = self.eat(b'-');
        let digits_start = self.at;
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        let digits = &self.bytes[digits_start..self.at];
        let well_formed = match digits {
            [] => false,
            [b'0'] => !negative,
            [b'0', ..] => false,
            _ => digits.len() <= MAX_INTEGER_DIGITS,
        };
        well_formed && !matches!(self.bytes.get(self.at), Some(b'.' | b'e' | b'E'))
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.bytes.get(self.at) == Some(&byte);
        if found {
            self.at += 1;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::canonical;
    use serde_json::Value;

    /// Accepted text is exactly what the tree gives back.
    fn agrees_with_the_tree(text: &str) -> bool {
        let accepted = is_canonical(text);
        if accepted {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(canonical(&value), text, "accepted but not canonical");
        }
        accepted
    }

    #[test]
    fn canonical_text_is_accepted() {
        for text in [
            r#"{"a":1,"b":[true,false,null,"x\"y\\z\n"],"c":{"d":-12,"e":0}}"#,
            r#""plain""#,
            "0",
            "[]",
            "{}",
            r#"{"n":123456789012345678,"note":"naïve 東京"}"#,
        ] {
            assert!(agrees_with_the_tree(text), "{text}");
        }
    }

    #[test]
    fn anything_the_tree_would_rewrite_is_refused() {
        for text in [
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{ "a":1}"#,
            r#"{"a":1} "#,
            r#"{"a\"b":1}"#,
            r#"{"a":1.5}"#,
            r#"{"a":1e3}"#,
            r#"{"a":-0}"#,
            r#"{"a":01}"#,
            r#"{"a":1234567890123456789}"#,
            r#"{"a":"\u00e9"}"#,
            r#"{"a":"\/"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":tru}"#,
            r#"{"a":1,}"#,
            r#"[1,]"#,
            "",
            "nul",
        ] {
            assert!(!agrees_with_the_tree(text), "{text}");
        }
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(!is_canonical(&deep));
    }

    #[test]
    fn metadata_strings_are_read_as_the_tree_reads_them() {
        let strings =
            canonical_metadata(r#"{"actor":"ana","correlation_id":"j-1","other":{"actor":"x"}}"#)
                .unwrap();
        assert_eq!(strings.actor, Some("ana"));
        assert_eq!(strings.correlation_id, Some("j-1"));
        assert_eq!(strings.causation_id, None);
        let not_a_string = canonical_metadata(r#"{"causation_id":7}"#).unwrap();
        assert_eq!(not_a_string.causation_id, None);
        assert!(canonical_metadata(r#"{"actor":"a\"b"}"#).is_none());
        assert!(canonical_metadata(r#"["actor"]"#).is_none());
        assert!(canonical_metadata(r#"{"b":1,"a":2}"#).is_none());
    }
}
