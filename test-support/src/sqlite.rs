//! A fresh SQLite database file per test.

use std::path::{Path, PathBuf};

/// An empty SQLite file in a temporary directory of its own; the directory (with the
/// file's `-wal` and `-shm` companions) is removed when this is dropped.
#[derive(Debug)]
pub struct SqliteTestDb {
    dir: PathBuf,
    path: PathBuf,
    url: String,
}

impl SqliteTestDb {
    /// Creates the directory and the empty database file.
    pub fn create() -> std::io::Result<SqliteTestDb> {
        let dir = std::env::temp_dir().join(format!(
            "alpes-sqlite-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("alpes.db");
        std::fs::File::create(&path)?;
        let url = format!("sqlite://{}", path.display());
        Ok(SqliteTestDb { dir, path, url })
    }

    /// `sqlite:///tmp/alpes-sqlite-…/alpes.db`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SqliteTestDb {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            eprintln!(
                "alpes-test-support: could not remove {}: {error}",
                self.dir.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sqlite_test_db_is_a_fresh_file_removed_on_drop() {
        let first = SqliteTestDb::create().unwrap();
        let second = SqliteTestDb::create().unwrap();
        assert_ne!(first.url(), second.url());
        assert!(first.url().starts_with("sqlite://"));
        assert_eq!(std::fs::metadata(first.path()).unwrap().len(), 0);
        let path = first.path().to_path_buf();
        drop(first);
        assert!(!path.exists());
    }
}
