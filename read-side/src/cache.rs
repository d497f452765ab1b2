//! The rows one batch of events touches, read once, changed in memory, written once.

use std::collections::{HashMap, HashSet};

use crate::db::{ViewRow, WriteTx};
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
        self.absent.remove(&key);
        self.rows.insert(key, Entry { row, changed: true });
    }

    /// The row with `key`, created by `new` when absent; it will be written.
    pub(crate) fn get_or_insert_with(&mut self, key: R::Key, new: impl FnOnce() -> R) -> &mut R {
        self.absent.remove(&key);
        let entry = self.rows.entry(key).or_insert_with(|| Entry {
            row: new(),
            changed: true,
        });
        entry.changed = true;
        &mut entry.row
    }

    /// Every cached row.
    pub(crate) fn rows(&self) -> impl Iterator<Item = &R> {
        self.rows.values().map(|entry| &entry.row)
    }

    /// Writes every changed row.
    pub(crate) async fn flush(
        &self,
        tx: &mut WriteTx,
        tables: &TableNames,
    ) -> Result<(), ReadError> {
        let changed: Vec<&R> = self
            .rows
            .values()
            .filter(|entry| entry.changed)
            .map(|entry| &entry.row)
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        tx.upsert_rows::<R>(&tables.of(&R::TABLE), &changed).await
    }
}
