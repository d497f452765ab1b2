//! Why a Comision command was rejected: one variant per rule.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::EstadoComision;
use crate::error::{ErrorKind, RuleViolation};
use crate::money::Money;

/// Why a Comision command was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComisionError {
    /// The commission was never reserved.
    #[error("la comisión no existe")]
    NoExiste,
    /// The command is not allowed in the commission's current state.
    #[error("transición inválida de {desde:?} a {hacia:?}")]
    TransicionInvalida {
        /// The commission's current state.
        desde: EstadoComision,
        /// The state the command would lead to.
        hacia: EstadoComision,
    },
    /// The hold period after the conversion has not passed yet.
    #[error("el periodo de retención sigue vigente hasta {disponible_desde}")]
    PeriodoRetencionVigente {
        /// The first instant the commission can be approved.
        disponible_desde: DateTime<Utc>,
    },
    /// A commission is never reserved for less than nothing.
    #[error("el monto no puede ser negativo (recibido {monto})")]
    MontoNegativo {
        /// The amount received.
        monto: Money,
    },
    /// The commission id must be `ids::comision_id(conversion_id, partner_id)`, so that
    /// a redelivered reservation lands on the same commission.
    #[error("el id de la comisión no se deriva de su conversión y partner (esperado {esperado})")]
    IdNoDerivado {
        /// The id derived from the conversion and the partner.
        esperado: Uuid,
    },
    /// A reference to another aggregate is the nil UUID.
    #[error("el campo {campo} es el UUID nulo")]
    IdNulo {
        /// The field's name, as in the command's payload.
        campo: &'static str,
    },
    /// The hold period ends beyond the dates the calendar can represent.
    #[error("el periodo de retención de {dias_retencion} días está fuera de rango")]
    RetencionFueraDeRango {
        /// The hold period received.
        dias_retencion: u32,
    },
    /// A payment must name its reference (the transfer, the payout batch line).
    #[error("la referencia de pago está vacía")]
    ReferenciaPagoVacia,
    /// A reversal must say why.
    #[error("el motivo de la reversión está vacío")]
    MotivoVacio,
}

impl RuleViolation for ComisionError {
    fn code(&self) -> &'static str {
        match self {
            ComisionError::NoExiste => "NoExiste",
            ComisionError::TransicionInvalida { .. } => "TransicionInvalida",
            ComisionError::PeriodoRetencionVigente { .. } => "PeriodoRetencionVigente",
            ComisionError::MontoNegativo { .. } => "MontoNegativo",
            ComisionError::IdNoDerivado { .. } => "IdNoDerivado",
            ComisionError::IdNulo { .. } => "IdNulo",
            ComisionError::RetencionFueraDeRango { .. } => "RetencionFueraDeRango",
            ComisionError::ReferenciaPagoVacia => "ReferenciaPagoVacia",
            ComisionError::MotivoVacio => "MotivoVacio",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            ComisionError::NoExiste => ErrorKind::NotFound,
            ComisionError::TransicionInvalida { .. } => ErrorKind::Conflict,
            ComisionError::PeriodoRetencionVigente { .. } => ErrorKind::BusinessRule,
            ComisionError::MontoNegativo { .. }
            | ComisionError::IdNoDerivado { .. }
            | ComisionError::IdNulo { .. }
            | ComisionError::RetencionFueraDeRango { .. }
            | ComisionError::ReferenciaPagoVacia
            | ComisionError::MotivoVacio => ErrorKind::InvalidInput,
        }
    }
}
