//! Commissions, partner balances and commission statistics.

use alpes_domain::Money as DomainMoney;
use std::collections::HashMap;
use std::sync::Arc;

use alpes_read::comisiones::{
    ComisionRow, EstadisticasComisionesRow, SaldoPartnerRow, TotalesComisiones,
};
use alpes_read::marketing::CampanaRow;
use async_graphql::{Context, Enum, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::connection::{connection, list_complexity, page_size, Conn};
use super::marketing::Campana;
use super::{db, or_error, or_load_error};
use crate::loaders::CampanaKey;
use crate::money::Money;

/// A commission's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub(crate) enum EstadoComision {
    /// Reserved, waiting for approval.
    Reservada,
    /// Approved, not yet paid.
    Aprobada,
    /// Paid.
    Pagada,
    /// Reverted.
    Revertida,
}

impl EstadoComision {
    fn stored(self) -> &'static str {
        match self {
            EstadoComision::Reservada => "Reservada",
            EstadoComision::Aprobada => "Aprobada",
            EstadoComision::Pagada => "Pagada",
            EstadoComision::Revertida => "Revertida",
        }
    }
}

/// Which commissions to list; every field given must match.
#[derive(Clone, Debug, Default, InputObject)]
pub(crate) struct ComisionFilter {
    /// Earned by this partner.
    pub partner_id: Option<Uuid>,
    /// Paid by this campaign.
    pub campana_id: Option<Uuid>,
    /// In this state.
    pub estado: Option<EstadoComision>,
    /// Approved or paid in this batch.
    pub lote_id: Option<Uuid>,
}

impl From<ComisionFilter> for alpes_read::comisiones::ComisionFilter {
    fn from(filter: ComisionFilter) -> Self {
        alpes_read::comisiones::ComisionFilter {
            partner_id: filter.partner_id,
            campana_id: filter.campana_id,
            estado: filter.estado.map(|estado| estado.stored().to_string()),
            lote_id: filter.lote_id,
        }
    }
}

/// Which of a partner's commissions to list.
#[derive(Clone, Debug, Default, InputObject)]
pub(crate) struct ComisionPartnerFilter {
    /// Paid by this campaign.
    pub campana_id: Option<Uuid>,
    /// In this state.
    pub estado: Option<EstadoComision>,
    /// Approved or paid in this batch.
    pub lote_id: Option<Uuid>,
}

/// A page of commissions as a connection. When the query asks for the rows' campaigns,
/// they are read right after the page, in one statement: the same one query the
/// DataLoader would make, without its batching delay (1 ms, most of a partner page).
pub(crate) async fn comisiones_page(
    ctx: &Context<'_>,
    filter: ComisionFilter,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Conn<Comision>> {
    let size = page_size(first)?;
    let views = db(ctx)?.views();
    let page = or_error(
        views
            .comisiones(&filter.into(), size, after.as_deref())
            .await,
    )?;
    let campanas = if asks_for_campanas(ctx) {
        Some(Arc::new(campanas_of(ctx, &page.rows).await?))
    } else {
        None
    };
    Ok(connection(
        page,
        after.is_some(),
        alpes_read::Paged::cursor,
        |row| Comision {
            row,
            campanas: campanas.clone(),
        },
    ))
}

/// Whether the selection of a commissions connection reads `edges { node { campana } }`.
fn asks_for_campanas(ctx: &Context<'_>) -> bool {
    ctx.look_ahead()
        .field("edges")
        .field("node")
        .field("campana")
        .exists()
}

/// The campaigns of `rows`, by id, in one call of the query API.
async fn campanas_of(ctx: &Context<'_>, rows: &[ComisionRow]) -> Result<CampanasLeidas> {
    let mut ids: Vec<Uuid> = rows.iter().map(|row| row.campana_id).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let campanas = or_error(db(ctx)?.views().campanas_por_ids(&ids).await)?;
    Ok(campanas.into_iter().map(|row| (row.id, row)).collect())
}

/// The campaigns of a page of commissions, read with the page.
type CampanasLeidas = HashMap<Uuid, CampanaRow>;

/// One commission: what one partner earns for one conversion.
pub(crate) struct Comision {
    row: ComisionRow,
    /// The campaigns of its page, when read with it; otherwise `campana` loads its own
    /// (batched across the list).
    campanas: Option<Arc<CampanasLeidas>>,
}

impl From<ComisionRow> for Comision {
    fn from(row: ComisionRow) -> Self {
        Comision {
            row,
            campanas: None,
        }
    }
}

#[Object]
impl Comision {
    async fn id(&self) -> Uuid {
        self.row.id
    }
    async fn conversion_id(&self) -> Uuid {
        self.row.conversion_id
    }
    async fn atribucion_id(&self) -> Uuid {
        self.row.atribucion_id
    }
    async fn campana_id(&self) -> Uuid {
        self.row.campana_id
    }
    async fn partner_id(&self) -> Uuid {
        self.row.partner_id
    }
    async fn journey_id(&self) -> Uuid {
        self.row.journey_id
    }
    async fn monto(&self) -> Money {
        self.row.monto().into()
    }
    /// `Reservada`, `Aprobada`, `Pagada` or `Revertida`.
    async fn estado(&self) -> &str {
        &self.row.estado
    }
    async fn fecha_conversion(&self) -> DateTime<Utc> {
        self.row.fecha_conversion
    }
    async fn dias_retencion(&self) -> i64 {
        self.row.dias_retencion
    }
    /// The first instant it can be approved.
    async fn disponible_desde(&self) -> Option<DateTime<Utc>> {
        self.row.disponible_desde
    }
    async fn reservada_en(&self) -> DateTime<Utc> {
        self.row.reservada_en
    }
    async fn aprobada_en(&self) -> Option<DateTime<Utc>> {
        self.row.aprobada_en
    }
    async fn lote_aprobacion(&self) -> Option<Uuid> {
        self.row.lote_aprobacion
    }
    async fn pagada_en(&self) -> Option<DateTime<Utc>> {
        self.row.pagada_en
    }
    async fn lote_pago(&self) -> Option<Uuid> {
        self.row.lote_pago
    }
    async fn referencia_pago(&self) -> Option<&str> {
        self.row.referencia_pago.as_deref()
    }
    async fn revertida_en(&self) -> Option<DateTime<Utc>> {
        self.row.revertida_en
    }
    async fn motivo_reversion(&self) -> Option<&str> {
        self.row.motivo_reversion.as_deref()
    }
    /// Reverted after payment: the money is to be recovered.
    async fn clawback(&self) -> bool {
        self.row.clawback
    }
    /// The campaign whose budget pays it (batched across a list).
    async fn campana(&self, ctx: &Context<'_>) -> Result<Option<Campana>> {
        let id = self.row.campana_id;
        if let Some(campanas) = &self.campanas {
            return Ok(campanas.get(&id).cloned().map(Campana));
        }
        let loaded = db(ctx)?.loader.load_one(CampanaKey(id)).await;
        Ok(or_load_error(loaded)?.map(Campana))
    }
}

/// What one partner has in each commission state, in one currency.
pub(crate) struct SaldoPartner(pub SaldoPartnerRow);

impl SaldoPartner {
    fn money(&self, amount: i64) -> Money {
        DomainMoney::new(amount, self.0.moneda).into()
    }
}

#[Object]
impl SaldoPartner {
    async fn moneda(&self) -> &str {
        self.0.moneda.as_str()
    }
    /// Commissions ever reserved for the partner in this currency.
    async fn comisiones(&self) -> i64 {
        self.0.comisiones
    }
    async fn reservado(&self) -> Money {
        self.money(self.0.reservado)
    }
    async fn aprobado(&self) -> Money {
        self.money(self.0.aprobado)
    }
    async fn pagado(&self) -> Money {
        self.money(self.0.pagado)
    }
    async fn revertido(&self) -> Money {
        self.money(self.0.revertido)
    }
    /// Reverted after payment: to recover from the partner.
    async fn por_recuperar(&self) -> Money {
        self.money(self.0.por_recuperar)
    }
}

/// A partner, as the commission views know it.
pub(crate) struct Partner {
    pub id: Uuid,
    pub saldos: Vec<SaldoPartnerRow>,
}

#[Object]
impl Partner {
    async fn id(&self) -> Uuid {
        self.id
    }
    /// Balances, one per currency.
    async fn saldos(&self) -> Vec<SaldoPartner> {
        self.saldos.iter().cloned().map(SaldoPartner).collect()
    }
    /// The partner's commissions, newest first.
    #[graphql(complexity = "list_complexity(first, child_complexity)")]
    async fn comisiones(
        &self,
        ctx: &Context<'_>,
        filter: Option<ComisionPartnerFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Comision>> {
        let filter = filter.unwrap_or_default();
        let filter = ComisionFilter {
            partner_id: Some(self.id),
            campana_id: filter.campana_id,
            estado: filter.estado,
            lote_id: filter.lote_id,
        };
        comisiones_page(ctx, filter, first, after).await
    }
}

/// Commission counts and amounts per state, for one campaign (or all) and currency.
pub(crate) struct EstadisticasComisiones {
    pub campana_id: Option<Uuid>,
    pub campanas: Option<i64>,
    pub row: EstadisticasComisionesRow,
}

impl From<EstadisticasComisionesRow> for EstadisticasComisiones {
    fn from(row: EstadisticasComisionesRow) -> Self {
        EstadisticasComisiones {
            campana_id: Some(row.campana_id),
            campanas: None,
            row,
        }
    }
}

impl From<TotalesComisiones> for EstadisticasComisiones {
    fn from(totales: TotalesComisiones) -> Self {
        EstadisticasComisiones {
            campana_id: None,
            campanas: Some(totales.campanas),
            row: EstadisticasComisionesRow {
                campana_id: Uuid::nil(),
                moneda: totales.moneda,
                reservadas: totales.reservadas,
                monto_reservado: totales.monto_reservado,
                aprobadas: totales.aprobadas,
                monto_aprobado: totales.monto_aprobado,
                pagadas: totales.pagadas,
                monto_pagado: totales.monto_pagado,
                revertidas: totales.revertidas,
                monto_revertido: totales.monto_revertido,
                clawbacks: totales.clawbacks,
                monto_clawback: totales.monto_clawback,
                actualizada_en: DateTime::<Utc>::default(),
                log_position: String::new(),
            },
        }
    }
}

impl EstadisticasComisiones {
    fn money(&self, amount: i64) -> Money {
        DomainMoney::new(amount, self.row.moneda).into()
    }
}

#[Object]
impl EstadisticasComisiones {
    /// The campaign; null for the totals over every campaign.
    async fn campana_id(&self) -> Option<Uuid> {
        self.campana_id
    }
    /// Campaigns summed (totals only).
    async fn campanas(&self) -> Option<i64> {
        self.campanas
    }
    async fn moneda(&self) -> &str {
        self.row.moneda.as_str()
    }
    async fn reservadas(&self) -> i64 {
        self.row.reservadas
    }
    async fn monto_reservado(&self) -> Money {
        self.money(self.row.monto_reservado)
    }
    async fn aprobadas(&self) -> i64 {
        self.row.aprobadas
    }
    async fn monto_aprobado(&self) -> Money {
        self.money(self.row.monto_aprobado)
    }
    async fn pagadas(&self) -> i64 {
        self.row.pagadas
    }
    async fn monto_pagado(&self) -> Money {
        self.money(self.row.monto_pagado)
    }
    async fn revertidas(&self) -> i64 {
        self.row.revertidas
    }
    async fn monto_revertido(&self) -> Money {
        self.money(self.row.monto_revertido)
    }
    /// Reverted after payment.
    async fn clawbacks(&self) -> i64 {
        self.row.clawbacks
    }
    async fn monto_clawback(&self) -> Money {
        self.money(self.row.monto_clawback)
    }
}
