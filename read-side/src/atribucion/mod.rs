//! Atribucion's views: each conversion's attribution (model, partner credits, state, fraud
//! findings).

mod projection;
mod queries;

use alpes_domain::atribucion::ReglaFraudeDisparada;
use alpes_domain::{Currency, Money};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::{view_row, Json};
use crate::pagination::Paged;

pub(crate) use projection::AtribucionProjection;
pub use queries::{AtribucionFilter, AtribucionView};

view_row! {
    /// The attribution of one conversion.
    pub struct AtribucionRow in "atribuciones" key (id: Uuid) {
        /// The attribution's id (derived from the conversion).
        pub id: Uuid,
        /// The conversion's interaction.
        pub conversion_id: Uuid,
        /// The campaign.
        pub campana_id: Uuid,
        /// The visitor's journey.
        pub journey_id: Uuid,
        /// `Compra`, `Lead` or `Registro`.
        pub tipo_conversion: String,
        /// The conversion's value, minor units of `moneda`.
        pub valor: i64,
        /// The currency of `valor` and of the credits.
        pub moneda: Currency,
        /// The order id of a purchase.
        pub pedido_id: Option<String>,
        /// When the conversion happened.
        pub conversion_en: DateTime<Utc>,
        /// `Atribuida`, `NoAtribuida`, `RechazadaPorFraude`, `EnRevisionPorFraude` or
        /// `Revertida`.
        pub estado: String,
        /// The model that split the credit, when attributed.
        pub modelo: Option<String>,
        /// Why nobody got credit: `SinTouchpointEnVentana` or `CampanaNoActiva`.
        pub motivo_no_atribucion: Option<String>,
        /// Who found fraud: `Reglas` or `Reportado`.
        pub fraude_origen: Option<String>,
        /// Who reported the fraud, for `Reportado`.
        pub fraude_reportado_por: Option<String>,
        /// Why it is fraud, in words.
        pub fraude_motivo: Option<String>,
        /// The fraud rules' total score.
        pub fraude_puntuacion: Option<i64>,
        /// The campaign's threshold the score was compared with.
        pub fraude_umbral: Option<i64>,
        /// The fraud rules that fired.
        pub fraude_reglas: Option<Json<Vec<ReglaFraudeDisparada>>>,
        /// Why the credits were taken back: `PresupuestoInsuficiente` or `Fraude`.
        pub motivo_reversion: Option<String>,
        /// When the store recorded the decision.
        pub decidida_en: DateTime<Utc>,
        /// When the store recorded its last event.
        pub actualizada_en: DateTime<Utc>,
        /// The attribution aggregate's version.
        pub version: i64,
        /// Log position of its first event: the keyset of lists (high part).
        pub seq_high: i64,
        /// Log position of its first event (low part).
        pub seq_low: i64,
        /// Log position (`high:low`) of the last event applied to this row.
        pub log_position: String,
    }
}

impl AtribucionRow {
    /// The conversion's value.
    pub fn valor(&self) -> Money {
        Money::new(self.valor, self.moneda)
    }
}

impl Paged for AtribucionRow {
    fn seq(&self) -> (i64, i64) {
        (self.seq_high, self.seq_low)
    }
}

view_row! {
    /// One partner's credit of an attributed conversion.
    pub struct CreditoRow in "atribucion_creditos" key (atribucion_id: Uuid, partner_id: Uuid) {
        /// The attribution.
        pub atribucion_id: Uuid,
        /// The partner credited.
        pub partner_id: Uuid,
        /// The touchpoint that earned it.
        pub touchpoint_id: Uuid,
        /// The partner's part of the conversion value, minor units.
        pub monto: i64,
        /// The currency of `monto`.
        pub moneda: Currency,
        /// The campaign.
        pub campana_id: Uuid,
        /// The attribution's keyset (high part), to list a partner's attributions.
        pub seq_high: i64,
        /// The attribution's keyset (low part).
        pub seq_low: i64,
    }
}

impl CreditoRow {
    /// The partner's part of the conversion value.
    pub fn monto(&self) -> Money {
        Money::new(self.monto, self.moneda)
    }
}
