use serde::{Deserialize, Serialize};

use super::{
    Conversion, EvidenciaJourney, MotivoReversion, OrigenFraude, ParametrosAtribucion, Touchpoint,
};

/// Commands of the Atribucion aggregate.
// Commands and events are moved once per handling; boxing the large variant would only
// add noise to every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AtribucionCommand {
    /// Attribute a conversion: fraud rules first (a hit records `FraudeDetectado`), then the
    /// campaign's model over the journey's partner touchpoints inside the window.
    AtribuirConversion {
        /// The conversion to attribute.
        conversion: Conversion,
        /// Every interaction of the journey before the conversion.
        journey: Vec<Touchpoint>,
        /// The campaign's model, window and fraud threshold.
        parametros: ParametrosAtribucion,
        /// Facts about the journey the saga gathered for the fraud rules.
        evidencia: EvidenciaJourney,
    },
    /// Fraud reported after attribution; starts the compensation.
    MarcarFraude {
        /// Why it is fraud; not blank.
        motivo: String,
        /// Who found it.
        origen: OrigenFraude,
    },
    /// Take the credits back: the budget could not cover the commission, or fraud.
    RevertirAtribucion {
        /// Why.
        motivo: MotivoReversion,
    },
}
