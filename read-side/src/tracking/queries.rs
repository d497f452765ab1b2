//! Queries over tracking's views.

use alpes_domain::TipoInteraccion;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{EstadisticaDiariaRow, InteraccionRow};
use crate::db::{Sql, ViewRow, Views};
use crate::names::tipo_interaccion;
use crate::pagination::{page, Filter, Page};
use crate::queries::{fetch_by_id, fetch_rows, fetch_where_in};
use crate::ReadError;

/// Which interactions to list; every field given must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InteraccionFilter {
    /// Of this campaign.
    pub campana_id: Option<Uuid>,
    /// Driven by this partner.
    pub partner_id: Option<Uuid>,
    /// Of this journey.
    pub journey_id: Option<Uuid>,
    /// Of this type.
    pub tipo: Option<TipoInteraccion>,
    /// Happened at or after this instant.
    pub desde: Option<DateTime<Utc>>,
    /// Happened before this instant.
    pub hasta: Option<DateTime<Utc>>,
    /// Discarded (`true`) or not (`false`).
    pub descartada: Option<bool>,
}

impl Views {
    /// The interaction `id`.
    pub async fn interaccion(&self, id: Uuid) -> Result<Option<InteraccionRow>, ReadError> {
        fetch_by_id(self, id).await
    }

    /// A page of interactions matching `filter`, newest first, after the cursor `after`.
    pub async fn interacciones(
        &self,
        filter: &InteraccionFilter,
        first: u32,
        after: Option<&str>,
    ) -> Result<Page<InteraccionRow>, ReadError> {
        let mut conditions = Filter::default();
        conditions
            .equal_if("i.campana_id", filter.campana_id)
            .equal_if("i.partner_id", filter.partner_id)
            .equal_if("i.journey_id", filter.journey_id)
            .equal_if("i.tipo", filter.tipo.map(tipo_interaccion))
            .equal_if("i.descartada", filter.descartada);
        if let Some(desde) = filter.desde {
            conditions.compare("i.occurred_at", ">=", desde);
        }
        if let Some(hasta) = filter.hasta {
            conditions.compare("i.occurred_at", "<", hasta);
        }
        page(self, "interacciones i", "i", conditions, first, after).await
    }

    /// The daily statistics of campaign `campana_id` from day `desde` to day `hasta`, both
    /// included, by day then type.
    pub async fn estadisticas_diarias(
        &self,
        campana_id: Uuid,
        desde: NaiveDate,
        hasta: NaiveDate,
    ) -> Result<Vec<EstadisticaDiariaRow>, ReadError> {
        let table = EstadisticaDiariaRow::TABLE;
        let mut sql = Sql::new(format!(
            "SELECT {} FROM {} WHERE campana_id = ",
            table.column_list(),
            table.name
        ));
        sql.bind(campana_id)
            .push(" AND dia >= ")
            .bind(desde)
            .push(" AND dia <= ")
            .bind(hasta)
            .push(" ORDER BY dia, tipo");
        fetch_rows(self, &sql).await
    }
}

impl Views {
    /// Every interaction of the journeys of `ids`, oldest first, in one statement.
    pub async fn interacciones_de_journeys(
        &self,
        ids: &[Uuid],
    ) -> Result<Vec<InteraccionRow>, ReadError> {
        fetch_where_in(self, "journey_id", ids, "seq_high, seq_low").await
    }
}
