//! Why an Atribucion command was rejected.

use uuid::Uuid;

use super::EstadoAtribucion;
use crate::error::{ErrorKind, RuleViolation};
use crate::money::{Money, MoneyError};
use crate::tipos::TipoConversion;

/// Why an Atribucion command was rejected. Each variant is one rule; see
/// [`RuleViolation::code`] for its stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtribucionError {
    /// The command needs an attribution that was already decided.
    #[error("the attribution does not exist: no conversion has been attributed yet")]
    NoExiste,

    /// The command is not allowed in the attribution's current state.
    #[error("invalid transition from {desde} to {hacia}")]
    TransicionInvalida {
        /// The attribution's current state.
        desde: EstadoAtribucion,
        /// The state the command would lead to.
        hacia: EstadoAtribucion,
    },

    /// The attribution already decided another conversion (its id is derived from the
    /// conversion, so this is a caller's bug, never a redelivery).
    #[error("this attribution belongs to conversion {esperada}, not {recibida}")]
    ConversionDistinta {
        /// The conversion this attribution decided.
        esperada: Uuid,
        /// The conversion the command named.
        recibida: Uuid,
    },

    /// A Compra needs a positive value; a Lead or Registro a non-negative one.
    #[error("{campo}: a {tipo:?} conversion cannot be worth {valor}")]
    ValorDeConversionInvalido {
        /// The field at fault, as in the command's payload.
        campo: &'static str,
        /// The conversion's type.
        tipo: TipoConversion,
        /// The value received.
        valor: Money,
    },

    /// The lookback window must be at least one day.
    #[error("{campo}: the attribution window must be at least 1 day, got {ventana_dias}")]
    VentanaInvalida {
        /// The field at fault, as in the command's payload.
        campo: &'static str,
        /// The window received.
        ventana_dias: u32,
    },

    /// The fraud threshold must be in 1..=100 (scores are capped at 100; 0 would make
    /// every conversion fraud).
    #[error("{campo}: the fraud threshold must be between 1 and 100, got {umbral}")]
    UmbralFraudeInvalido {
        /// The field at fault, as in the command's payload.
        campo: &'static str,
        /// The threshold received.
        umbral: u32,
    },

    /// A required text is empty.
    #[error("{campo} must not be empty")]
    TextoVacio {
        /// The field at fault, as in the command's payload.
        campo: &'static str,
    },

    /// The credits could not be computed in minor units without overflow.
    #[error("{campo}: the credits cannot be computed: {causa}")]
    CreditoIncalculable {
        /// The field at fault, as in the command's payload.
        campo: &'static str,
        /// The arithmetic error.
        causa: MoneyError,
    },
}

impl AtribucionError {
    /// The command field at fault, for input errors.
    pub fn campo(&self) -> Option<&'static str> {
        match self {
            AtribucionError::ValorDeConversionInvalido { campo, .. }
            | AtribucionError::VentanaInvalida { campo, .. }
            | AtribucionError::UmbralFraudeInvalido { campo, .. }
            | AtribucionError::TextoVacio { campo }
            | AtribucionError::CreditoIncalculable { campo, .. } => Some(campo),
            AtribucionError::NoExiste
            | AtribucionError::TransicionInvalida { .. }
            | AtribucionError::ConversionDistinta { .. } => None,
        }
    }
}

impl RuleViolation for AtribucionError {
    fn code(&self) -> &'static str {
        match self {
            AtribucionError::NoExiste => "AtribucionNoExiste",
            AtribucionError::TransicionInvalida { .. } => "TransicionInvalida",
            AtribucionError::ConversionDistinta { .. } => "ConversionDistinta",
            AtribucionError::ValorDeConversionInvalido { .. } => "ValorDeConversionInvalido",
            AtribucionError::VentanaInvalida { .. } => "VentanaInvalida",
            AtribucionError::UmbralFraudeInvalido { .. } => "UmbralFraudeInvalido",
            AtribucionError::TextoVacio { .. } => "TextoVacio",
            AtribucionError::CreditoIncalculable { .. } => "CreditoIncalculable",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            AtribucionError::NoExiste => ErrorKind::NotFound,
            AtribucionError::TransicionInvalida { .. }
            | AtribucionError::ConversionDistinta { .. } => ErrorKind::Conflict,
            AtribucionError::ValorDeConversionInvalido { .. }
            | AtribucionError::VentanaInvalida { .. }
            | AtribucionError::UmbralFraudeInvalido { .. }
            | AtribucionError::TextoVacio { .. }
            | AtribucionError::CreditoIncalculable { .. } => ErrorKind::InvalidInput,
        }
    }
}
