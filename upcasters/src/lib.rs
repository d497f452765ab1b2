//! Upcasters: events are stored forever, so when an event's schema changes, an upcaster
//! carries the old payloads forward to the newest version on every read (aggregate loads,
//! projectors, the saga, the audit export).
//!
//! | event | chain |
//! |---|---|
//! | `InteraccionRegistrada` | 1.0 → 1.1 → 2.0 |
//! | `CampanaCreada` | 1.0 → 2.0 |
//! | `ComisionReservada` | 1.0 → 2.0 |
//! | `ConversionAtribuida`, `FraudeDetectado`, `AtribucionRevertida` | 1.0 → 1.1 |
//!
//! An upcaster that meets a payload it cannot convert (a missing field, an unknown
//! interaction type, a campaign id that is not a UUID) leaves the event exactly as stored:
//! the reader then fails loudly on the old version, naming the stream, sequence and
//! version, instead of defaulting anything silently.

mod atribucion;
mod campana_creada;
mod comision_reservada;
mod interaccion_registrada;
mod legacy;

use std::sync::LazyLock;

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde_json::Value;

pub use legacy::hash_ip;

/// Every schema change: (event type, from version, to version, conversion). The steps of
/// one event type form a chain, in order.
const STEPS: [(&str, &str, &str, Convert); 7] = [
    (
        "InteraccionRegistrada",
        "1.0",
        "1.1",
        interaccion_registrada::v1_0_to_v1_1,
    ),
    (
        "InteraccionRegistrada",
        "1.1",
        "2.0",
        interaccion_registrada::v1_1_to_v2_0,
    ),
    ("CampanaCreada", "1.0", "2.0", campana_creada::v1_0_to_v2_0),
    (
        "ComisionReservada",
        "1.0",
        "2.0",
        comision_reservada::v1_0_to_v2_0,
    ),
    (
        "ConversionAtribuida",
        "1.0",
        "1.1",
        atribucion::v1_0_to_v1_1,
    ),
    ("FraudeDetectado", "1.0", "1.1", atribucion::v1_0_to_v1_1),
    (
        "AtribucionRevertida",
        "1.0",
        "1.1",
        atribucion::v1_0_to_v1_1,
    ),
];

/// The newest version of every event type whose schema has changed; every other event is
/// still at 1.0.
pub const NEWEST_VERSIONS: [(&str, &str); 6] = [
    ("InteraccionRegistrada", "2.0"),
    ("CampanaCreada", "2.0"),
    ("ComisionReservada", "2.0"),
    ("ConversionAtribuida", "1.1"),
    ("FraudeDetectado", "1.1"),
    ("AtribucionRevertida", "1.1"),
];

/// One upcaster per event type whose schema changed: its whole chain.
pub fn all() -> Vec<Box<dyn EventUpcaster>> {
    NEWEST_VERSIONS
        .iter()
        .map(|(event_type, _)| Box::new(Chain::of(event_type)) as Box<dyn EventUpcaster>)
        .collect()
}

/// Every schema change as (event type, from version, to version), in chain order.
pub fn changes() -> Vec<(&'static str, &'static str, &'static str)> {
    STEPS
        .iter()
        .map(|(event_type, from, to, _)| (*event_type, *from, *to))
        .collect()
}

/// Upcasts one event with [`all`] (built once).
pub fn upcast_fully(event: SerializedEvent) -> SerializedEvent {
    static UPCASTERS: LazyLock<Vec<Box<dyn EventUpcaster>>> = LazyLock::new(all);
    UPCASTERS.iter().fold(event, |event, upcaster| {
        if upcaster.can_upcast(&event.event_type, &event.event_version) {
            upcaster.upcast(event)
        } else {
            event
        }
    })
}

/// Converts the inner payload of one event (the object under the event-type key) from one
/// version to the next, given the whole stored event for context (aggregate id, metadata).
/// `None` means "cannot convert".
type Convert = fn(&SerializedEvent, &serde_json::Map<String, Value>) -> Option<Value>;

/// The steps of one event type, run all-or-nothing: an event either reaches the newest
/// version or stays exactly as stored, never half-way (a half-upcast 1.1 would carry a raw
/// IP, and would blame the wrong version when it fails to read).
struct Chain {
    event_type: &'static str,
    steps: Vec<(&'static str, &'static str, Convert)>,
}

impl Chain {
    fn of(event_type: &'static str) -> Self {
        Chain {
            event_type,
            steps: STEPS
                .iter()
                .filter(|(step_type, ..)| *step_type == event_type)
                .map(|(_, from, to, convert)| (*from, *to, *convert))
                .collect(),
        }
    }

    fn upcast_all_or_nothing(&self, event: &SerializedEvent) -> Option<SerializedEvent> {
        let first = self
            .steps
            .iter()
            .position(|(from, ..)| *from == event.event_version)?;
        let mut current = event.clone();
        for (_, to, convert) in &self.steps[first..] {
            let inner = current.payload.get(self.event_type)?.as_object()?;
            let converted = convert(&current, inner)?;
            let mut payload = serde_json::Map::new();
            payload.insert(self.event_type.to_string(), converted);
            current.payload = Value::Object(payload);
            current.event_version = (*to).to_string();
        }
        Some(current)
    }
}

impl EventUpcaster for Chain {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        event_type == self.event_type && self.steps.iter().any(|(from, ..)| *from == event_version)
    }

    fn upcast(&self, event: SerializedEvent) -> SerializedEvent {
        match self.upcast_all_or_nothing(&event) {
            Some(upcast) => upcast,
            None => {
                tracing::warn!(
                    aggregate_id = %event.aggregate_id,
                    sequence = event.sequence,
                    event_type = %event.event_type,
                    version = %event.event_version,
                    "event cannot be upcast; left as stored"
                );
                event
            }
        }
    }
}
