//! Marketing's views: campaigns as their list and detail pages show them, and each
//! campaign's statistics (interactions, conversions, revenue, commissions, cost, ratios).

mod projection;
mod queries;
mod resumen_reglas;

use alpes_domain::campana::{ReglasComision, SegmentoAudiencia};
use alpes_domain::money::div_round_half_even;
use alpes_domain::{Currency, Money};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::db::{view_row, Json};
use crate::pagination::Paged;

pub(crate) use projection::MarketingProjection;
pub use queries::{CampanaFilter, ResumenMarketing};

view_row! {
    /// A campaign: everything its list and detail pages show.
    pub struct CampanaRow in "campanas" key (id: Uuid) {
        /// The campaign's id.
        pub id: Uuid,
        /// The brand's id.
        pub marca_id: Uuid,
        /// The brand's name.
        pub marca_nombre: String,
        /// The campaign's name.
        pub nombre: String,
        /// What it is about.
        pub descripcion: String,
        /// `Influencer`, `Afiliados`, `Mixta`, `B2b`, `Display` or `Email`.
        pub tipo: String,
        /// `Borrador`, `Activa`, `Pausada`, `Finalizada` or `Cancelada`.
        pub estado: String,
        /// Why it was cancelled.
        pub motivo_cancelacion: Option<String>,
        /// The first day it runs.
        pub fecha_inicio: NaiveDate,
        /// The last day it runs.
        pub fecha_fin: NaiveDate,
        /// Where it runs.
        pub canales: Json<Vec<String>>,
        /// Who it is aimed at.
        pub segmento: Json<SegmentoAudiencia>,
        /// How many times one visitor may see it at most.
        pub frecuencia_maxima: Option<i64>,
        /// The budget currency (of every amount of this row).
        pub moneda: Currency,
        /// The total budget, minor units.
        pub presupuesto: i64,
        /// Held by commission reservations.
        pub reservado: i64,
        /// Left: `presupuesto - reservado`.
        pub disponible: i64,
        /// The commission rules, in full.
        pub reglas_comision: Json<ReglasComision>,
        /// The commission rules in one line, e.g. `Compra: 10% (mín. 5.00 EUR); Lead: 25.00 EUR`.
        pub reglas_resumen: String,
        /// The attribution model.
        pub modelo_atribucion: String,
        /// The lookback window, in days.
        pub ventana_dias: i64,
        /// Days before a commission can be approved.
        pub dias_retencion: i64,
        /// The fraud score threshold (1..=100).
        pub umbral_fraude: i64,
        /// When it was created (recorded time of `CampanaCreada`).
        pub creada_en: DateTime<Utc>,
        /// When its last event was recorded.
        pub actualizada_en: DateTime<Utc>,
        /// The campaign aggregate's version (sequence of its last event).
        pub version: i64,
        /// Log position of its creation: the keyset of lists (high part).
        pub seq_high: i64,
        /// Log position of its creation (low part).
        pub seq_low: i64,
        /// Log position (`high:low`) of the last event applied to this row.
        pub log_position: String,
    }
}

impl CampanaRow {
    /// The total budget.
    pub fn presupuesto(&self) -> Money {
        Money::new(self.presupuesto, self.moneda)
    }

    /// Held by reservations.
    pub fn reservado(&self) -> Money {
        Money::new(self.reservado, self.moneda)
    }

    /// Not held by reservations.
    pub fn disponible(&self) -> Money {
        Money::new(self.disponible, self.moneda)
    }
}

impl Paged for CampanaRow {
    fn seq(&self) -> (i64, i64) {
        (self.seq_high, self.seq_low)
    }
}

view_row! {
    /// A campaign's statistics. Interaction counts leave out discarded interactions;
    /// commission amounts are in the budget currency, by the commissions' current state.
    pub struct EstadisticasCampanaRow in "estadisticas_campana" key (campana_id: Uuid) {
        /// The campaign.
        pub campana_id: Uuid,
        /// The budget currency (of every amount of this row), once the campaign is known.
        pub moneda: Option<Currency>,
        /// Impressions (`Vista`).
        pub vistas: i64,
        /// Clicks.
        pub clicks: i64,
        /// Likes and shares.
        pub engagements: i64,
        /// Leads.
        pub leads: i64,
        /// Sign-ups.
        pub registros: i64,
        /// Purchases.
        pub compras: i64,
        /// Interactions discarded by fraud compensations.
        pub descartadas: i64,
        /// Conversions attributed to partners and not reverted.
        pub conversiones_atribuidas: i64,
        /// Conversions that earned nobody credit.
        pub conversiones_no_atribuidas: i64,
        /// Attributions reverted (budget or fraud).
        pub conversiones_revertidas: i64,
        /// Fraud findings (before or after attribution).
        pub fraudes_detectados: i64,
        /// Value of the attributed, not reverted conversions.
        pub ingresos_atribuidos: i64,
        /// Attributed conversions in another currency than `moneda`, not summed.
        pub ingresos_otra_moneda: i64,
        /// Commissions reserved, waiting for approval.
        pub comisiones_reservadas: i64,
        /// Their amount.
        pub monto_reservado: i64,
        /// Commissions approved, not yet paid.
        pub comisiones_aprobadas: i64,
        /// Their amount.
        pub monto_aprobado: i64,
        /// Commissions paid.
        pub comisiones_pagadas: i64,
        /// Their amount.
        pub monto_pagado: i64,
        /// Commissions reverted.
        pub comisiones_revertidas: i64,
        /// Their amount.
        pub monto_revertido: i64,
        /// Reservations the budget could not cover.
        pub reservas_insuficientes: i64,
        /// The total budget.
        pub presupuesto: i64,
        /// Budget held by reservations.
        pub presupuesto_reservado: i64,
        /// Budget left.
        pub presupuesto_disponible: i64,
        /// When the store recorded the last event applied.
        pub actualizada_en: DateTime<Utc>,
        /// Log position of the last event applied.
        pub log_position: String,
    }
}

impl EstadisticasCampanaRow {
    /// Conversions registered and not discarded (leads, sign-ups and purchases).
    pub fn conversiones(&self) -> i64 {
        self.leads + self.registros + self.compras
    }

    /// What the campaign spends: commissions reserved, approved and paid (not reverted).
    pub fn costo(&self) -> i64 {
        self.monto_reservado + self.monto_aprobado + self.monto_pagado
    }

    /// The campaign's ratios.
    pub fn ratios(&self) -> Ratios {
        Ratios::of(
            self.vistas,
            self.clicks,
            self.conversiones(),
            self.conversiones_atribuidas,
            self.costo(),
            self.moneda,
        )
    }
}

/// The ratios of a campaign (or of a total), as integers: basis points and minor units,
/// rounded half to even. `None` where the denominator is zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratios {
    /// Click-through rate: clicks per impression, in basis points (1 % = 100).
    pub ctr_bps: Option<i64>,
    /// Cost per click.
    pub cpc: Option<Money>,
    /// Cost per attributed conversion.
    pub costo_por_conversion: Option<Money>,
    /// Conversions per click, in basis points.
    pub tasa_conversion_bps: Option<i64>,
}

impl Ratios {
    /// The ratios of these counts and this cost (in `moneda`).
    pub fn of(
        vistas: i64,
        clicks: i64,
        conversiones: i64,
        conversiones_atribuidas: i64,
        costo: i64,
        moneda: Option<Currency>,
    ) -> Ratios {
        let money = |amount: Option<i64>| Some(Money::new(amount?, moneda?));
        Ratios {
            ctr_bps: ratio(clicks.saturating_mul(10_000), vistas),
            cpc: money(ratio(costo, clicks)),
            costo_por_conversion: money(ratio(costo, conversiones_atribuidas)),
            tasa_conversion_bps: ratio(conversiones.saturating_mul(10_000), clicks),
        }
    }
}

fn ratio(numerator: i64, denominator: i64) -> Option<i64> {
    if denominator <= 0 {
        return None;
    }
    i64::try_from(div_round_half_even(
        i128::from(numerator),
        i128::from(denominator),
    ))
    .ok()
}
