//! The rows one batch of events touches, read once, changed in memory, written once.

use std::collections::{HashMap, HashSet};

use crate::db::{Conflicts, ViewRow, WriteTx};
use crate::projector::TableNames;
use crate::ReadError;

/// Rows of one table for one batch: loaded in bulk by key, changed in memory as events are
/// applied in order, and written back in bulk (only those changed).
pub(crate) struct RowCache<R: ViewRow> {
    rows: HashMap<R::Key, Entry<R>>,
    /// Keys looked up and not found.
    absent: HashSet<R::Key>,
}

struct Entry<R> {
    row: R,
    changed: bool,
    /// False when the row is known not to be in the table yet (its key was looked up and
    /// not found, or its aggregate's first event created it): it is written with a plain
    /// insert, without a conflict check.
    maybe_stored: bool,
}

impl<R: ViewRow> RowCache<R> {
    pub(crate) fn new() -> Self {
        RowCache {
            rows: HashMap::new(),
            absent: HashSet::new(),
        }
    }

    /// Reads the rows with these keys that are neither cached nor known to be absent.
    pub(crate) async fn load(
        &mut self,
        tx: &mut WriteTx,
        tables: &TableNames,
        keys: impl IntoIterator<Item = R::Key>,
    ) -> Result<(), ReadError> {
        let wanted: HashSet<R::Key> = keys
            .into_iter()
            .filter(|key| !self.rows.contains_key(key) && !self.absent.contains(key))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let keys: Vec<R::Key> = wanted.iter().cloned().collect();
        let table = tables.of(&R::TABLE);
        for row in tx.load_rows::<R>(&table, &keys).await? {
            self.rows.insert(
                row.key(),
                Entry {
                    row,
                    changed: false,
                    maybe_stored: true,
                },
            );
        }
        self.absent.extend(
            wanted
                .into_iter()
                .filter(|key| !self.rows.contains_key(key)),
        );
        Ok(())
    }

    /// The row, if loaded or inserted.
    pub(crate) fn get(&self, key: &R::Key) -> Option<&R> {
        self.rows.get(key).map(|entry| &entry.row)
    }

    /// The row to change, if loaded or inserted; it will be written back.
    pub(crate) fn get_mut(&mut self, key: &R::Key) -> Option<&mut R> {
        self.rows.get_mut(key).map(|entry| {
            entry.changed = true;
            &mut entry.row
        })
    }

    /// Adds or replaces a row; it will be written.
    pub(crate) fn insert(&mut self, row: R) {
        let key = row.key();
        let maybe_stored = self.maybe_stored(&key);
        self.put(key, row, maybe_stored);
    }

    /// Adds a row that its aggregate's first event creates. Each event is applied once,
    /// so the row cannot be in the table yet: it is written without a conflict check (and
    /// a row already there with its key fails the batch instead of being replaced).
    pub(crate) fn insert_new(&mut self, row: R) {
        let key = row.key();
        let maybe_stored = self.rows.get(&key).is_some_and(|entry| entry.maybe_stored);
        self.put(key, row, maybe_stored);
    }

    fn put(&mut self, key: R::Key, row: R, maybe_stored: bool) {
        self.absent.remove(&key);
        self.rows.insert(
            key,
            Entry {
                row,
                changed: true,
                maybe_stored,
            },
        );
    }

    /// Whether the row with `key` may be in the table: unless it was looked up and not
    /// found, or is cached as not stored yet.
    fn maybe_stored(&self, key: &R::Key) -> bool {
        match self.rows.get(key) {
            Some(entry) => entry.maybe_stored,
            None => !self.absent.contains(key),
        }
    }

    /// The row with `key`, created by `new` when absent; it will be written.
    pub(crate) fn get_or_insert_with(&mut self, key: R::Key, new: impl FnOnce() -> R) -> &mut R {
        let maybe_stored = self.maybe_stored(&key);
        self.absent.remove(&key);
        let entry = self.rows.entry(key).or_insert_with(|| Entry {
            row: new(),
            changed: true,
            maybe_stored,
        });
        entry.changed = true;
        &mut entry.row
    }

    /// Every cached row.
    pub(crate) fn rows(&self) -> impl Iterator<Item = &R> {
        self.rows.values().map(|entry| &entry.row)
    }

    /// Writes every changed row: those not in the table yet with a plain insert, the
    /// others with an upsert.
    pub(crate) async fn flush(
        &self,
        tx: &mut WriteTx,
        tables: &TableNames,
    ) -> Result<(), ReadError> {
        let (maybe_stored, new): (Vec<&Entry<R>>, Vec<&Entry<R>>) = self
            .rows
            .values()
            .filter(|entry| entry.changed)
            .partition(|entry| entry.maybe_stored);
        let table = tables.of(&R::TABLE);
        for (entries, conflicts) in [(new, Conflicts::Fail), (maybe_stored, Conflicts::Replace)] {
            let rows: Vec<&R> = entries.into_iter().map(|entry| &entry.row).collect();
            if !rows.is_empty() {
                tx.write_rows::<R>(&table, &rows, conflicts).await?;
            }
        }
        Ok(())
    }
}
