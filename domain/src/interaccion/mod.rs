//! Interaccion (tracking): one aggregate per interaction a visitor had with a campaign.

mod aggregate;
mod commands;
mod error;
mod events;

pub use aggregate::{EstadoInteraccion, Interaccion};
pub use commands::InteraccionCommand;
pub use error::InteraccionError;
pub use events::InteraccionEvent;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::Money;
use crate::tipos::TipoInteraccion;

/// Who the visitor is. The IP is only ever kept hashed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IdentidadUsuario {
    pub usuario_id: Option<String>,
    pub anonimo_id: Option<String>,
    pub ip_hash: Option<String>,
    pub user_agent: Option<String>,
}

/// UTM parameters of the visit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ParametrosUtm {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub content: Option<String>,
    pub term: Option<String>,
}

/// Where and how the interaction happened.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContextoInteraccion {
    pub usuario: IdentidadUsuario,
    pub utm: ParametrosUtm,
    pub pagina_url: Option<String>,
    pub referente_url: Option<String>,
    pub elemento_objetivo: Option<String>,
    pub dispositivo: Option<String>,
}

/// Everything recorded about one interaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatosInteraccion {
    pub tipo: TipoInteraccion,
    pub campana_id: Uuid,
    /// None for organic traffic.
    pub partner_id: Option<Uuid>,
    /// The visitor's journey (session) that ties touchpoints to a conversion.
    pub journey_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    /// Required for Compra.
    pub valor: Option<Money>,
    /// The order id of a Compra.
    pub pedido_id: Option<String>,
    pub contexto: ContextoInteraccion,
}
