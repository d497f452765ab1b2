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
    /// Create the campaign as a draft (`Borrador`).
    CrearCampana {
        /// The campaign's id.
        id: Uuid,
        /// Everything that describes the campaign.
        datos: DatosCampana,
    },
    /// Start (or resume) the campaign: from `Borrador` or `Pausada`.
    ActivarCampana,
    /// Stop an active campaign for a while.
    PausarCampana,
    /// End an active or paused campaign for good.
    FinalizarCampana,
    /// Call the campaign off for good, from any state before `Finalizada`.
    CancelarCampana {
        /// Why it is called off; not blank.
        motivo: String,
    },
    /// Replace the commission rule of one conversion type, while the campaign is open.
    ActualizarReglaComision {
        /// The conversion type the rule pays for.
        tipo_conversion: TipoConversion,
        /// The new rule.
        regla: ReglaComision,
    },
    /// Add to the budget, while the campaign is open.
    AmpliarPresupuesto {
        /// The amount to add: positive, in the budget currency.
        monto: Money,
    },
    /// Reserve the commission of one partner credit against the budget. The campaign owns
    /// the commission rule, so it computes the amount.
    ReservarPresupuesto {
        /// The commission, [`crate::ids::comision_id`] of the conversion and partner.
        comision_id: Uuid,
        /// The conversion (interaction) the commission is for.
        conversion_id: Uuid,
        /// The partner that earns the commission.
        partner_id: Uuid,
        /// Which rule of the campaign pays for it.
        tipo_conversion: TipoConversion,
        /// The partner's credited share of the conversion value.
        credito: Money,
        /// The partner's share of the conversion in basis points, 1..=10,000: what a flat
        /// amount is multiplied by, so a conversion credited to several partners pays its
        /// flat amount once in total. 10,000 when one partner is credited;
        /// [`crate::rules::attribution::participaciones_bps`] computes it from the credits.
        participacion_bps: u32,
    },
    /// Release a reserved commission (compensation), in any state.
    LiberarPresupuesto {
        /// The commission whose reservation is released.
        comision_id: Uuid,
    },
}
