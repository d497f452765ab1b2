//! Opening SQLite connections, and how they wait for one another's write lock.
//!
//! SQLite's own busy handler (what `busy_timeout` installs) sleeps in growing steps of 1, 2,
//! 5, 10 … 100 ms, so a connection that finds the write lock taken for a fraction of a
//! millisecond may sleep for tens of milliseconds, and under steady load it keeps losing
//! the race to connections that did not sleep: that is where second-long stalls came from.
//! [`short_waits`] replaces it, on our own connections and on sqlx's, with a handler that
//! retries every 50 µs for the first few milliseconds, then every millisecond, and gives
//! up after [`super::BUSY_TIMEOUT`].

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sqlx::sqlite::SqliteConnection;

use super::BUSY_TIMEOUT;

/// Retries at the short interval before switching to the long one: ~5 ms of short waits.
const SHORT_RETRIES: i32 = 100;
const SHORT_WAIT: Duration = Duration::from_micros(50);
const LONG_WAIT: Duration = Duration::from_millis(1);

/// The writer's page cache, in SQLite's unit for `cache_size` (negative: KiB).
const WRITER_CACHE_KIB: i64 = -65_536;
/// WAL frames (pages) after which a commit checkpoints the WAL into the database file: a
/// backstop only, as the WAL copier (`wal_copier`) copies it back beside the writer.
const WAL_PAGES_BEFORE_CHECKPOINT: i64 = 32_000;

/// The busy handler: `count` is how many times it was called for this lock already.
fn wait_for_lock(count: i32) -> bool {
    let long_retries = (BUSY_TIMEOUT.as_millis() as i32).saturating_sub(5);
    if count < SHORT_RETRIES {
        std::thread::sleep(SHORT_WAIT);
        true
    } else if count < SHORT_RETRIES + long_retries {
        std::thread::sleep(LONG_WAIT);
        true
    } else {
        false
    }
}

/// Installs the short-waits busy handler on `connection`.
pub(crate) fn short_waits(connection: &Connection) -> rusqlite::Result<()> {
    connection.busy_handler(Some(wait_for_lock))
}

/// Installs the short-waits busy handler on an sqlx connection (e.g. from
/// `SqlitePoolOptions::after_connect`), replacing the one its `busy_timeout` set.
pub async fn install_short_waits(connection: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    let mut handle = connection.lock_handle().await?;
    let raw = handle.as_raw_handle().as_ptr();
    // SAFETY: `raw` is the live handle of `connection`, which `handle` keeps locked for the
    // duration; `from_handle` borrows it without taking ownership (dropping the wrapper does
    // not close it), and the handler installed is a plain function, valid for as long as
    // the connection lives.
    let borrowed = unsafe { Connection::from_handle(raw) }
        .map_err(|error| sqlx::Error::Configuration(Box::new(error)))?;
    short_waits(&borrowed).map_err(|error| sqlx::Error::Configuration(Box::new(error)))
}

/// A read-write connection for the writer: WAL, foreign keys on, and `synchronous=NORMAL`:
/// the writer's syncer makes each commit durable before it is acknowledged (see the
/// writer), so the writer itself never waits for the disk.
pub(crate) fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    short_waits(&connection)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // The writer makes nearly every write to the file (views live in their own file), so
    // its page cache stays valid between commits: 64 MiB keeps the indexes that every append touches at random (aggregate ids are
    // UUIDs) in memory instead of reading them back.
    connection.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
    // The WAL copier checkpoints beside the writer; the writer itself only when the WAL
    // reaches 125 MiB without having restarted.
    connection.pragma_update(None, "wal_autocheckpoint", WAL_PAGES_BEFORE_CHECKPOINT)?;
    connection.set_prepared_statement_cache_capacity(128);
    Ok(connection)
}

/// A read-only connection for loads and log reads.
pub(crate) fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    short_waits(&connection)?;
    connection.set_prepared_statement_cache_capacity(32);
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handler_waits_briefly_at_first_and_gives_up_at_the_timeout() {
        let started = std::time::Instant::now();
        for count in 0..SHORT_RETRIES {
            assert!(wait_for_lock(count));
        }
        assert!(started.elapsed() < Duration::from_millis(500));
        let long_retries = (BUSY_TIMEOUT.as_millis() as i32).saturating_sub(5);
        assert!(!wait_for_lock(SHORT_RETRIES + long_retries));
    }
}
