//! Upcasters: events are stored forever, so when an event's schema changes, an upcaster
//! carries the old payloads forward to the newest version on every read (aggregate loads,
//! projectors, the saga, the audit export).
//!
//! | event | chain |
//! |---|---|
//! | `InteraccionRegistrada` | 1.0 → 1.1 → 2.0 |
//! | `CampanaCreada` | 1.0 → 2.0 |
//! | `ComisionReservada` | 1.0 → 2.0 |
//!
//! An upcaster that meets a payload it cannot convert (a missing field, an unknown
//! interaction type, a campaign id that is not a UUID) leaves the event exactly as stored:
//! the reader then fails loudly on the old version, naming the stream, sequence and
//! version, instead of defaulting anything silently.

mod campana_creada;
mod comision_reservada;
mod interaccion_registrada;
mod legacy;

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde_json::Value;

pub use legacy::hash_ip;

/// Every schema change: (event type, from version, to version, conversion), in the order
/// the upcasters must run — a chain's steps follow each other.
const STEPS: [(&str, &str, &str, Convert); 4] = [
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
];

/// Every upcaster, in the order they must run.
pub fn all() -> Vec<Box<dyn EventUpcaster>> {
    STEPS
        .iter()
        .map(|(event_type, from, to, convert)| {
            Box::new(Step::new(event_type, from, to, *convert)) as Box<dyn EventUpcaster>
        })
        .collect()
}

/// Every schema change as (event type, from version, to version), in chain order.
pub fn changes() -> Vec<(&'static str, &'static str, &'static str)> {
    STEPS
        .iter()
        .map(|(event_type, from, to, _)| (*event_type, *from, *to))
        .collect()
}

/// The newest version of every event type whose schema has changed; every other event is
/// still at 1.0.
pub const NEWEST_VERSIONS: [(&str, &str); 3] = [
    ("InteraccionRegistrada", "2.0"),
    ("CampanaCreada", "2.0"),
    ("ComisionReservada", "2.0"),
];

/// Converts the inner payload of one event (the object under the event-type key) from one
/// version to the next, given the whole stored event for context (aggregate id, metadata).
/// `None` means "cannot convert": the event is left as stored.
type Convert = fn(&SerializedEvent, &serde_json::Map<String, Value>) -> Option<Value>;

/// One step of a chain: `event_type` at exactly `from` becomes `to`.
struct Step {
    event_type: &'static str,
    from: &'static str,
    to: &'static str,
    convert: Convert,
}

impl Step {
    fn new(
        event_type: &'static str,
        from: &'static str,
        to: &'static str,
        convert: Convert,
    ) -> Self {
        Step {
            event_type,
            from,
            to,
            convert,
        }
    }

    fn inner<'a>(&self, event: &'a SerializedEvent) -> Option<&'a serde_json::Map<String, Value>> {
        event.payload.get(self.event_type)?.as_object()
    }
}

impl EventUpcaster for Step {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        event_type == self.event_type && event_version == self.from
    }

    fn upcast(&self, event: SerializedEvent) -> SerializedEvent {
        let converted = self
            .inner(&event)
            .and_then(|inner| (self.convert)(&event, inner));
        match converted {
            Some(inner) => {
                let mut payload = serde_json::Map::new();
                payload.insert(self.event_type.to_string(), inner);
                SerializedEvent {
                    event_version: self.to.to_string(),
                    payload: Value::Object(payload),
                    ..event
                }
            }
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

/// Runs every upcaster of [`all`] over one event, in order.
pub fn upcast_fully(event: SerializedEvent) -> SerializedEvent {
    all().iter().fold(event, |event, upcaster| {
        if upcaster.can_upcast(&event.event_type, &event.event_version) {
            upcaster.upcast(event)
        } else {
            event
        }
    })
}
