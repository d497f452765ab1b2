//! Campaigns, their statistics and the marketing dashboard's totals.

use alpes_domain::campana::{EstadoCampana as DomainEstado, TipoCampana as DomainTipo};
use alpes_domain::{Currency, Money as DomainMoney};
use alpes_read::marketing::{CampanaRow, EstadisticasCampanaRow, Ratios, ResumenMarketing};
use async_graphql::{Context, Enum, InputObject, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{db, or_load_error};
use crate::loaders::EstadisticasKey;
use crate::money::Money;

/// A campaign's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub(crate) enum EstadoCampana {
    /// Not running yet.
    Borrador,
    /// Running.
    Activa,
    /// Paused.
    Pausada,
    /// Ended.
    Finalizada,
    /// Cancelled.
    Cancelada,
}

impl From<EstadoCampana> for DomainEstado {
    fn from(estado: EstadoCampana) -> Self {
        match estado {
            EstadoCampana::Borrador => DomainEstado::Borrador,
            EstadoCampana::Activa => DomainEstado::Activa,
            EstadoCampana::Pausada => DomainEstado::Pausada,
            EstadoCampana::Finalizada => DomainEstado::Finalizada,
            EstadoCampana::Cancelada => DomainEstado::Cancelada,
        }
    }
}

/// A campaign's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub(crate) enum TipoCampana {
    /// Influencers.
    Influencer,
    /// Affiliates.
    Afiliados,
    /// Both.
    Mixta,
    /// Business to business.
    B2b,
    /// Display ads.
    Display,
    /// E-mail.
    Email,
}

impl From<TipoCampana> for DomainTipo {
    fn from(tipo: TipoCampana) -> Self {
        match tipo {
            TipoCampana::Influencer => DomainTipo::Influencer,
            TipoCampana::Afiliados => DomainTipo::Afiliados,
            TipoCampana::Mixta => DomainTipo::Mixta,
            TipoCampana::B2b => DomainTipo::B2b,
            TipoCampana::Display => DomainTipo::Display,
            TipoCampana::Email => DomainTipo::Email,
        }
    }
}

/// Which campaigns to list; every field given must match.
#[derive(Clone, Debug, Default, InputObject)]
pub(crate) struct CampanaFilter {
    /// Of this brand.
    pub marca_id: Option<Uuid>,
    /// In this state.
    pub estado: Option<EstadoCampana>,
    /// Of this type.
    pub tipo: Option<TipoCampana>,
    /// Whose name contains this text (case-insensitive for ASCII letters).
    pub nombre_contiene: Option<String>,
}

impl From<CampanaFilter> for alpes_read::marketing::CampanaFilter {
    fn from(filter: CampanaFilter) -> Self {
        alpes_read::marketing::CampanaFilter {
            marca_id: filter.marca_id,
            estado: filter.estado.map(Into::into),
            tipo: filter.tipo.map(Into::into),
            nombre_contiene: filter.nombre_contiene,
        }
    }
}

/// A campaign: everything its list and detail pages show.
pub(crate) struct Campana(pub CampanaRow);

#[Object]
impl Campana {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn marca_id(&self) -> Uuid {
        self.0.marca_id
    }
    async fn marca_nombre(&self) -> &str {
        &self.0.marca_nombre
    }
    async fn nombre(&self) -> &str {
        &self.0.nombre
    }
    async fn descripcion(&self) -> &str {
        &self.0.descripcion
    }
    /// `Influencer`, `Afiliados`, `Mixta`, `B2b`, `Display` or `Email`.
    async fn tipo(&self) -> &str {
        &self.0.tipo
    }
    /// `Borrador`, `Activa`, `Pausada`, `Finalizada` or `Cancelada`.
    async fn estado(&self) -> &str {
        &self.0.estado
    }
    async fn motivo_cancelacion(&self) -> Option<&str> {
        self.0.motivo_cancelacion.as_deref()
    }
    async fn fecha_inicio(&self) -> NaiveDate {
        self.0.fecha_inicio
    }
    async fn fecha_fin(&self) -> NaiveDate {
        self.0.fecha_fin
    }
    async fn canales(&self) -> &[String] {
        &self.0.canales.0
    }
    async fn frecuencia_maxima(&self) -> Option<i64> {
        self.0.frecuencia_maxima
    }
    async fn presupuesto(&self) -> Money {
        self.0.presupuesto().into()
    }
    /// Budget held by commission reservations.
    async fn reservado(&self) -> Money {
        self.0.reservado().into()
    }
    /// Budget left.
    async fn disponible(&self) -> Money {
        self.0.disponible().into()
    }
    /// The commission rules in one line.
    async fn reglas_resumen(&self) -> &str {
        &self.0.reglas_resumen
    }
    async fn modelo_atribucion(&self) -> &str {
        &self.0.modelo_atribucion
    }
    async fn ventana_dias(&self) -> i64 {
        self.0.ventana_dias
    }
    async fn dias_retencion(&self) -> i64 {
        self.0.dias_retencion
    }
    async fn umbral_fraude(&self) -> i64 {
        self.0.umbral_fraude
    }
    async fn creada_en(&self) -> DateTime<Utc> {
        self.0.creada_en
    }
    async fn actualizada_en(&self) -> DateTime<Utc> {
        self.0.actualizada_en
    }
    /// The campaign aggregate's version.
    async fn version(&self) -> i64 {
        self.0.version
    }
    /// Log position (`HIGH:LOW`) of the last event applied to this row.
    async fn log_position(&self) -> &str {
        &self.0.log_position
    }
    /// The campaign's statistics (batched across a list).
    async fn estadisticas(&self, ctx: &Context<'_>) -> Result<Option<EstadisticasCampana>> {
        let loaded = db(ctx)?.loader.load_one(EstadisticasKey(self.0.id)).await;
        Ok(or_load_error(loaded)?.map(EstadisticasCampana))
    }
}

/// The ratios of a campaign or of a total.
pub(crate) struct Ratio(pub Ratios);

#[Object(name = "Ratios")]
impl Ratio {
    /// Click-through rate in basis points (1 % = 100).
    async fn ctr_bps(&self) -> Option<i64> {
        self.0.ctr_bps
    }
    /// Cost per click.
    async fn cpc(&self) -> Option<Money> {
        self.0.cpc.map(Into::into)
    }
    /// Cost per attributed conversion.
    async fn costo_por_conversion(&self) -> Option<Money> {
        self.0.costo_por_conversion.map(Into::into)
    }
    /// Conversions per click, in basis points.
    async fn tasa_conversion_bps(&self) -> Option<i64> {
        self.0.tasa_conversion_bps
    }
}

fn money(amount: i64, moneda: Option<Currency>) -> Option<Money> {
    moneda.map(|moneda| DomainMoney::new(amount, moneda).into())
}

/// A campaign's statistics (interaction counts leave out discarded interactions).
pub(crate) struct EstadisticasCampana(pub EstadisticasCampanaRow);

#[Object]
impl EstadisticasCampana {
    async fn campana_id(&self) -> Uuid {
        self.0.campana_id
    }
    /// The budget currency, once the campaign is known.
    async fn moneda(&self) -> Option<&str> {
        self.0.moneda.as_ref().map(|moneda| moneda.as_str())
    }
    /// Impressions.
    async fn vistas(&self) -> i64 {
        self.0.vistas
    }
    async fn clicks(&self) -> i64 {
        self.0.clicks
    }
    /// Likes and shares.
    async fn engagements(&self) -> i64 {
        self.0.engagements
    }
    async fn leads(&self) -> i64 {
        self.0.leads
    }
    async fn registros(&self) -> i64 {
        self.0.registros
    }
    async fn compras(&self) -> i64 {
        self.0.compras
    }
    /// Conversions registered and not discarded.
    async fn conversiones(&self) -> i64 {
        self.0.conversiones()
    }
    async fn descartadas(&self) -> i64 {
        self.0.descartadas
    }
    async fn conversiones_atribuidas(&self) -> i64 {
        self.0.conversiones_atribuidas
    }
    async fn conversiones_no_atribuidas(&self) -> i64 {
        self.0.conversiones_no_atribuidas
    }
    async fn conversiones_revertidas(&self) -> i64 {
        self.0.conversiones_revertidas
    }
    async fn fraudes_detectados(&self) -> i64 {
        self.0.fraudes_detectados
    }
    async fn ingresos_atribuidos(&self) -> Option<Money> {
        money(self.0.ingresos_atribuidos, self.0.moneda)
    }
    async fn comisiones_reservadas(&self) -> i64 {
        self.0.comisiones_reservadas
    }
    async fn monto_reservado(&self) -> Option<Money> {
        money(self.0.monto_reservado, self.0.moneda)
    }
    async fn comisiones_aprobadas(&self) -> i64 {
        self.0.comisiones_aprobadas
    }
    async fn monto_aprobado(&self) -> Option<Money> {
        money(self.0.monto_aprobado, self.0.moneda)
    }
    async fn comisiones_pagadas(&self) -> i64 {
        self.0.comisiones_pagadas
    }
    async fn monto_pagado(&self) -> Option<Money> {
        money(self.0.monto_pagado, self.0.moneda)
    }
    async fn comisiones_revertidas(&self) -> i64 {
        self.0.comisiones_revertidas
    }
    async fn monto_revertido(&self) -> Option<Money> {
        money(self.0.monto_revertido, self.0.moneda)
    }
    /// Reservations the budget could not cover.
    async fn reservas_insuficientes(&self) -> i64 {
        self.0.reservas_insuficientes
    }
    /// Commissions reserved, approved and paid.
    async fn costo(&self) -> Option<Money> {
        money(self.0.costo(), self.0.moneda)
    }
    async fn presupuesto(&self) -> Option<Money> {
        money(self.0.presupuesto, self.0.moneda)
    }
    async fn presupuesto_reservado(&self) -> Option<Money> {
        money(self.0.presupuesto_reservado, self.0.moneda)
    }
    async fn presupuesto_disponible(&self) -> Option<Money> {
        money(self.0.presupuesto_disponible, self.0.moneda)
    }
    async fn ratios(&self) -> Ratio {
        Ratio(self.0.ratios())
    }
    async fn actualizada_en(&self) -> DateTime<Utc> {
        self.0.actualizada_en
    }
    /// Log position of the last event applied.
    async fn log_position(&self) -> &str {
        &self.0.log_position
    }
}

/// Campaigns in one state.
#[derive(async_graphql::SimpleObject)]
pub(crate) struct CampanasEnEstado {
    estado: String,
    campanas: i64,
}

/// The marketing dashboard's totals over every campaign in one currency.
pub(crate) struct Resumen(pub ResumenMarketing);

#[Object(name = "ResumenMarketing")]
impl Resumen {
    async fn moneda(&self) -> Option<&str> {
        self.0.moneda.as_ref().map(|moneda| moneda.as_str())
    }
    async fn campanas(&self) -> i64 {
        self.0.campanas
    }
    async fn vistas(&self) -> i64 {
        self.0.vistas
    }
    async fn clicks(&self) -> i64 {
        self.0.clicks
    }
    async fn engagements(&self) -> i64 {
        self.0.engagements
    }
    async fn conversiones(&self) -> i64 {
        self.0.conversiones
    }
    async fn conversiones_atribuidas(&self) -> i64 {
        self.0.conversiones_atribuidas
    }
    async fn ingresos_atribuidos(&self) -> Option<Money> {
        money(self.0.ingresos_atribuidos, self.0.moneda)
    }
    async fn monto_reservado(&self) -> Option<Money> {
        money(self.0.monto_reservado, self.0.moneda)
    }
    async fn monto_aprobado(&self) -> Option<Money> {
        money(self.0.monto_aprobado, self.0.moneda)
    }
    async fn monto_pagado(&self) -> Option<Money> {
        money(self.0.monto_pagado, self.0.moneda)
    }
    async fn monto_revertido(&self) -> Option<Money> {
        money(self.0.monto_revertido, self.0.moneda)
    }
    async fn costo(&self) -> Option<Money> {
        money(self.0.costo(), self.0.moneda)
    }
    async fn presupuesto(&self) -> Option<Money> {
        money(self.0.presupuesto, self.0.moneda)
    }
    async fn presupuesto_reservado(&self) -> Option<Money> {
        money(self.0.presupuesto_reservado, self.0.moneda)
    }
    async fn presupuesto_disponible(&self) -> Option<Money> {
        money(self.0.presupuesto_disponible, self.0.moneda)
    }
    async fn ratios(&self) -> Ratio {
        Ratio(self.0.ratios())
    }
    /// Campaigns by state.
    async fn campanas_por_estado(&self) -> Vec<CampanasEnEstado> {
        self.0
            .campanas_por_estado
            .iter()
            .map(|(estado, campanas)| CampanasEnEstado {
                estado: estado.clone(),
                campanas: *campanas,
            })
            .collect()
    }
}
