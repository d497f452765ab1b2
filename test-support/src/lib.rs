//! Test harness: fresh SQLite files and PostgreSQL databases per test, the EventStoreDB
//! server when one is configured, and the old events' fixtures.
//!
//! ```no_run
//! # async fn a_test() {
//! use alpes_test_support::PostgresTestDb;
//! // `None`: no PostgreSQL anywhere; a SKIP line was printed (or, with
//! // ALPES_REQUIRE_POSTGRES=1, `create` failed instead).
//! let Some(db) = PostgresTestDb::create().await.unwrap() else { return };
//! let url = db.url(); // a database of its own, dropped when `db` is dropped
//! # }
//! ```

mod cluster;
mod postgres;
mod sqlite;

pub mod eventstore;
pub mod legacy;
pub mod requests;

pub use postgres::{PostgresTestDb, TestDbError};
pub use sqlite::SqliteTestDb;

/// `url` with its password, if any, replaced by `****` (for messages and logs).
pub fn mask_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only fails for URLs that cannot have a password, and this one has one.
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}
