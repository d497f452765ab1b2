//! Journeys and their saga log.

use alpes_read::saga::{EstadoJourney as ReadEstado, JourneyRow, PasoRow};
use async_graphql::{Context, Enum, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::tracking::Interaccion;
use super::{db, or_load_error};
use crate::loaders::InteraccionesDeJourney;

/// Where a journey's saga is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub(crate) enum EstadoJourney {
    /// Interactions only, no conversion yet.
    Started,
    /// A conversion's saga is running.
    InProgress,
    /// A compensation is running.
    Compensating,
    /// Every credited partner's commission is reserved.
    Completed,
    /// Nobody got credit for the conversion.
    NotAttributed,
    /// The attribution was taken back.
    Reverted,
}

impl From<EstadoJourney> for ReadEstado {
    fn from(estado: EstadoJourney) -> Self {
        match estado {
            EstadoJourney::Started => ReadEstado::Started,
            EstadoJourney::InProgress => ReadEstado::InProgress,
            EstadoJourney::Compensating => ReadEstado::Compensating,
            EstadoJourney::Completed => ReadEstado::Completed,
            EstadoJourney::NotAttributed => ReadEstado::NotAttributed,
            EstadoJourney::Reverted => ReadEstado::Reverted,
        }
    }
}

/// Which journeys to list; every field given must match.
#[derive(Clone, Debug, Default, InputObject)]
pub(crate) struct JourneyFilter {
    /// Whose first interaction was in this campaign.
    pub campana_id: Option<Uuid>,
    /// In this state.
    pub estado: Option<EstadoJourney>,
}

impl From<JourneyFilter> for alpes_read::saga::JourneyFilter {
    fn from(filter: JourneyFilter) -> Self {
        alpes_read::saga::JourneyFilter {
            campana_id: filter.campana_id,
            estado: filter.estado.map(Into::into),
        }
    }
}

/// One step of a journey's saga log.
pub(crate) struct Paso(pub PasoRow);

#[Object]
impl Paso {
    /// From 1, in log order.
    async fn n(&self) -> i64 {
        self.0.n
    }
    /// `tracking`, `atribucion`, `presupuesto` or `comision`.
    async fn paso(&self) -> &str {
        &self.0.paso
    }
    /// The event recorded.
    async fn evento(&self) -> &str {
        &self.0.evento
    }
    /// The command that produced it.
    async fn comando(&self) -> &str {
        &self.0.comando
    }
    /// The stream, `{Aggregate}-{id}`.
    async fn agregado(&self) -> &str {
        &self.0.agregado
    }
    /// What came of it.
    async fn resultado(&self) -> &str {
        &self.0.resultado
    }
    async fn actor(&self) -> Option<&str> {
        self.0.actor.as_deref()
    }
    async fn ocurrido_en(&self) -> DateTime<Utc> {
        self.0.ocurrido_en
    }
}

/// A journey: its saga's state, counters and (for one journey) its steps.
pub(crate) struct Journey {
    pub row: JourneyRow,
    /// The saga log, when read with the journey (`journey(id)`); lists leave it out.
    pub pasos: Option<Vec<PasoRow>>,
}

#[Object]
impl Journey {
    async fn id(&self) -> Uuid {
        self.row.id
    }
    /// `started`, `in_progress`, `compensating`, `completed`, `not_attributed` or `reverted`.
    async fn estado(&self) -> &str {
        &self.row.estado
    }
    async fn campana_id(&self) -> Option<Uuid> {
        self.row.campana_id
    }
    /// Interactions registered.
    async fn total_interacciones(&self) -> i64 {
        self.row.interacciones
    }
    async fn conversiones(&self) -> i64 {
        self.row.conversiones
    }
    /// Partners credited by its attributions.
    async fn creditos(&self) -> i64 {
        self.row.creditos
    }
    async fn comisiones_reservadas(&self) -> i64 {
        self.row.comisiones_reservadas
    }
    async fn descartadas(&self) -> i64 {
        self.row.descartadas
    }
    async fn iniciado_en(&self) -> DateTime<Utc> {
        self.row.iniciado_en
    }
    async fn actualizado_en(&self) -> DateTime<Utc> {
        self.row.actualizado_en
    }
    /// The saga log, in order (only on `journey(id)`; null in lists).
    async fn pasos(&self) -> Option<Vec<Paso>> {
        self.pasos
            .as_ref()
            .map(|pasos| pasos.iter().cloned().map(Paso).collect())
    }
    /// Its interactions, oldest first (batched across a list).
    async fn interacciones(&self, ctx: &Context<'_>) -> Result<Vec<Interaccion>> {
        let loaded = db(ctx)?
            .loader
            .load_one(InteraccionesDeJourney(self.row.id))
            .await;
        Ok(or_load_error(loaded)?
            .unwrap_or_default()
            .into_iter()
            .map(Interaccion)
            .collect())
    }
}
