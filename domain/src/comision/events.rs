use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DatosComision;
use crate::money::Money;

/// Events of the Comision aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ComisionEvent {
    ComisionReservada {
        id: Uuid,
        datos: DatosComision,
    },
    ComisionAprobada {
        aprobada_en: DateTime<Utc>,
        lote_id: Option<Uuid>,
    },
    ComisionPagada {
        referencia_pago: String,
        lote_id: Option<Uuid>,
        pagada_en: DateTime<Utc>,
    },
    /// `clawback` is true when the commission had already been paid.
    ComisionRevertida {
        campana_id: Uuid,
        conversion_id: Uuid,
        partner_id: Uuid,
        motivo: String,
        monto: Money,
        clawback: bool,
    },
}

impl DomainEvent for ComisionEvent {
    fn event_type(&self) -> String {
        match self {
            ComisionEvent::ComisionReservada { .. } => "ComisionReservada",
            ComisionEvent::ComisionAprobada { .. } => "ComisionAprobada",
            ComisionEvent::ComisionPagada { .. } => "ComisionPagada",
            ComisionEvent::ComisionRevertida { .. } => "ComisionRevertida",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}
