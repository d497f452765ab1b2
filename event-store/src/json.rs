//! JSON text of the payloads and metadata the stores write.

use serde_json::Value;

/// `value` as compact JSON text. `Value`'s `Display` gives the same text, but writes it
/// through a `fmt::Formatter` a fragment at a time, which made it a sixth of the ingest
/// path's instructions; serializing straight into a buffer costs about half as much.
pub(crate) fn json_text(value: &Value) -> String {
    // Serializing a `Value` cannot fail (its map keys are strings); Display is the
    // fallback all the same, rather than a panic.
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_text_is_what_display_gives() {
        let value = json!({
            "InteraccionRegistrada": {"tipo": "Click", "texto": "comillas \" y \\ y \n é ✓",
                "n": [1, 2.5, -3], "vacio": null, "si": true, "anidado": {"a": {}}}
        });
        assert_eq!(json_text(&value), value.to_string());
        assert_eq!(json_text(&json!({})), "{}");
    }
}
