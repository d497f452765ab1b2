//! The queries.

use alpes_read::Paged;
use async_graphql::{Context, Object, Result};
use chrono::NaiveDate;
use uuid::Uuid;

use crate::context::ReadContext;
use crate::error::bad_input;
use crate::types::atribucion::{Atribucion, AtribucionFilter};
use crate::types::comisiones::{
    comisiones_page, Comision, ComisionFilter, EstadisticasComisiones, Partner,
};
use crate::types::connection::{connection, list_complexity, page_size, Conn};
use crate::types::marketing::{Campana, CampanaFilter, EstadisticasCampana, Resumen};
use crate::types::projections::Projection;
use crate::types::saga::{Journey, JourneyFilter};
use crate::types::tracking::{EstadisticaDiaria, Interaccion, InteraccionFilter};
use crate::types::{db, or_error};

/// The longest range of days `estadisticasDiarias` answers at once.
const MAX_DIAS: i64 = 366;

/// Every query of the read side.
pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// The campaign `id`; null when the views do not have it.
    async fn campana(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Campana>> {
        Ok(or_error(db(ctx)?.views().campana(id).await)?.map(Campana))
    }

    /// Campaigns matching `filter`, newest first.
    #[graphql(complexity = "list_complexity(first, child_complexity)")]
    async fn campanas(
        &self,
        ctx: &Context<'_>,
        filter: Option<CampanaFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Campana>> {
        let size = page_size(first)?;
        let filter = filter.unwrap_or_default().into();
        let page = db(ctx)?
            .views()
            .campanas(&filter, size, after.as_deref())
            .await;
        Ok(connection(
            or_error(page)?,
            after.is_some(),
            Paged::cursor,
            Campana,
        ))
    }

    /// The statistics of campaign `campanaId`; null when it has none yet.
    async fn estadisticas_campana(
        &self,
        ctx: &Context<'_>,
        campana_id: Uuid,
    ) -> Result<Option<EstadisticasCampana>> {
        let found = db(ctx)?.views().estadisticas_campana(campana_id).await;
        Ok(or_error(found)?.map(EstadisticasCampana))
    }

    /// The marketing dashboard's totals over every campaign, one per budget currency.
    async fn resumen_marketing(&self, ctx: &Context<'_>) -> Result<Vec<Resumen>> {
        let found = db(ctx)?.views().resumen_marketing().await;
        Ok(or_error(found)?.into_iter().map(Resumen).collect())
    }

    /// Interactions matching `filter`, newest first.
    #[graphql(complexity = "list_complexity(first, child_complexity)")]
    async fn interacciones(
        &self,
        ctx: &Context<'_>,
        filter: Option<InteraccionFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Interaccion>> {
        let size = page_size(first)?;
        let filter = filter.unwrap_or_default();
        if let (Some(desde), Some(hasta)) = (filter.desde, filter.hasta) {
            if desde > hasta {
                return Err(bad_input(format!(
                    "filter.desde ({desde}) is after filter.hasta ({hasta})"
                )));
            }
        }
        let page = db(ctx)?
            .views()
            .interacciones(&filter.into(), size, after.as_deref())
            .await;
        Ok(connection(
            or_error(page)?,
            after.is_some(),
            Paged::cursor,
            Interaccion,
        ))
    }

    /// Interactions of campaign `campanaId` per day and type, from `desde` to `hasta`
    /// (both included, at most 366 days).
    async fn estadisticas_diarias(
        &self,
        ctx: &Context<'_>,
        campana_id: Uuid,
        desde: NaiveDate,
        hasta: NaiveDate,
    ) -> Result<Vec<EstadisticaDiaria>> {
        if desde > hasta {
            return Err(bad_input(format!(
                "desde ({desde}) is after hasta ({hasta})"
            )));
        }
        let days = (hasta - desde).num_days() + 1;
        if days > MAX_DIAS {
            return Err(bad_input(format!(
                "{desde} to {hasta} is {days} days; ask for at most {MAX_DIAS} at once"
            )));
        }
        let found = db(ctx)?
            .views()
            .estadisticas_diarias(campana_id, desde, hasta)
            .await;
        Ok(or_error(found)?
            .into_iter()
            .map(EstadisticaDiaria)
            .collect())
    }

    /// The attribution `id`; null when the views do not have it.
    async fn atribucion(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Atribucion>> {
        Ok(or_error(db(ctx)?.views().atribucion(id).await)?.map(Atribucion))
    }

    /// Attributions matching `filter`, newest first.
    #[graphql(complexity = "list_complexity(first, child_complexity)")]
    async fn atribuciones(
        &self,
        ctx: &Context<'_>,
        filter: Option<AtribucionFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Atribucion>> {
        let size = page_size(first)?;
        let filter = filter.unwrap_or_default().into();
        let page = db(ctx)?
            .views()
            .atribuciones(&filter, size, after.as_deref())
            .await;
        Ok(connection(
            or_error(page)?,
            after.is_some(),
            |view| view.atribucion.cursor(),
            Atribucion,
        ))
    }

    /// The commission `id`; null when the views do not have it.
    async fn comision(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Comision>> {
        Ok(or_error(db(ctx)?.views().comision(id).await)?.map(Comision::from))
    }

    /// Commissions matching `filter`, newest first.
    #[graphql(complexity = "list_complexity(first, child_complexity)")]
    async fn comisiones(
        &self,
        ctx: &Context<'_>,
        filter: Option<ComisionFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Comision>> {
        comisiones_page(ctx, filter.unwrap_or_default(), first, after).await
    }

    /// Commission counts and amounts per state of campaign `campanaId` (one per currency),
    /// or over every campaign when `campanaId` is not given.
    async fn estadisticas_comisiones(
        &self,
        ctx: &Context<'_>,
        campana_id: Option<Uuid>,
    ) -> Result<Vec<EstadisticasComisiones>> {
        let views = db(ctx)?.views();
        Ok(match campana_id {
            Some(id) => or_error(views.estadisticas_comisiones(id).await)?
                .into_iter()
                .map(Into::into)
                .collect(),
            None => or_error(views.totales_comisiones().await)?
                .into_iter()
                .map(Into::into)
                .collect(),
        })
    }

    /// The partner `id`: balances and commissions; null when no commission names it.
    async fn partner(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Partner>> {
        let saldos = or_error(db(ctx)?.views().saldos_partner(id).await)?;
        Ok((!saldos.is_empty()).then_some(Partner { id, saldos }))
    }

    /// The journey `id` with its saga log; null when the views do not have it.
    async fn journey(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Journey>> {
        Ok(
            or_error(db(ctx)?.views().journey(id).await)?.map(|view| Journey {
                row: view.journey,
                pasos: Some(view.pasos),
            }),
        )
    }

    /// Journeys matching `filter`, newest first (without their saga log: ask
    /// `journey(id)` for it).
    #[graphql(complexity = "list_complexity(first, child_complexity)")]
    async fn journeys(
        &self,
        ctx: &Context<'_>,
        filter: Option<JourneyFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Journey>> {
        let size = page_size(first)?;
        let filter = filter.unwrap_or_default().into();
        let page = db(ctx)?
            .views()
            .journeys(&filter, size, after.as_deref())
            .await;
        Ok(connection(
            or_error(page)?,
            after.is_some(),
            Paged::cursor,
            |row| Journey { row, pasos: None },
        ))
    }

    /// Each projection's checkpoint, the head of the log and the lag.
    async fn projections(&self, ctx: &Context<'_>) -> Result<Vec<Projection>> {
        let read = ctx.data::<ReadContext>()?;
        let statuses = db(ctx)?.views().projection_status(&read.backend).await;
        Ok(or_error(statuses)?.into_iter().map(Projection).collect())
    }
}
