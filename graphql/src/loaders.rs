//! Batched loads of the objects that lists nest: each key type is one query of the views
//! for every row of a list at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use alpes_read::marketing::{CampanaRow, EstadisticasCampanaRow};
use alpes_read::tracking::InteraccionRow;
use alpes_read::{ReadError, Views};
use async_graphql::dataloader::Loader;
use uuid::Uuid;

/// Loads from the views, counting each batch as one call of the query API.
pub(crate) struct ViewsLoader {
    pub(crate) views: Views,
    pub(crate) calls: Arc<AtomicU64>,
}

impl ViewsLoader {
    fn views(&self) -> &Views {
        self.calls.fetch_add(1, Ordering::Relaxed);
        &self.views
    }
}

/// A campaign by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CampanaKey(pub Uuid);

/// A campaign's statistics by campaign id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct EstadisticasKey(pub Uuid);

/// A journey's interactions by journey id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct InteraccionesDeJourney(pub Uuid);

impl Loader<CampanaKey> for ViewsLoader {
    type Value = CampanaRow;
    type Error = Arc<ReadError>;

    async fn load(
        &self,
        keys: &[CampanaKey],
    ) -> Result<HashMap<CampanaKey, CampanaRow>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|key| key.0).collect();
        let rows = self
            .views()
            .campanas_por_ids(&ids)
            .await
            .map_err(Arc::new)?;
        Ok(rows
            .into_iter()
            .map(|row| (CampanaKey(row.id), row))
            .collect())
    }
}

impl Loader<EstadisticasKey> for ViewsLoader {
    type Value = EstadisticasCampanaRow;
    type Error = Arc<ReadError>;

    async fn load(
        &self,
        keys: &[EstadisticasKey],
    ) -> Result<HashMap<EstadisticasKey, EstadisticasCampanaRow>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|key| key.0).collect();
        let rows = self
            .views()
            .estadisticas_por_campanas(&ids)
            .await
            .map_err(Arc::new)?;
        Ok(rows
            .into_iter()
            .map(|row| (EstadisticasKey(row.campana_id), row))
            .collect())
    }
}

impl Loader<InteraccionesDeJourney> for ViewsLoader {
    type Value = Vec<InteraccionRow>;
    type Error = Arc<ReadError>;

    async fn load(
        &self,
        keys: &[InteraccionesDeJourney],
    ) -> Result<HashMap<InteraccionesDeJourney, Vec<InteraccionRow>>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|key| key.0).collect();
        let rows = self
            .views()
            .interacciones_de_journeys(&ids)
            .await
            .map_err(Arc::new)?;
        let mut by_journey: HashMap<InteraccionesDeJourney, Vec<InteraccionRow>> =
            keys.iter().map(|key| (*key, Vec::new())).collect();
        for row in rows {
            by_journey
                .entry(InteraccionesDeJourney(row.journey_id))
                .or_default()
                .push(row);
        }
        Ok(by_journey)
    }
}
