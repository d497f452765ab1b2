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
    CampanaCreada {
        id: Uuid,
        datos: DatosCampana,
    },
    CampanaActivada,
    CampanaPausada,
    CampanaFinalizada,
    CampanaCancelada {
        motivo: String,
    },
    ReglaComisionActualizada {
        tipo_conversion: TipoConversion,
        regla: ReglaComision,
    },
    PresupuestoAmpliado {
        monto: Money,
        presupuesto: Money,
    },
    PresupuestoReservado {
        comision_id: Uuid,
        conversion_id: Uuid,
        partner_id: Uuid,
        tipo_conversion: TipoConversion,
        /// The commission amount the rule gave, now reserved.
        monto: Money,
        /// Total reserved after this reservation.
        reservado: Money,
    },
    /// Recorded (not an error) so the saga can compensate the attribution.
    PresupuestoInsuficiente {
        comision_id: Uuid,
        conversion_id: Uuid,
        partner_id: Uuid,
        monto: Money,
        disponible: Money,
    },
    PresupuestoLiberado {
        comision_id: Uuid,
        monto: Money,
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
