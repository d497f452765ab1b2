//! The newest events this process committed, kept in memory so that consumers following
//! the head of the log (every saga reactor and projector, most of the time) read them
//! without a query and without parsing their JSON again.
//!
//! Only a contiguous run of positions is ever served: rowids are unique and given in
//! commit order, so if the cache holds positions `p` and `p + 1`, no row of another writer
//! (another process on the same file) can lie between them. A reader whose next position
//! is not in the cache reads the table instead.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::{EventFilter, RecordedEvent};

/// Events kept: enough for every consumer that keeps up to read from memory, a bounded
/// amount of it (a few KiB an event).
pub(crate) const CAPACITY: usize = 8_192;

/// Events held at most, when no reader has come to drop the oldest.
const HARD_LIMIT: usize = 2 * CAPACITY;

#[derive(Default)]
pub(crate) struct TailCache {
    events: Mutex<VecDeque<Arc<RecordedEvent>>>,
}

impl TailCache {
    /// Adds events just committed, in position order. The oldest beyond [`CAPACITY`] are
    /// dropped by the next reader (see [`TailCache::evict_excess`]); only past
    /// [`HARD_LIMIT`], with nobody reading, does the writer drop them itself.
    pub(crate) fn push(&self, committed: Vec<RecordedEvent>) {
        let evicted = {
            let mut events = self.lock();
            for event in committed {
                if events
                    .back()
                    .is_some_and(|last| last.position >= event.position)
                {
                    // Out of order can only mean a bug upstream: start afresh rather than
                    // ever serve a wrong run.
                    events.clear();
                }
                events.push_back(Arc::new(event));
            }
            if events.len() > HARD_LIMIT {
                drain_excess(&mut events)
            } else {
                Vec::new()
            }
        };
        drop(evicted);
    }

    /// Drops the events beyond [`CAPACITY`], outside the lock. Readers call it: freeing
    /// an event's JSON costs about as much as building it, and the writer, which every
    /// append waits for, should not spend its time on that.
    fn evict_excess(&self) {
        let evicted = drain_excess(&mut self.lock());
        drop(evicted);
    }

    /// Up to `limit` events from the one right after rowid `after`, as long as positions
    /// follow one another; empty when the cache does not hold `after + 1`.
    pub(crate) fn read_after(&self, after: i64, limit: usize) -> Vec<RecordedEvent> {
        self.evict_excess();
        let events = self.lock();
        let start = events.partition_point(|event| rowid(event) <= after);
        (after.saturating_add(1)..)
            .zip(events.range(start..))
            .take(limit)
            .take_while(|(expected, event)| rowid(event) == *expected)
            .map(|(_, event)| RecordedEvent::clone(event))
            .collect()
    }

    /// Like [`TailCache::read_after`], but clones only the events `wanted` keeps; also
    /// answers the rowid of the last event looked at (`None`: the cache does not hold
    /// `after + 1`).
    pub(crate) fn read_wanted_after(
        &self,
        after: i64,
        limit: usize,
        wanted: &EventFilter<'_>,
    ) -> (Vec<RecordedEvent>, Option<i64>) {
        self.evict_excess();
        let events = self.lock();
        let start = events.partition_point(|event| rowid(event) <= after);
        let mut scanned_to = None;
        let mut kept = Vec::new();
        for (expected, event) in (after.saturating_add(1)..)
            .zip(events.range(start..))
            .take(limit)
        {
            if rowid(event) != expected {
                break;
            }
            scanned_to = Some(expected);
            if wanted(&event.event.aggregate_type, &event.event.event_type) {
                kept.push(RecordedEvent::clone(event));
            }
        }
        (kept, scanned_to)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<RecordedEvent>>> {
        // The deque is never left half-updated by a panic (push_back and drain are atomic
        // for our purposes), so a poisoned lock still guards valid data.
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Takes the events beyond [`CAPACITY`] out of `events`, oldest first.
fn drain_excess(events: &mut VecDeque<Arc<RecordedEvent>>) -> Vec<Arc<RecordedEvent>> {
    let excess = events.len().saturating_sub(CAPACITY);
    events.drain(..excess).collect()
}

fn rowid(event: &RecordedEvent) -> i64 {
    i64::try_from(event.position.high).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use cqrs_es::persist::SerializedEvent;
    use serde_json::json;

    use super::*;
    use crate::Position;

    fn event(rowid: u64) -> RecordedEvent {
        RecordedEvent {
            position: Position::new(rowid, 0),
            recorded_at: chrono::Utc::now(),
            stored_version: "1.0".to_string(),
            event: Arc::new(SerializedEvent::new(
                "a".to_string(),
                rowid as usize,
                "T".to_string(),
                "E".to_string(),
                "1.0".to_string(),
                json!({}),
                json!({}),
            )),
        }
    }

    fn positions(events: &[RecordedEvent]) -> Vec<u64> {
        events.iter().map(|event| event.position.high).collect()
    }

    #[test]
    fn serves_the_contiguous_run_after_a_position() {
        let cache = TailCache::default();
        cache.push((1..=5).map(event).collect());
        assert_eq!(positions(&cache.read_after(2, 10)), [3, 4, 5]);
        assert_eq!(positions(&cache.read_after(0, 2)), [1, 2]);
        assert!(cache.read_after(5, 10).is_empty());
    }

    #[test]
    fn stops_at_a_gap_left_by_another_writer() {
        let cache = TailCache::default();
        cache.push([1, 2, 4, 5].into_iter().map(event).collect());
        assert_eq!(positions(&cache.read_after(0, 10)), [1, 2]);
        assert!(
            cache.read_after(2, 10).is_empty(),
            "position 3 is not ours: read it from the table"
        );
        assert_eq!(positions(&cache.read_after(3, 10)), [4, 5]);
    }

    #[test]
    fn a_filtered_read_keeps_the_wanted_events_and_tells_how_far_it_looked() {
        let cache = TailCache::default();
        let mut events: Vec<RecordedEvent> = (1..=6).map(event).collect();
        Arc::make_mut(&mut events[1].event).event_type = "Wanted".to_string();
        Arc::make_mut(&mut events[4].event).event_type = "Wanted".to_string();
        cache.push(events);
        let wanted = |_: &str, event_type: &str| event_type == "Wanted";
        let (kept, scanned_to) = cache.read_wanted_after(0, 4, &wanted);
        assert_eq!(positions(&kept), [2]);
        assert_eq!(scanned_to, Some(4));
        let (kept, scanned_to) = cache.read_wanted_after(4, 10, &wanted);
        assert_eq!(positions(&kept), [5]);
        assert_eq!(scanned_to, Some(6));
        assert_eq!(cache.read_wanted_after(6, 10, &wanted).1, None);
    }

    #[test]
    fn readers_drop_what_is_beyond_capacity_and_the_writer_only_past_the_hard_limit() {
        let cache = TailCache::default();
        cache.push((1..=(CAPACITY as u64 + 100)).map(event).collect());
        assert_eq!(
            cache.lock().len(),
            CAPACITY + 100,
            "the writer left them to readers"
        );
        cache.read_after(0, 1);
        assert_eq!(cache.lock().len(), CAPACITY);
        let next = CAPACITY as u64 + 101;
        cache.push((next..next + HARD_LIMIT as u64).map(event).collect());
        assert_eq!(
            cache.lock().len(),
            CAPACITY,
            "nobody read: the writer trimmed"
        );
    }

    #[test]
    fn serves_nothing_older_than_what_it_keeps() {
        let cache = TailCache::default();
        cache.push((1..=(CAPACITY as u64 + 10)).map(event).collect());
        assert!(cache.read_after(5, 10).is_empty());
        assert_eq!(positions(&cache.read_after(10, 1)), [11]);
    }
}
