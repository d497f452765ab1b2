//! The saga's view: each journey's saga log — its steps in order and its state.
//!
//! A journey starts with its first interaction (`started`). A conversion starts its saga
//! (`in_progress`): attribution, budget reservation, commission reservation; once every
//! credited partner's commission is reserved the journey is `completed` (approvals and
//! payments are logged after). A conversion nobody is credited for (or that the fraud
//! rules reject before attribution) leaves it `not_attributed`. A budget that cannot cover
//! a commission, or fraud found after attribution, starts the compensation
//! (`compensating`), which ends when the attribution is reverted (`reverted`); the
//! discarded interactions are logged after.

mod projection;
mod queries;

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::view_row;
use crate::pagination::Paged;

pub(crate) use projection::SagaProjection;
pub use queries::{JourneyFilter, JourneyView};

/// Where a journey's saga is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EstadoJourney {
    /// Interactions only, no conversion yet.
    Started,
    /// A conversion's saga is running.
    InProgress,
    /// A compensation is running (budget insufficient, or fraud).
    Compensating,
    /// Every credited partner's commission is reserved.
    Completed,
    /// Nobody got credit for the conversion.
    NotAttributed,
    /// The attribution was taken back.
    Reverted,
}

impl EstadoJourney {
    /// Every state.
    pub const ALL: [EstadoJourney; 6] = [
        EstadoJourney::Started,
        EstadoJourney::InProgress,
        EstadoJourney::Compensating,
        EstadoJourney::Completed,
        EstadoJourney::NotAttributed,
        EstadoJourney::Reverted,
    ];

    /// As stored: `started`, `in_progress`, `compensating`, `completed`, `not_attributed`,
    /// `reverted`.
    pub fn as_str(self) -> &'static str {
        match self {
            EstadoJourney::Started => "started",
            EstadoJourney::InProgress => "in_progress",
            EstadoJourney::Compensating => "compensating",
            EstadoJourney::Completed => "completed",
            EstadoJourney::NotAttributed => "not_attributed",
            EstadoJourney::Reverted => "reverted",
        }
    }

    /// The state stored as `text`.
    pub fn parse(text: &str) -> Option<EstadoJourney> {
        EstadoJourney::ALL
            .into_iter()
            .find(|estado| estado.as_str() == text)
    }
}

impl fmt::Display for EstadoJourney {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

view_row! {
    /// One journey: its saga's state and counters.
    pub struct JourneyRow in "journeys" key (id: Uuid) {
        /// The journey's id.
        pub id: Uuid,
        /// See [`EstadoJourney`].
        pub estado: String,
        /// The campaign of its first interaction.
        pub campana_id: Option<Uuid>,
        /// Interactions registered.
        pub interacciones: i64,
        /// Of those, conversions.
        pub conversiones: i64,
        /// Partners credited by its attributions (commissions expected).
        pub creditos: i64,
        /// Commissions reserved.
        pub comisiones_reservadas: i64,
        /// Interactions discarded.
        pub descartadas: i64,
        /// Steps logged.
        pub pasos: i64,
        /// When the store recorded its first event.
        pub iniciado_en: DateTime<Utc>,
        /// When the store recorded its last event.
        pub actualizado_en: DateTime<Utc>,
        /// Log position of its first event: the keyset of lists (high part).
        pub seq_high: i64,
        /// Log position of its first event (low part).
        pub seq_low: i64,
        /// Log position (`high:low`) of the last event applied to this row.
        pub log_position: String,
    }
}

impl JourneyRow {
    /// The state, typed.
    pub fn estado(&self) -> Option<EstadoJourney> {
        EstadoJourney::parse(&self.estado)
    }
}

impl Paged for JourneyRow {
    fn seq(&self) -> (i64, i64) {
        (self.seq_high, self.seq_low)
    }
}

view_row! {
    /// One step of a journey's saga log.
    pub struct PasoRow in "journey_pasos" key (journey_id: Uuid, n: i64) {
        /// The journey.
        pub journey_id: Uuid,
        /// The step's number, from 1, in log order.
        pub n: i64,
        /// The service that took it: `tracking`, `atribucion`, `presupuesto` or `comision`.
        pub paso: String,
        /// The event recorded, e.g. `ConversionAtribuida`.
        pub evento: String,
        /// The command that produced it, e.g. `AtribuirConversion`.
        pub comando: String,
        /// The stream, `{Aggregate}-{id}`.
        pub agregado: String,
        /// What came of it, e.g. `atribuida a 2 partners`.
        pub resultado: String,
        /// Who sent the command, when recorded.
        pub actor: Option<String>,
        /// When the store recorded the event.
        pub ocurrido_en: DateTime<Utc>,
        /// The event's log position (high part).
        pub seq_high: i64,
        /// The event's log position (low part).
        pub seq_low: i64,
    }
}
