//! Queries over the saga's view.

use uuid::Uuid;

use super::{EstadoJourney, JourneyRow, PasoRow};
use crate::db::{Sql, ViewRow, Views};
use crate::pagination::{page, Filter, Page};
use crate::queries::{fetch_by_id, fetch_rows};
use crate::ReadError;

/// A journey with its saga log.
#[derive(Debug, Clone, PartialEq)]
pub struct JourneyView {
    /// The journey.
    pub journey: JourneyRow,
    /// Its steps, in order.
    pub pasos: Vec<PasoRow>,
}

/// Which journeys to list; every field given must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JourneyFilter {
    /// Whose first interaction was in this campaign.
    pub campana_id: Option<Uuid>,
    /// In this state.
    pub estado: Option<EstadoJourney>,
}

impl Views {
    /// The journey `id` with its saga log.
    pub async fn journey(&self, id: Uuid) -> Result<Option<JourneyView>, ReadError> {
        let Some(journey) = fetch_by_id::<JourneyRow>(self, id).await? else {
            return Ok(None);
        };
        let table = PasoRow::TABLE;
        let mut sql = Sql::new(format!(
            "SELECT {} FROM {} WHERE journey_id = ",
            table.column_list(),
            table.name
        ));
        sql.bind(id).push(" ORDER BY n");
        let pasos = fetch_rows(self, &sql).await?;
        Ok(Some(JourneyView { journey, pasos }))
    }

    /// A page of journeys matching `filter`, newest first, after the cursor `after`.
    pub async fn journeys(
        &self,
        filter: &JourneyFilter,
        first: u32,
        after: Option<&str>,
    ) -> Result<Page<JourneyRow>, ReadError> {
        let mut conditions = Filter::default();
        conditions
            .equal_if("j.campana_id", filter.campana_id)
            .equal_if("j.estado", filter.estado.map(EstadoJourney::as_str));
        page(self, "journeys j", "j", conditions, first, after).await
    }
}
