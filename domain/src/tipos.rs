//! Business vocabulary shared by several aggregates.

use serde::{Deserialize, Serialize};

/// What a visitor did. Lead, Registro and Compra are conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TipoInteraccion {
    /// The visitor saw the partner's content or ad.
    Vista,
    /// The visitor clicked the partner's link.
    Click,
    /// A like or a share.
    Engagement,
    /// The visitor left their contact details (a conversion).
    Lead,
    /// The visitor signed up (a conversion).
    Registro,
    /// The visitor bought something (a conversion, with a value and an order id).
    Compra,
}

impl TipoInteraccion {
    /// The conversion type, when this interaction is a conversion.
    pub fn conversion(self) -> Option<TipoConversion> {
        match self {
            TipoInteraccion::Lead => Some(TipoConversion::Lead),
            TipoInteraccion::Registro => Some(TipoConversion::Registro),
            TipoInteraccion::Compra => Some(TipoConversion::Compra),
            TipoInteraccion::Vista | TipoInteraccion::Click | TipoInteraccion::Engagement => None,
        }
    }

    /// Whether this interaction is a conversion (Lead, Registro or Compra).
    pub fn is_conversion(self) -> bool {
        self.conversion().is_some()
    }

    /// Every type, in a stable order (for views and documentation).
    pub const ALL: [TipoInteraccion; 6] = [
        TipoInteraccion::Vista,
        TipoInteraccion::Click,
        TipoInteraccion::Engagement,
        TipoInteraccion::Lead,
        TipoInteraccion::Registro,
        TipoInteraccion::Compra,
    ];
}

/// The kinds of conversion a commission rule can pay for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TipoConversion {
    /// A purchase.
    Compra,
    /// Contact details left.
    Lead,
    /// A sign-up.
    Registro,
}

/// How the value of a conversion is split between the partners of a journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ModeloAtribucion {
    /// All credit to the last partner touchpoint (the default).
    #[default]
    UltimoClick,
    /// All credit to the first partner touchpoint.
    PrimerClick,
    /// Equal shares.
    Lineal,
    /// 40% first, 40% last, 20% spread over the middle; a single touchpoint gets all.
    BasadoEnPosicion,
    /// Weights halve every 7 days before the conversion.
    DecaimientoTemporal,
}
