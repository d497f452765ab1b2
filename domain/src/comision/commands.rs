use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DatosComision;

/// Commands of the Comision aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ComisionCommand {
    ReservarComision {
        id: Uuid,
        datos: DatosComision,
    },
    /// Allowed once the hold period has passed; `ahora` is the caller's clock.
    AprobarComision {
        ahora: DateTime<Utc>,
        lote_id: Option<Uuid>,
    },
    PagarComision {
        referencia_pago: String,
        lote_id: Option<Uuid>,
        ahora: DateTime<Utc>,
    },
    RevertirComision {
        motivo: String,
    },
}
