//! The contract every event store backend keeps, as one generic suite.
//!
//! A backend's test file declares `#[macro_use] mod contract;` and instantiates the suite
//! with one line, naming a function that opens a fresh store:
//!
//! ```ignore
//! contract_suite!(fresh_sqlite);     // tests/sqlite.rs: a new temp file per test
//! contract_suite!(fresh_postgres);   // tests/postgres.rs: alpes_test_support's fresh database
//! contract_suite!(fresh_esdb);       // tests/esdb.rs: EVENTSTORE_URL, or skipped loudly
//! ```
//!
//! A fresh store may be shared with other tests (EventStoreDB: one server), so every test
//! uses aggregate ids of its own and reads the log from the head it found at its start.

#![allow(dead_code)]

pub mod tally;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alpes_event_store::runner::EventHandler;
use alpes_event_store::{
    AggregateStore, AtLeastOnceConsumer, CheckpointStore, Consumer, ConsumerError, ConsumerRunner,
    EventLog, EventRepository, EventStoreBackend, Position, RecordedEvent, RunnerOptions,
    StoreOptions,
};
use cqrs_es::persist::{EventStoreAggregateContext, PersistedEventRepository, SerializedEvent};
use cqrs_es::{Aggregate, AggregateError, CqrsFramework, EventStore};
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use tally::{added, Tally, TallyCommand, TallyEvent};

/// Appends events inside a transaction that stays open for the given time before it
/// commits (backends with SQL transactions; the gap test uses it).
pub type HeldAppend =
    Arc<dyn Fn(Vec<SerializedEvent>, Duration) -> BoxFuture<'static, ()> + Send + Sync>;

/// A freshly opened store.
pub struct TestStore {
    /// The URL it was opened with; opening it again is a restart.
    pub url: String,
    pub backend: EventStoreBackend,
    pub held_append: Option<HeldAppend>,
    /// Whatever must live as long as the store (a temp folder, a database to drop).
    pub guard: Box<dyn std::any::Any + Send>,
}

/// Opens a fresh store with the given options, or says loudly why it is skipped (`None`).
pub type Fresh = fn(StoreOptions) -> BoxFuture<'static, Option<TestStore>>;

/// Instantiates every contract test for the backend opened by `$fresh`.
macro_rules! contract_suite {
    ($fresh:path) => {
        contract_suite!(@tests $fresh;
            append_and_load_with_metadata,
            an_append_answers_the_log_position_of_its_last_event,
            commands_decided_together_are_appended_once_in_order,
            commands_on_new_instances_append_together_and_a_taken_id_conflicts_alone,
            snapshot_load_equals_replay,
            old_event_is_upcast_on_every_read,
            unreadable_event_fails_naming_stream_sequence_and_version,
            racing_appends_of_one_version_have_exactly_one_winner,
            a_conflicting_append_fails_alone,
            a_large_append_commits_whole_or_not_at_all,
            log_is_gap_free_under_concurrent_writers,
            consumer_killed_between_write_and_checkpoint_resumes_without_loss,
            runner_retries_a_failing_batch_with_backoff,
            runner_finishes_the_current_batch_and_stops_on_shutdown,
            a_consumer_is_handed_only_what_it_wants_and_still_reaches_the_head,
            checkpoints_round_trip,
            lease_is_held_by_one_runner_at_a_time,
        );
    };
    (@tests $fresh:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                contract::$name($fresh).await;
            }
        )*
    };
}

// ---------------------------------------------------------------- helpers

fn test_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

fn metadata(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

fn options_with_upcaster() -> StoreOptions {
    StoreOptions {
        upcasters: Arc::new(vec![tally::upcaster()]),
        ..StoreOptions::default()
    }
}

async fn open(fresh: Fresh, options: StoreOptions) -> Option<TestStore> {
    fresh(options).await
}

async fn add(store: &AggregateStore<Tally, EventRepository>, id: &str, amount: i64) -> usize {
    store
        .execute(
            id,
            TallyCommand::Add {
                amount,
                label: format!("add-{amount}"),
            },
            &(),
            HashMap::new(),
        )
        .await
        .unwrap()
        .version
}

/// Commits `events` at `version` without loading (writers that know their version).
async fn commit_at(
    store: &AggregateStore<Tally, EventRepository>,
    id: &str,
    version: usize,
    events: Vec<TallyEvent>,
) -> Result<(), AggregateError<tally::ZeroAmount>> {
    let mut aggregate = Tally::default();
    for event in &events {
        aggregate.apply(event.clone());
    }
    let context = EventStoreAggregateContext {
        aggregate_id: id.to_string(),
        aggregate,
        current_sequence: version,
        current_snapshot: None,
    };
    store
        .commit(events, context, HashMap::new())
        .await
        .map(|_| ())
}

async fn head(log: &dyn EventLog) -> Position {
    log.head()
        .await
        .unwrap()
        .map_or(Position::START, |(position, _)| position)
}

/// Every event after `after` whose aggregate id starts with `prefix`, in log order, once
/// `expected` of them are readable. A committed event may stay unreadable for a moment
/// (PostgreSQL: until older transactions of the cluster — other tests' too — end), so this
/// waits for up to 20 s before returning what it has.
async fn read_ours(
    log: &dyn EventLog,
    after: Position,
    prefix: &str,
    expected: usize,
) -> Vec<RecordedEvent> {
    let started = Instant::now();
    let mut events = Vec::new();
    let mut position = after;
    loop {
        let batch = log.read_after(position, 500).await.unwrap();
        let Some(last) = batch.last() else {
            if events.len() >= expected || started.elapsed() > Duration::from_secs(20) {
                return events;
            }
            log.wait_for_events(position, Duration::from_millis(100))
                .await
                .unwrap();
            continue;
        };
        position = last.position;
        events.extend(
            batch
                .into_iter()
                .filter(|event| event.event.aggregate_id.starts_with(prefix)),
        );
    }
}

async fn eventually(what: &str, limit: Duration, condition: impl Fn() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn key(event: &RecordedEvent) -> (String, usize) {
    (event.stream(), event.event.sequence)
}

// ---------------------------------------------------------------- aggregates

/// Events come back with their sequences and metadata, through cqrs-es and the log.
pub async fn append_and_load_with_metadata(fresh: Fresh) {
    let Some(store) = open(fresh, StoreOptions::default()).await else {
        return;
    };
    let log = store.backend.log();
    let start = head(log.as_ref()).await;
    let tallies = store.backend.aggregate_store::<Tally>();
    let id = test_id("meta");
    let before = chrono::Utc::now();

    let cqrs = CqrsFramework::new(tallies.clone(), Vec::new(), ());
    cqrs.execute_with_metadata(
        &id,
        TallyCommand::Add {
            amount: 5,
            label: "first".into(),
        },
        metadata(&[("correlation_id", "c-1"), ("actor", "ana")]),
    )
    .await
    .unwrap();
    let outcome = tallies
        .execute(
            &id,
            TallyCommand::AddMany {
                amounts: vec![7, 9],
            },
            &(),
            metadata(&[("correlation_id", "c-2")]),
        )
        .await
        .unwrap();
    assert_eq!(outcome.version, 3);
    let sequences: Vec<usize> = outcome.events.iter().map(|event| event.sequence).collect();
    assert_eq!(sequences, vec![2, 3]);

    let events = tallies.load_events(&id).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].payload, added(5, "first"));
    assert_eq!(
        events[0].metadata,
        metadata(&[("correlation_id", "c-1"), ("actor", "ana")])
    );
    assert_eq!(events[2].payload, added(9, "many-9"));
    assert_eq!(events[2].metadata, metadata(&[("correlation_id", "c-2")]));

    let context = tallies.load_aggregate(&id).await.unwrap();
    assert_eq!(context.current_sequence, 3);
    assert_eq!(context.aggregate.total, 21);

    let recorded = read_ours(log.as_ref(), start, &id, 3).await;
    assert_eq!(recorded.len(), 3);
    let after = chrono::Utc::now();
    for (index, event) in recorded.iter().enumerate() {
        assert_eq!(event.stream(), format!("Tally-{id}"));
        assert_eq!(event.event.sequence, index + 1);
        assert_eq!(event.stored_version, tally::EVENT_VERSION);
        let slack = chrono::Duration::seconds(5);
        assert!(event.recorded_at >= before - slack && event.recorded_at <= after + slack);
    }
    assert_eq!(recorded[0].metadata()["actor"], "ana");
    assert_eq!(
        recorded[1].decode::<Tally>().unwrap().payload,
        added(7, "many-7")
    );
    assert!(recorded
        .windows(2)
        .all(|pair| pair[0].position < pair[1].position));
    assert!(head(log.as_ref()).await >= recorded[2].position);
}

/// The position a command's commit answers is its last event's in the global log (the
/// consistency token of the API): for appends committed together by concurrent writers,
/// for several events at once, and for a commit that saves a snapshot.
pub async fn an_append_answers_the_log_position_of_its_last_event(fresh: Fresh) {
    let options = StoreOptions {
        snapshot_every: Some(2),
        ..StoreOptions::default()
    };
    let Some(store) = open(fresh, options).await else {
        return;
    };
    let log = store.backend.log();
    let start = head(log.as_ref()).await;
    let tallies = store.backend.aggregate_store::<Tally>();
    let prefix = test_id("token");
    let writers = (0..16).map(|writer| {
        let tallies = tallies.clone();
        let id = format!("{prefix}-{writer}");
        tokio::spawn(async move {
            let amounts = vec![1; 1 + writer % 3];
            let outcome = tallies
                .execute(&id, TallyCommand::AddMany { amounts }, &(), HashMap::new())
                .await
                .unwrap();
            (id, outcome.version, outcome.position)
        })
    });
    let mut answered = HashMap::new();
    for writer in writers {
        let (id, version, position) = writer.await.unwrap();
        answered.insert(id, (version, position.expect("events were appended")));
    }
    let expected: usize = answered.values().map(|(version, _)| version).sum();

    let recorded = read_ours(log.as_ref(), start, &prefix, expected).await;
    assert_eq!(recorded.len(), expected);
    for (id, (version, position)) in &answered {
        let last = recorded
            .iter()
            .rfind(|event| &event.event.aggregate_id == id)
            .unwrap();
        assert_eq!(last.event.sequence, *version, "{id}");
        assert_eq!(last.position, *position, "{id}: the answered position");
    }
    let noop = tallies
        .execute(
            &format!("{prefix}-0"),
            TallyCommand::AddMany { amounts: vec![] },
            &(),
            HashMap::new(),
        )
        .await
        .unwrap();
    assert_eq!(noop.position, None, "nothing appended, no position");
}

/// `execute_each`: every command decided on the state the earlier ones left, a refused one
/// skipped, all events appended at once with their own command's metadata — and a snapshot
/// crossed in the middle of the group is the aggregate after all of it.
pub async fn commands_decided_together_are_appended_once_in_order(fresh: Fresh) {
    let options = StoreOptions {
        snapshot_every: Some(3),
        ..StoreOptions::default()
    };
    let Some(store) = open(fresh, options).await else {
        return;
    };
    let log = store.backend.log();
    let start = head(log.as_ref()).await;
    let tallies = store.backend.aggregate_store::<Tally>();
    let id = test_id("each");
    add(&tallies, &id, 1).await;
    let add_one = |amount: i64, label: &str| TallyCommand::Add {
        amount,
        label: label.to_string(),
    };
    let commands = vec![
        (add_one(2, "two"), metadata(&[("actor", "a")])),
        (add_one(0, "zero"), metadata(&[("actor", "b")])),
        (
            TallyCommand::AddMany {
                amounts: vec![3, 4],
            },
            metadata(&[("actor", "c")]),
        ),
        (TallyCommand::AddMany { amounts: vec![] }, HashMap::new()),
    ];
    let outcomes = tallies.execute_each(&id, commands, &()).await.unwrap();
    assert_eq!(outcomes.len(), 4);
    let (two, many, nothing) = match &outcomes[..] {
        [Ok(two), Err(tally::ZeroAmount), Ok(many), Ok(nothing)] => (two, many, nothing),
        other => panic!("one outcome per command, the zero refused: {other:?}"),
    };
    assert_eq!((two.version, two.events.len()), (2, 1));
    assert_eq!((many.version, many.events.len()), (4, 2));
    assert_eq!((nothing.version, nothing.events.len()), (4, 0));
    assert_eq!(nothing.position, None);
    assert_eq!(two.position, many.position, "one append for the group");

    let recorded = read_ours(log.as_ref(), start, &id, 4).await;
    assert_eq!(recorded.len(), 4);
    assert_eq!(many.position, Some(recorded[3].position));
    let actors: Vec<_> = recorded
        .iter()
        .map(|event| event.metadata().get("actor").cloned().unwrap_or_default())
        .collect();
    assert_eq!(actors, ["", "a", "c", "c"]);
    let labels: Vec<_> = recorded
        .iter()
        .map(|event| match event.decode::<Tally>().unwrap().payload {
            TallyEvent::Added { label, .. } => label,
        })
        .collect();
    assert_eq!(labels, ["add-1", "two", "many-3", "many-4"]);

    let snapshot = store
        .backend
        .repository()
        .get_snapshot::<Tally>(&id)
        .await
        .unwrap()
        .expect("the group crossed version 3");
    assert_eq!(snapshot.current_sequence, 4);
    let snapshotted = serde_json::from_value::<Tally>(snapshot.aggregate).unwrap();
    assert_eq!((snapshotted.total, snapshotted.entries), (10, 4));
    let loaded = tallies.load_aggregate(&id).await.unwrap();
    assert_eq!(loaded.aggregate, snapshotted);

    // Starting from the aggregate a group answered reads only what others appended since.
    let commands = vec![(add_one(5, "five"), HashMap::new())];
    let (_, cached) = tallies
        .execute_each_from(&id, None, commands, &())
        .await
        .unwrap();
    assert_eq!((cached.current_sequence, cached.aggregate.total), (5, 15));
    add(&tallies, &id, 6).await;
    let commands = vec![(add_one(7, "seven"), HashMap::new())];
    let (outcomes, after) = tallies
        .execute_each_from(&id, Some(cached), commands, &())
        .await
        .unwrap();
    assert_eq!(outcomes[0].as_ref().unwrap().version, 7);
    assert_eq!((after.current_sequence, after.aggregate.total), (7, 28));
    assert_eq!(
        tallies.load_aggregate(&id).await.unwrap().aggregate,
        after.aggregate
    );
}

/// `execute_each_as_new`: each command decided on an empty instance without a load, all
/// appends handed over together; an instance that has events conflicts and appends
/// nothing, a refused command appends nothing, and neither stops the others.
pub async fn commands_on_new_instances_append_together_and_a_taken_id_conflicts_alone(
    fresh: Fresh,
) {
    let Some(store) = open(fresh, StoreOptions::default()).await else {
        return;
    };
    let log = store.backend.log();
    let start = head(log.as_ref()).await;
    let tallies = store.backend.aggregate_store::<Tally>();
    let taken = test_id("taken");
    add(&tallies, &taken, 1).await;
    let (first, second) = (test_id("new"), test_id("new"));
    let command = |amount: i64| TallyCommand::Add {
        amount,
        label: format!("new-{amount}"),
    };
    let commands = vec![
        (first.clone(), command(2), metadata(&[("actor", "a")])),
        (taken.clone(), command(3), HashMap::new()),
        (test_id("refused"), command(0), HashMap::new()),
        (second.clone(), command(4), metadata(&[("actor", "b")])),
    ];
    let outcomes = tallies.execute_each_as_new(commands, &()).await;
    let (one, two) = match &outcomes[..] {
        [Ok(one), Err(AggregateError::AggregateConflict), Err(AggregateError::UserError(tally::ZeroAmount)), Ok(two)] => {
            (one, two)
        }
        other => panic!("the new ones appended, the taken one conflicted: {other:?}"),
    };
    assert_eq!((one.version, one.events.len()), (1, 1));
    assert_eq!((two.version, two.events.len()), (1, 1));
    let (one_at, two_at) = (one.position.unwrap(), two.position.unwrap());
    assert!(one_at < two_at, "appended in the order given");

    let recorded = read_ours(log.as_ref(), start, &first, 1).await;
    assert_eq!(recorded[0].position, one_at);
    assert_eq!(
        recorded[0].metadata().get("actor").map(String::as_str),
        Some("a")
    );
    assert_eq!(
        tallies
            .load_aggregate(&second)
            .await
            .unwrap()
            .aggregate
            .total,
        4
    );
    let unchanged = tallies.load_aggregate(&taken).await.unwrap();
    assert_eq!(
        (unchanged.current_sequence, unchanged.aggregate.total),
        (1, 1)
    );
}

/// A snapshot is the aggregate as a replay of the same events builds it — including when
/// one commit crosses the snapshot interval with several events.
pub async fn snapshot_load_equals_replay(fresh: Fresh) {
    let options = StoreOptions {
        snapshot_every: Some(3),
        ..StoreOptions::default()
    };
    let Some(store) = open(fresh, options).await else {
        return;
    };
    let snapshotted = store.backend.aggregate_store::<Tally>();
    let replaying = AggregateStore::<Tally, _>::new(
        store.backend.repository(),
        store.backend.options().upcasters.clone(),
        None,
    );
    let id = test_id("snap");
    for amount in 1..=10 {
        add(&snapshotted, &id, amount).await;
    }
    let snapshot = store
        .backend
        .repository()
        .get_snapshot::<Tally>(&id)
        .await
        .unwrap()
        .expect("a snapshot after 10 events with one every 3");
    assert_eq!(snapshot.current_sequence, 9);
    let first_nine = replaying.load_events(&id).await.unwrap();
    let mut expected = Tally::default();
    for envelope in first_nine.into_iter().take(9) {
        expected.apply(envelope.payload);
    }
    assert_eq!(
        serde_json::from_value::<Tally>(snapshot.aggregate).unwrap(),
        expected
    );

    let from_snapshot = snapshotted.load_aggregate(&id).await.unwrap();
    let replayed = replaying.load_aggregate(&id).await.unwrap();
    assert_eq!(from_snapshot.aggregate, replayed.aggregate);
    assert_eq!(from_snapshot.current_sequence, 10);
    assert_eq!(replayed.aggregate.total, 55);

    snapshotted
        .execute(
            &id,
            TallyCommand::AddMany {
                amounts: vec![11, 12, 13, 14],
            },
            &(),
            HashMap::new(),
        )
        .await
        .unwrap();
    let snapshot = store
        .backend
        .repository()
        .get_snapshot::<Tally>(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snapshot.current_sequence, 14);
    let from_snapshot = snapshotted.load_aggregate(&id).await.unwrap();
    let replayed = replaying.load_aggregate(&id).await.unwrap();
    assert_eq!(from_snapshot.aggregate, replayed.aggregate);
    assert_eq!(from_snapshot.aggregate.entries, 14);
    assert_eq!(from_snapshot.aggregate.total, 105);
    assert_eq!(from_snapshot.current_sequence, 14);
}

/// An event stored by an old version reaches aggregates and the log in the newest shape;
/// the log also says which version was stored.
pub async fn old_event_is_upcast_on_every_read(fresh: Fresh) {
    let Some(store) = open(fresh, options_with_upcaster()).await else {
        return;
    };
    let log = store.backend.log();
    let start = head(log.as_ref()).await;
    let id = test_id("upcast");
    store
        .backend
        .repository()
        .persist::<Tally>(&[tally::version_one_event(&id, 1, 5)], None)
        .await
        .unwrap();
    let tallies = store.backend.aggregate_store::<Tally>();
    assert_eq!(add(&tallies, &id, 2).await, 2);

    let context = tallies.load_aggregate(&id).await.unwrap();
    assert_eq!(context.aggregate.total, 7);
    assert_eq!(context.aggregate.labels, vec!["legacy", "add-2"]);

    let recorded = read_ours(log.as_ref(), start, &id, 2).await;
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].stored_version, "1.0");
    assert_eq!(
        recorded[0].decode::<Tally>().unwrap().payload,
        added(5, "legacy")
    );
    assert_eq!(recorded[1].stored_version, tally::EVENT_VERSION);
}

/// An event this code cannot read is an error that names it; nothing is silently skipped.
pub async fn unreadable_event_fails_naming_stream_sequence_and_version(fresh: Fresh) {
    let Some(store) = open(fresh, StoreOptions::default()).await else {
        return;
    };
    let log = store.backend.log();
    let start = head(log.as_ref()).await;
    let id = test_id("unreadable");
    let mut event = tally::serialized(&id, 1, &added(1, "fine"));
    event.payload = serde_json::json!({ "Subtracted": { "amount": 1 } });
    event.event_version = "9.9".to_string();
    store
        .backend
        .repository()
        .persist::<Tally>(&[event], None)
        .await
        .unwrap();

    let tallies = store.backend.aggregate_store::<Tally>();
    let error = match tallies.load_aggregate(&id).await {
        Err(error) => error,
        Ok(_) => panic!("an unreadable event loaded"),
    };
    assert!(
        matches!(error, AggregateError::DeserializationError(_)),
        "{error:?}"
    );
    let message = error.to_string();
    for part in [format!("Tally-{id}"), "#1".to_string(), "v9.9".to_string()] {
        assert!(message.contains(&part), "'{message}' does not name {part}");
    }

    let recorded = read_ours(log.as_ref(), start, &id, 1).await;
    let message = recorded[0].decode::<Tally>().unwrap_err().to_string();
    assert!(
        message.contains(&format!("Tally-{id}")) && message.contains("9.9"),
        "{message}"
    );
}

// ---------------------------------------------------------------- concurrency

/// 32 writers that all loaded version n append n+1: one wins, the others get the
/// concurrency error, and the stream holds exactly the winner's event.
pub async fn racing_appends_of_one_version_have_exactly_one_winner(fresh: Fresh) {
    let Some(store) = open(fresh, StoreOptions::default()).await else {
        return;
    };
    let log = store.backend.log();
    let start = head(log.as_ref()).await;
    let tallies = Arc::new(store.backend.aggregate_store::<Tally>());
    let id = test_id("race");
    for amount in 1..=3 {
        add(&tallies, &id, amount).await;
    }
    const RACERS: usize = 32;
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut racers = tokio::task::JoinSet::new();
    for racer in 0..RACERS {
        let (tallies, barrier, id) = (tallies.clone(), barrier.clone(), id.clone());
        racers.spawn(async move {
            let mut context = tallies.load_aggregate(&id).await.unwrap();
            assert_eq!(context.current_sequence, 3);
            let event = added(100 + racer as i64, &format!("racer-{racer}"));
            context.aggregate.apply(event.clone());
            barrier.wait().await;
            let result = tallies.commit(vec![event], context, HashMap::new()).await;
            (racer, result)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = racers.join_next().await {
        match joined.unwrap() {
            (racer, Ok(_)) => winners.push(racer),
            (_, Err(AggregateError::AggregateConflict)) => {}
            (_, Err(other)) => panic!("expected a concurrency conflict, got {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let events = tallies.load_events(&id).await.unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(
        events[3].payload,
        added(100 + winners[0] as i64, &format!("racer-{}", winners[0]))
    );
    let recorded = read_ours(log.as_ref(), start, &id, 4).await;
    let sequences: Vec<usize> = recorded.iter().map(|event| event.event.sequence).collect();
    assert_eq!(sequences, vec![1, 2, 3, 4]);
}

/// Appends that are written together (group commit) are still judged one by one: of two
/// appends of the same version of each of 8 aggregates, exactly one per aggregate commits.
pub async fn a_conflicting_append_fails_alone(fresh: Fresh) {
    let Some(store) = open(fresh, StoreOptions::default()).await else {
        return;
    };
    let tallies = Arc::new(store.backend.aggregate_store::<Tally>());
    let prefix = test_id("alone");
    let ids: Vec<String> = (0..8).map(|index| format!("{prefix}-{index}")).collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(ids.len() * 2));
    let mut writers = tokio::task::JoinSet::new();
    for id in ids.iter().chain(ids.iter()) {
        let (tallies, barrier, id) = (tallies.clone(), barrier.clone(), id.clone());
        writers.spawn(async move {
            barrier.wait().await;
            let outcome = commit_at(&tallies, &id, 0, vec![added(1, "once")]).await;
            (id, outcome.is_ok())
        });
    }
    let mut committed: HashMap<String, usize> = HashMap::new();
    while let Some(joined) = writers.join_next().await {
        let (id, ok) = joined.unwrap();
        *committed.entry(id).or_default() += usize::from(ok);
    }
    for id in &ids {
        assert_eq!(committed[id], 1, "{id}");
        assert_eq!(tallies.load_events(id).await.unwrap().len(), 1, "{id}");
    }
}

/// The events of one command commit together, however many: a stale one adds nothing.
pub async fn a_large_append_commits_whole_or_not_at_all(fresh: Fresh) {
    let Some(store) = open(fresh, StoreOptions::default()).await else {
        return;
    };
    let log = store.backend.log();
    let start = head(log.as_ref()).await;
    let tallies = store.backend.aggregate_store::<Tally>();
    let id = test_id("large");
    let amounts: Vec<i64> = (1..=600).collect();
    let outcome = tallies
        .execute(
            &id,
            TallyCommand::AddMany {
                amounts: amounts.clone(),
            },
            &(),
            HashMap::new(),
        )
        .await
        .unwrap();
    assert_eq!(outcome.version, 600);
    let stale = commit_at(
        &tallies,
        &id,
        0,
        amounts
            .iter()
            .map(|amount| added(*amount, "stale"))
            .collect(),
    )
    .await;
    assert!(
        matches!(stale, Err(AggregateError::AggregateConflict)),
        "{stale:?}"
    );
    let recorded = read_ours(log.as_ref(), start, &id, 600).await;
    let sequences: Vec<usize> = recorded.iter().map(|event| event.event.sequence).collect();
    assert_eq!(sequences, (1..=600).collect::<Vec<_>>());
    assert!(recorded
        .iter()
        .all(|event| event.decode::<Tally>().unwrap().payload != added(1, "stale")));
}

/// 8 writers append 2,000 events each (some holding their transaction open a few ms)
/// while a reader follows the log: it sees every event exactly once, in a stable order,
/// and a reader starting from any checkpoint sees the same suffix.
pub async fn log_is_gap_free_under_concurrent_writers(fresh: Fresh) {
    const WRITERS: usize = 8;
    const EVENTS_PER_WRITER: usize = 2_000;
    const TOTAL: usize = WRITERS * EVENTS_PER_WRITER;
    let Some(store) = open(fresh, StoreOptions::default()).await else {
        return;
    };
    let log = store.backend.log();
    let start = head(log.as_ref()).await;
    let prefix = test_id("gap");

    let reader = tokio::spawn(follow(log.clone(), start, prefix.clone(), TOTAL));
    let tallies = Arc::new(store.backend.aggregate_store::<Tally>());
    let held_appends = Arc::new(AtomicUsize::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let (tallies, prefix) = (tallies.clone(), prefix.clone());
        let (held_append, held_appends) = (store.held_append.clone(), held_appends.clone());
        writers.spawn(async move {
            let mut random = XorShift::new(writer as u64 + 1);
            let ids: Vec<String> = (0..4)
                .map(|index| format!("{prefix}-{writer}-{index}"))
                .collect();
            let mut versions = vec![0usize; ids.len()];
            let mut written = 0;
            while written < EVENTS_PER_WRITER {
                let which = random.below(ids.len() as u64) as usize;
                let count = (1 + random.below(3) as usize).min(EVENTS_PER_WRITER - written);
                let events: Vec<TallyEvent> = (0..count)
                    .map(|index| added((written + index + 1) as i64, "gap"))
                    .collect();
                match (&held_append, random.below(40)) {
                    (Some(held_append), 0) => {
                        let serialized = events
                            .iter()
                            .enumerate()
                            .map(|(index, event)| {
                                tally::serialized(&ids[which], versions[which] + index + 1, event)
                            })
                            .collect();
                        let hold = Duration::from_millis(1 + random.below(5));
                        held_append(serialized, hold).await;
                        held_appends.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => commit_at(&tallies, &ids[which], versions[which], events)
                        .await
                        .unwrap(),
                }
                versions[which] += count;
                written += count;
            }
        });
    }
    while let Some(joined) = writers.join_next().await {
        joined.unwrap();
    }
    let seen = tokio::time::timeout(Duration::from_secs(120), reader)
        .await
        .expect("the reader did not see every event within 2 minutes")
        .unwrap();
    if store.held_append.is_some() {
        assert!(held_appends.load(Ordering::Relaxed) > 0);
    }

    assert_eq!(seen.len(), TOTAL);
    let distinct: HashSet<(String, usize)> = seen.iter().map(key).collect();
    assert_eq!(distinct.len(), TOTAL, "an event was seen twice");
    assert!(seen
        .windows(2)
        .all(|pair| pair[0].position < pair[1].position));
    let mut next_sequence: HashMap<String, usize> = HashMap::new();
    for event in &seen {
        let expected = next_sequence.entry(event.stream()).or_insert(1);
        assert_eq!(
            event.event.sequence,
            *expected,
            "{} out of order",
            event.stream()
        );
        *expected += 1;
    }

    for from in [0, 1, TOTAL / 3, TOTAL - 2_345, TOTAL - 1] {
        let suffix = read_ours(log.as_ref(), seen[from].position, &prefix, TOTAL - from - 1).await;
        let expected: Vec<(Position, (String, usize))> = seen[from + 1..]
            .iter()
            .map(|event| (event.position, key(event)))
            .collect();
        let actual: Vec<(Position, (String, usize))> = suffix
            .iter()
            .map(|event| (event.position, key(event)))
            .collect();
        assert!(
            actual == expected,
            "the suffix after checkpoint #{from} differs"
        );
    }
}

/// Follows the log like a consumer until `total` of our events were seen.
async fn follow(
    log: Arc<dyn EventLog>,
    start: Position,
    prefix: String,
    total: usize,
) -> Vec<RecordedEvent> {
    let mut seen = Vec::with_capacity(total);
    let mut position = start;
    while seen.len() < total {
        let batch = log.read_after(position, 256).await.unwrap();
        match batch.last() {
            Some(last) => position = last.position,
            None => {
                log.wait_for_events(position, Duration::from_millis(50))
                    .await
                    .unwrap();
                continue;
            }
        }
        seen.extend(
            batch
                .into_iter()
                .filter(|event| event.event.aggregate_id.starts_with(&prefix)),
        );
    }
    seen
}

/// Small deterministic pseudo-random numbers (the writers' choices).
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

// ---------------------------------------------------------------- consumers

/// Records what it sees; can stall for ever after its effects of one batch (a process
/// killed between its write and its checkpoint), fail a number of batches, or be slow.
struct Recorder {
    name: String,
    prefix: String,
    seen: Arc<Mutex<Vec<(String, usize)>>>,
    batches: AtomicUsize,
    stall_on_batch: Option<usize>,
    stalled: Arc<tokio::sync::Notify>,
    failures_left: AtomicUsize,
    slow: Option<(Duration, Arc<tokio::sync::Notify>)>,
}

impl Recorder {
    fn new(name: &str, prefix: &str, seen: Arc<Mutex<Vec<(String, usize)>>>) -> Self {
        Recorder {
            name: name.to_string(),
            prefix: prefix.to_string(),
            seen,
            batches: AtomicUsize::new(0),
            stall_on_batch: None,
            stalled: Arc::new(tokio::sync::Notify::new()),
            failures_left: AtomicUsize::new(0),
            slow: None,
        }
    }
}

#[async_trait::async_trait]
impl EventHandler for Recorder {
    fn name(&self) -> &str {
        &self.name
    }

    async fn handle(&self, batch: &[RecordedEvent]) -> Result<(), ConsumerError> {
        if self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok()
        {
            return Err(ConsumerError::new("the view database is down"));
        }
        if let Some((delay, started)) = &self.slow {
            started.notify_one();
            tokio::time::sleep(*delay).await;
        }
        let ours = batch
            .iter()
            .filter(|event| event.event.aggregate_id.starts_with(&self.prefix))
            .map(key);
        self.seen.lock().unwrap().extend(ours);
        let batch_number = self.batches.fetch_add(1, Ordering::SeqCst) + 1;
        if self.stall_on_batch == Some(batch_number) {
            self.stalled.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

fn quick_runner_options(batch_size: usize) -> RunnerOptions {
    RunnerOptions {
        batch_size,
        idle_wait: Duration::from_millis(100),
        first_retry_delay: Duration::from_millis(20),
        max_retry_delay: Duration::from_millis(80),
    }
}

async fn append_events(store: &TestStore, prefix: &str, count: usize) -> Vec<RecordedEvent> {
    let log = store.backend.log();
    let start = head(log.as_ref()).await;
    let tallies = store.backend.aggregate_store::<Tally>();
    for index in 0..count {
        add(
            &tallies,
            &format!("{prefix}-{}", index % 5),
            index as i64 + 1,
        )
        .await;
    }
    read_ours(log.as_ref(), start, prefix, count).await
}

/// A reactor killed after acting on a batch but before saving its checkpoint gets that
/// batch again when it restarts, so nothing is lost (and only that batch is repeated).
pub async fn consumer_killed_between_write_and_checkpoint_resumes_without_loss(fresh: Fresh) {
    let Some(store) = open(fresh, StoreOptions::default()).await else {
        return;
    };
    let prefix = test_id("kill");
    let name = format!("reactor-{prefix}");
    let start = head(store.backend.log().as_ref()).await;
    let appended = append_events(&store, &prefix, 50).await;
    let checkpoints = store.backend.checkpoints();
    checkpoints.save(&name, start).await.unwrap();

    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut recorder = Recorder::new(&name, &prefix, seen.clone());
    recorder.stall_on_batch = Some(3);
    let stalled = recorder.stalled.clone();
    let consumer = Arc::new(AtLeastOnceConsumer::new(recorder, checkpoints.clone()));
    let runner = ConsumerRunner::new(consumer, store.backend.log(), store.backend.leases())
        .with_options(quick_runner_options(10));
    let task = runner.spawn(CancellationToken::new());
    tokio::time::timeout(Duration::from_secs(30), stalled.notified())
        .await
        .expect("the reactor never reached its third batch");
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let seen_before_kill = seen.lock().unwrap().len();
    assert!(seen_before_kill >= 3, "three batches were acted on");
    let checkpoint = checkpoints.load(&name).await.unwrap();
    assert!(checkpoint < appended.last().unwrap().position);

    // The restart: a new process opens the store again.
    let restarted = EventStoreBackend::open(&store.url, StoreOptions::default())
        .await
        .unwrap();
    let recorder = Recorder::new(&name, &prefix, seen.clone());
    let consumer = Arc::new(AtLeastOnceConsumer::new(recorder, restarted.checkpoints()));
    let runner = ConsumerRunner::new(consumer, restarted.log(), restarted.leases())
        .with_options(quick_runner_options(10));
    let shutdown = CancellationToken::new();
    let task = runner.spawn(shutdown.clone());
    let last = appended.last().unwrap().position;
    let restarted_checkpoints = restarted.checkpoints();
    let started = Instant::now();
    while restarted_checkpoints.load(&name).await.unwrap() < last {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the reactor did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    task.await.unwrap();

    let seen = seen.lock().unwrap().clone();
    let distinct: HashSet<(String, usize)> = seen.iter().cloned().collect();
    let expected: HashSet<(String, usize)> = appended.iter().map(key).collect();
    assert_eq!(distinct, expected, "an event was lost");
    let repeated = seen.len() - distinct.len();
    assert!(
        repeated > 0 && repeated <= 10,
        "only the killed batch is handled again ({repeated} repeats)"
    );
}

/// A failing batch is retried (after a backoff) until it succeeds; the failures are counted.
/// Shutdown while caught up stops the runner at once, without waiting for the poll timeout.
pub async fn runner_retries_a_failing_batch_with_backoff(fresh: Fresh) {
    let Some(store) = open(fresh, StoreOptions::default()).await else {
        return;
    };
    let prefix = test_id("retry");
    let name = format!("flaky-{prefix}");
    let start = head(store.backend.log().as_ref()).await;
    let appended = append_events(&store, &prefix, 20).await;
    let checkpoints = store.backend.checkpoints();
    checkpoints.save(&name, start).await.unwrap();

    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder::new(&name, &prefix, seen.clone());
    recorder.failures_left.store(2, Ordering::SeqCst);
    let consumer = Arc::new(AtLeastOnceConsumer::new(recorder, checkpoints.clone()));
    let runner = ConsumerRunner::new(consumer, store.backend.log(), store.backend.leases())
        .with_options(RunnerOptions {
            idle_wait: Duration::from_secs(60),
            ..quick_runner_options(8)
        });
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let task = runner.spawn(shutdown.clone());
    let last = appended.last().unwrap().position;
    eventually(
        "the flaky consumer to catch up",
        Duration::from_secs(30),
        || stats.position() >= last,
    )
    .await;
    assert_eq!(stats.failed_batches(), 2);
    let seen_keys: Vec<(String, usize)> = seen.lock().unwrap().clone();
    let expected: Vec<(String, usize)> = appended.iter().map(key).collect();
    assert_eq!(
        seen_keys, expected,
        "every event once, in order, despite the failures"
    );
    assert_eq!(checkpoints.load(&name).await.unwrap(), last);

    tokio::time::sleep(Duration::from_millis(50)).await;
    let stopping = Instant::now();
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the runner did not stop on shutdown")
        .unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(5));
}

/// Shutdown during a batch lets that batch finish (effects and checkpoint), then stops.
pub async fn runner_finishes_the_current_batch_and_stops_on_shutdown(fresh: Fresh) {
    let Some(store) = open(fresh, StoreOptions::default()).await else {
        return;
    };
    let prefix = test_id("stop");
    let name = format!("slow-{prefix}");
    let start = head(store.backend.log().as_ref()).await;
    let appended = append_events(&store, &prefix, 5).await;
    let checkpoints = store.backend.checkpoints();
    checkpoints.save(&name, start).await.unwrap();

    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut recorder = Recorder::new(&name, &prefix, seen.clone());
    let started = Arc::new(tokio::sync::Notify::new());
    recorder.slow = Some((Duration::from_millis(300), started.clone()));
    let consumer = Arc::new(AtLeastOnceConsumer::new(recorder, checkpoints.clone()));
    let runner = ConsumerRunner::new(consumer, store.backend.log(), store.backend.leases())
        .with_options(quick_runner_options(100));
    let shutdown = CancellationToken::new();
    let task = runner.spawn(shutdown.clone());
    tokio::time::timeout(Duration::from_secs(30), started.notified())
        .await
        .expect("the batch never started");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the runner did not stop")
        .unwrap();
    assert_eq!(
        seen.lock().unwrap().len(),
        appended.len(),
        "the batch was finished"
    );
    assert_eq!(
        checkpoints.load(&name).await.unwrap(),
        appended.last().unwrap().position
    );
}

/// Wants no event at all: its checkpoint must still follow the log.
struct Uninterested {
    name: String,
    checkpoints: Arc<dyn CheckpointStore>,
    handed: AtomicUsize,
}

#[async_trait::async_trait]
impl Consumer for Uninterested {
    fn name(&self) -> &str {
        &self.name
    }

    async fn checkpoint(&self) -> Result<Position, ConsumerError> {
        Ok(self.checkpoints.load(&self.name).await?)
    }

    fn wants(&self, _aggregate_type: &str, _event_type: &str) -> bool {
        false
    }

    async fn skip_to(&self, position: Position) -> Result<(), ConsumerError> {
        Ok(self.checkpoints.save(&self.name, position).await?)
    }

    async fn handle(&self, batch: &[RecordedEvent]) -> Result<(), ConsumerError> {
        self.handed.fetch_add(batch.len(), Ordering::SeqCst);
        Ok(())
    }
}

/// A consumer that wants none of the events is never handed one, and its saved checkpoint
/// still reaches the head of the log soon after it catches up.
pub async fn a_consumer_is_handed_only_what_it_wants_and_still_reaches_the_head(fresh: Fresh) {
    let Some(store) = open(fresh, StoreOptions::default()).await else {
        return;
    };
    let prefix = test_id("unwanted");
    let name = format!("uninterested-{prefix}");
    let start = head(store.backend.log().as_ref()).await;
    let appended = append_events(&store, &prefix, 30).await;
    let checkpoints = store.backend.checkpoints();
    checkpoints.save(&name, start).await.unwrap();
    let consumer = Arc::new(Uninterested {
        name: name.clone(),
        checkpoints: checkpoints.clone(),
        handed: AtomicUsize::new(0),
    });
    let runner = ConsumerRunner::new(
        consumer.clone(),
        store.backend.log(),
        store.backend.leases(),
    )
    .with_options(quick_runner_options(7));
    let shutdown = CancellationToken::new();
    let task = runner.spawn(shutdown.clone());
    let last = appended.last().unwrap().position;
    let started = Instant::now();
    while checkpoints.load(&name).await.unwrap() < last {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the checkpoint did not follow the log"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(consumer.handed.load(Ordering::SeqCst), 0);
}

pub async fn checkpoints_round_trip(fresh: Fresh) {
    let Some(store) = open(fresh, StoreOptions::default()).await else {
        return;
    };
    let checkpoints = store.backend.checkpoints();
    let name = test_id("checkpoint");
    assert_eq!(checkpoints.load(&name).await.unwrap(), Position::START);
    checkpoints.save(&name, Position::new(5, 0)).await.unwrap();
    assert_eq!(checkpoints.load(&name).await.unwrap(), Position::new(5, 0));
    checkpoints.save(&name, Position::new(7, 3)).await.unwrap();
    assert_eq!(checkpoints.load(&name).await.unwrap(), Position::new(7, 3));
    assert_eq!(
        checkpoints.load(&test_id("other")).await.unwrap(),
        Position::START
    );
}

/// A second runner of the same consumer waits until the first lets the lease go.
pub async fn lease_is_held_by_one_runner_at_a_time(fresh: Fresh) {
    let Some(store) = open(fresh, StoreOptions::default()).await else {
        return;
    };
    let leases = store.backend.leases();
    let name = test_id("lease");
    let mut first = leases.acquire(&name).await.unwrap();
    assert!(first.is_held().await);
    let another_consumer = test_id("another-consumer");
    tokio::time::timeout(Duration::from_secs(5), leases.acquire(&another_consumer))
        .await
        .expect("another consumer's lease is free")
        .unwrap();

    let second = {
        let leases = leases.clone();
        let name = name.clone();
        tokio::spawn(async move { leases.acquire(&name).await.map(|_| ()) })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!second.is_finished(), "two holders of one lease");
    drop(first);
    tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the lease was not handed over")
        .unwrap()
        .unwrap();
}
