//! Making what SQLite committed to the WAL durable, apart from the commit itself.
//!
//! The writer commits with `synchronous=NORMAL`: SQLite writes a transaction's frames to
//! the WAL (the `-wal` file beside the database) and makes it visible without an fsync.
//! An fsync of that file afterwards makes every frame written before it durable, as
//! `synchronous=FULL` would have at the commit — so one sync covers every commit made
//! since the last, and the writer goes on with the next transaction meanwhile.
//!
//! A frame that was checkpointed into the database file and then overwritten (the WAL
//! restarted) needs no sync of the WAL: SQLite syncs the WAL before copying it back and
//! the database file after.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Makes every transaction committed to the WAL so far durable.
pub(crate) trait WalSync: Send {
    fn sync(&mut self) -> io::Result<()>;
}

/// The `-wal` file of a database, opened on its first sync (SQLite creates it with the
/// first write) and kept open: an fsync reaches the frames any connection of any process
/// wrote to it.
pub(crate) struct WalFile {
    path: PathBuf,
    file: Option<File>,
}

impl WalFile {
    /// The WAL of the database at `database`.
    pub(crate) fn of(database: &Path) -> WalFile {
        let mut name = database.as_os_str().to_owned();
        name.push("-wal");
        WalFile {
            path: PathBuf::from(name),
            file: None,
        }
    }

    fn open(&self) -> io::Result<Option<File>> {
        let file = match OpenOptions::new().read(true).open(&self.path) {
            Ok(file) => file,
            // No WAL: every commit is in the database file, which SQLite synced.
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        // The file's name must survive a power cut too, as SQLite's own first sync of a
        // new WAL ensures by syncing its folder.
        if let Some(folder) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(folder)?.sync_all()?;
        }
        Ok(Some(file))
    }
}

impl WalSync for WalFile {
    fn sync(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            self.file = self.open()?;
        }
        match &self.file {
            Some(file) => file.sync_data(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_the_wal_beside_the_database_once_there_is_one() {
        let folder = tempfile::tempdir().unwrap();
        let database = folder.path().join("events.db");
        let mut wal = WalFile::of(&database);
        assert_eq!(wal.path, folder.path().join("events.db-wal"));
        wal.sync().unwrap();
        assert!(wal.file.is_none(), "no WAL yet: nothing to sync");

        let connection = rusqlite::Connection::open(&database).unwrap();
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .unwrap();
        connection.execute_batch("CREATE TABLE t (x)").unwrap();
        wal.sync().unwrap();
        assert!(wal.file.is_some(), "opened once SQLite made the WAL");
        wal.sync().unwrap();
    }
}
