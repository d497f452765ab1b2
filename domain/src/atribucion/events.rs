use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

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
    ConversionAtribuida {
        conversion: Conversion,
        modelo: ModeloAtribucion,
        /// One or more partners; the amounts sum exactly to the conversion value.
        creditos: Vec<CreditoPartner>,
    },
    ConversionNoAtribuida {
        conversion: Conversion,
        motivo: MotivoNoAtribucion,
    },
    FraudeDetectado {
        conversion: Conversion,
        origen: OrigenFraude,
        motivo: String,
        /// The rules that fired (empty for a report).
        hallazgo: Option<HallazgoFraude>,
    },
    AtribucionRevertida {
        conversion: Conversion,
        motivo: MotivoReversion,
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

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}
