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
    pub interaccion_id: Uuid,
    pub tipo: TipoConversion,
    pub campana_id: Uuid,
    pub journey_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub valor: Money,
    pub pedido_id: Option<String>,
}

/// One interaction of the journey, as attribution and the fraud rules see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touchpoint {
    pub interaccion_id: Uuid,
    pub tipo: TipoInteraccion,
    pub partner_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
    pub ip_hash: Option<String>,
    pub user_agent: Option<String>,
}

/// A partner's share of a conversion's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditoPartner {
    pub partner_id: Uuid,
    /// The touchpoint that earned it (the partner's last one when several contribute).
    pub touchpoint_id: Uuid,
    pub monto: Money,
}

/// Why a conversion earned nobody credit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MotivoNoAtribucion {
    SinTouchpointEnVentana,
    CampanaNoActiva,
}

/// Who found the fraud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrigenFraude {
    /// Scored rules reached the campaign's threshold.
    Reglas,
    /// Reported through the API (by a person or an outside system).
    Reportado { reportado_por: String },
}

/// Why an attribution was reverted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MotivoReversion {
    /// The campaign budget could not cover the commission.
    PresupuestoInsuficiente,
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
    pub reglas: Vec<ReglaDisparada>,
    pub puntuacion_total: u32,
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
    pub modelo: ModeloAtribucion,
    pub ventana_dias: u32,
    pub umbral_fraude: u32,
    pub campana_activa: bool,
}
