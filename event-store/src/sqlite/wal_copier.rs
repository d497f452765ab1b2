//! Copies the WAL back into the database file on a thread of its own, so that the writer's
//! commits do not stop for it.
//!
//! SQLite's automatic checkpoint runs inside the commit that fills the WAL past its limit:
//! with appends touching random index pages, that commit copied thousands of pages and
//! synced the database file while every append of the next batch waited (the writer's 40 to
//! 85 ms commits, against ~10 ms for the others). Here a `PASSIVE` checkpoint runs every
//! [`INTERVAL`] on another connection, beside the writer. The writer keeps a high automatic
//! limit as a backstop: a WAL that a busy writer never lets restart (a restart needs a
//! fully copied WAL at the start of a write) is then checkpointed by the writer, which
//! finds most of it copied already.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::connection::short_waits;
use crate::StoreError;

/// How often the WAL is copied back.
const INTERVAL: Duration = Duration::from_millis(100);

/// Keeps the copier running; it stops when this is dropped.
pub(crate) struct WalCopier {
    _running: mpsc::Sender<()>,
}

/// Starts copying the WAL of the database at `path` back into it.
pub(crate) fn spawn(path: &Path) -> Result<WalCopier, StoreError> {
    let failure = |error: &dyn std::fmt::Display| StoreError::Database {
        context: "starting the SQLite WAL copier".to_string(),
        source: error.to_string().into(),
    };
    let connection = open(path).map_err(|error| failure(&error))?;
    let (running, stopped) = mpsc::channel();
    let name = path.to_path_buf();
    std::thread::Builder::new()
        .name("alpes-sqlite-wal".to_string())
        .spawn(move || run(&connection, &stopped, &name))
        .map_err(|error| failure(&error))?;
    Ok(WalCopier { _running: running })
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    short_waits(&connection)?;
    Ok(connection)
}

fn run(connection: &Connection, stopped: &mpsc::Receiver<()>, path: &Path) {
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        match copy_back(connection) {
            Ok((frames, copied)) if frames > 0 => {
                tracing::trace!(frames, copied, "WAL copied back");
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "copying the SQLite WAL back failed")
            }
        }
    }
}

/// One `PASSIVE` checkpoint: copies what it can without waiting for anyone. Answers the
/// WAL's frames and how many of them are now in the database file.
fn copy_back(connection: &Connection) -> rusqlite::Result<(i64, i64)> {
    connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wal_is_copied_back_while_the_writer_keeps_writing() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("copy.db");
        let writer = super::super::connection::open_writer(&path).unwrap();
        writer
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
            .unwrap();
        let copier = open(&path).unwrap();
        for row in 0..200 {
            writer
                .execute("INSERT INTO t (text) VALUES (?1)", [format!("row {row}")])
                .unwrap();
        }
        let (frames, copied) = copy_back(&copier).unwrap();
        assert!(frames > 0, "the inserts are in the WAL");
        assert_eq!(copied, frames, "a quiet WAL is copied back whole");
        let count: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 200);
    }
}
