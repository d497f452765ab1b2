//! The global log over `$all`: every event of every aggregate stream in commit order, without
//! system events and snapshots, upcast, woken by a live filtered subscription.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use eventstore::{
    Client, ReadAllOptions, StreamPosition, SubscribeToAllOptions, SubscriptionEvent,
};

use super::all::AllReader;
use super::errors::store_error;
use super::hints::ScanHints;
use super::mapping::{
    is_log_event, log_filter, log_position, recorded_at, serialized_event, start_of_all,
    UndecodableEvent,
};
use crate::{upcast, EventLog, Position, RecordedEvent, StoreError, Upcasters};

/// The [`EventLog`] of EventStoreDB.
///
/// Positions are `$all` positions, `high:low` = `commit:prepare`: commit order, so the log is
/// gap-free as it is. The log is every event of the aggregate streams; system events
/// (types or streams starting with `$`) and snapshot records are left out.
pub struct EsdbEventLog {
    client: Client,
    upcasters: Upcasters,
    hints: Mutex<ScanHints>,
}

impl std::fmt::Debug for EsdbEventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsdbEventLog").finish_non_exhaustive()
    }
}

impl EsdbEventLog {
    pub(crate) fn new(client: Client, upcasters: Upcasters) -> Self {
        EsdbEventLog {
            client,
            upcasters,
            hints: Mutex::new(ScanHints::default()),
        }
    }

    fn hints(&self) -> MutexGuard<'_, ScanHints> {
        // The hints stay consistent whatever panicked while holding them.
        self.hints.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Up to `limit` log events after `after`, scanning `$all` from `from` (inclusive).
    async fn scan(
        &self,
        after: Position,
        from: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let page_size = limit.saturating_mul(2).clamp(64, 4096);
        let mut reader = AllReader::new(self.client.clone(), after, from, page_size);
        let mut found = Vec::new();
        while found.len() < limit {
            let next = reader
                .next()
                .await
                .map_err(|error| store_error(format!("reading $all after {after}"), error))?;
            let Some(recorded) = next else {
                // At the end of $all: whatever we read past the last log event is known empty.
                let last = found
                    .last()
                    .map_or(after, |event: &RecordedEvent| event.position);
                if let Some(scanned_to) = reader.scanned_to() {
                    self.hints().record(last, scanned_to);
                }
                break;
            };
            if is_log_event(&recorded.stream_id, &recorded.event_type) {
                found.push(self.log_event(&recorded)?);
            }
        }
        Ok(found)
    }

    /// A stored event as the log hands it out: upcast, with its stored version.
    fn log_event(&self, recorded: &eventstore::RecordedEvent) -> Result<RecordedEvent, StoreError> {
        let event = serialized_event(recorded).map_err(unreadable)?;
        Ok(RecordedEvent {
            position: log_position(recorded.position),
            recorded_at: recorded_at(recorded),
            stored_version: event.event_version.clone(),
            event: Arc::new(upcast(event, &self.upcasters)),
        })
    }
}

fn unreadable(error: UndecodableEvent) -> StoreError {
    StoreError::UnreadableEvent {
        stream: error.stream,
        sequence: error.sequence as u64,
        event_type: error.event_type,
        event_version: error.event_version,
        reason: error.reason,
    }
}

#[async_trait::async_trait]
impl EventLog for EsdbEventLog {
    async fn read_after(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let from = self.hints().resume_point(after);
        match self.scan(after, from, limit).await {
            Err(error @ StoreError::Database { .. }) if from != after => {
                // A hint from a subscription checkpoint the server would not read from:
                // drop it and scan the whole stretch.
                tracing::warn!(%error, %after, %from, "EventStoreDB: rescanning $all without a hint");
                self.hints().forget(after);
                self.scan(after, after, limit).await
            }
            result => result,
        }
    }

    /// Follows a live subscription to `$all` (filtered on the server) from `after`, and
    /// returns at the first log event, or at the timeout. The subscription's checkpoints say
    /// how far it found nothing: they are kept, so the next read skips that stretch.
    async fn wait_for_events(&self, after: Position, timeout: Duration) -> Result<(), StoreError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let options = SubscribeToAllOptions::default()
            .position(start_of_all(after))
            .filter(log_filter());
        let mut subscription = self.client.subscribe_to_all(&options).await;
        loop {
            let next = tokio::time::timeout_at(deadline, subscription.next_subscription_event());
            let event = match next.await {
                Err(_elapsed) => return Ok(()),
                Ok(event) => event.map_err(|error| {
                    store_error(format!("subscribing to $all after {after}"), error)
                })?,
            };
            match event {
                SubscriptionEvent::EventAppeared(resolved) => {
                    let Some(event) = resolved.link.or(resolved.event) else {
                        continue;
                    };
                    if log_position(event.position) > after
                        && is_log_event(&event.stream_id, &event.event_type)
                    {
                        return Ok(());
                    }
                }
                SubscriptionEvent::Checkpoint(position) => {
                    self.hints().record(after, log_position(position));
                }
                _ => {}
            }
        }
    }

    /// The last log event of `$all`, reading backwards past system events and snapshots.
    async fn head(&self) -> Result<Option<(Position, DateTime<Utc>)>, StoreError> {
        let options = ReadAllOptions::default()
            .position(StreamPosition::End)
            .max_count(usize::MAX);
        let reading = |error| store_error("reading the end of $all", error);
        let mut read = self.client.read_all(&options).await.map_err(reading)?;
        while let Some(resolved) = read.next().await.map_err(reading)? {
            let Some(event) = resolved.link.or(resolved.event) else {
                continue;
            };
            if is_log_event(&event.stream_id, &event.event_type) {
                return Ok(Some((log_position(event.position), recorded_at(&event))));
            }
        }
        Ok(None)
    }
}
