//! The cqrs-es repository of the PostgreSQL backend, on a fresh database per test.

mod postgres_common;

use std::time::Duration;

use cqrs_es::persist::{PersistedEventRepository, PersistedEventStore, PersistenceError};
use cqrs_es::{CqrsFramework, EventStore};
use postgres_common::{fresh_store, incremented, Counter, CounterCommand};

#[tokio::test]
async fn an_aggregate_loads_back_from_the_events_it_stored() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let events = PersistedEventStore::<_, Counter>::new_event_store(store.repository());
    let cqrs = CqrsFramework::new(events, vec![], ());
    for by in [3, 4, 5] {
        cqrs.execute("counter-1", CounterCommand::Increment { by })
            .await
            .unwrap();
    }

    let loaded = PersistedEventStore::<_, Counter>::new_event_store(store.repository())
        .load_aggregate("counter-1")
        .await
        .unwrap();
    assert_eq!(loaded.aggregate, Counter { value: 12 });
    assert_eq!(loaded.current_sequence, 3);
    let stored = store
        .repository()
        .get_events::<Counter>("counter-1")
        .await
        .unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|event| (event.sequence, event.payload["Incremented"]["by"].as_u64()))
            .collect::<Vec<_>>(),
        vec![(1, Some(3)), (2, Some(4)), (3, Some(5))]
    );
    let after_first = store
        .repository()
        .get_last_events::<Counter>("counter-1", 1)
        .await
        .unwrap();
    assert_eq!(after_first, stored[1..]);
}

#[tokio::test]
async fn exactly_one_of_32_racing_appends_of_the_same_sequence_wins() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    for (aggregate, sequence) in [("fresh", 1), ("existing", 2)] {
        if sequence == 2 {
            store
                .repository()
                .persist::<Counter>(&[incremented(aggregate, 1, 1)], None)
                .await
                .unwrap();
        }
        let racers = (0..32u64).map(|racer| {
            let repository = store.repository();
            tokio::spawn(async move {
                let event = incremented(aggregate, sequence, 100 + racer);
                (racer, repository.persist::<Counter>(&[event], None).await)
            })
        });
        let outcomes = futures::future::join_all(racers).await;
        let mut winners = Vec::new();
        for outcome in outcomes {
            match outcome.unwrap() {
                (racer, Ok(())) => winners.push(racer),
                (_, Err(PersistenceError::OptimisticLockError)) => {}
                (_, Err(other)) => panic!("a loser got {other:?} instead of a conflict"),
            }
        }
        assert_eq!(winners.len(), 1, "{aggregate}: winners {winners:?}");
        let stored = store
            .repository()
            .get_events::<Counter>(aggregate)
            .await
            .unwrap();
        assert_eq!(stored.len(), sequence);
        assert_eq!(
            stored[sequence - 1].payload["Incremented"]["by"],
            100 + winners[0],
            "{aggregate}: the stored event is the winner's"
        );
    }
}

#[tokio::test]
async fn a_conflicting_append_fails_alone_among_concurrent_appends() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let racing = (0..16u64).map(|racer| {
        let repository = store.repository();
        tokio::spawn(async move {
            repository
                .persist::<Counter>(&[incremented("contested", 1, racer)], None)
                .await
                .is_ok()
        })
    });
    let independent = (0..64u64).map(|writer| {
        let repository = store.repository();
        tokio::spawn(async move {
            let id = format!("independent-{writer}");
            let events = [incremented(&id, 1, 1), incremented(&id, 2, 2)];
            repository.persist::<Counter>(&events, None).await
        })
    });
    let (racing, independent) = futures::future::join(
        futures::future::join_all(racing),
        futures::future::join_all(independent),
    )
    .await;

    let racing_winners = racing
        .into_iter()
        .filter(|won| *won.as_ref().unwrap())
        .count();
    assert_eq!(racing_winners, 1);
    for outcome in independent {
        outcome.unwrap().unwrap();
    }
    for writer in 0..64 {
        let id = format!("independent-{writer}");
        let stored = store.repository().get_events::<Counter>(&id).await.unwrap();
        assert_eq!(stored.len(), 2, "{id}");
    }
}

#[tokio::test]
async fn an_append_is_all_or_nothing() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let repository = store.repository();
    repository
        .persist::<Counter>(&[incremented("c", 1, 1), incremented("c", 2, 1)], None)
        .await
        .unwrap();
    // Sequence 3 is new but 2 is taken: nothing of the append may be stored.
    let outcome = repository
        .persist::<Counter>(&[incremented("c", 2, 9), incremented("c", 3, 9)], None)
        .await;
    assert!(matches!(
        outcome,
        Err(PersistenceError::OptimisticLockError)
    ));
    assert_eq!(
        repository.get_events::<Counter>("c").await.unwrap().len(),
        2
    );
}

#[tokio::test]
async fn a_snapshot_is_stored_with_the_events_it_covers() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let repository = store.repository();
    assert_eq!(repository.get_snapshot::<Counter>("c").await.unwrap(), None);
    let first = [incremented("c", 1, 1), incremented("c", 2, 2)];
    repository
        .persist::<Counter>(
            &first,
            Some(("c".to_string(), serde_json::json!({ "value": 3 }), 1)),
        )
        .await
        .unwrap();
    let snapshot = repository
        .get_snapshot::<Counter>("c")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (snapshot.current_sequence, snapshot.current_snapshot),
        (2, 1)
    );
    assert_eq!(snapshot.aggregate, serde_json::json!({ "value": 3 }));

    // A conflicting commit stores neither its events nor its snapshot.
    let conflicting = repository
        .persist::<Counter>(
            &[incremented("c", 2, 50)],
            Some(("c".to_string(), serde_json::json!({ "value": 51 }), 2)),
        )
        .await;
    assert!(matches!(
        conflicting,
        Err(PersistenceError::OptimisticLockError)
    ));
    repository
        .persist::<Counter>(
            &[incremented("c", 3, 4)],
            Some(("c".to_string(), serde_json::json!({ "value": 7 }), 2)),
        )
        .await
        .unwrap();
    let snapshot = repository
        .get_snapshot::<Counter>("c")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (snapshot.current_sequence, snapshot.current_snapshot),
        (3, 2)
    );
    assert_eq!(snapshot.aggregate, serde_json::json!({ "value": 7 }));
    assert!(repository
        .get_last_events::<Counter>("c", 3)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn replaying_a_type_streams_its_events_in_log_order() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let repository = store.repository();
    let mut written = Vec::new();
    for (id, sequence) in [("b", 1), ("a", 1), ("b", 2), ("c", 1), ("a", 2)] {
        repository
            .persist::<Counter>(&[incremented(id, sequence, 1)], None)
            .await
            .unwrap();
        written.push((id.to_string(), sequence));
    }
    let mut stream = repository.stream_all_events::<Counter>().await.unwrap();
    let mut replayed = Vec::new();
    while let Some(envelope) = stream.next::<Counter>(&[]).await {
        let envelope = envelope.unwrap();
        replayed.push((envelope.aggregate_id, envelope.sequence));
    }
    assert_eq!(replayed, written);

    let mut one = repository.stream_events::<Counter>("a").await.unwrap();
    let mut sequences = Vec::new();
    while let Some(envelope) = one.next::<Counter>(&[]).await {
        sequences.push(envelope.unwrap().sequence);
    }
    assert_eq!(sequences, vec![1, 2]);
}

#[tokio::test]
async fn postgres_es_writes_the_same_tables_and_the_log_reads_them() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let theirs = postgres_es::PostgresEventRepository::new(store.pool().clone());
    theirs
        .persist::<Counter>(&[incremented("x", 1, 1), incremented("x", 2, 2)], None)
        .await
        .unwrap();
    let conflict = theirs
        .persist::<Counter>(&[incremented("x", 2, 3)], None)
        .await;
    assert!(matches!(
        conflict,
        Err(PersistenceError::OptimisticLockError)
    ));
    store
        .repository()
        .persist::<Counter>(&[incremented("x", 3, 3)], None)
        .await
        .unwrap();

    let log = store.log();
    let read = postgres_common::follow(
        log.as_ref(),
        alpes_event_store::Position::START,
        3,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        read.iter().map(|e| e.event.sequence).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_loads_each_get_their_own_events() {
    let Some((_db, store)) = fresh_store().await else {
        return;
    };
    let repository = store.repository();
    for aggregate in 0..40usize {
        let id = format!("c{aggregate}");
        let events: Vec<_> = (1..=aggregate % 5 + 1)
            .map(|sequence| incremented(&id, sequence, (aggregate * 10 + sequence) as u64))
            .collect();
        repository.persist::<Counter>(&events, None).await.unwrap();
    }
    let loads = (0..400usize).map(|n| {
        let repository = repository.clone();
        tokio::spawn(async move {
            let aggregate = n % 40;
            let after = n % 3;
            let id = format!("c{aggregate}");
            let events = if after == 0 {
                repository.get_events::<Counter>(&id).await
            } else {
                repository.get_last_events::<Counter>(&id, after).await
            };
            (aggregate, after, events.unwrap())
        })
    });
    for load in futures::future::join_all(loads).await {
        let (aggregate, after, events) = load.unwrap();
        let expected: Vec<(String, usize, u64)> = (after + 1..=aggregate % 5 + 1)
            .map(|sequence| {
                let by = (aggregate * 10 + sequence) as u64;
                (format!("c{aggregate}"), sequence, by)
            })
            .collect();
        let got: Vec<(String, usize, u64)> = events
            .iter()
            .map(|event| {
                let by = event.payload["Incremented"]["by"].as_u64().unwrap();
                (event.aggregate_id.clone(), event.sequence, by)
            })
            .collect();
        assert_eq!(got, expected);
    }
}
