use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{DatosCampana, ReglaComision};
use crate::money::Money;
use crate::tipos::TipoConversion;

/// Commands of the Campana aggregate.
// Commands and events are moved once per handling; boxing the large variant would only
// add noise to every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CampanaCommand {
    CrearCampana {
        id: Uuid,
        datos: DatosCampana,
    },
    ActivarCampana,
    PausarCampana,
    FinalizarCampana,
    CancelarCampana {
        motivo: String,
    },
    ActualizarReglaComision {
        tipo_conversion: TipoConversion,
        regla: ReglaComision,
    },
    AmpliarPresupuesto {
        monto: Money,
    },
    /// Reserve the commission of one partner credit against the budget. The campaign owns
    /// the commission rule, so it computes the amount.
    ReservarPresupuesto {
        comision_id: Uuid,
        conversion_id: Uuid,
        partner_id: Uuid,
        tipo_conversion: TipoConversion,
        /// The partner's credited share of the conversion value.
        credito: Money,
    },
    LiberarPresupuesto {
        comision_id: Uuid,
    },
}
