//! How Alpes events map onto EventStoreDB: stream names, cqrs-es sequence ↔ stream revision,
//! event ids, the custom metadata we write, positions in `$all` and which `$all` events make
//! up the global log. Pure functions only, so all of it is tested without a server.

use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::persist::SerializedEvent;
use eventstore::{EventData, ExpectedRevision, StreamPosition, SubscriptionFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use alpes_domain::ids::ALPES_NAMESPACE;

use crate::Position;

/// Event type of the records in a snapshot stream.
pub(crate) const SNAPSHOT_EVENT_TYPE: &str = "alpes-snapshot";

/// Suffix of the companion stream that holds an aggregate's snapshots.
pub(crate) const SNAPSHOT_STREAM_SUFFIX: &str = "-snapshot";

/// `{AggregateType}-{id}`: the stream of one aggregate instance.
pub(crate) fn aggregate_stream(aggregate_type: &str, aggregate_id: &str) -> String {
    format!("{aggregate_type}-{aggregate_id}")
}

/// `{AggregateType}-{id}-snapshot`: the companion stream with the aggregate's snapshots.
pub(crate) fn snapshot_stream(aggregate_type: &str, aggregate_id: &str) -> String {
    format!("{aggregate_type}-{aggregate_id}{SNAPSHOT_STREAM_SUFFIX}")
}

/// cqrs-es sequence `n` is stream revision `n - 1` (sequences start at 1, revisions at 0).
pub(crate) fn sequence_of(revision: u64) -> usize {
    usize::try_from(revision).map_or(usize::MAX, |revision| revision.saturating_add(1))
}

/// The stream revision of cqrs-es sequence `n`; `None` for 0, which no event has.
pub(crate) fn revision_of(sequence: usize) -> Option<u64> {
    sequence.checked_sub(1).map(|revision| revision as u64)
}

/// What the stream must look like for events starting at `first_sequence` to be appended:
/// empty for the first event of an aggregate, otherwise ending with the event just before.
/// `None` for sequence 0, which no event has.
pub(crate) fn expected_revision(first_sequence: usize) -> Option<ExpectedRevision> {
    match first_sequence {
        0 => None,
        1 => Some(ExpectedRevision::NoStream),
        later => Some(ExpectedRevision::Exact((later - 2) as u64)),
    }
}

/// The id of an event written by one append.
///
/// A UUID v5 under [`ALPES_NAMESPACE`] of `(aggregate type, aggregate id, sequence, append
/// id)`, where the append id is drawn once per `persist` call. Retrying that append (after a
/// connection error, when we cannot know whether it landed) sends the same ids, and the
/// server acknowledges a repeat of an append it already has without writing it twice.
///
/// The append id is what keeps optimistic concurrency working: EventStoreDB treats an append
/// whose event ids all match the events already at those revisions as a repeat and reports
/// success. Ids made of `(aggregate id, sequence)` alone would be equal for two *different*
/// writers appending at the same sequence, and the loser would be told it had won.
pub(crate) fn event_id(
    aggregate_type: &str,
    aggregate_id: &str,
    sequence: usize,
    append_id: &Uuid,
) -> Uuid {
    // A JSON array is an unambiguous encoding of the parts, whatever characters they hold.
    let name = serde_json::json!([
        "esdb-event",
        aggregate_type,
        aggregate_id,
        sequence,
        append_id
    ]);
    Uuid::new_v5(&ALPES_NAMESPACE, name.to_string().as_bytes())
}

/// The id of a snapshot record: the same snapshot written twice is one record.
pub(crate) fn snapshot_id(
    aggregate_type: &str,
    aggregate_id: &str,
    current_sequence: usize,
    current_snapshot: usize,
) -> Uuid {
    let name = serde_json::json!([
        "esdb-snapshot",
        aggregate_type,
        aggregate_id,
        current_sequence,
        current_snapshot
    ]);
    Uuid::new_v5(&ALPES_NAMESPACE, name.to_string().as_bytes())
}

/// What we keep in each event's custom metadata, besides the payload: everything of a
/// cqrs-es [`SerializedEvent`] that EventStoreDB does not store itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct EventMetadata {
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The cqrs-es sequence; informative, the stream revision is what counts on reading.
    pub sequence: usize,
    pub event_version: String,
    /// The cqrs-es metadata map (correlation, causation, actor, ...).
    pub metadata: Value,
}

impl EventMetadata {
    /// The custom metadata of `event`.
    pub(crate) fn of(event: &SerializedEvent) -> Self {
        EventMetadata {
            aggregate_type: event.aggregate_type.clone(),
            aggregate_id: event.aggregate_id.clone(),
            sequence: event.sequence,
            event_version: event.event_version.clone(),
            metadata: event.metadata.clone(),
        }
    }

    /// Reads the custom metadata bytes of a stored event.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.is_empty() {
            return Err("it has no custom metadata: not written by Alpes".to_string());
        }
        serde_json::from_slice(bytes)
            .map_err(|err| format!("its custom metadata is not ours: {err}"))
    }
}

/// The event to append for `event` (JSON payload, our custom metadata, a derived id).
pub(crate) fn event_data(
    event: &SerializedEvent,
    append_id: &Uuid,
) -> Result<EventData, serde_json::Error> {
    let id = event_id(
        &event.aggregate_type,
        &event.aggregate_id,
        event.sequence,
        append_id,
    );
    EventData::json(&event.event_type, &event.payload)?
        .id(id)
        .metadata_as_json(&EventMetadata::of(event))
}

/// Why a stored event could not be turned back into a cqrs-es event.
#[derive(Debug, PartialEq)]
pub(crate) struct UndecodableEvent {
    pub stream: String,
    pub sequence: usize,
    pub event_type: String,
    /// The stored event version when the metadata could be read, `"?"` otherwise.
    pub event_version: String,
    pub reason: String,
}

impl std::fmt::Display for UndecodableEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot read event {}#{} ({} v{}): {}",
            self.stream, self.sequence, self.event_type, self.event_version, self.reason
        )
    }
}

impl std::error::Error for UndecodableEvent {}

/// The cqrs-es event stored as `recorded` (not upcast). Its stream must be the one its
/// metadata names, so an event copied or written by someone else is refused, not misread.
pub(crate) fn serialized_event(
    recorded: &eventstore::RecordedEvent,
) -> Result<SerializedEvent, UndecodableEvent> {
    let sequence = sequence_of(recorded.revision);
    let undecodable = |event_version: &str, reason: String| UndecodableEvent {
        stream: recorded.stream_id.clone(),
        sequence,
        event_type: recorded.event_type.clone(),
        event_version: event_version.to_string(),
        reason,
    };
    let metadata = EventMetadata::from_bytes(&recorded.custom_metadata)
        .map_err(|reason| undecodable("?", reason))?;
    let expected_stream = aggregate_stream(&metadata.aggregate_type, &metadata.aggregate_id);
    if recorded.stream_id != expected_stream {
        return Err(undecodable(
            &metadata.event_version,
            format!("its metadata names stream {expected_stream}"),
        ));
    }
    let payload: Value = serde_json::from_slice(&recorded.data).map_err(|err| {
        undecodable(
            &metadata.event_version,
            format!("payload is not JSON: {err}"),
        )
    })?;
    Ok(SerializedEvent {
        aggregate_id: metadata.aggregate_id,
        sequence,
        aggregate_type: metadata.aggregate_type,
        event_type: recorded.event_type.clone(),
        event_version: metadata.event_version,
        payload,
        metadata: metadata.metadata,
    })
}

/// One snapshot record of a snapshot stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SnapshotRecord {
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The sequence of the last event the snapshot includes.
    pub current_sequence: usize,
    /// The snapshot's own number, as cqrs-es counts them.
    pub current_snapshot: usize,
    /// The serialized aggregate.
    pub aggregate: Value,
}

impl SnapshotRecord {
    /// The event that stores this snapshot.
    pub(crate) fn event_data(&self) -> Result<EventData, serde_json::Error> {
        let id = snapshot_id(
            &self.aggregate_type,
            &self.aggregate_id,
            self.current_sequence,
            self.current_snapshot,
        );
        Ok(EventData::json(SNAPSHOT_EVENT_TYPE, self)?.id(id))
    }
}

/// Our log position of an event in `$all`.
pub(crate) fn log_position(position: eventstore::Position) -> Position {
    Position::new(position.commit, position.prepare)
}

/// The `$all` position of a log position. Both order by commit, then prepare position.
pub(crate) fn esdb_position(position: Position) -> eventstore::Position {
    eventstore::Position {
        commit: position.high,
        prepare: position.low,
    }
}

/// Where a read or subscription of `$all` "after `position`" starts. [`Position::START`] is
/// before every event; the transaction file begins with a system record, so no event of ours
/// is ever at `0:0`.
pub(crate) fn start_of_all(position: Position) -> StreamPosition<eventstore::Position> {
    if position == Position::START {
        StreamPosition::Start
    } else {
        StreamPosition::Position(esdb_position(position))
    }
}

/// The server-side filter of `$all` reads for the log: no system events (types starting with
/// `$`: links, stream metadata, statistics, tombstones, ...).
///
/// Snapshot records and the rare user-typed events of system streams (projection results)
/// are dropped on our side by [`is_log_event`]: an event-type filter cannot also exclude
/// streams, and snapshot records are too few to be worth a look-ahead regex.
pub(crate) fn log_filter() -> SubscriptionFilter {
    SubscriptionFilter::on_event_type().exclude_system_events()
}

/// Whether an event of `$all` belongs to the global log: not a system event, not in a system
/// stream, not a snapshot.
pub(crate) fn is_log_event(stream: &str, event_type: &str) -> bool {
    !stream.starts_with('$')
        && !event_type.starts_with('$')
        && event_type != SNAPSHOT_EVENT_TYPE
        && !stream.ends_with(SNAPSHOT_STREAM_SUFFIX)
}

/// EventStoreDB's `created` system metadata counts 100 ns ticks since the Unix epoch.
const TICKS_PER_SECOND: i64 = 10_000_000;

/// When the server recorded the event, to the 100 ns. The client's own `created` drops the
/// fraction of a second; the `created` system metadata still has it.
pub(crate) fn recorded_at(recorded: &eventstore::RecordedEvent) -> DateTime<Utc> {
    recorded
        .metadata
        .get("created")
        .and_then(|ticks| ticks.parse::<i64>().ok())
        .and_then(time_of_ticks)
        .unwrap_or(recorded.created)
}

fn time_of_ticks(ticks: i64) -> Option<DateTime<Utc>> {
    let seconds = ticks.div_euclid(TICKS_PER_SECOND);
    let nanos = ticks.rem_euclid(TICKS_PER_SECOND) * 100;
    Utc.timestamp_opt(seconds, u32::try_from(nanos).ok()?)
        .single()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn serialized(sequence: usize) -> SerializedEvent {
        SerializedEvent {
            aggregate_id: "0b7f6a3c-1d2e-4f50-9a8b-7c6d5e4f3a2b".to_string(),
            sequence,
            aggregate_type: "Campana".to_string(),
            event_type: "CampanaCreada".to_string(),
            event_version: "1.1".to_string(),
            payload: json!({"nombre": "Verano", "presupuesto": {"minor_units": 150000, "currency": "EUR"}}),
            metadata: json!({"correlation_id": "c-1", "actor": "marta"}),
        }
    }

    fn recorded(event: &SerializedEvent, stream: &str) -> eventstore::RecordedEvent {
        eventstore::RecordedEvent {
            stream_id: stream.to_string(),
            id: Uuid::nil(),
            revision: revision_of(event.sequence).unwrap(),
            event_type: event.event_type.clone(),
            data: serde_json::to_vec(&event.payload).unwrap().into(),
            metadata: HashMap::new(),
            custom_metadata: serde_json::to_vec(&EventMetadata::of(event))
                .unwrap()
                .into(),
            is_json: true,
            position: eventstore::Position {
                commit: 4096,
                prepare: 4096,
            },
            created: Utc.timestamp_opt(1_700_000_000, 0).single().unwrap(),
        }
    }

    #[test]
    fn an_aggregate_lives_in_its_own_stream_and_its_snapshots_beside_it() {
        assert_eq!(aggregate_stream("Campana", "42"), "Campana-42");
        assert_eq!(snapshot_stream("Campana", "42"), "Campana-42-snapshot");
    }

    #[test]
    fn the_first_sequence_is_revision_zero() {
        assert_eq!(revision_of(1), Some(0));
        assert_eq!(sequence_of(0), 1);
        assert_eq!(revision_of(0), None);
    }

    #[test]
    fn a_new_aggregate_expects_no_stream() {
        assert_eq!(expected_revision(1), Some(ExpectedRevision::NoStream));
    }

    #[test]
    fn appending_sequence_s_expects_the_revision_of_sequence_s_minus_one() {
        assert_eq!(expected_revision(2), Some(ExpectedRevision::Exact(0)));
        assert_eq!(expected_revision(11), Some(ExpectedRevision::Exact(9)));
        assert_eq!(expected_revision(0), None);
    }

    proptest! {
        #[test]
        fn sequence_and_revision_are_inverse(revision in 0u64..u64::from(u32::MAX)) {
            prop_assert_eq!(revision_of(sequence_of(revision)), Some(revision));
        }

        #[test]
        fn the_expected_revision_is_that_of_the_previous_event(sequence in 2usize..1_000_000) {
            prop_assert_eq!(
                expected_revision(sequence),
                Some(ExpectedRevision::Exact(revision_of(sequence - 1).unwrap()))
            );
        }

        #[test]
        fn positions_keep_their_order(
            a in (any::<u64>(), any::<u64>()),
            b in (any::<u64>(), any::<u64>()),
        ) {
            let (a, b) = (
                eventstore::Position { commit: a.0, prepare: a.1 },
                eventstore::Position { commit: b.0, prepare: b.1 },
            );
            prop_assert_eq!(a.cmp(&b), log_position(a).cmp(&log_position(b)));
            prop_assert_eq!(esdb_position(log_position(a)), a);
        }
    }

    #[test]
    fn a_position_is_commit_then_prepare() {
        let position = log_position(eventstore::Position {
            commit: 700,
            prepare: 650,
        });
        assert_eq!(position, Position::new(700, 650));
        assert_eq!(position.to_string(), "700:650");
    }

    #[test]
    fn reading_after_the_start_reads_from_the_start() {
        assert_eq!(start_of_all(Position::START), StreamPosition::Start);
        assert_eq!(
            start_of_all(Position::new(7, 5)),
            StreamPosition::Position(eventstore::Position {
                commit: 7,
                prepare: 5
            })
        );
    }

    #[test]
    fn a_retried_append_sends_the_same_event_ids() {
        let append = Uuid::from_u128(7);
        assert_eq!(
            event_id("Campana", "a", 3, &append),
            event_id("Campana", "a", 3, &append)
        );
    }

    #[test]
    fn competing_appends_at_the_same_sequence_send_different_event_ids() {
        assert_ne!(
            event_id("Campana", "a", 3, &Uuid::from_u128(7)),
            event_id("Campana", "a", 3, &Uuid::from_u128(8))
        );
    }

    #[test]
    fn event_ids_differ_by_aggregate_and_sequence() {
        let append = Uuid::from_u128(7);
        let id = event_id("Campana", "a", 3, &append);
        assert_ne!(id, event_id("Campana", "a", 4, &append));
        assert_ne!(id, event_id("Campana", "b", 3, &append));
        assert_ne!(id, event_id("Comision", "a", 3, &append));
        // Parts are never confused across their boundaries.
        assert_ne!(
            event_id("Campana", "a-1", 3, &append),
            event_id("Campana-a", "1", 3, &append)
        );
        assert_eq!(id.get_version_num(), 5);
    }

    #[test]
    fn snapshot_ids_depend_on_what_they_snapshot() {
        let id = snapshot_id("Campana", "a", 10, 1);
        assert_eq!(id, snapshot_id("Campana", "a", 10, 1));
        assert_ne!(id, snapshot_id("Campana", "a", 20, 2));
        assert_ne!(id, event_id("Campana", "a", 10, &Uuid::nil()));
    }

    #[test]
    fn an_event_reads_back_as_it_was_written() {
        let event = serialized(3);
        let read = serialized_event(&recorded(
            &event,
            "Campana-0b7f6a3c-1d2e-4f50-9a8b-7c6d5e4f3a2b",
        ));
        assert_eq!(read, Ok(event));
    }

    #[test]
    fn the_custom_metadata_round_trips_through_bytes() {
        let metadata = EventMetadata::of(&serialized(5));
        let bytes = serde_json::to_vec(&metadata).unwrap();
        assert_eq!(EventMetadata::from_bytes(&bytes), Ok(metadata));
    }

    #[test]
    fn the_sequence_comes_from_the_stream_revision() {
        let event = serialized(3);
        let mut stored = recorded(&event, "Campana-0b7f6a3c-1d2e-4f50-9a8b-7c6d5e4f3a2b");
        stored.revision = 8;
        assert_eq!(serialized_event(&stored).unwrap().sequence, 9);
    }

    #[test]
    fn an_event_without_our_metadata_is_refused_naming_it() {
        let event = serialized(2);
        let mut foreign = recorded(&event, "Campana-0b7f6a3c-1d2e-4f50-9a8b-7c6d5e4f3a2b");
        foreign.custom_metadata = Vec::new().into();
        let error = serialized_event(&foreign).unwrap_err();
        assert_eq!(error.stream, "Campana-0b7f6a3c-1d2e-4f50-9a8b-7c6d5e4f3a2b");
        assert_eq!(error.sequence, 2);
        assert_eq!(error.event_type, "CampanaCreada");
        assert!(error.reason.contains("no custom metadata"), "{error}");
    }

    #[test]
    fn an_event_in_another_stream_than_its_metadata_names_is_refused() {
        let event = serialized(1);
        let error = serialized_event(&recorded(&event, "Campana-otra")).unwrap_err();
        assert!(
            error.reason.contains("names stream Campana-0b7f"),
            "{error}"
        );
    }

    #[test]
    fn a_payload_that_is_not_json_is_refused() {
        let event = serialized(1);
        let mut stored = recorded(&event, "Campana-0b7f6a3c-1d2e-4f50-9a8b-7c6d5e4f3a2b");
        stored.data = b"\x00\x01".to_vec().into();
        let error = serialized_event(&stored).unwrap_err();
        assert_eq!(error.event_version, "1.1");
        assert!(error.reason.contains("not JSON"), "{error}");
    }

    #[test]
    fn the_log_is_every_event_of_an_aggregate_stream() {
        assert!(is_log_event("Campana-1", "CampanaCreada"));
        assert!(is_log_event("Comision-2", "ComisionPagada"));
    }

    #[test]
    fn system_events_snapshots_and_system_streams_are_not_in_the_log() {
        assert!(!is_log_event("$ce-Campana", "$>"));
        assert!(!is_log_event("$$Campana-1", "$metadata"));
        assert!(!is_log_event("Campana-1", "$streamDeleted"));
        assert!(!is_log_event("Campana-1-snapshot", SNAPSHOT_EVENT_TYPE));
        assert!(!is_log_event("Campana-1-snapshot", "Anything"));
        assert!(!is_log_event("$projections-totales-result", "Result"));
    }

    #[test]
    fn the_recorded_time_keeps_the_fraction_of_a_second() {
        let event = serialized(1);
        let mut stored = recorded(&event, "Campana-0b7f6a3c-1d2e-4f50-9a8b-7c6d5e4f3a2b");
        // 2023-11-14T22:13:20.1234567Z in 100 ns ticks since the Unix epoch.
        stored
            .metadata
            .insert("created".to_string(), "17000000001234567".to_string());
        let expected = Utc
            .timestamp_opt(1_700_000_000, 123_456_700)
            .single()
            .unwrap();
        assert_eq!(recorded_at(&stored), expected);
    }

    #[test]
    fn the_recorded_time_falls_back_to_the_clients_when_metadata_lacks_it() {
        let event = serialized(1);
        let stored = recorded(&event, "Campana-0b7f6a3c-1d2e-4f50-9a8b-7c6d5e4f3a2b");
        assert_eq!(recorded_at(&stored), stored.created);
    }

    #[test]
    fn a_snapshot_record_round_trips_through_json() {
        let record = SnapshotRecord {
            aggregate_type: "Campana".to_string(),
            aggregate_id: "a".to_string(),
            current_sequence: 40,
            current_snapshot: 4,
            aggregate: json!({"reservado": 1200}),
        };
        let bytes = serde_json::to_vec(&record).unwrap();
        assert_eq!(
            serde_json::from_slice::<SnapshotRecord>(&bytes).unwrap(),
            record
        );
        assert!(record.event_data().is_ok());
    }
}
