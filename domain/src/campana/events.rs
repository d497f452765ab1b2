use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{DatosCampana, ReglaComision};
use crate::money::Money;
use crate::tipos::TipoConversion;

/// Events of the Campana aggregate.
// Commands and events are moved once per handling; boxing the large variant would only
// add noise to every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CampanaEvent {
    /// The campaign was created as a draft.
    CampanaCreada {
        /// The campaign's id.
        id: Uuid,
        /// Everything that describes the campaign.
        datos: DatosCampana,
    },
    /// The campaign started or resumed.
    CampanaActivada,
    /// The campaign stopped for a while.
    CampanaPausada,
    /// The campaign ended for good.
    CampanaFinalizada,
    /// The campaign was called off for good.
    CampanaCancelada {
        /// Why.
        motivo: String,
    },
    /// The commission rule of one conversion type was replaced.
    ReglaComisionActualizada {
        /// The conversion type the rule pays for.
        tipo_conversion: TipoConversion,
        /// The new rule.
        regla: ReglaComision,
    },
    /// The budget grew.
    PresupuestoAmpliado {
        /// The amount added.
        monto: Money,
        /// The budget after the addition.
        presupuesto: Money,
    },
    /// A commission is held against the budget.
    PresupuestoReservado {
        /// The commission.
        comision_id: Uuid,
        /// The conversion it is for.
        conversion_id: Uuid,
        /// The partner that earns it.
        partner_id: Uuid,
        /// The rule that paid for it.
        tipo_conversion: TipoConversion,
        /// The commission amount the rule gave, now reserved.
        monto: Money,
        /// Total reserved after this reservation.
        reservado: Money,
    },
    /// The budget could not cover a commission; nothing was reserved. Recorded (not an
    /// error) so the saga can compensate the attribution.
    PresupuestoInsuficiente {
        /// The commission.
        comision_id: Uuid,
        /// The conversion it is for.
        conversion_id: Uuid,
        /// The partner that would have earned it.
        partner_id: Uuid,
        /// The commission amount the rule gave.
        monto: Money,
        /// What the budget had left.
        disponible: Money,
    },
    /// A reserved commission was released (compensation).
    PresupuestoLiberado {
        /// The commission.
        comision_id: Uuid,
        /// The amount released.
        monto: Money,
        /// Total reserved after the release.
        reservado: Money,
    },
}

impl DomainEvent for CampanaEvent {
    fn event_type(&self) -> String {
        let name = match self {
            CampanaEvent::CampanaCreada { .. } => "CampanaCreada",
            CampanaEvent::CampanaActivada => "CampanaActivada",
            CampanaEvent::CampanaPausada => "CampanaPausada",
            CampanaEvent::CampanaFinalizada => "CampanaFinalizada",
            CampanaEvent::CampanaCancelada { .. } => "CampanaCancelada",
            CampanaEvent::ReglaComisionActualizada { .. } => "ReglaComisionActualizada",
            CampanaEvent::PresupuestoAmpliado { .. } => "PresupuestoAmpliado",
            CampanaEvent::PresupuestoReservado { .. } => "PresupuestoReservado",
            CampanaEvent::PresupuestoInsuficiente { .. } => "PresupuestoInsuficiente",
            CampanaEvent::PresupuestoLiberado { .. } => "PresupuestoLiberado",
        };
        name.to_string()
    }

    /// CampanaCreada 1.0 is carried forward by alpes-upcasters.
    fn event_version(&self) -> String {
        match self {
            CampanaEvent::CampanaCreada { .. } => "2.0",
            _ => "1.0",
        }
        .to_string()
    }
}
