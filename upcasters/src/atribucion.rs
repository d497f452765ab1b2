//! `ConversionAtribuida`, `FraudeDetectado`, `AtribucionRevertida`: 1.0 → 1.1.
//!
//! 1.1 added `interacciones`: the journey's interactions the attribution looked at, which
//! the tracking service discards when the conversion turns out to be fraud (it used to
//! learn every interaction of every journey from the log for that; now the fraud events
//! say which). A 1.0 event did not name them; the one interaction it does name is the
//! conversion's own, so that is what its `interacciones` holds. Everything else is
//! carried as stored.

use cqrs_es::persist::SerializedEvent;
use serde_json::{Map, Value};

use crate::legacy::{object, text};

pub fn v1_0_to_v1_1(_event: &SerializedEvent, old: &Map<String, Value>) -> Option<Value> {
    let conversion = object(old, "conversion")?;
    let interaccion_id = uuid::Uuid::parse_str(&text(conversion, "interaccion_id")?).ok()?;
    let mut new = old.clone();
    new.insert(
        "interacciones".to_string(),
        Value::Array(vec![Value::String(interaccion_id.to_string())]),
    );
    Some(Value::Object(new))
}
