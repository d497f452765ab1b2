//! Canonical JSON: object keys sorted, no insignificant white space. Written by hand rather
//! than relying on serde_json's map order, which a crate elsewhere in the build could change
//! (its `preserve_order` feature) and silently break every hash.

use std::fmt::Write;

use serde_json::Value;

/// Appends the canonical form of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            let sorted = map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b);
            if sorted {
                for (index, (key, value)) in map.iter().enumerate() {
                    write_member(index, key, value, out);
                }
            } else {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                for (index, (key, value)) in entries.into_iter().enumerate() {
                    write_member(index, key, value, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(text) => write_string(text, out),
        Value::Number(number) => {
            // Writing into a String cannot fail.
            let _ = write!(out, "{number}");
        }
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Null => out.push_str("null"),
    }
}

fn write_member(index: usize, key: &str, value: &Value, out: &mut String) {
    if index > 0 {
        out.push(',');
    }
    write_string(key, out);
    out.push(':');
    write_canonical(value, out);
}

/// Appends `text` as a JSON string literal, escaped exactly as serde_json escapes it
/// (see [`write_escaped`]).
pub fn write_string(text: &str, out: &mut String) {
    out.push('"');
    // Writing to a String cannot fail.
    let _ = write_escaped(text, out);
    out.push('"');
}

/// Writes `text` to `out` as the inside of a JSON string literal, escaped exactly as
/// serde_json escapes it: `\"`, `\\`, the short escapes of `\b \f \n \r \t`, `\u00xx` for
/// other control characters; nothing else.
pub fn write_escaped<W: Write + ?Sized>(text: &str, out: &mut W) -> std::fmt::Result {
    // Most strings (ids, names, times) need no escape: check them all at once.
    let needs_escape = text.bytes().fold(false, |any, byte| {
        any | (byte < 0x20) | (byte == b'"') | (byte == b'\\')
    });
    if !needs_escape {
        return out.write_str(text);
    }
    let mut copied = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Every escaped byte is ASCII, so `index` is a character boundary.
        out.write_str(&text[copied..index])?;
        if escape.is_empty() {
            write!(out, "\\u{byte:04x}")?;
        } else {
            out.write_str(escape)?;
        }
        copied = index + 1;
    }
    out.write_str(&text[copied..])
}

/// The canonical form of `value`.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_at_every_depth() {
        let value: Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[{"z":1,"y":2}],"c":"x"}}"#).unwrap();
        assert_eq!(
            canonical(&value),
            r#"{"a":{"c":"x","d":[{"y":2,"z":1}]},"b":1}"#
        );
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let every_ascii: String = (0u8..=0x7f).map(char::from).collect();
        for text in [
            every_ascii.as_str(),
            "",
            "plain",
            "naïve – 東京 \u{2028} \u{1f600}",
            "\"quoted\" and \\ back\\slash",
        ] {
            let mut ours = String::new();
            write_string(text, &mut ours);
            assert_eq!(ours, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn scalars_are_written_as_serde_json_writes_them() {
        let value: Value =
            serde_json::from_str(r#"[1,-7,18446744073709551615,1.5,-0.0,1e300,true,false,null]"#)
                .unwrap();
        let Value::Array(items) = &value else {
            unreachable!()
        };
        for item in items {
            assert_eq!(canonical(item), item.to_string());
        }
    }
}
