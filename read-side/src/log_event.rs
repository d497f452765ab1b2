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
    decode_event(recorded, wanted).map_err(|reason| ReadError::UnreadableEvent {
        projection: projection.to_string(),
        position: recorded.position,
        reason,
    })
}

/// An event of the log decoded once on behalf of every projection.
#[derive(Debug)]
// Decoded events are moved once, from the shared reader to each projector's batch; boxing
// the common variant would add an allocation per event.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Decoded {
    /// An event of one of the four aggregates.
    Event(LogEvent),
    /// An event of one of them that this code cannot read: the projections that read
    /// that aggregate fail on it, the others pass it by.
    Unreadable {
        position: Position,
        aggregate: Aggregates,
        reason: String,
    },
    /// An event of an aggregate no projection reads.
    Other { position: Position },
}

impl Decoded {
    /// Decodes `recorded` for every projection.
    pub(crate) fn of(recorded: &RecordedEvent) -> Decoded {
        match decode_event(recorded, Aggregates::ALL) {
            Ok(Some(event)) => Decoded::Event(event),
            Ok(None) => Decoded::Other {
                position: recorded.position,
            },
            Err(reason) => Decoded::Unreadable {
                position: recorded.position,
                aggregate: Aggregates::of_type(&recorded.event.aggregate_type),
                reason,
            },
        }
    }

    /// Where the event is in the log.
    pub(crate) fn position(&self) -> Position {
        match self {
            Decoded::Event(event) => event.position,
            Decoded::Unreadable { position, .. } | Decoded::Other { position } => *position,
        }
    }

    /// The event, if `projection` (which reads `wanted`) reads it.
    pub(crate) fn for_projection(
        &self,
        wanted: Aggregates,
        projection: &str,
    ) -> Result<Option<&LogEvent>, ReadError> {
        match self {
            Decoded::Event(event) if wanted.reads(&event.event) => Ok(Some(event)),
            Decoded::Unreadable {
                position,
                aggregate,
                reason,
            } if wanted.overlaps(*aggregate) => Err(ReadError::UnreadableEvent {
                projection: projection.to_string(),
                position: *position,
                reason: reason.clone(),
            }),
            _ => Ok(None),
        }
    }
}

impl Aggregates {
    /// The aggregate named `aggregate_type` (none when unknown).
    fn of_type(aggregate_type: &str) -> Aggregates {
        Aggregates {
            campana: aggregate_type == Campana::TYPE,
            interaccion: aggregate_type == Interaccion::TYPE,
            atribucion: aggregate_type == Atribucion::TYPE,
            comision: aggregate_type == Comision::TYPE,
        }
    }

    /// Whether `event` is of one of these aggregates.
    fn reads(&self, event: &DomainEvent) -> bool {
        match event {
            DomainEvent::Campana(_) => self.campana,
            DomainEvent::Interaccion(_) => self.interaccion,
            DomainEvent::Atribucion(_) => self.atribucion,
            DomainEvent::Comision(_) => self.comision,
        }
    }

    /// Whether the two sets share an aggregate.
    fn overlaps(&self, other: Aggregates) -> bool {
        (self.campana && other.campana)
            || (self.interaccion && other.interaccion)
            || (self.atribucion && other.atribucion)
            || (self.comision && other.comision)
    }
}

/// Decodes `recorded` when it belongs to one of `wanted`; the reason when it cannot.
fn decode_event(recorded: &RecordedEvent, wanted: Aggregates) -> Result<Option<LogEvent>, String> {
    let aggregate = recorded.event.aggregate_type.as_str();
    let event = match aggregate {
        _ if aggregate == Campana::TYPE && wanted.campana => {
            DomainEvent::Campana(payload::<CampanaEvent>(recorded)?)
        }
        _ if aggregate == Interaccion::TYPE && wanted.interaccion => {
            DomainEvent::Interaccion(payload::<InteraccionEvent>(recorded)?)
        }
        _ if aggregate == Atribucion::TYPE && wanted.atribucion => {
            DomainEvent::Atribucion(payload::<AtribucionEvent>(recorded)?)
        }
        _ if aggregate == Comision::TYPE && wanted.comision => {
            DomainEvent::Comision(payload::<ComisionEvent>(recorded)?)
        }
        _ => return Ok(None),
    };
    let aggregate_id = Uuid::parse_str(&recorded.event.aggregate_id)
        .map_err(|error| unreadable(recorded, format!("aggregate id: {error}")))?;
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
fn payload<E>(recorded: &RecordedEvent) -> Result<E, String>
where
    E: cqrs_es::DomainEvent + for<'de> Deserialize<'de>,
{
    // Deserializing from a reference to the parsed payload avoids copying it.
    let event = E::deserialize(&recorded.event.payload)
        .map_err(|error| unreadable(recorded, format!("payload: {error}")))?;
    if event.event_version() != recorded.event.event_version {
        return Err(unreadable(
            recorded,
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

fn unreadable(recorded: &RecordedEvent, reason: String) -> String {
    format!(
        "{}#{}: {reason}",
        recorded.stream(),
        recorded.event.sequence
    )
}
