//! The cqrs-es repository on a real EventStoreDB (skipped loudly without `EVENTSTORE_URL`).

mod esdb_support;

use cqrs_es::persist::{EventUpcaster, PersistedEventRepository, PersistenceError};
use cqrs_es::{Aggregate, EventEnvelope};
use esdb_support::{added, connect, new_id, AddedV1ToV2, Counter, CounterEvent};
use serde_json::json;

#[tokio::test]
async fn events_load_back_with_their_metadata() {
    let Some(store) = connect("events_load_back_with_their_metadata").await else {
        return;
    };
    let repository = store.repository();
    let id = new_id();
    let first = [added(&id, 1, 5), added(&id, 2, 7)];
    let second = [added(&id, 3, -2)];

    repository.persist::<Counter>(&first, None).await.unwrap();
    repository.persist::<Counter>(&second, None).await.unwrap();

    let loaded = repository.get_events::<Counter>(&id).await.unwrap();
    assert_eq!(loaded, [first.as_slice(), second.as_slice()].concat());
    assert_eq!(
        loaded[2].metadata,
        json!({"correlation_id": format!("corr-{id}-3"), "actor": "tests"})
    );
    let after_two = repository.get_last_events::<Counter>(&id, 2).await.unwrap();
    assert_eq!(after_two, second);
}

#[tokio::test]
async fn an_aggregate_never_written_has_no_events_and_no_snapshot() {
    let Some(store) = connect("an_aggregate_never_written_has_no_events_and_no_snapshot").await
    else {
        return;
    };
    let repository = store.repository();
    let id = new_id();
    assert!(repository
        .get_events::<Counter>(&id)
        .await
        .unwrap()
        .is_empty());
    assert!(repository
        .get_last_events::<Counter>(&id, 3)
        .await
        .unwrap()
        .is_empty());
    assert!(repository
        .get_snapshot::<Counter>(&id)
        .await
        .unwrap()
        .is_none());
}

/// Runs 32 writers that all loaded the aggregate at `loaded_at` and append one event each.
async fn race(
    repository: &alpes_event_store::esdb::EsdbEventRepository,
    id: &str,
    loaded_at: usize,
) -> (usize, usize) {
    let writers = (0..32).map(|writer| {
        let repository = repository.clone();
        let event = added(id, loaded_at + 1, 1000 + writer);
        tokio::spawn(async move { repository.persist::<Counter>(&[event], None).await })
    });
    let mut won = 0;
    let mut conflicts = 0;
    for writer in writers.collect::<Vec<_>>() {
        match writer.await.unwrap() {
            Ok(()) => won += 1,
            Err(PersistenceError::OptimisticLockError) => conflicts += 1,
            Err(other) => panic!("a writer failed otherwise: {other}"),
        }
    }
    (won, conflicts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_racing_writers_of_a_new_aggregate_exactly_one_wins() {
    let Some(store) = connect("of_racing_writers_of_a_new_aggregate_exactly_one_wins").await else {
        return;
    };
    let repository = store.repository();
    let id = new_id();

    assert_eq!(race(&repository, &id, 0).await, (1, 31));
    assert_eq!(
        repository.get_events::<Counter>(&id).await.unwrap().len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_racing_writers_of_a_loaded_aggregate_exactly_one_wins() {
    let Some(store) = connect("of_racing_writers_of_a_loaded_aggregate_exactly_one_wins").await
    else {
        return;
    };
    let repository = store.repository();
    let id = new_id();
    repository
        .persist::<Counter>(&[added(&id, 1, 1), added(&id, 2, 1)], None)
        .await
        .unwrap();

    assert_eq!(race(&repository, &id, 2).await, (1, 31));
    let events = repository.get_events::<Counter>(&id).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].sequence, 3);
}

#[tokio::test]
async fn appending_at_a_stale_sequence_is_a_conflict_and_writes_nothing() {
    let Some(store) =
        connect("appending_at_a_stale_sequence_is_a_conflict_and_writes_nothing").await
    else {
        return;
    };
    let repository = store.repository();
    let id = new_id();
    repository
        .persist::<Counter>(&[added(&id, 1, 1), added(&id, 2, 2)], None)
        .await
        .unwrap();

    let stale = repository
        .persist::<Counter>(&[added(&id, 2, 9), added(&id, 3, 9)], None)
        .await;
    assert!(
        matches!(stale, Err(PersistenceError::OptimisticLockError)),
        "{stale:?}"
    );
    let ahead = repository
        .persist::<Counter>(&[added(&id, 5, 9)], None)
        .await;
    assert!(
        matches!(ahead, Err(PersistenceError::OptimisticLockError)),
        "{ahead:?}"
    );
    assert_eq!(
        repository.get_events::<Counter>(&id).await.unwrap().len(),
        2
    );
}

fn replay(
    events: impl IntoIterator<Item = cqrs_es::persist::SerializedEvent>,
    mut counter: Counter,
) -> Counter {
    for event in events {
        let envelope = EventEnvelope::<Counter>::try_from(event).unwrap();
        counter.apply(envelope.payload);
    }
    counter
}

#[tokio::test]
async fn a_hot_aggregate_loads_from_its_last_snapshot_and_the_events_after_it() {
    let Some(store) =
        connect("a_hot_aggregate_loads_from_its_last_snapshot_and_the_events_after_it").await
    else {
        return;
    };
    let repository = store.repository();
    let id = new_id();
    let batches = [
        vec![added(&id, 1, 10), added(&id, 2, 20)],
        vec![added(&id, 3, 30)],
        vec![added(&id, 4, 40), added(&id, 5, 50)],
        vec![added(&id, 6, 60)],
    ];
    // Snapshots after the first and the third batch, as a snapshotting store would take them.
    let mut state = Counter::default();
    for (number, batch) in batches.iter().enumerate() {
        state = replay(batch.clone(), state);
        let snapshot = match number {
            0 => Some((id.clone(), serde_json::to_value(&state).unwrap(), 1)),
            2 => Some((id.clone(), serde_json::to_value(&state).unwrap(), 2)),
            _ => None,
        };
        repository
            .persist::<Counter>(batch, snapshot)
            .await
            .unwrap();
    }

    let snapshot = repository
        .get_snapshot::<Counter>(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snapshot.aggregate_id, id);
    assert_eq!(snapshot.current_sequence, 5);
    assert_eq!(snapshot.current_snapshot, 2);
    let rest = repository
        .get_last_events::<Counter>(&id, snapshot.current_sequence)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|event| event.sequence).collect::<Vec<_>>(),
        [6]
    );

    let from_snapshot = replay(rest, serde_json::from_value(snapshot.aggregate).unwrap());
    let from_events = replay(
        repository.get_events::<Counter>(&id).await.unwrap(),
        Counter::default(),
    );
    assert_eq!(from_snapshot, from_events);
    assert_eq!(from_events.total, 210);
}

#[tokio::test]
async fn an_aggregate_replays_as_a_stream() {
    let Some(store) = connect("an_aggregate_replays_as_a_stream").await else {
        return;
    };
    let repository = store.repository();
    let id = new_id();
    repository
        .persist::<Counter>(
            &[added(&id, 1, 1), added(&id, 2, 2), added(&id, 3, 3)],
            None,
        )
        .await
        .unwrap();

    let mut stream = repository.stream_events::<Counter>(&id).await.unwrap();
    let mut sequences = Vec::new();
    while let Some(envelope) = stream.next::<Counter>(&[]).await {
        let envelope = envelope.unwrap();
        assert!(matches!(envelope.payload, CounterEvent::Added { .. }));
        sequences.push(envelope.sequence);
    }
    assert_eq!(sequences, [1, 2, 3]);

    // Other tests (and earlier runs) stored version 1.0 events of the same aggregate type.
    let upcasters: [Box<dyn EventUpcaster>; 1] = [Box::new(AddedV1ToV2)];
    let mut all = repository.stream_all_events::<Counter>().await.unwrap();
    let mut ours = Vec::new();
    while let Some(envelope) = all.next::<Counter>(&upcasters).await {
        let envelope = envelope.unwrap();
        if envelope.aggregate_id == id {
            ours.push(envelope.sequence);
        }
    }
    assert_eq!(ours, [1, 2, 3]);
}
