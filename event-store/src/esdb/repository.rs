//! The cqrs-es event repository over EventStoreDB: one stream per aggregate instance,
//! optimistic concurrency through the expected stream revision, snapshots in a companion
//! stream.

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayFeed, ReplayStream, SerializedEvent,
    SerializedSnapshot,
};
use cqrs_es::Aggregate;
use eventstore::{
    AppendToStreamOptions, Client, ExpectedRevision, ReadStreamOptions, StreamMetadata,
    StreamPosition,
};
use serde_json::Value;
use uuid::Uuid;

use super::all::AllReader;
use super::errors::{persistence_error, with_retries};
use super::mapping::{
    aggregate_stream, event_data, expected_revision, is_log_event, log_position, revision_of,
    serialized_event, snapshot_stream, SnapshotRecord,
};
use crate::aggregate_store::PositionedRepository;
use crate::Position;

/// Events buffered between the task reading a stream and the consumer of a [`ReplayStream`].
const REPLAY_BUFFER: usize = 200;

/// Events per request when scanning `$all` for every event of an aggregate type.
const REPLAY_PAGE: usize = 1000;

/// The cqrs-es [`PersistedEventRepository`] of EventStoreDB.
///
/// - Aggregate `{AggregateType}-{id}` is the stream of that name; cqrs-es sequence `n` is
///   stream revision `n - 1`.
/// - `persist` appends expecting the revision the aggregate was loaded at (no stream for a
///   new aggregate): a concurrent writer gets [`PersistenceError::OptimisticLockError`].
/// - Events are JSON, of the cqrs-es event type; aggregate type and id, sequence, event
///   version and the cqrs-es metadata travel in the event's custom metadata.
/// - Snapshots are records of the stream `{AggregateType}-{id}-snapshot` (which keeps only the
///   last one); a snapshot is taken to include every event of the `persist` call it came with.
/// - Events are returned as stored: the caller upcasts (as cqrs-es' `PersistedEventStore` and
///   our aggregate store do).
#[derive(Clone)]
pub struct EsdbEventRepository {
    client: Client,
}

impl std::fmt::Debug for EsdbEventRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsdbEventRepository")
            .finish_non_exhaustive()
    }
}

impl EsdbEventRepository {
    pub(crate) fn new(client: Client) -> Self {
        EsdbEventRepository { client }
    }

    /// The events of aggregate `A` `aggregate_id` from `from` on, as stored.
    async fn read_aggregate<A: Aggregate>(
        &self,
        aggregate_id: &str,
        from: StreamPosition<u64>,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let stream = aggregate_stream(A::TYPE, aggregate_id);
        // The leader has every acknowledged append: loading from a lagging follower would
        // only end in a needless concurrency conflict.
        let options = ReadStreamOptions::default()
            .forwards()
            .position(from)
            .requires_leader(true);
        let stored = with_retries("reading an aggregate", || {
            read_stream_events(&self.client, &stream, &options)
        })
        .await
        .map_err(|error| persistence_error(format!("reading {stream}"), error))?;
        stored
            .iter()
            .map(|recorded| aggregate_event(recorded, A::TYPE, aggregate_id))
            .collect()
    }

    /// Appends and answers the `$all` position of the write (`None` when the server did
    /// not tell it, as for a retry it recognised as already done).
    async fn append_events<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
    ) -> Result<Option<Position>, PersistenceError> {
        let (aggregate_id, expected) = check_batch::<A>(events)?;
        let stream = aggregate_stream(A::TYPE, aggregate_id);
        // One id per persist call: a retry below is recognised by the server as the same
        // append, a competing writer's append is not (see `mapping::event_id`).
        let append_id = Uuid::new_v4();
        let data = events
            .iter()
            .map(|event| event_data(event, &append_id))
            .collect::<Result<Vec<_>, _>>()?;
        let options = AppendToStreamOptions::default().expected_revision(expected);
        let written = with_retries("appending events", || {
            self.client
                .append_to_stream(stream.as_str(), &options, data.clone())
        })
        .await
        .map_err(|error| {
            persistence_error(
                format!(
                    "appending {} event(s) to {stream} expecting {expected:?}",
                    events.len()
                ),
                error,
            )
        })?;
        let position = log_position(written.position);
        Ok((position != Position::START).then_some(position))
    }

    /// Appends the events of one aggregate instance, then saves its snapshot when one is
    /// due, and answers the `$all` position of the write (`None` without events, or when
    /// the server did not tell it). A stale expected revision fails with
    /// [`PersistenceError::OptimisticLockError`].
    pub async fn append<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<Option<Position>, PersistenceError> {
        let Some(last) = events.last() else {
            // Nothing happened, so there is no new state to snapshot either.
            return Ok(None);
        };
        let position = self.append_events::<A>(events).await?;
        if let Some((aggregate_id, aggregate, current_snapshot)) = snapshot_update {
            self.save_snapshot(SnapshotRecord {
                aggregate_type: A::TYPE.to_string(),
                aggregate_id,
                current_sequence: last.sequence,
                current_snapshot,
                aggregate,
            })
            .await;
        }
        Ok(position)
    }

    /// Saves a snapshot. The events are already stored and are the truth: a snapshot that
    /// cannot be saved is logged, and the aggregate loads from an older one or from its events.
    async fn save_snapshot(&self, record: SnapshotRecord) {
        let stream = snapshot_stream(&record.aggregate_type, &record.aggregate_id);
        let data = match record.event_data() {
            Ok(data) => data,
            Err(error) => {
                tracing::warn!(%error, stream, "snapshot not saved: cannot serialize it");
                return;
            }
        };
        // Any revision: of two racing snapshots either is a true state at its own sequence.
        let options = AppendToStreamOptions::default().expected_revision(ExpectedRevision::Any);
        let written = with_retries("saving a snapshot", || {
            self.client
                .append_to_stream(stream.as_str(), &options, data.clone())
        })
        .await;
        match written {
            Ok(result) if result.next_expected_version == 0 => {
                self.keep_only_last_snapshot(&stream).await
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, stream, "snapshot not saved"),
        }
    }

    /// Sets `maxCount = 1` on a new snapshot stream, so older snapshots are scavenged.
    async fn keep_only_last_snapshot(&self, stream: &str) {
        let metadata = StreamMetadata::builder().max_count(1).build();
        if let Err(error) = self
            .client
            .set_stream_metadata(stream, &AppendToStreamOptions::default(), &metadata)
            .await
        {
            tracing::warn!(%error, stream, "snapshot stream keeps every snapshot: cannot set its maxCount");
        }
    }
}

impl PositionedRepository for EsdbEventRepository {
    async fn persist_at<A: Aggregate>(
        &self,
        events: Vec<SerializedEvent>,
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<Option<Position>, PersistenceError> {
        self.append::<A>(&events, snapshot_update).await
    }
}

impl PersistedEventRepository for EsdbEventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.read_aggregate::<A>(aggregate_id, StreamPosition::Start)
            .await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let first_wanted = last_sequence.saturating_add(1);
        let from =
            revision_of(first_wanted).map_or(StreamPosition::Start, StreamPosition::Position);
        self.read_aggregate::<A>(aggregate_id, from).await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        let stream = snapshot_stream(A::TYPE, aggregate_id);
        let options = ReadStreamOptions::default()
            .position(StreamPosition::End)
            .max_count(1)
            .requires_leader(true);
        let stored = with_retries("reading a snapshot", || {
            read_stream_events(&self.client, &stream, &options)
        })
        .await
        .map_err(|error| persistence_error(format!("reading {stream}"), error))?;
        let Some(last) = stored.into_iter().next() else {
            return Ok(None);
        };
        match serde_json::from_slice::<SnapshotRecord>(&last.data) {
            Ok(record)
                if record.aggregate_type == A::TYPE && record.aggregate_id == aggregate_id =>
            {
                Ok(Some(SerializedSnapshot {
                    aggregate_id: record.aggregate_id,
                    aggregate: record.aggregate,
                    current_sequence: record.current_sequence,
                    current_snapshot: record.current_snapshot,
                }))
            }
            Ok(_) => {
                tracing::warn!(stream, "ignoring a snapshot of another aggregate");
                Ok(None)
            }
            Err(error) => {
                tracing::warn!(%error, stream, "ignoring an unreadable snapshot");
                Ok(None)
            }
        }
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        self.append::<A>(events, snapshot_update).await.map(drop)
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        let (feed, stream) = ReplayStream::new(REPLAY_BUFFER);
        tokio::spawn(feed_aggregate(
            self.client.clone(),
            A::TYPE,
            aggregate_id.to_string(),
            feed,
        ));
        Ok(stream)
    }

    /// Every event of aggregate type `A`, in `$all` (commit) order. Scans all of `$all`: for
    /// rebuilds, not for a hot path.
    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        let (feed, stream) = ReplayStream::new(REPLAY_BUFFER);
        tokio::spawn(feed_aggregate_type(self.client.clone(), A::TYPE, feed));
        Ok(stream)
    }
}

/// The aggregate id of a batch to append and the stream revision it expects. A batch is
/// the events of one aggregate `A` with consecutive sequences, as cqrs-es commits them.
fn check_batch<A: Aggregate>(
    events: &[SerializedEvent],
) -> Result<(&str, ExpectedRevision), PersistenceError> {
    let invalid = |reason: String| PersistenceError::UnknownError(reason.into());
    let Some(first) = events.first() else {
        return Err(invalid("no events to append".to_string()));
    };
    let expected = expected_revision(first.sequence)
        .ok_or_else(|| invalid("event sequences start at 1, got 0".to_string()))?;
    for (offset, event) in events.iter().enumerate() {
        if event.aggregate_type != A::TYPE || event.aggregate_id != first.aggregate_id {
            return Err(invalid(format!(
                "cannot append an event of {}-{} to {}-{}",
                event.aggregate_type,
                event.aggregate_id,
                A::TYPE,
                first.aggregate_id
            )));
        }
        if event.sequence != first.sequence + offset {
            return Err(invalid(format!(
                "event sequences must be consecutive: {} follows {}",
                event.sequence,
                first.sequence + offset - 1
            )));
        }
    }
    Ok((&first.aggregate_id, expected))
}

/// Every event of a stream, in order; a stream that does not exist has none.
async fn read_stream_events(
    client: &Client,
    stream: &str,
    options: &ReadStreamOptions,
) -> eventstore::Result<Vec<eventstore::RecordedEvent>> {
    let mut read = match client.read_stream(stream, options).await {
        Err(eventstore::Error::ResourceNotFound) => return Ok(Vec::new()),
        read => read?,
    };
    let mut events = Vec::new();
    loop {
        match read.next().await {
            Ok(Some(resolved)) => events.extend(resolved.link.or(resolved.event)),
            Ok(None) => return Ok(events),
            // The server says so before any event of a missing stream.
            Err(eventstore::Error::ResourceNotFound) => return Ok(Vec::new()),
            Err(error) => return Err(error),
        }
    }
}

/// The stored event of aggregate `aggregate_type` `aggregate_id`, refusing one that names
/// another.
fn aggregate_event(
    recorded: &eventstore::RecordedEvent,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<SerializedEvent, PersistenceError> {
    let event = serialized_event(recorded)
        .map_err(|error| PersistenceError::DeserializationError(error.into()))?;
    if event.aggregate_type != aggregate_type || event.aggregate_id != aggregate_id {
        return Err(PersistenceError::DeserializationError(
            format!(
                "event {}#{} belongs to {}-{}",
                recorded.stream_id, event.sequence, event.aggregate_type, event.aggregate_id
            )
            .into(),
        ));
    }
    Ok(event)
}

/// Feeds the events of one aggregate into a replay stream; stops at the first error (sent
/// on) or when the stream's reader is gone.
async fn feed_aggregate(
    client: Client,
    aggregate_type: &'static str,
    aggregate_id: String,
    mut feed: ReplayFeed,
) {
    let stream = aggregate_stream(aggregate_type, &aggregate_id);
    let options = ReadStreamOptions::default().forwards();
    let events = match read_stream_events(&client, &stream, &options).await {
        Ok(events) => events,
        Err(error) => {
            let _ = feed
                .push(Err(persistence_error(format!("reading {stream}"), error)))
                .await;
            return;
        }
    };
    for recorded in &events {
        let event = aggregate_event(recorded, aggregate_type, &aggregate_id);
        let failed = event.is_err();
        if feed.push(event).await.is_err() || failed {
            return;
        }
    }
}

/// Feeds every event of `aggregate_type` found in `$all` into a replay stream.
async fn feed_aggregate_type(client: Client, aggregate_type: &'static str, mut feed: ReplayFeed) {
    let prefix = format!("{aggregate_type}-");
    let mut reader = AllReader::new(client, Position::START, Position::START, REPLAY_PAGE);
    loop {
        let recorded = match reader.next().await {
            Ok(Some(recorded)) => recorded,
            Ok(None) => return,
            Err(error) => {
                let error = persistence_error(format!("reading $all for {aggregate_type}"), error);
                let _ = feed.push(Err(error)).await;
                return;
            }
        };
        if !recorded.stream_id.starts_with(&prefix)
            || !is_log_event(&recorded.stream_id, &recorded.event_type)
        {
            continue;
        }
        let event = serialized_event(&recorded)
            .map_err(|error| PersistenceError::DeserializationError(error.into()));
        if let Ok(event) = &event {
            // `Campana-…` may hold another aggregate type, e.g. `Campana-Foo`.
            if event.aggregate_type != aggregate_type {
                continue;
            }
        }
        let failed = event.is_err();
        if feed.push(event).await.is_err() || failed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::persist::SerializedEvent;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
    struct Campana;

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Creada;

    impl cqrs_es::DomainEvent for Creada {
        fn event_type(&self) -> String {
            "CampanaCreada".to_string()
        }
        fn event_version(&self) -> String {
            "1.0".to_string()
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("never")]
    struct Never;

    impl Aggregate for Campana {
        const TYPE: &'static str = "Campana";
        type Command = ();
        type Event = Creada;
        type Error = Never;
        type Services = ();

        async fn handle(
            &mut self,
            _command: (),
            _services: &(),
            _sink: &cqrs_es::event_sink::EventSink<Self>,
        ) -> Result<(), Never> {
            Ok(())
        }

        fn apply(&mut self, _event: Creada) {}
    }

    fn event(aggregate_id: &str, sequence: usize) -> SerializedEvent {
        SerializedEvent {
            aggregate_id: aggregate_id.to_string(),
            sequence,
            aggregate_type: "Campana".to_string(),
            event_type: "CampanaCreada".to_string(),
            event_version: "1.0".to_string(),
            payload: json!({}),
            metadata: json!({}),
        }
    }

    #[test]
    fn a_batch_of_a_new_aggregate_expects_no_stream() {
        let events = [event("a", 1), event("a", 2)];
        let (id, expected) = check_batch::<Campana>(&events).unwrap();
        assert_eq!(id, "a");
        assert_eq!(expected, ExpectedRevision::NoStream);
    }

    #[test]
    fn a_batch_expects_the_revision_it_was_loaded_at() {
        let events = [event("a", 5), event("a", 6)];
        let (_, expected) = check_batch::<Campana>(&events).unwrap();
        assert_eq!(expected, ExpectedRevision::Exact(3));
        assert_eq!(Some(3), revision_of(4));
    }

    #[test]
    fn a_batch_with_a_gap_is_refused() {
        let error = check_batch::<Campana>(&[event("a", 1), event("a", 3)]).unwrap_err();
        assert!(error.to_string().contains("consecutive"), "{error}");
    }

    #[test]
    fn a_batch_of_two_aggregates_is_refused() {
        assert!(check_batch::<Campana>(&[event("a", 1), event("b", 2)]).is_err());
        let mut other_type = event("a", 2);
        other_type.aggregate_type = "Comision".to_string();
        assert!(check_batch::<Campana>(&[event("a", 1), other_type]).is_err());
    }

    #[test]
    fn a_batch_at_sequence_zero_is_refused() {
        assert!(check_batch::<Campana>(&[event("a", 0)]).is_err());
        assert!(check_batch::<Campana>(&[]).is_err());
    }
}
