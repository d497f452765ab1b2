use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DatosComision;
use crate::money::Money;

/// Events of the Comision aggregate.
// Commands and events are moved once per handling; boxing the large variant would only
// add noise to every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ComisionEvent {
    /// The commission was reserved against the campaign budget.
    ComisionReservada {
        /// The commission's id.
        id: Uuid,
        /// The facts of the commission.
        datos: DatosComision,
    },
    /// The hold period passed and the commission was approved for payment.
    ComisionAprobada {
        /// When.
        aprobada_en: DateTime<Utc>,
        /// The approval batch, when approved in one.
        lote_id: Option<Uuid>,
    },
    /// The partner was paid.
    ComisionPagada {
        /// The payment's reference.
        referencia_pago: String,
        /// The payment batch, when paid in one.
        lote_id: Option<Uuid>,
        /// When.
        pagada_en: DateTime<Utc>,
    },
    /// The commission was reverted; it carries what the saga needs to release the budget.
    ComisionRevertida {
        /// The campaign whose budget is released.
        campana_id: Uuid,
        /// The conversion the commission was for.
        conversion_id: Uuid,
        /// The partner that earned it.
        partner_id: Uuid,
        /// Why.
        motivo: String,
        /// The commission amount.
        monto: Money,
        /// True when the commission had already been paid, so the money must be recovered.
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

    /// ComisionReservada 1.0 is carried forward by alpes-upcasters.
    fn event_version(&self) -> String {
        match self {
            ComisionEvent::ComisionReservada { .. } => "2.0",
            _ => "1.0",
        }
        .to_string()
    }
}
