//! Comisiones' views: every commission, each partner's balances per currency, and
//! commission statistics per campaign (and, summed, overall).

mod projection;
mod queries;

use alpes_domain::{Currency, Money};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::view_row;
use crate::pagination::Paged;

pub(crate) use projection::ComisionesProjection;
pub use queries::{ComisionFilter, TotalesComisiones};

view_row! {
    /// One commission: what one partner earns for one conversion.
    pub struct ComisionRow in "comisiones" key (id: Uuid) {
        /// The commission's id.
        pub id: Uuid,
        /// The conversion (interaction) it is for.
        pub conversion_id: Uuid,
        /// The attribution that credited the partner.
        pub atribucion_id: Uuid,
        /// The campaign whose budget pays it.
        pub campana_id: Uuid,
        /// The partner that earns it.
        pub partner_id: Uuid,
        /// The visitor's journey.
        pub journey_id: Uuid,
        /// The amount, minor units of `moneda`.
        pub monto: i64,
        /// The currency of `monto`.
        pub moneda: Currency,
        /// `Reservada`, `Aprobada`, `Pagada` or `Revertida`.
        pub estado: String,
        /// When the conversion happened.
        pub fecha_conversion: DateTime<Utc>,
        /// Days after the conversion before it can be approved.
        pub dias_retencion: i64,
        /// The first instant it can be approved.
        pub disponible_desde: Option<DateTime<Utc>>,
        /// When the store recorded the reservation.
        pub reservada_en: DateTime<Utc>,
        /// When it was approved.
        pub aprobada_en: Option<DateTime<Utc>>,
        /// The approval batch.
        pub lote_aprobacion: Option<Uuid>,
        /// When it was paid.
        pub pagada_en: Option<DateTime<Utc>>,
        /// The payment batch.
        pub lote_pago: Option<Uuid>,
        /// The payment's reference.
        pub referencia_pago: Option<String>,
        /// When the store recorded its reversal.
        pub revertida_en: Option<DateTime<Utc>>,
        /// Why it was reverted.
        pub motivo_reversion: Option<String>,
        /// Reverted after payment: the money is to be recovered.
        pub clawback: bool,
        /// When the store recorded its last event.
        pub actualizada_en: DateTime<Utc>,
        /// The commission aggregate's version.
        pub version: i64,
        /// Log position of its reservation: the keyset of lists (high part).
        pub seq_high: i64,
        /// Log position of its reservation (low part).
        pub seq_low: i64,
        /// Log position (`high:low`) of the last event applied to this row.
        pub log_position: String,
    }
}

impl ComisionRow {
    /// The amount.
    pub fn monto(&self) -> Money {
        Money::new(self.monto, self.moneda)
    }
}

impl Paged for ComisionRow {
    fn seq(&self) -> (i64, i64) {
        (self.seq_high, self.seq_low)
    }
}

view_row! {
    /// What one partner has in each commission state, in one currency (minor units).
    pub struct SaldoPartnerRow in "saldos_partner" key (partner_id: Uuid, moneda: Currency) {
        /// The partner.
        pub partner_id: Uuid,
        /// The currency of every amount of this row.
        pub moneda: Currency,
        /// Commissions ever reserved for the partner in this currency.
        pub comisiones: i64,
        /// Reserved, waiting for approval.
        pub reservado: i64,
        /// Approved, not yet paid.
        pub aprobado: i64,
        /// Paid.
        pub pagado: i64,
        /// Reverted (from any state).
        pub revertido: i64,
        /// Reverted after payment: to recover from the partner.
        pub por_recuperar: i64,
        /// When the store recorded the last event applied.
        pub actualizada_en: DateTime<Utc>,
        /// Log position of the last event applied.
        pub log_position: String,
    }
}

view_row! {
    /// Commission counts and amounts per state, for one campaign and currency.
    pub struct EstadisticasComisionesRow in "estadisticas_comisiones"
        key (campana_id: Uuid, moneda: Currency)
    {
        /// The campaign.
        pub campana_id: Uuid,
        /// The currency of every amount of this row.
        pub moneda: Currency,
        /// Commissions reserved, waiting for approval.
        pub reservadas: i64,
        /// Their amount.
        pub monto_reservado: i64,
        /// Approved, not yet paid.
        pub aprobadas: i64,
        /// Their amount.
        pub monto_aprobado: i64,
        /// Paid.
        pub pagadas: i64,
        /// Their amount.
        pub monto_pagado: i64,
        /// Reverted.
        pub revertidas: i64,
        /// Their amount.
        pub monto_revertido: i64,
        /// Reverted after payment.
        pub clawbacks: i64,
        /// Their amount.
        pub monto_clawback: i64,
        /// When the store recorded the last event applied.
        pub actualizada_en: DateTime<Utc>,
        /// Log position of the last event applied.
        pub log_position: String,
    }
}
