use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DatosComision;

/// Commands of the Comision aggregate.
// Commands and events are moved once per handling; boxing the large variant would only
// add noise to every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ComisionCommand {
    /// Record a commission the campaign reserved against its budget.
    ReservarComision {
        /// [`crate::ids::comision_id`] of the conversion and partner.
        id: Uuid,
        /// The facts of the commission.
        datos: DatosComision,
    },
    /// Allowed once the hold period has passed; `ahora` is the caller's clock.
    AprobarComision {
        /// The caller's clock.
        ahora: DateTime<Utc>,
        /// The approval batch, when approved in one.
        lote_id: Option<Uuid>,
    },
    /// Record that an approved commission was paid.
    PagarComision {
        /// The payment's reference (transfer, payout line); not blank.
        referencia_pago: String,
        /// The payment batch, when paid in one.
        lote_id: Option<Uuid>,
        /// The caller's clock.
        ahora: DateTime<Utc>,
    },
    /// Revert the commission (fraud, refund): the budget is released, a paid one clawed back.
    RevertirComision {
        /// Why; not blank.
        motivo: String,
    },
}
