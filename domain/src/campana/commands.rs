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
        /// The partner's share of the conversion in basis points, 1..=10,000: what a flat
        /// amount is multiplied by, so a conversion credited to several partners pays its
        /// flat amount once in total. 10,000 when one partner is credited;
        /// [`crate::rules::attribution::participaciones_bps`] computes it from the credits.
        participacion_bps: u32,
    },
    LiberarPresupuesto {
        comision_id: Uuid,
    },
}
