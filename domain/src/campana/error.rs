//! Why a Campana command is rejected.

use chrono::NaiveDate;
use uuid::Uuid;

use super::EstadoCampana;
use crate::error::{ErrorKind, RuleViolation};
use crate::money::{Currency, Money, MoneyError};
use crate::rules::commission::ReglaInvalida;
use crate::tipos::TipoConversion;

/// Why a Campana command was rejected. [`RuleViolation::kind`] classifies each variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CampanaError {
    /// The command names a campaign that was never created.
    #[error("the campaign does not exist")]
    NoExiste,
    /// `CrearCampana` on a campaign that already exists.
    #[error("the campaign already exists")]
    CampanaYaExiste,
    /// The lifecycle does not allow going from `desde` to `hacia`.
    #[error("a campaign cannot go from {desde:?} to {hacia:?}")]
    TransicionInvalida {
        /// The campaign's current state.
        desde: EstadoCampana,
        /// The state the command would lead to.
        hacia: EstadoCampana,
    },
    /// A finished or cancelled campaign can no longer be changed.
    #[error("the campaign is {estado:?} and can no longer be changed")]
    CampanaCerrada {
        /// `Finalizada` or `Cancelada`.
        estado: EstadoCampana,
    },
    /// Budget is only reserved while the campaign is active.
    #[error("the campaign is {estado:?}, not active")]
    CampanaNoActiva {
        /// The campaign's current state.
        estado: EstadoCampana,
    },
    /// The campaign does not pay for this conversion type.
    #[error("the campaign has no commission rule for {tipo:?}")]
    SinReglaComision {
        /// The conversion type without a rule.
        tipo: TipoConversion,
    },
    /// An amount in another currency than the campaign's budget.
    #[error("the amount is in {recibida}, the campaign's budget is in {esperada}")]
    MonedaDistinta {
        /// The budget currency.
        esperada: Currency,
        /// The command amount's currency.
        recibida: Currency,
    },
    /// `LiberarPresupuesto` of a commission this campaign never reserved.
    #[error("commission {comision_id} has no reservation in this campaign")]
    ReservaDesconocida {
        /// The commission named.
        comision_id: Uuid,
    },
    /// The brand has no name.
    #[error("marca.nombre is empty")]
    MarcaSinNombre,
    /// The campaign has no name.
    #[error("nombre is empty")]
    NombreVacio,
    /// The campaign has no description.
    #[error("descripcion is empty")]
    DescripcionVacia,
    /// The campaign does not start before it ends.
    #[error("fecha_inicio {fecha_inicio} is not before fecha_fin {fecha_fin}")]
    FechasInvertidas {
        /// The start received.
        fecha_inicio: NaiveDate,
        /// The end received.
        fecha_fin: NaiveDate,
    },
    /// The audience's minimum age is above its maximum age.
    #[error("segmento.edad_min {edad_min} is above segmento.edad_max {edad_max}")]
    EdadesInvertidas {
        /// The minimum age received.
        edad_min: u8,
        /// The maximum age received.
        edad_max: u8,
    },
    /// A frequency cap of zero would never show the campaign.
    #[error("frecuencia_maxima must be at least 1")]
    FrecuenciaMaximaCero,
    /// The budget is zero or negative.
    #[error("presupuesto must be positive, got {presupuesto}")]
    PresupuestoNoPositivo {
        /// The budget received.
        presupuesto: Money,
    },
    /// The attribution lookback window is shorter than a day.
    #[error("atribucion.ventana_dias must be at least 1, got {ventana_dias}")]
    VentanaAtribucionInvalida {
        /// The window received.
        ventana_dias: u32,
    },
    /// The fraud threshold is outside 1..=100.
    #[error("atribucion.umbral_fraude must be within 1..=100, got {umbral_fraude}")]
    UmbralFraudeInvalido {
        /// The threshold received.
        umbral_fraude: u32,
    },
    /// The commission rule of `tipo` is invalid.
    #[error("reglas_comision of {tipo:?}: {motivo}")]
    ReglaComisionInvalida {
        /// The conversion type of the rule.
        tipo: TipoConversion,
        /// What is wrong with it.
        motivo: ReglaInvalida,
    },
    /// A cancellation without a reason.
    #[error("motivo is empty")]
    MotivoVacio,
    /// A budget extension of zero or less.
    #[error("monto must be positive, got {monto}")]
    AmpliacionNoPositiva {
        /// The extension received.
        monto: Money,
    },
    /// A negative credit to reserve a commission for.
    #[error("credito must not be negative, got {credito}")]
    CreditoNegativo {
        /// The credit received.
        credito: Money,
    },
    /// A partner's share of a conversion outside 1..=10,000 basis points.
    #[error("participacion_bps must be within 1..=10000, got {participacion_bps}")]
    ParticipacionInvalida {
        /// The share received.
        participacion_bps: u32,
    },
    /// An amount too large to be added up.
    #[error("the amount is too large")]
    MontoDesbordado,
}

impl CampanaError {
    /// The campaign-level reading of a money error: a currency mismatch is always one
    /// between the campaign's budget currency and an amount of the command.
    pub(super) fn de_money(error: MoneyError, esperada: Currency) -> Self {
        match error {
            MoneyError::CurrencyMismatch { left, right } => CampanaError::MonedaDistinta {
                esperada,
                recibida: if left == esperada { right } else { left },
            },
            // Arithmetic never yields InvalidCurrency (only parsing does); it is grouped
            // here to keep the match exhaustive.
            MoneyError::Overflow | MoneyError::InvalidCurrency(_) => CampanaError::MontoDesbordado,
        }
    }
}

impl RuleViolation for CampanaError {
    fn code(&self) -> &'static str {
        match self {
            CampanaError::NoExiste => "NoExiste",
            CampanaError::CampanaYaExiste => "CampanaYaExiste",
            CampanaError::TransicionInvalida { .. } => "TransicionInvalida",
            CampanaError::CampanaCerrada { .. } => "CampanaCerrada",
            CampanaError::CampanaNoActiva { .. } => "CampanaNoActiva",
            CampanaError::SinReglaComision { .. } => "SinReglaComision",
            CampanaError::MonedaDistinta { .. } => "MonedaDistinta",
            CampanaError::ReservaDesconocida { .. } => "ReservaDesconocida",
            CampanaError::MarcaSinNombre => "MarcaSinNombre",
            CampanaError::NombreVacio => "NombreVacio",
            CampanaError::DescripcionVacia => "DescripcionVacia",
            CampanaError::FechasInvertidas { .. } => "FechasInvertidas",
            CampanaError::EdadesInvertidas { .. } => "EdadesInvertidas",
            CampanaError::FrecuenciaMaximaCero => "FrecuenciaMaximaCero",
            CampanaError::PresupuestoNoPositivo { .. } => "PresupuestoNoPositivo",
            CampanaError::VentanaAtribucionInvalida { .. } => "VentanaAtribucionInvalida",
            CampanaError::UmbralFraudeInvalido { .. } => "UmbralFraudeInvalido",
            CampanaError::ReglaComisionInvalida { .. } => "ReglaComisionInvalida",
            CampanaError::MotivoVacio => "MotivoVacio",
            CampanaError::AmpliacionNoPositiva { .. } => "AmpliacionNoPositiva",
            CampanaError::CreditoNegativo { .. } => "CreditoNegativo",
            CampanaError::ParticipacionInvalida { .. } => "ParticipacionInvalida",
            CampanaError::MontoDesbordado => "MontoDesbordado",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            CampanaError::NoExiste => ErrorKind::NotFound,
            CampanaError::CampanaYaExiste
            | CampanaError::TransicionInvalida { .. }
            | CampanaError::CampanaCerrada { .. } => ErrorKind::Conflict,
            CampanaError::CampanaNoActiva { .. }
            | CampanaError::SinReglaComision { .. }
            | CampanaError::MonedaDistinta { .. }
            | CampanaError::ReservaDesconocida { .. } => ErrorKind::BusinessRule,
            CampanaError::MarcaSinNombre
            | CampanaError::NombreVacio
            | CampanaError::DescripcionVacia
            | CampanaError::FechasInvertidas { .. }
            | CampanaError::EdadesInvertidas { .. }
            | CampanaError::FrecuenciaMaximaCero
            | CampanaError::PresupuestoNoPositivo { .. }
            | CampanaError::VentanaAtribucionInvalida { .. }
            | CampanaError::UmbralFraudeInvalido { .. }
            | CampanaError::ReglaComisionInvalida { .. }
            | CampanaError::MotivoVacio
            | CampanaError::AmpliacionNoPositiva { .. }
            | CampanaError::CreditoNegativo { .. }
            | CampanaError::ParticipacionInvalida { .. }
            | CampanaError::MontoDesbordado => ErrorKind::InvalidInput,
        }
    }
}
