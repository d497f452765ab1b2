//! Stretches of `$all` already known to hold no event of the log, so that a reader does not
//! scan the same system events again and again.
//!
//! The 4.0 client cannot filter a *read* of `$all` on the server (only subscriptions), so
//! [`read_after`](crate::EventLog::read_after) filters on our side. A consumer that is caught
//! up asks again and again from its last event; without these hints each call would re-read
//! every system event written since (statistics, projection links, ...). A hint is always a
//! statement about the past of `$all`, which never changes: EventStoreDB positions are commit
//! positions, and nothing is ever committed before an already readable event.

use std::collections::HashMap;

use crate::Position;

/// At most this many hints are kept (one per consumer that is caught up, in practice); when
/// full, all are dropped, which costs one rescan each.
const CAPACITY: usize = 1024;

/// For a position `after`: a position `to` such that no event of the log lies strictly
/// between the two. Reading after `after` may then start at `to` (inclusive).
#[derive(Debug, Default)]
pub(crate) struct ScanHints {
    empty_until: HashMap<Position, Position>,
}

impl ScanHints {
    /// Where reading the log after `after` may start (inclusive): `after` itself without a
    /// hint.
    pub(crate) fn resume_point(&self, after: Position) -> Position {
        match self.empty_until.get(&after) {
            Some(to) if *to > after => *to,
            _ => after,
        }
    }

    /// Records that no event of the log lies strictly between `after` and `to`.
    pub(crate) fn record(&mut self, after: Position, to: Position) {
        if to <= after {
            return;
        }
        if self.empty_until.len() >= CAPACITY && !self.empty_until.contains_key(&after) {
            self.empty_until.clear();
        }
        let until = self.empty_until.entry(after).or_insert(to);
        *until = (*until).max(to);
    }

    /// Drops the hint for `after` (e.g. the server would not read from its position).
    pub(crate) fn forget(&mut self, after: Position) {
        self.empty_until.remove(&after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_hint_reading_starts_where_asked() {
        let hints = ScanHints::default();
        assert_eq!(hints.resume_point(Position::new(5, 5)), Position::new(5, 5));
    }

    #[test]
    fn a_hint_moves_the_start_past_the_empty_stretch() {
        let mut hints = ScanHints::default();
        hints.record(Position::new(5, 5), Position::new(90, 80));
        assert_eq!(
            hints.resume_point(Position::new(5, 5)),
            Position::new(90, 80)
        );
        assert_eq!(hints.resume_point(Position::new(6, 6)), Position::new(6, 6));
    }

    #[test]
    fn a_hint_never_moves_backwards() {
        let mut hints = ScanHints::default();
        hints.record(Position::new(5, 5), Position::new(90, 80));
        hints.record(Position::new(5, 5), Position::new(40, 40));
        assert_eq!(
            hints.resume_point(Position::new(5, 5)),
            Position::new(90, 80)
        );
        hints.record(Position::new(5, 5), Position::new(120, 120));
        assert_eq!(
            hints.resume_point(Position::new(5, 5)),
            Position::new(120, 120)
        );
    }

    #[test]
    fn a_hint_at_or_before_its_start_is_ignored() {
        let mut hints = ScanHints::default();
        hints.record(Position::new(5, 5), Position::new(5, 5));
        hints.record(Position::new(5, 5), Position::new(4, 9));
        assert_eq!(hints.resume_point(Position::new(5, 5)), Position::new(5, 5));
    }

    #[test]
    fn a_forgotten_hint_is_gone() {
        let mut hints = ScanHints::default();
        hints.record(Position::START, Position::new(90, 80));
        hints.forget(Position::START);
        assert_eq!(hints.resume_point(Position::START), Position::START);
    }

    #[test]
    fn hints_are_bounded() {
        let mut hints = ScanHints::default();
        for n in 0..(CAPACITY as u64 * 3) {
            hints.record(Position::new(n, 0), Position::new(n + 10, 0));
        }
        assert!(hints.empty_until.len() <= CAPACITY);
        let last = CAPACITY as u64 * 3 - 1;
        assert_eq!(
            hints.resume_point(Position::new(last, 0)),
            Position::new(last + 10, 0)
        );
    }
}
