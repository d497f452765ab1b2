use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DatosInteraccion;

/// Events of the Interaccion aggregate.
// Commands and events are moved once per handling; boxing the large variant would only
// add noise to every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InteraccionEvent {
    /// An interaction was registered.
    InteraccionRegistrada {
        /// The interaction's id.
        id: Uuid,
        /// What happened.
        datos: DatosInteraccion,
    },
    /// The interaction was discarded; it is kept for the audit trail, no longer counted.
    InteraccionDescartada {
        /// Why.
        motivo: String,
    },
}

impl DomainEvent for InteraccionEvent {
    fn event_type(&self) -> String {
        match self {
            InteraccionEvent::InteraccionRegistrada { .. } => "InteraccionRegistrada",
            InteraccionEvent::InteraccionDescartada { .. } => "InteraccionDescartada",
        }
        .to_string()
    }

    /// InteraccionRegistrada 1.0 and 1.1 are carried forward by alpes-upcasters.
    fn event_version(&self) -> String {
        match self {
            InteraccionEvent::InteraccionRegistrada { .. } => "2.0",
            InteraccionEvent::InteraccionDescartada { .. } => "1.0",
        }
        .to_string()
    }
}
