//! A fresh, uniquely named PostgreSQL database per test.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio::sync::OnceCell;

use crate::{cluster, mask_password};

/// The server tried when `ALPES_TEST_POSTGRES_URL` is not set.
const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// How long a server may take to accept a connection before we look elsewhere.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The server every test of this process uses: the admin URL, or why there is none.
/// Decided once per test process.
static SERVER: OnceCell<Result<String, String>> = OnceCell::const_new();
/// Makes database names unique within the process (with the pid, across processes).
static NEXT_DATABASE: AtomicU64 = AtomicU64::new(1);

/// Why a test database could not be had.
#[derive(Debug, thiserror::Error)]
pub enum TestDbError {
    /// No PostgreSQL is usable and `ALPES_REQUIRE_POSTGRES=1` asks for one.
    #[error(
        "ALPES_REQUIRE_POSTGRES=1 but no PostgreSQL is usable: {0}. Start one on \
         127.0.0.1:5432 (user postgres, trust auth), set ALPES_TEST_POSTGRES_URL, or install \
         initdb/pg_ctl"
    )]
    Required(String),
    /// The server refused to create or drop the database.
    #[error("{action} test database {database} on {server}: {source}")]
    Database {
        action: &'static str,
        database: String,
        server: String,
        #[source]
        source: sqlx::Error,
    },
    /// The server URL cannot name another database.
    #[error("the PostgreSQL URL {0} cannot name a database")]
    Url(String),
}

/// A database of its own on the test server, dropped (with FORCE, so open connections do
/// not stop it) by [`PostgresTestDb::cleanup`] or on drop.
#[derive(Debug)]
pub struct PostgresTestDb {
    name: String,
    url: String,
    admin_url: String,
    dropped: bool,
}

impl PostgresTestDb {
    /// Creates a fresh database on the server at `ALPES_TEST_POSTGRES_URL` or
    /// 127.0.0.1:5432; when neither is usable, on a throwaway cluster started once for this
    /// process. `Ok(None)` (after printing a SKIP line) when there is no PostgreSQL at all,
    /// unless `ALPES_REQUIRE_POSTGRES=1`, which makes that an error.
    pub async fn create() -> Result<Option<PostgresTestDb>, TestDbError> {
        let admin_url = match SERVER.get_or_init(find_server).await {
            Ok(admin_url) => admin_url.clone(),
            Err(why) => return skip_or_fail(why),
        };
        let name = format!(
            "alpes_test_{}_{}_{}",
            std::process::id(),
            NEXT_DATABASE.fetch_add(1, Ordering::Relaxed),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let failed = |source| TestDbError::Database {
            action: "cannot create",
            database: name.clone(),
            server: mask_password(&admin_url),
            source,
        };
        let mut admin = PgConnection::connect(&admin_url).await.map_err(failed)?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .map_err(failed)?;
        let _ = admin.close().await;
        let url = database_url(&admin_url, &name)?;
        Ok(Some(PostgresTestDb {
            name,
            url,
            admin_url,
            dropped: false,
        }))
    }

    /// The URL of this database (user postgres, no password).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of another database on the same server (for tests of a missing database).
    pub fn url_for_database(&self, database: &str) -> Result<String, TestDbError> {
        database_url(&self.admin_url, database)
    }

    /// Drops the database now, reporting a failure.
    pub async fn cleanup(mut self) -> Result<(), TestDbError> {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await
    }
}

impl Drop for PostgresTestDb {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // Drop is synchronous and may run inside (or after) the test's runtime, so the
        // database is dropped from a thread with a runtime of its own.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropping = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime
                .block_on(drop_database(&admin_url, &name))
                .map_err(|error| error.to_string())
        });
        match dropping.join() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("alpes-test-support: {error}"),
            Err(_) => eprintln!("alpes-test-support: dropping {} panicked", self.name),
        }
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), TestDbError> {
    let failed = |source| TestDbError::Database {
        action: "cannot drop",
        database: name.to_string(),
        server: mask_password(admin_url),
        source,
    };
    let mut admin = PgConnection::connect(admin_url).await.map_err(failed)?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .map_err(failed)?;
    let _ = admin.close().await;
    Ok(())
}

fn skip_or_fail(why: &str) -> Result<Option<PostgresTestDb>, TestDbError> {
    if std::env::var("ALPES_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        return Err(TestDbError::Required(why.to_string()));
    }
    eprintln!(
        "SKIP: PostgreSQL test skipped: {why} (set ALPES_REQUIRE_POSTGRES=1 to fail instead)"
    );
    Ok(None)
}

/// The configured or default server if it accepts us, else a throwaway cluster.
async fn find_server() -> Result<String, String> {
    let url = std::env::var("ALPES_TEST_POSTGRES_URL").unwrap_or(DEFAULT_SERVER_URL.to_string());
    let unusable = match probe(&url).await {
        Ok(()) => return Ok(url),
        Err(reason) => format!(
            "PostgreSQL at {} is not usable ({reason})",
            mask_password(&url)
        ),
    };
    eprintln!("alpes-test-support: {unusable}; starting a throwaway cluster");
    let started = tokio::task::spawn_blocking(cluster::start)
        .await
        .map_err(|error| format!("{unusable}; starting a throwaway cluster panicked: {error}"))?;
    let cluster_url =
        started.map_err(|reason| format!("{unusable}, and no throwaway cluster: {reason}"))?;
    probe(&cluster_url).await.map_err(|reason| {
        format!("{unusable}, and the throwaway cluster at {cluster_url} is not usable: {reason}")
    })?;
    eprintln!("alpes-test-support: using the throwaway cluster at {cluster_url}");
    Ok(cluster_url)
}

async fn probe(url: &str) -> Result<(), String> {
    match tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
    }
}

fn database_url(server_url: &str, database: &str) -> Result<String, TestDbError> {
    let mut url =
        url::Url::parse(server_url).map_err(|_| TestDbError::Url(mask_password(server_url)))?;
    url.set_path(&format!("/{database}"));
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn database_exists(admin_url: &str, name: &str) -> bool {
        let mut admin = PgConnection::connect(admin_url).await.unwrap();
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut admin)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn each_test_gets_its_own_database_dropped_even_with_open_connections() {
        let Some(first) = PostgresTestDb::create().await.unwrap() else {
            return;
        };
        let second = PostgresTestDb::create().await.unwrap().unwrap();
        assert_ne!(first.name(), second.name());

        let mut open = PgConnection::connect(first.url()).await.unwrap();
        let current: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&mut open)
            .await
            .unwrap();
        assert_eq!(current, first.name());

        let (admin_url, first_name, second_name) = (
            first.admin_url.clone(),
            first.name().to_string(),
            second.name().to_string(),
        );
        drop(first);
        assert!(!database_exists(&admin_url, &first_name).await);
        second.cleanup().await.unwrap();
        assert!(!database_exists(&admin_url, &second_name).await);
    }
}
