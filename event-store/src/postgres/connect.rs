//! Opening the database: the URL, a first connection that says clearly what is wrong,
//! the migrations, then the pool.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::StoreError;

/// How long the first connection may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a caller waits for a pooled connection when all are busy.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections of the pool that reads the global log (plus the one that LISTENs).
const LOG_CONNECTIONS: u32 = 4;

/// Parses a `postgres://` URL.
pub(crate) fn parse_url(url: &str) -> Result<PgConnectOptions, StoreError> {
    PgConnectOptions::from_str(url).map_err(|error| StoreError::InvalidUrl {
        url: mask_password(url),
        reason: format!(
            "{error} (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?OPTIONS])"
        ),
    })
}

/// Opens one connection, so that a refused connection, bad credentials or a missing
/// database are reported as such (a pool would only report that it timed out).
pub(crate) async fn check(url: &str, options: &PgConnectOptions) -> Result<(), StoreError> {
    let connection = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
        .await
        .map_err(|_| StoreError::Unreachable {
            url: mask_password(url),
            reason: format!("no answer within {CONNECT_TIMEOUT:?}"),
            hint: format!(
                "Check that PostgreSQL runs at {} and that no firewall is in the way.",
                server(options)
            ),
        })?
        .map_err(|error| connect_error(url, options, error))?;
    let _ = connection.close().await;
    Ok(())
}

/// Brings the event store's tables up to date (migrations/postgres); concurrent callers
/// wait for each other (sqlx takes an advisory lock).
pub(crate) async fn migrate(url: &str, pool: &PgPool) -> Result<(), StoreError> {
    let mut migrator = sqlx::migrate!("../migrations/postgres");
    // The database may be shared with other components that keep their own migrations.
    migrator.set_ignore_missing(true);
    migrator
        .run(pool)
        .await
        .map_err(|error| StoreError::Database {
            context: format!(
                "migrating the event store tables of '{}' (migrations/postgres)",
                mask_password(url)
            ),
            source: Box::new(error),
        })
}

/// The pool every reader and writer of the store shares.
pub(crate) async fn open_pool(
    url: &str,
    options: &PgConnectOptions,
    max_connections: u32,
) -> Result<PgPool, StoreError> {
    PgPoolOptions::new()
        // A pool of no connections could never serve.
        .max_connections(max_connections.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.clone())
        .await
        .map_err(|error| connect_error(url, options, error))
}

/// The pool of log readers. Its sessions never sort: a read of the log must walk the
/// (transaction_id, global_position) index, and statistics that lag behind a fast-growing
/// table would otherwise make the planner sort the whole tail of the log for each batch.
/// Opens its connections when first used.
pub(crate) fn open_log_pool(options: &PgConnectOptions) -> PgPool {
    PgPoolOptions::new()
        .max_connections(LOG_CONNECTIONS + 1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options.clone().options([("enable_sort", "off")]))
}

/// The reason a connection failed, in the operator's terms, with what to do about it.
fn connect_error(url: &str, options: &PgConnectOptions, error: sqlx::Error) -> StoreError {
    let url = mask_password(url);
    let server = server(options);
    let database = options.get_database().unwrap_or("(default)");
    let user = options.get_username();
    let hint = match &error {
        sqlx::Error::Configuration(_) => {
            return StoreError::InvalidUrl {
                url,
                reason: error.to_string(),
            }
        }
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01") | Some("28000") => format!(
                "Check the user '{user}' and its password in the URL (or PGPASSWORD), and \
                 pg_hba.conf on {server}."
            ),
            Some("3D000") => format!(
                "The database '{database}' does not exist on {server}: create it \
                 (createdb -h {host} -p {port} -U {user} {database}) or fix the database name \
                 in the URL.",
                host = options.get_host(),
                port = options.get_port(),
            ),
            Some("53300") => format!(
                "{server} has no free connection slots: lower max_connections of the pools \
                 using it or raise the server's."
            ),
            _ => format!("Check the URL and the server log of {server}."),
        },
        sqlx::Error::Tls(_) => {
            format!("Check the sslmode in the URL and the TLS setup of {server}.")
        }
        sqlx::Error::PoolTimedOut => format!(
            "{server} did not hand out a connection within {ACQUIRE_TIMEOUT:?}; is it overloaded?"
        ),
        _ => format!(
            "Check that PostgreSQL runs at {server} (e.g. `docker compose up -d postgres`) \
             and that the host and port in the URL are right."
        ),
    };
    StoreError::Unreachable {
        url,
        reason: error.to_string(),
        hint,
    }
}

fn server(options: &PgConnectOptions) -> String {
    format!("{}:{}", options.get_host(), options.get_port())
}

/// `url` with its password replaced by `****`; works on URLs that do not parse, too.
pub(crate) fn mask_password(url: &str) -> String {
    let Some(authority_start) = url.find("://").map(|index| index + 3) else {
        return url.to_string();
    };
    let rest = &url[authority_start..];
    // The last '@' ends the user info even when an unescaped '@' sits in the password.
    let Some(at) = rest.rfind('@') else {
        return url.to_string();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:****{}",
            &url[..authority_start],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows_in_a_url() {
        assert_eq!(
            mask_password("postgres://alpes:s3cret@db:5432/alpes"),
            "postgres://alpes:****@db:5432/alpes"
        );
        assert_eq!(
            mask_password("postgres://alpes:p@ss/w:rd@db/alpes?sslmode=require"),
            "postgres://alpes:****@db/alpes?sslmode=require"
        );
        assert_eq!(
            mask_password("postgres://alpes@db/alpes"),
            "postgres://alpes@db/alpes"
        );
        assert_eq!(mask_password("not a url"), "not a url");
    }
}
