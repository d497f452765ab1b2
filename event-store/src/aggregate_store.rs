//! Loading and committing aggregates: the cqrs-es [`EventStore`] every backend is used
//! through, with the upcasters always applied and correct snapshots.
//!
//! Why not cqrs-es's `PersistedEventStore`: with snapshots, its `commit` applies the new
//! events to an aggregate that already has them (the command's `EventSink` applied them), so
//! a saved snapshot counts every new event twice (see ARCHITECTURE.md, "Known pitfalls").
//! Here the snapshot is the context's aggregate as it is at commit time.

use std::collections::HashMap;
use std::marker::PhantomData;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{
    EventStoreAggregateContext, PersistedEventRepository, PersistenceError, SerializedEvent,
};
use cqrs_es::{Aggregate, AggregateError, DomainEvent, EventEnvelope, EventStore};
use metrics::Counter;
use serde::Deserialize;
use serde_json::Value;

use crate::{upcast, MetricHandles, Position, StoreError, Upcasters};

/// What `PersistedEventRepository::persist` takes to save a snapshot: aggregate id, the
/// aggregate, and the snapshot's number (1 for the first).
type SnapshotUpdate = (String, Value, usize);

/// What a commit writes: the events as returned, as stored, and the snapshot when due.
struct PreparedCommit<A: Aggregate> {
    envelopes: Vec<EventEnvelope<A>>,
    serialized: Vec<SerializedEvent>,
    snapshot: Option<SnapshotUpdate>,
}

/// The [`EventStore`] of aggregate `A` over the repository `R` of a backend.
///
/// Use it with `cqrs_es::CqrsFramework`, or call [`AggregateStore::execute`] to also learn
/// the new version of the aggregate.
pub struct AggregateStore<A, R> {
    repository: R,
    upcasters: Upcasters,
    snapshot_every: Option<usize>,
    _aggregate: PhantomData<fn() -> A>,
}

/// What a command did: the aggregate's version after it, and the events it committed.
#[derive(Debug)]
pub struct CommandOutcome<A: Aggregate> {
    /// The sequence of the aggregate's last event (unchanged when no event was emitted).
    pub version: usize,
    /// The committed events, in order, with their sequences and metadata.
    pub events: Vec<EventEnvelope<A>>,
    /// Where the last committed event is in the global log: a consistency token (readers
    /// that have reached it see the command's effects). `None` when nothing was committed.
    pub position: Option<Position>,
}

impl<A, R: Clone> Clone for AggregateStore<A, R> {
    fn clone(&self) -> Self {
        AggregateStore {
            repository: self.repository.clone(),
            upcasters: self.upcasters.clone(),
            snapshot_every: self.snapshot_every,
            _aggregate: PhantomData,
        }
    }
}

impl<A, R> AggregateStore<A, R>
where
    A: Aggregate,
    R: PersistedEventRepository,
{
    /// A store applying `upcasters` to every event it loads, and saving a snapshot each time
    /// an aggregate's version crosses a multiple of `snapshot_every` (`None` or `Some(0)`:
    /// never; loads then replay every event).
    pub fn new(repository: R, upcasters: Upcasters, snapshot_every: Option<usize>) -> Self {
        AggregateStore {
            repository,
            upcasters,
            snapshot_every: snapshot_every.filter(|every| *every > 0),
            _aggregate: PhantomData,
        }
    }

    /// The backend's repository.
    pub fn repository(&self) -> &R {
        &self.repository
    }

    /// The context to replay onto: the latest snapshot when snapshots are on and it can
    /// still be read, else a new aggregate.
    async fn starting_point(
        &self,
        aggregate_id: &str,
    ) -> Result<EventStoreAggregateContext<A>, PersistenceError> {
        let empty = |current_snapshot| EventStoreAggregateContext {
            aggregate_id: aggregate_id.to_string(),
            aggregate: A::default(),
            current_sequence: 0,
            current_snapshot,
        };
        if self.snapshot_every.is_none() {
            return Ok(empty(None));
        }
        let Some(snapshot) = self.repository.get_snapshot::<A>(aggregate_id).await? else {
            return Ok(empty(None));
        };
        match serde_json::from_value::<A>(snapshot.aggregate) {
            Ok(aggregate) => Ok(EventStoreAggregateContext {
                aggregate_id: aggregate_id.to_string(),
                aggregate,
                current_sequence: snapshot.current_sequence,
                current_snapshot: Some(snapshot.current_snapshot),
            }),
            Err(error) => {
                // The aggregate's shape changed since: replay everything. Keep the snapshot
                // counter so the next snapshot replaces this one.
                tracing::warn!(
                    aggregate = A::TYPE,
                    aggregate_id,
                    %error,
                    "snapshot no longer readable, replaying all events"
                );
                Ok(empty(Some(snapshot.current_snapshot)))
            }
        }
    }

    /// `context` with the events appended after its sequence applied.
    async fn catch_up(
        &self,
        mut context: EventStoreAggregateContext<A>,
    ) -> Result<EventStoreAggregateContext<A>, AggregateError<A::Error>> {
        let events = if context.current_sequence == 0 {
            self.repository
                .get_events::<A>(&context.aggregate_id)
                .await?
        } else {
            self.repository
                .get_last_events::<A>(&context.aggregate_id, context.current_sequence)
                .await?
        };
        for event in events {
            let envelope = self.decode(event)?;
            context.current_sequence = envelope.sequence;
            context.aggregate.apply(envelope.payload);
        }
        Ok(context)
    }

    fn decode(&self, event: SerializedEvent) -> Result<EventEnvelope<A>, AggregateError<A::Error>> {
        decode_event::<A>(&upcast(event, &self.upcasters))
            .map_err(|error| AggregateError::DeserializationError(Box::new(error)))
    }

    /// The envelopes, rows and snapshot of `events` committed after `context`'s sequence;
    /// `None` when there is nothing to commit.
    fn prepare_commit(
        &self,
        events: Vec<A::Event>,
        context: &EventStoreAggregateContext<A>,
        metadata: HashMap<String, String>,
    ) -> Result<Option<PreparedCommit<A>>, AggregateError<A::Error>> {
        let envelopes = envelopes(
            &context.aggregate_id,
            context.current_sequence,
            vec![(events, metadata)],
        );
        self.prepare_envelopes(envelopes, context)
    }

    /// The rows and snapshot of `envelopes`, numbered after `context`'s sequence.
    fn prepare_envelopes(
        &self,
        envelopes: Vec<EventEnvelope<A>>,
        context: &EventStoreAggregateContext<A>,
    ) -> Result<Option<PreparedCommit<A>>, AggregateError<A::Error>> {
        if envelopes.is_empty() {
            return Ok(None);
        }
        let serialized = envelopes
            .iter()
            .map(SerializedEvent::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let new_sequence = context.current_sequence + envelopes.len();
        let snapshot = self.snapshot_update(context, new_sequence)?;
        Ok(Some(PreparedCommit {
            envelopes,
            serialized,
            snapshot,
        }))
    }

    /// The snapshot to save with events that take the aggregate from `context`'s sequence
    /// to `new_sequence`, if they cross a multiple of the snapshot interval.
    fn snapshot_update(
        &self,
        context: &EventStoreAggregateContext<A>,
        new_sequence: usize,
    ) -> Result<Option<SnapshotUpdate>, AggregateError<A::Error>> {
        let Some(every) = self.snapshot_every else {
            return Ok(None);
        };
        if !snapshot_due(context.current_sequence, new_sequence, every) {
            return Ok(None);
        }
        // The aggregate already has the new events applied (the command's EventSink did).
        let payload = serde_json::to_value(&context.aggregate)?;
        let next_snapshot = context.current_snapshot.map_or(1, |current| current + 1);
        Ok(Some((context.aggregate_id.clone(), payload, next_snapshot)))
    }
}

/// What [`AggregateStore::execute_each_from`] answers: one outcome per command, and the
/// aggregate after the append.
pub type EachOutcome<A> = (
    Vec<Result<CommandOutcome<A>, <A as Aggregate>::Error>>,
    EventStoreAggregateContext<A>,
);

/// A repository that tells where in the global log an append landed (every backend's).
pub trait PositionedRepository: PersistedEventRepository {
    /// Like [`PersistedEventRepository::persist`], and answers the global log position of
    /// the last event (`None` without events, or when the backend could not tell). Takes
    /// the events by value: a backend that keeps them (SQLite's tail of the log) needs no
    /// copy.
    fn persist_at<A: Aggregate>(
        &self,
        events: Vec<SerializedEvent>,
        snapshot_update: Option<SnapshotUpdate>,
    ) -> impl std::future::Future<Output = Result<Option<Position>, PersistenceError>> + Send;

    /// Appends the events of several aggregate instances, each as
    /// [`PositionedRepository::persist_at`] would (each succeeds or fails on its own), all
    /// handed to the store at once: on SQLite they share one group commit, elsewhere the
    /// appends run side by side. One answer per append, in order.
    fn persist_each_at<A: Aggregate>(
        &self,
        appends: Vec<(Vec<SerializedEvent>, Option<SnapshotUpdate>)>,
    ) -> impl std::future::Future<Output = Vec<Result<Option<Position>, PersistenceError>>> + Send
    where
        Self: Sync,
    {
        futures::future::join_all(
            appends
                .into_iter()
                .map(|(events, snapshot)| self.persist_at::<A>(events, snapshot)),
        )
    }

    /// Returns once every event a load could have read so far is durable. For an answer
    /// that appends nothing but depends on what a load found (a refusal, a repeat that is
    /// already done): a backend that shows commits before they are durable (SQLite, see
    /// its writer) must not let such an answer out first. Default: nothing to wait for.
    fn synced(&self) -> impl std::future::Future<Output = Result<(), PersistenceError>> + Send {
        std::future::ready(Ok(()))
    }
}

impl<A: Aggregate, R: PositionedRepository> AggregateStore<A, R> {
    /// Loads the aggregate, lets it handle `command`, and commits its events with
    /// `metadata`, like `CqrsFramework::execute_with_metadata` — but returns the new version,
    /// the committed events and the log position of the last one. Runs no cqrs-es queries:
    /// consumers read the global log.
    pub async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        services: &A::Services,
        metadata: HashMap<String, String>,
    ) -> Result<CommandOutcome<A>, AggregateError<A::Error>> {
        let mut context = self.load_aggregate(aggregate_id).await?;
        let loaded = context.current_sequence;
        let sink = EventSink::default();
        let decided = context.aggregate.handle(command, services, &sink).await;
        let events = sink.collect().await;
        if decided.is_err() || events.is_empty() {
            self.answer_without_append(loaded).await?;
        }
        decided.map_err(AggregateError::UserError)?;
        let version = context.current_sequence + events.len();
        let (events, position) = self.commit_at(events, context, metadata).await?;
        Ok(CommandOutcome {
            version,
            events,
            position,
        })
    }

    /// Runs each command on its own aggregate instance as if that instance had no events
    /// yet, without loading it, and appends all their events at once (see
    /// [`PositionedRepository::persist_each_at`]). Meant for commands that create their
    /// aggregate under an id just made, where a load would only find nothing.
    ///
    /// An instance that does have events fails with [`AggregateError::AggregateConflict`]
    /// (its append expected none), having appended nothing: run that command with
    /// [`AggregateStore::execute`], which decides on the instance as stored. So does one
    /// refused as new ([`AggregateError::UserError`]) when it may not be new: a command can
    /// be a no-op on an existing instance and refused on an empty one. One answer per
    /// command, in order.
    pub async fn execute_each_as_new(
        &self,
        commands: Vec<(String, A::Command, HashMap<String, String>)>,
        services: &A::Services,
    ) -> Vec<Result<CommandOutcome<A>, AggregateError<A::Error>>> {
        let mut decided = Vec::with_capacity(commands.len());
        for (aggregate_id, command, metadata) in commands {
            decided.push(
                self.decide_as_new(aggregate_id, command, services, metadata)
                    .await,
            );
        }
        let appends = decided
            .iter_mut()
            .filter_map(|commit| match commit {
                Ok(Some(commit)) => Some((
                    std::mem::take(&mut commit.serialized),
                    commit.snapshot.take(),
                )),
                _ => None,
            })
            .collect();
        let mut persisted = self
            .repository
            .persist_each_at::<A>(appends)
            .await
            .into_iter();
        decided
            .into_iter()
            .map(|commit| match commit? {
                None => Ok(CommandOutcome {
                    version: 0,
                    events: Vec::new(),
                    position: None,
                }),
                Some(commit) => {
                    let position = persisted.next().unwrap_or_else(|| {
                        Err(PersistenceError::UnknownError(
                            "the store answered fewer appends than it was given".into(),
                        ))
                    })?;
                    count_appended::<A>(commit.envelopes.len());
                    Ok(CommandOutcome {
                        version: commit.envelopes.len(),
                        events: commit.envelopes,
                        position,
                    })
                }
            })
            .collect()
    }

    /// What `command` appends to a new instance `aggregate_id`: `None` when nothing.
    async fn decide_as_new(
        &self,
        aggregate_id: String,
        command: A::Command,
        services: &A::Services,
        metadata: HashMap<String, String>,
    ) -> Result<Option<PreparedCommit<A>>, AggregateError<A::Error>> {
        let mut context = EventStoreAggregateContext {
            aggregate_id,
            aggregate: A::default(),
            current_sequence: 0,
            current_snapshot: None,
        };
        let sink = EventSink::default();
        context
            .aggregate
            .handle(command, services, &sink)
            .await
            .map_err(AggregateError::UserError)?;
        let events = sink.collect().await;
        self.prepare_commit(events, &context, metadata)
    }

    /// Loads the aggregate once, lets it handle each of `commands` in turn (each sees the
    /// events of the ones before it), and commits all their events in one append, each
    /// event with the metadata of its command. A refused command appends nothing and does
    /// not stop the others. Answers one outcome per command, in order; every command that
    /// appended gets the position of the last event of the append.
    ///
    /// Fails as a whole (nothing appended) when loading or appending fails, e.g. with
    /// [`AggregateError::AggregateConflict`] when another writer appended first.
    pub async fn execute_each(
        &self,
        aggregate_id: &str,
        commands: Vec<(A::Command, HashMap<String, String>)>,
        services: &A::Services,
    ) -> Result<Vec<Result<CommandOutcome<A>, A::Error>>, AggregateError<A::Error>> {
        let (outcomes, _) = self
            .execute_each_from(aggregate_id, None, commands, services)
            .await?;
        Ok(outcomes)
    }

    /// [`AggregateStore::execute_each`] starting from `cached` (the aggregate as an earlier
    /// call left it: only the events appended since are read) instead of loading it, and
    /// answering the aggregate after this call's append, to start the next one from. A
    /// stale `cached` costs nothing but a conflict: the append expects its sequence.
    pub async fn execute_each_from(
        &self,
        aggregate_id: &str,
        cached: Option<EventStoreAggregateContext<A>>,
        commands: Vec<(A::Command, HashMap<String, String>)>,
        services: &A::Services,
    ) -> Result<EachOutcome<A>, AggregateError<A::Error>> {
        let mut context = match cached {
            Some(context) if context.aggregate_id == aggregate_id => self.catch_up(context).await?,
            _ => self.load_aggregate(aggregate_id).await?,
        };
        let loaded_sequence = context.current_sequence;
        // What each command did: the version after it and how many events it added.
        let mut versions = Vec::with_capacity(commands.len());
        let mut appended: Vec<EventsWithMetadata<A>> = Vec::new();
        let mut version = loaded_sequence;
        for (command, metadata) in commands {
            let sink = EventSink::default();
            let decision = context.aggregate.handle(command, services, &sink).await;
            let events = sink.collect().await;
            match decision {
                Ok(()) => {
                    version += events.len();
                    versions.push(Ok((version, events.len())));
                    appended.push((events, metadata));
                }
                Err(error) => {
                    if !events.is_empty() {
                        // It changed the state before refusing: start again from the
                        // store, with only the accepted commands' events.
                        context = self.load_aggregate(aggregate_id).await?;
                        for event in appended.iter().flat_map(|(events, _)| events) {
                            context.aggregate.apply(event.clone());
                        }
                    }
                    versions.push(Err(error));
                }
            }
        }
        if appended.iter().all(|(events, _)| events.is_empty()) {
            self.answer_without_append(loaded_sequence).await?;
        }
        let envelopes = envelopes(aggregate_id, loaded_sequence, appended);
        let (envelopes, position) = match self.prepare_envelopes(envelopes, &context)? {
            None => (Vec::new(), None),
            Some(commit) => {
                let snapshot = commit.snapshot.as_ref().map(|(_, _, number)| *number);
                let position = self
                    .repository
                    .persist_at::<A>(commit.serialized, commit.snapshot)
                    .await?;
                count_appended::<A>(commit.envelopes.len());
                context.current_sequence += commit.envelopes.len();
                context.current_snapshot = snapshot.or(context.current_snapshot);
                (commit.envelopes, position)
            }
        };
        // Each command's events are the next `count`, taken in turn (draining the vector's
        // front instead would move all the later events once per command of the group).
        let mut envelopes = envelopes.into_iter();
        let mut outcomes = Vec::with_capacity(versions.len());
        for decided in versions {
            outcomes.push(decided.map(|(version, count)| {
                let events: Vec<_> = envelopes.by_ref().take(count).collect();
                CommandOutcome {
                    version,
                    position: if events.is_empty() { None } else { position },
                    events,
                }
            }));
        }
        Ok((outcomes, context))
    }

    /// Before answering a command that appends nothing, waits until the `loaded` events it
    /// was decided on are durable (see [`PositionedRepository::synced`]); a decision on an
    /// aggregate without events read nothing.
    async fn answer_without_append(&self, loaded: usize) -> Result<(), AggregateError<A::Error>> {
        if loaded > 0 {
            self.repository.synced().await?;
        }
        Ok(())
    }

    async fn commit_at(
        &self,
        events: Vec<A::Event>,
        context: EventStoreAggregateContext<A>,
        metadata: HashMap<String, String>,
    ) -> Result<(Vec<EventEnvelope<A>>, Option<Position>), AggregateError<A::Error>> {
        let Some(commit) = self.prepare_commit(events, &context, metadata)? else {
            return Ok((Vec::new(), None));
        };
        let position = self
            .repository
            .persist_at::<A>(commit.serialized, commit.snapshot)
            .await?;
        count_appended::<A>(commit.envelopes.len());
        Ok((commit.envelopes, position))
    }
}

impl<A, R> EventStore<A> for AggregateStore<A, R>
where
    A: Aggregate,
    R: PersistedEventRepository,
{
    type AC = EventStoreAggregateContext<A>;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let events = self.repository.get_events::<A>(aggregate_id).await?;
        events.into_iter().map(|event| self.decode(event)).collect()
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<EventStoreAggregateContext<A>, AggregateError<A::Error>> {
        let context = self.starting_point(aggregate_id).await?;
        self.catch_up(context).await
    }

    /// Commits `events` after `context.current_sequence`. As with `CqrsFramework`, the
    /// context's aggregate must already have the events applied (the `EventSink` of the
    /// command applies them); a snapshot, when due, is that aggregate.
    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: EventStoreAggregateContext<A>,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let Some(commit) = self.prepare_commit(events, &context, metadata)? else {
            return Ok(Vec::new());
        };
        self.repository
            .persist::<A>(&commit.serialized, commit.snapshot)
            .await?;
        count_appended::<A>(commit.envelopes.len());
        Ok(commit.envelopes)
    }
}

/// Events of one command and that command's metadata.
type EventsWithMetadata<A> = (Vec<<A as Aggregate>::Event>, HashMap<String, String>);

/// `batches` of events, each with its metadata, as envelopes numbered after `sequence`.
fn envelopes<A: Aggregate>(
    aggregate_id: &str,
    sequence: usize,
    batches: Vec<EventsWithMetadata<A>>,
) -> Vec<EventEnvelope<A>> {
    let events = batches.into_iter().flat_map(|(events, metadata)| {
        events
            .into_iter()
            .map(move |event| (event, metadata.clone()))
    });
    events
        .zip(sequence + 1..)
        .map(|((payload, metadata), sequence)| EventEnvelope {
            aggregate_id: aggregate_id.to_string(),
            sequence,
            payload,
            metadata,
        })
        .collect()
}

/// The `alpes_events_appended_total` metric.
fn count_appended<A: Aggregate>(events: usize) {
    static APPENDED: MetricHandles<&'static str, Counter> = MetricHandles::new();
    APPENDED
        .get(
            A::TYPE,
            |aggregate| metrics::counter!("alpes_events_appended_total", "aggregate" => *aggregate),
        )
        .increment(events as u64);
}

/// After this many snapshots `every` versions apart, snapshots space out (see
/// [`snapshot_due`]).
const EVENLY_SPACED_SNAPSHOTS: usize = 10;
/// Beyond them, each snapshot comes this fraction of the version after the previous one.
const SPACING_DIVISOR: usize = 10;

/// True when going from version `from` to `to` crosses a snapshot point. The first
/// [`EVENLY_SPACED_SNAPSHOTS`] points are the multiples of `every`; after them each point
/// is a tenth further than the one before (1,000, 1,100, 1,210, … for `every` = 100).
///
/// Why they space out: the aggregates that live long are those whose state grows with their
/// history (a campaign remembers each reservation to release it), so a snapshot costs in
/// proportion to the version. Evenly spaced, that cost per event grew without bound (a
/// campaign with 10,000 reservations wrote a 1 MB snapshot every 100 events); a tenth of
/// the version apart, it stays constant, and a load replays at most a tenth of the history
/// on top of the snapshot.
pub fn snapshot_due(from: usize, to: usize, every: usize) -> bool {
    every > 0 && to > from && snapshot_epoch(from, every) != snapshot_epoch(to, every)
}

/// How many snapshot points are at or below `version`.
fn snapshot_epoch(version: usize, every: usize) -> usize {
    let spacing_out_from = every.saturating_mul(EVENLY_SPACED_SNAPSHOTS);
    if version < spacing_out_from {
        return version / every;
    }
    let mut epoch = EVENLY_SPACED_SNAPSHOTS;
    let mut next = spacing_out_from + spacing_out_from / SPACING_DIVISOR;
    while next <= version {
        epoch += 1;
        next = next.saturating_add((next / SPACING_DIVISOR).max(1));
    }
    epoch
}

/// Deserializes an (already upcast) stored event of `A`; fails naming the stream, sequence,
/// type and version when this code cannot read it. Reads the payload and metadata in place,
/// not from copies: every consumer decodes every event it wants.
pub fn decode_event<A: Aggregate>(event: &SerializedEvent) -> Result<EventEnvelope<A>, StoreError> {
    let unreadable = |event: &SerializedEvent, reason: String| StoreError::UnreadableEvent {
        stream: format!("{}-{}", event.aggregate_type, event.aggregate_id),
        sequence: event.sequence as u64,
        event_type: event.event_type.clone(),
        event_version: event.event_version.clone(),
        reason,
    };
    let payload = A::Event::deserialize(&event.payload)
        .map_err(|error| unreadable(event, format!("payload: {error}")))?;
    // A payload that happens to parse at a version no upcaster brought forward would be
    // silently misread: refuse it.
    if payload.event_version() != event.event_version {
        return Err(unreadable(
            event,
            format!(
                "this code reads version {} and no upcaster converts {}",
                payload.event_version(),
                event.event_version
            ),
        ));
    }
    let metadata = if event.metadata.is_null() {
        HashMap::new()
    } else {
        HashMap::deserialize(&event.metadata)
            .map_err(|error| unreadable(event, format!("metadata: {error}")))?
    };
    Ok(EventEnvelope {
        aggregate_id: event.aggregate_id.clone(),
        sequence: event.sequence,
        payload,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::snapshot_due;

    #[test]
    fn snapshot_is_due_when_a_multiple_is_reached() {
        assert!(snapshot_due(9, 10, 10));
        assert!(snapshot_due(8, 13, 10));
        assert!(!snapshot_due(10, 11, 10));
        assert!(!snapshot_due(1, 9, 10));
    }

    /// The versions at which committing one event at a time snapshots, up to `events`.
    fn points(every: usize, events: usize) -> Vec<usize> {
        (0..events)
            .filter(|from| snapshot_due(*from, from + 1, every))
            .map(|from| from + 1)
            .collect()
    }

    #[test]
    fn after_ten_snapshots_each_comes_a_tenth_of_the_version_later() {
        let due = points(100, 2_000);
        let multiples: Vec<usize> = (1..=10).map(|n| n * 100).collect();
        assert_eq!(due[..10], multiples[..]);
        assert_eq!(due[10..], [1_100, 1_210, 1_331, 1_464, 1_610, 1_771, 1_948]);
        // A campaign with 100,000 reservations: ~58 snapshots instead of 1,000.
        assert_eq!(points(100, 100_000).len(), 58);
    }

    proptest! {
        #[test]
        fn committing_one_event_at_a_time_snapshots_at_each_multiple_then_spaced_out(
            every in 1usize..50, events in 1usize..5_000,
        ) {
            let due = points(every, events);
            let multiples: Vec<usize> = (1..=events.min(every * 10))
                .filter(|v| v % every == 0)
                .collect();
            prop_assert_eq!(&due[..multiples.len()], &multiples[..]);
            for gap in due.windows(2).skip(multiples.len().saturating_sub(1)) {
                prop_assert!(gap[1] - gap[0] >= (gap[0] / 10).max(1));
                prop_assert!(gap[1] - gap[0] <= gap[0] / 10 + every + 1);
            }
        }

        #[test]
        fn a_commit_of_many_events_is_due_when_one_at_a_time_would_be(
            every in 1usize..50, from in 0usize..5_000, count in 1usize..300,
        ) {
            let crossed = (from..from + count).any(|v| snapshot_due(v, v + 1, every));
            prop_assert_eq!(snapshot_due(from, from + count, every), crossed);
        }

        #[test]
        fn never_due_without_new_events(every in 0usize..50, at in 0usize..1000) {
            prop_assert!(!snapshot_due(at, at, every));
        }
    }
}
