//! Every path that reads stored events goes through here, so code only ever sees the
//! newest version of each event.

use std::sync::Arc;

use cqrs_es::persist::{EventUpcaster, SerializedEvent};

/// The upcasters of `alpes-upcasters`, shared by every reader of a store.
pub type Upcasters = Arc<Vec<Box<dyn EventUpcaster>>>;

/// Applies, in order, every upcaster that can upcast the event as it is at that point,
/// so chains such as 1.0 → 1.1 → 2.0 carry an old event all the way.
pub fn upcast(event: SerializedEvent, upcasters: &[Box<dyn EventUpcaster>]) -> SerializedEvent {
    upcasters.iter().fold(event, |event, upcaster| {
        if upcaster.can_upcast(&event.event_type, &event.event_version) {
            upcaster.upcast(event)
        } else {
            event
        }
    })
}
