//! Atribucion: one aggregate per conversion, deciding which partners get credit for it.

mod aggregate;
mod commands;
mod error;
mod events;

pub use aggregate::{Atribucion, EstadoAtribucion};
pub use commands::AtribucionCommand;
pub use error::AtribucionError;
pub use events::AtribucionEvent;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::Money;
use crate::rules::fraud::ReglaDisparada;
use crate::tipos::{ModeloAtribucion, TipoConversion, TipoInteraccion};

/// The conversion being attributed (a Compra, Lead or Registro interaction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversion {
    /// The conversion's interaction.
    pub interaccion_id: Uuid,
    /// What kind of conversion it is.
    pub tipo: TipoConversion,
    /// The campaign it belongs to.
    pub campana_id: Uuid,
    /// The visitor's journey that led to it.
    pub journey_id: Uuid,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// What it is worth: positive for a Compra, not negative for a Lead or Registro.
    pub valor: Money,
    /// The order id of a Compra.
    pub pedido_id: Option<String>,
}

/// One interaction of the journey, as attribution and the fraud rules see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touchpoint {
    /// The interaction.
    pub interaccion_id: Uuid,
    /// What the visitor did.
    pub tipo: TipoInteraccion,
    /// The partner that drove it; None for organic traffic.
    pub partner_id: Option<Uuid>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The visitor's hashed IP.
    pub ip_hash: Option<String>,
    /// The visitor's user agent.
    pub user_agent: Option<String>,
}

/// A partner's share of a conversion's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditoPartner {
    /// The partner credited.
    pub partner_id: Uuid,
    /// The touchpoint that earned it (the partner's last one when several contribute).
    pub touchpoint_id: Uuid,
    /// The partner's part of the conversion value.
    pub monto: Money,
}

/// Why a conversion earned nobody credit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MotivoNoAtribucion {
    /// No partner touchpoint of the journey fell inside the lookback window.
    SinTouchpointEnVentana,
    /// The campaign was not active when the conversion was attributed.
    CampanaNoActiva,
}

/// Who found the fraud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrigenFraude {
    /// Scored rules reached the campaign's threshold.
    Reglas,
    /// Reported through the API (by a person or an outside system).
    Reportado {
        /// Who reported it; not blank.
        reportado_por: String,
    },
}

/// Why an attribution was reverted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MotivoReversion {
    /// The campaign budget could not cover the commission.
    PresupuestoInsuficiente,
    /// The conversion was found to be fraud after attribution.
    Fraude,
}

/// The fraud-relevant facts of a conversion's journey, gathered by the saga.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EvidenciaJourney {
    /// The conversion that already converted the same order id, if any.
    pub pedido_ya_convertido_por: Option<Uuid>,
}

pub use crate::rules::fraud::ConfiguracionFraude;
pub use crate::rules::fraud::ReglaDisparada as ReglaFraudeDisparada;

/// Fraud findings recorded in `FraudeDetectado`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HallazgoFraude {
    /// The rules that fired, in evaluation order.
    pub reglas: Vec<ReglaDisparada>,
    /// Their scores added up, capped at 100.
    pub puntuacion_total: u32,
    /// The campaign's threshold the total was compared with.
    pub umbral: u32,
}

impl HallazgoFraude {
    /// Whether the total score reaches the campaign's threshold.
    pub fn es_fraude(&self) -> bool {
        self.puntuacion_total >= self.umbral
    }
}

/// How the campaign wants conversions attributed, as the saga learned it from events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParametrosAtribucion {
    /// The campaign's attribution model.
    pub modelo: ModeloAtribucion,
    /// The lookback window before the conversion, in days; at least 1.
    pub ventana_dias: u32,
    /// The total fraud score (1..=100) from which the conversion is fraud.
    pub umbral_fraude: u32,
    /// Whether the campaign is active; an inactive one attributes nothing.
    pub campana_activa: bool,
}
