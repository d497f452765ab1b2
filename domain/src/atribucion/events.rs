use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    Conversion, CreditoPartner, HallazgoFraude, MotivoNoAtribucion, MotivoReversion, OrigenFraude,
};
use crate::tipos::ModeloAtribucion;

/// Events of the Atribucion aggregate.
// Commands and events are moved once per handling; boxing the large variant would only
// add noise to every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AtribucionEvent {
    /// Partners got credit for the conversion.
    ConversionAtribuida {
        /// The conversion.
        conversion: Conversion,
        /// The model that split the credit.
        modelo: ModeloAtribucion,
        /// One or more partners; the amounts sum exactly to the conversion value.
        creditos: Vec<CreditoPartner>,
        /// The journey's interactions the attribution looked at, the conversion's own
        /// included: what a fraud finding later discards. (Since 1.1.)
        interacciones: Vec<Uuid>,
    },
    /// Nobody got credit for the conversion.
    ConversionNoAtribuida {
        /// The conversion.
        conversion: Conversion,
        /// Why.
        motivo: MotivoNoAtribucion,
    },
    /// The conversion is fraud: before attribution (rejected) or after it (under review).
    FraudeDetectado {
        /// The conversion.
        conversion: Conversion,
        /// Who found the fraud.
        origen: OrigenFraude,
        /// Why it is fraud, in words.
        motivo: String,
        /// The rules that fired (empty for a report).
        hallazgo: Option<HallazgoFraude>,
        /// The journey's interactions the attribution looked at, the conversion's own
        /// included: the tracking service discards them. (Since 1.1.)
        interacciones: Vec<Uuid>,
    },
    /// The credits were taken back.
    AtribucionRevertida {
        /// The conversion.
        conversion: Conversion,
        /// Why.
        motivo: MotivoReversion,
        /// The journey's interactions the attribution looked at, the conversion's own
        /// included: discarded by the tracking service when the reason is fraud.
        /// (Since 1.1.)
        interacciones: Vec<Uuid>,
    },
}

impl DomainEvent for AtribucionEvent {
    fn event_type(&self) -> String {
        match self {
            AtribucionEvent::ConversionAtribuida { .. } => "ConversionAtribuida",
            AtribucionEvent::ConversionNoAtribuida { .. } => "ConversionNoAtribuida",
            AtribucionEvent::FraudeDetectado { .. } => "FraudeDetectado",
            AtribucionEvent::AtribucionRevertida { .. } => "AtribucionRevertida",
        }
        .to_string()
    }

    /// 1.1 added `interacciones` to the events that can lead to discarding the journey.
    fn event_version(&self) -> String {
        match self {
            AtribucionEvent::ConversionNoAtribuida { .. } => "1.0",
            AtribucionEvent::ConversionAtribuida { .. }
            | AtribucionEvent::FraudeDetectado { .. }
            | AtribucionEvent::AtribucionRevertida { .. } => "1.1",
        }
        .to_string()
    }
}
