//! Which part of the log an export covers.

use std::str::FromStr;

use alpes_event_store::{Position, RecordedEvent};
use chrono::{DateTime, NaiveDate, Utc};

use crate::AuditError;

/// One end of the exported range: a log position or a recorded time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Position(Position),
    Time(DateTime<Utc>),
}

impl FromStr for Bound {
    type Err = AuditError;

    /// `HIGH:LOW` (a position), an RFC 3339 time, or a date (`2024-03-01`, midnight UTC).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Ok(position) = text.parse::<Position>() {
            return Ok(Bound::Position(position));
        }
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Ok(Bound::Time(time.with_timezone(&Utc)));
        }
        if let Some(midnight) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|date| date.and_hms_opt(0, 0, 0))
        {
            return Ok(Bound::Time(midnight.and_utc()));
        }
        Err(AuditError::InvalidArgument(format!(
            "'{text}' is neither a log position (HIGH:LOW, e.g. 42:0) nor a time (RFC 3339, e.g. 2024-03-01T10:00:00Z, or a date 2024-03-01)"
        )))
    }
}

/// The records an export keeps. Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportFilter {
    /// Inclusive lower end.
    pub from: Option<Bound>,
    /// Inclusive upper end.
    pub to: Option<Bound>,
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub event_type: Option<String>,
    /// The `correlation_id` in the events' metadata.
    pub correlation: Option<String>,
}

impl ExportFilter {
    /// Parses `TYPE` or `TYPE:ID` for `--aggregate`.
    pub fn with_aggregate(mut self, text: &str) -> Result<Self, AuditError> {
        let (aggregate_type, id) = match text.split_once(':') {
            Some((aggregate_type, id)) => (aggregate_type, Some(id)),
            None => (text, None),
        };
        if aggregate_type.trim().is_empty() || id.is_some_and(|id| id.trim().is_empty()) {
            return Err(AuditError::InvalidArgument(format!(
                "'{text}' is not an aggregate (expected TYPE or TYPE:ID, e.g. Campana or Campana:0b7e…)"
            )));
        }
        self.aggregate_type = Some(aggregate_type.trim().to_string());
        self.aggregate_id = id.map(|id| id.trim().to_string());
        Ok(self)
    }

    /// Rejects contradictory bounds and unknown names before anything is read.
    pub fn validate(
        &self,
        known_aggregates: &[&str],
        known_event_types: &[&str],
    ) -> Result<(), AuditError> {
        match (self.from, self.to) {
            (Some(Bound::Position(from)), Some(Bound::Position(to))) if from > to => {
                return Err(AuditError::InvalidArgument(format!(
                    "--from {from} is after --to {to}"
                )))
            }
            (Some(Bound::Time(from)), Some(Bound::Time(to))) if from > to => {
                return Err(AuditError::InvalidArgument(format!(
                    "--from {} is after --to {}",
                    from.to_rfc3339(),
                    to.to_rfc3339()
                )))
            }
            _ => {}
        }
        if let Some(aggregate) = &self.aggregate_type {
            if !known_aggregates.contains(&aggregate.as_str()) {
                return Err(AuditError::InvalidArgument(format!(
                    "unknown aggregate type '{aggregate}'; known: {}",
                    known_aggregates.join(", ")
                )));
            }
        }
        if let Some(event_type) = &self.event_type {
            if !known_event_types.contains(&event_type.as_str()) {
                return Err(AuditError::InvalidArgument(format!(
                    "unknown event type '{event_type}'; known: {}",
                    known_event_types.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Where reading can start: just before `--from` when it is a position.
    pub fn start(&self) -> Position {
        match self.from {
            Some(Bound::Position(from)) => before(from),
            _ => Position::START,
        }
    }

    /// True once `event` is past `--to` given as a position: reading can stop.
    pub fn is_past_end(&self, event: &RecordedEvent) -> bool {
        matches!(self.to, Some(Bound::Position(to)) if event.position > to)
    }

    /// Whether `event` belongs in the export.
    pub fn keeps(&self, event: &RecordedEvent) -> bool {
        let stored = &event.event;
        self.keeps_candidate(&Candidate {
            position: event.position,
            recorded_at: event.recorded_at,
            aggregate_type: &stored.aggregate_type,
            aggregate_id: &stored.aggregate_id,
            event_type: &stored.event_type,
            correlation_id: stored
                .metadata
                .get("correlation_id")
                .and_then(|v| v.as_str()),
        })
    }

    /// Whether the event described by `candidate` belongs in the export.
    pub(crate) fn keeps_candidate(&self, candidate: &Candidate<'_>) -> bool {
        let within_from = match self.from {
            Some(Bound::Position(from)) => candidate.position >= from,
            Some(Bound::Time(from)) => candidate.recorded_at >= from,
            None => true,
        };
        let within_to = match self.to {
            Some(Bound::Position(to)) => candidate.position <= to,
            Some(Bound::Time(to)) => candidate.recorded_at <= to,
            None => true,
        };
        within_from
            && within_to
            && self
                .aggregate_type
                .as_ref()
                .is_none_or(|t| t == candidate.aggregate_type)
            && self
                .aggregate_id
                .as_ref()
                .is_none_or(|id| id == candidate.aggregate_id)
            && self
                .event_type
                .as_ref()
                .is_none_or(|t| t == candidate.event_type)
            && self
                .correlation
                .as_ref()
                .is_none_or(|c| candidate.correlation_id == Some(c.as_str()))
    }
}

/// What the filter looks at in an event.
pub(crate) struct Candidate<'a> {
    pub position: Position,
    pub recorded_at: DateTime<Utc>,
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub event_type: &'a str,
    /// The metadata's `correlation_id` when it is a string.
    pub correlation_id: Option<&'a str>,
}

/// A position at or before the one just before `position`, so that reading "after" it
/// includes it; [`ExportFilter::keeps`] drops anything earlier that this lets through.
fn before(position: Position) -> Position {
    match (position.high, position.low) {
        (0, 0) => Position::START,
        (high, 0) => Position::new(high - 1, 0),
        (high, low) => Position::new(high, low - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_parse_positions_times_and_dates() {
        assert_eq!(
            "7:0".parse::<Bound>().unwrap(),
            Bound::Position(Position::new(7, 0))
        );
        assert!(matches!(
            "2024-03-01".parse::<Bound>().unwrap(),
            Bound::Time(_)
        ));
        assert!(matches!(
            "2024-03-01T10:00:00+01:00".parse::<Bound>().unwrap(),
            Bound::Time(_)
        ));
        let err = "yesterday".parse::<Bound>().unwrap_err().to_string();
        assert!(err.contains("'yesterday'"), "{err}");
    }

    #[test]
    fn from_after_to_is_rejected() {
        let filter = ExportFilter {
            from: Some(Bound::Position(Position::new(9, 0))),
            to: Some(Bound::Position(Position::new(3, 0))),
            ..Default::default()
        };
        let err = filter.validate(&[], &[]).unwrap_err().to_string();
        assert!(err.contains("after"), "{err}");
    }

    #[test]
    fn unknown_types_are_rejected_with_the_known_ones() {
        let filter = ExportFilter {
            event_type: Some("Nada".into()),
            ..Default::default()
        };
        let err = filter
            .validate(&["Campana"], &["CampanaCreada"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'Nada'") && err.contains("CampanaCreada"),
            "{err}"
        );
        assert!(ExportFilter::default().with_aggregate("Campana:").is_err());
    }

    #[test]
    fn reading_starts_just_before_the_from_position() {
        let filter = ExportFilter {
            from: Some(Bound::Position(Position::new(5, 3))),
            ..Default::default()
        };
        assert_eq!(filter.start(), Position::new(5, 2));
        assert_eq!(before(Position::new(5, 0)), Position::new(4, 0));
    }
}
