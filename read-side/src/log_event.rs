//! Events of the global log, decoded once per batch for the projections that read them.

use alpes_domain::atribucion::{Atribucion, AtribucionEvent};
use alpes_domain::campana::{Campana, CampanaEvent};
use alpes_domain::comision::{Comision, ComisionEvent};
use alpes_domain::interaccion::{Interaccion, InteraccionEvent};
use alpes_event_store::{Position, RecordedEvent};
use chrono::{DateTime, Utc};
use cqrs_es::{Aggregate, DomainEvent as _};
use serde::Deserialize;
use uuid::Uuid;

use crate::ReadError;

/// An event of one of the four aggregates.
// The variants hold the domain's events as they are; boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(crate) enum DomainEvent {
    Campana(CampanaEvent),
    Interaccion(InteraccionEvent),
    Atribucion(AtribucionEvent),
    Comision(ComisionEvent),
}

/// One decoded event and where it is in the log.
#[derive(Debug, Clone)]
pub(crate) struct LogEvent {
    /// Its place in the global log.
    pub position: Position,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The aggregate it belongs to.
    pub aggregate_id: Uuid,
    /// Its sequence in the aggregate (the aggregate's version after it).
    pub sequence: i64,
    /// Who sent the command that produced it (metadata `actor`), when recorded.
    pub actor: Option<String>,
    /// The event.
    pub event: DomainEvent,
}

impl LogEvent {
    /// `{AggregateType}-{id}`.
    pub(crate) fn stream(&self) -> String {
        let aggregate = match self.event {
            DomainEvent::Campana(_) => Campana::TYPE,
            DomainEvent::Interaccion(_) => Interaccion::TYPE,
            DomainEvent::Atribucion(_) => Atribucion::TYPE,
            DomainEvent::Comision(_) => Comision::TYPE,
        };
        format!("{aggregate}-{}", self.aggregate_id)
    }

    /// The event's name.
    pub(crate) fn event_type(&self) -> String {
        match &self.event {
            DomainEvent::Campana(event) => event.event_type(),
            DomainEvent::Interaccion(event) => event.event_type(),
            DomainEvent::Atribucion(event) => event.event_type(),
            DomainEvent::Comision(event) => event.event_type(),
        }
    }
}

/// The aggregates whose events a projection reads.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Aggregates {
    pub campana: bool,
    pub interaccion: bool,
    pub atribucion: bool,
    pub comision: bool,
}

impl Aggregates {
    /// Every aggregate.
    pub(crate) const ALL: Aggregates = Aggregates {
        campana: true,
        interaccion: true,
        atribucion: true,
        comision: true,
    };
}

/// Decodes `recorded` when it belongs to one of `wanted`; `None` for events of other
/// aggregates (and of aggregate types this code does not know).
pub(crate) fn decode(
    recorded: &RecordedEvent,
    wanted: Aggregates,
    projection: &str,
) -> Result<Option<LogEvent>, ReadError> {
    let aggregate = recorded.event.aggregate_type.as_str();
    let event = match aggregate {
        _ if aggregate == Campana::TYPE && wanted.campana => {
            DomainEvent::Campana(payload::<CampanaEvent>(recorded, projection)?)
        }
        _ if aggregate == Interaccion::TYPE && wanted.interaccion => {
            DomainEvent::Interaccion(payload::<InteraccionEvent>(recorded, projection)?)
        }
        _ if aggregate == Atribucion::TYPE && wanted.atribucion => {
            DomainEvent::Atribucion(payload::<AtribucionEvent>(recorded, projection)?)
        }
        _ if aggregate == Comision::TYPE && wanted.comision => {
            DomainEvent::Comision(payload::<ComisionEvent>(recorded, projection)?)
        }
        _ => return Ok(None),
    };
    let aggregate_id = Uuid::parse_str(&recorded.event.aggregate_id)
        .map_err(|error| unreadable(recorded, projection, format!("aggregate id: {error}")))?;
    let actor = recorded
        .event
        .metadata
        .get("actor")
        .and_then(|actor| actor.as_str())
        .map(str::to_string);
    Ok(Some(LogEvent {
        position: recorded.position,
        recorded_at: recorded.recorded_at,
        aggregate_id,
        sequence: i64::try_from(recorded.event.sequence).unwrap_or(i64::MAX),
        actor,
        event,
    }))
}

/// The payload as `E`, refusing a version this code does not read (the log hands out
/// upcast events, so any other version is one no upcaster brought forward).
fn payload<E>(recorded: &RecordedEvent, projection: &str) -> Result<E, ReadError>
where
    E: cqrs_es::DomainEvent + for<'de> Deserialize<'de>,
{
    // Deserializing from a reference to the parsed payload avoids copying it.
    let event = E::deserialize(&recorded.event.payload)
        .map_err(|error| unreadable(recorded, projection, format!("payload: {error}")))?;
    if event.event_version() != recorded.event.event_version {
        return Err(unreadable(
            recorded,
            projection,
            format!(
                "{} is at version {}, this code reads version {}",
                recorded.event.event_type,
                recorded.event.event_version,
                event.event_version()
            ),
        ));
    }
    Ok(event)
}

fn unreadable(recorded: &RecordedEvent, projection: &str, reason: String) -> ReadError {
    ReadError::UnreadableEvent {
        projection: projection.to_string(),
        position: recorded.position,
        reason: format!(
            "{}#{}: {reason}",
            recorded.stream(),
            recorded.event.sequence
        ),
    }
}
