//! The global log over `$all` on a real EventStoreDB (skipped loudly without
//! `EVENTSTORE_URL`). Other tests write to the same server meanwhile, so each test looks at
//! its own aggregates, and at everything only where the log is already immutable.

mod esdb_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use alpes_event_store::esdb::EsdbEventRepository;
use alpes_event_store::{EventLog, Position, RecordedEvent};
use cqrs_es::persist::PersistedEventRepository;
use esdb_support::{added, added_v1, connect, new_id, Counter, CounterEvent};
use serde_json::json;

/// How long a test waits for its own events to show up in the log.
const PATIENCE: Duration = Duration::from_secs(30);

/// Writes `rounds` events to each of `aggregates` new counters, round-robin, the very first
/// one as version 1.0. Returns the aggregate ids and `(id, sequence)` in write order.
async fn write_interleaved(
    repository: &EsdbEventRepository,
    aggregates: usize,
    rounds: usize,
) -> (HashSet<String>, Vec<(String, usize)>) {
    let ids: Vec<String> = (0..aggregates).map(|_| new_id()).collect();
    let mut written = Vec::new();
    for sequence in 1..=rounds {
        for id in &ids {
            let event = if written.is_empty() {
                added_v1(id, sequence, 1)
            } else {
                added(id, sequence, sequence as i64)
            };
            repository.persist::<Counter>(&[event], None).await.unwrap();
            written.push((id.clone(), sequence));
        }
    }
    (ids.into_iter().collect(), written)
}

/// Reads the log after `after` in batches of `batch` until `wanted` events of `ours` were
/// seen; returns every event read (ours and others), checking that positions only grow.
async fn follow(
    log: &dyn EventLog,
    after: Position,
    batch: usize,
    ours: &HashSet<String>,
    wanted: usize,
) -> Vec<RecordedEvent> {
    let started = Instant::now();
    let mut position = after;
    let mut read = Vec::new();
    while read.iter().filter(|event| is_ours(event, ours)).count() < wanted {
        assert!(
            started.elapsed() < PATIENCE,
            "only {} of our {wanted} events after {PATIENCE:?}",
            read.len()
        );
        let events = log.read_after(position, batch).await.unwrap();
        assert!(events.len() <= batch);
        if events.is_empty() {
            log.wait_for_events(position, Duration::from_secs(1))
                .await
                .unwrap();
            continue;
        }
        for event in events {
            assert!(
                event.position > position,
                "{} came after {position}",
                event.position
            );
            position = event.position;
            read.push(event);
        }
    }
    read
}

fn is_ours(event: &RecordedEvent, ours: &HashSet<String>) -> bool {
    ours.contains(&event.event.aggregate_id)
}

fn ours_only(events: &[RecordedEvent], ours: &HashSet<String>) -> Vec<RecordedEvent> {
    events
        .iter()
        .filter(|event| is_ours(event, ours))
        .cloned()
        .collect()
}

/// The log position after which our events come: the head before writing them.
async fn head_position(log: &dyn EventLog) -> Position {
    log.head()
        .await
        .unwrap()
        .map_or(Position::START, |(position, _)| position)
}

#[tokio::test]
async fn following_the_log_from_the_start_sees_every_event_once_in_order() {
    let Some(store) =
        connect("following_the_log_from_the_start_sees_every_event_once_in_order").await
    else {
        return;
    };
    let log = store.log();
    let (ours, written) = write_interleaved(&store.repository(), 3, 4).await;

    let read = ours_only(
        &follow(log.as_ref(), Position::START, 5, &ours, written.len()).await,
        &ours,
    );

    let seen: Vec<(String, usize)> = read
        .iter()
        .map(|event| (event.event.aggregate_id.clone(), event.event.sequence))
        .collect();
    assert_eq!(seen, written);
    for event in &read {
        assert_eq!(
            event.stream(),
            format!("EsdbTestCounter-{}", event.event.aggregate_id)
        );
        assert_eq!(event.event.event_type, "Added");
        assert_eq!(event.event.event_version, "2.0");
        assert_eq!(
            event.metadata().get("correlation_id"),
            Some(&format!(
                "corr-{}-{}",
                event.event.aggregate_id, event.event.sequence
            ))
        );
        assert!(
            event.recorded_at.timestamp() > 1_600_000_000,
            "{}",
            event.recorded_at
        );
        assert!(event.decode::<Counter>().is_ok());
    }
}

#[tokio::test]
async fn old_events_come_out_of_the_log_upcast_with_their_stored_version() {
    let Some(store) =
        connect("old_events_come_out_of_the_log_upcast_with_their_stored_version").await
    else {
        return;
    };
    let log = store.log();
    let after = head_position(log.as_ref()).await;
    let (ours, _) = write_interleaved(&store.repository(), 1, 2).await;

    let read = ours_only(&follow(log.as_ref(), after, 100, &ours, 2).await, &ours);

    assert_eq!(read[0].stored_version, "1.0");
    assert_eq!(read[0].event.event_version, "2.0");
    assert_eq!(
        read[0].event.payload,
        json!({"Added": {"amount": 1, "note": "(v1)"}})
    );
    assert_eq!(
        read[0].decode::<Counter>().unwrap().payload,
        CounterEvent::Added {
            amount: 1,
            note: "(v1)".to_string()
        }
    );
    assert_eq!(read[1].stored_version, "2.0");
}

#[tokio::test]
async fn a_second_reader_from_a_checkpoint_sees_the_same_suffix() {
    let Some(store) = connect("a_second_reader_from_a_checkpoint_sees_the_same_suffix").await
    else {
        return;
    };
    let first = store.log();
    let after = head_position(first.as_ref()).await;
    let (ours, written) = write_interleaved(&store.repository(), 2, 5).await;
    let read_by_first = follow(first.as_ref(), after, 3, &ours, written.len()).await;
    let our_events = ours_only(&read_by_first, &ours);
    let checkpoint = our_events[3].position;
    let last = our_events[written.len() - 1].position;

    // Another process, with its own connection, resuming from the checkpoint.
    let Some(other_process) =
        connect("a_second_reader_from_a_checkpoint_sees_the_same_suffix").await
    else {
        return;
    };
    let second = other_process.log();
    let read_by_second = follow(second.as_ref(), checkpoint, 4, &ours, written.len() - 4).await;

    let suffix = |events: &[RecordedEvent]| -> Vec<RecordedEvent> {
        events
            .iter()
            .filter(|event| event.position > checkpoint && event.position <= last)
            .cloned()
            .collect()
    };
    assert_eq!(suffix(&read_by_second), suffix(&read_by_first));
    assert_eq!(
        ours_only(&suffix(&read_by_second), &ours),
        our_events[4..].to_vec()
    );
}

#[tokio::test]
async fn a_reader_waiting_for_events_wakes_when_one_is_appended() {
    let Some(store) = connect("a_reader_waiting_for_events_wakes_when_one_is_appended").await
    else {
        return;
    };
    let log = store.log();
    let after = head_position(log.as_ref()).await;

    // Nothing of ours yet: the wait ends by the timeout at the latest.
    let started = Instant::now();
    log.wait_for_events(after, Duration::from_millis(300))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));

    let repository = store.repository();
    let id = new_id();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        repository
            .persist::<Counter>(&[added(&id, 1, 1)], None)
            .await
            .map(|()| id)
    });
    let started = Instant::now();
    log.wait_for_events(after, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "woke only after {:?}",
        started.elapsed()
    );

    let id = writer.await.unwrap().unwrap();
    let ours = HashSet::from([id]);
    let read = ours_only(&follow(log.as_ref(), after, 50, &ours, 1).await, &ours);
    assert_eq!(read.len(), 1);
}

#[tokio::test]
async fn the_head_is_at_or_after_the_last_event_written_and_never_a_snapshot() {
    let Some(store) =
        connect("the_head_is_at_or_after_the_last_event_written_and_never_a_snapshot").await
    else {
        return;
    };
    let log = store.log();
    let after = head_position(log.as_ref()).await;
    let repository = store.repository();
    let id = new_id();
    let snapshot = (id.clone(), json!({"total": 1, "notes": ["#1"]}), 1);
    repository
        .persist::<Counter>(&[added(&id, 1, 1)], Some(snapshot))
        .await
        .unwrap();

    let ours = HashSet::from([id]);
    let ours_read = ours_only(&follow(log.as_ref(), after, 50, &ours, 1).await, &ours);
    let (head, recorded_at) = log.head().await.unwrap().unwrap();
    assert!(
        head >= ours_read[0].position,
        "head {head} before our event {}",
        ours_read[0].position
    );
    assert!(recorded_at >= ours_read[0].recorded_at);
    // The snapshot record written after our event is not a log event: nothing follows ours
    // in the log unless another test wrote meanwhile.
    let next = log.read_after(ours_read[0].position, 10).await.unwrap();
    assert!(next
        .iter()
        .all(|event| event.event.event_type != "alpes-snapshot"));
}
