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
    /// The signed-in user's id on the brand's site.
    pub usuario_id: Option<String>,
    /// An anonymous visitor id (e.g. a cookie).
    pub anonimo_id: Option<String>,
    /// The visitor's IP as a hex digest (32 to 128 hex digits), never in clear.
    pub ip_hash: Option<String>,
    /// The browser's user agent.
    pub user_agent: Option<String>,
}

/// UTM parameters of the visit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ParametrosUtm {
    /// `utm_source`: who sent the traffic.
    pub source: Option<String>,
    /// `utm_medium`: the channel.
    pub medium: Option<String>,
    /// `utm_campaign`: the campaign name.
    pub campaign: Option<String>,
    /// `utm_content`: which link or creative.
    pub content: Option<String>,
    /// `utm_term`: the search term.
    pub term: Option<String>,
}

/// Where and how the interaction happened.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContextoInteraccion {
    /// Who the visitor is.
    pub usuario: IdentidadUsuario,
    /// The visit's UTM parameters.
    pub utm: ParametrosUtm,
    /// The page the interaction happened on.
    pub pagina_url: Option<String>,
    /// The page the visitor came from.
    pub referente_url: Option<String>,
    /// The element interacted with (a button, a banner).
    pub elemento_objetivo: Option<String>,
    /// The device (e.g. `mobile`).
    pub dispositivo: Option<String>,
}

/// Everything recorded about one interaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatosInteraccion {
    /// What the visitor did.
    pub tipo: TipoInteraccion,
    /// The campaign it belongs to.
    pub campana_id: Uuid,
    /// None for organic traffic.
    pub partner_id: Option<Uuid>,
    /// The visitor's journey (session) that ties touchpoints to a conversion.
    pub journey_id: Uuid,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Required for Compra.
    pub valor: Option<Money>,
    /// The order id of a Compra.
    pub pedido_id: Option<String>,
    /// Where and how it happened.
    pub contexto: ContextoInteraccion,
}
