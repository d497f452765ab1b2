//! Tracking's views: every interaction (discarded ones flagged, never deleted) and daily
//! statistics per campaign and interaction type.

mod projection;
mod queries;

use alpes_domain::interaccion::ContextoInteraccion;
use alpes_domain::{Currency, Money};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::db::{view_row, Json};
use crate::pagination::Paged;

pub(crate) use projection::TrackingProjection;
pub use queries::InteraccionFilter;

view_row! {
    /// One interaction, as registered; discarded ones stay, flagged.
    pub struct InteraccionRow in "interacciones" key (id: Uuid) {
        /// The interaction's id.
        pub id: Uuid,
        /// The campaign it belongs to.
        pub campana_id: Uuid,
        /// The partner that drove it; none for organic traffic.
        pub partner_id: Option<Uuid>,
        /// The visitor's journey.
        pub journey_id: Uuid,
        /// `Vista`, `Click`, `Engagement`, `Lead`, `Registro` or `Compra`.
        pub tipo: String,
        /// When it happened.
        pub occurred_at: DateTime<Utc>,
        /// Its value in minor units (conversions), with [`InteraccionRow::moneda`].
        pub valor: Option<i64>,
        /// The currency of `valor`.
        pub moneda: Option<Currency>,
        /// The order id of a purchase.
        pub pedido_id: Option<String>,
        /// The device, when known.
        pub dispositivo: Option<String>,
        /// `utm_source`, when given.
        pub utm_source: Option<String>,
        /// Where and how it happened, in full.
        pub contexto: Json<ContextoInteraccion>,
        /// Whether the fraud compensation discarded it.
        pub descartada: bool,
        /// Why it was discarded.
        pub motivo_descarte: Option<String>,
        /// When it was discarded (recorded time of the event).
        pub descartada_en: Option<DateTime<Utc>>,
        /// When the store recorded its registration.
        pub registrada_en: DateTime<Utc>,
        /// Log position of its registration: the keyset of lists (high part).
        pub seq_high: i64,
        /// Log position of its registration (low part).
        pub seq_low: i64,
        /// Log position (`high:low`) of the last event applied to this row.
        pub log_position: String,
    }
}

impl InteraccionRow {
    /// Its value, when it has one.
    pub fn valor(&self) -> Option<Money> {
        Some(Money::new(self.valor?, self.moneda?))
    }
}

impl Paged for InteraccionRow {
    fn seq(&self) -> (i64, i64) {
        (self.seq_high, self.seq_low)
    }
}

view_row! {
    /// Interactions of one campaign, day (UTC, of `occurred_at`) and type.
    pub struct EstadisticaDiariaRow in "estadisticas_diarias"
        key (campana_id: Uuid, dia: NaiveDate, tipo: String)
    {
        /// The campaign.
        pub campana_id: Uuid,
        /// The day the interactions happened (UTC).
        pub dia: NaiveDate,
        /// The interaction type.
        pub tipo: String,
        /// Interactions registered, discarded ones included.
        pub registradas: i64,
        /// Of those, discarded.
        pub descartadas: i64,
        /// Sum of the values of the interactions not discarded, in `moneda`.
        pub valor: i64,
        /// The currency of `valor`: that of the first valued interaction.
        pub moneda: Option<Currency>,
        /// Valued interactions not discarded whose currency is not `moneda`, so not summed.
        pub valores_otra_moneda: i64,
        /// When the store recorded the last event applied.
        pub actualizada_en: DateTime<Utc>,
        /// Log position of the last event applied.
        pub log_position: String,
    }
}

impl EstadisticaDiariaRow {
    /// Interactions that count: registered and not discarded.
    pub fn validas(&self) -> i64 {
        self.registradas - self.descartadas
    }

    /// The value of the interactions that count, when any was valued.
    pub fn valor_total(&self) -> Option<Money> {
        self.moneda.map(|moneda| Money::new(self.valor, moneda))
    }
}
