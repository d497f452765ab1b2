use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DatosInteraccion;

/// Events of the Interaccion aggregate.
#[allow(
    clippy::large_enum_variant,
    reason = "built once and moved straight into the aggregate; boxing `datos` would change the API for nothing measurable"
)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InteraccionEvent {
    InteraccionRegistrada { id: Uuid, datos: DatosInteraccion },
    InteraccionDescartada { motivo: String },
}

impl DomainEvent for InteraccionEvent {
    fn event_type(&self) -> String {
        match self {
            InteraccionEvent::InteraccionRegistrada { .. } => "InteraccionRegistrada",
            InteraccionEvent::InteraccionDescartada { .. } => "InteraccionDescartada",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}
