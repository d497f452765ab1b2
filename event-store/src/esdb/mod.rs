//! EventStoreDB (and KurrentDB) as the event store, through the official `eventstore` client.
//!
//! - Aggregates: one stream `{AggregateType}-{id}` each, with the cqrs-es repository
//!   [`EsdbEventRepository`] (see its docs for the mapping).
//! - The global log: `$all`, with [`EsdbEventLog`]; positions are `commit:prepare`.
//!
//! URLs: `esdb://`, `esdb+discover://`, `kurrentdb://` (and `kurrentdb+discover://`,
//! `kdb://`), with the client's options, e.g. `esdb://admin:changeit@localhost:2113?tls=false`.

mod all;
mod errors;
mod hints;
mod log;
mod mapping;
mod repository;
mod url;

use std::sync::Arc;
use std::time::Duration;

use eventstore::{
    Client, ClientSettings, ClientSettingsParseError, ReadAllOptions, StreamPosition,
};

pub use self::log::EsdbEventLog;
pub use self::repository::EsdbEventRepository;
use self::url::{client_connection_string, mask_in, ACCESS_DENIED_HINT, UNREACHABLE_HINT};
pub use self::url::{is_esdb_url, mask_password};
use crate::{EventLog, StoreError, StoreOptions};

/// How long [`EsdbEventStore::connect`] waits for the server to answer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to EventStoreDB: the cqrs-es repository of the aggregates and the global log.
/// Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct EsdbEventStore {
    client: Client,
    url: String,
    log: Arc<EsdbEventLog>,
}

impl std::fmt::Debug for EsdbEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsdbEventStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl EsdbEventStore {
    /// Connects to the server named by `url` and checks, within [`CONNECT_TIMEOUT`], that it
    /// answers and lets us read `$all`.
    ///
    /// Errors: [`StoreError::InvalidUrl`] for a URL that is not one of ours or that the client
    /// cannot parse; [`StoreError::Unreachable`] for a server that does not answer or refuses
    /// us, saying what to do. Both show the URL with its password masked.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let url = url.trim();
        let masked = mask_password(url);
        let client = client_of(url, &masked)?;
        check_reachable(&client, url, &masked).await?;
        tracing::info!(url = masked, "connected to EventStoreDB");
        Ok(EsdbEventStore {
            log: Arc::new(EsdbEventLog::new(client.clone(), options.upcasters.clone())),
            client,
            url: masked,
        })
    }

    /// Whether `url` is an EventStoreDB / KurrentDB URL (by its scheme).
    pub fn accepts(url: &str) -> bool {
        is_esdb_url(url)
    }

    /// The URL connected to, password masked.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The cqrs-es event repository of the aggregates.
    pub fn repository(&self) -> EsdbEventRepository {
        EsdbEventRepository::new(self.client.clone())
    }

    /// The global log over `$all`. Every call returns the same log.
    pub fn log(&self) -> Arc<dyn EventLog> {
        self.log.clone()
    }
}

/// A client for `url`; nothing is sent yet.
fn client_of(url: &str, masked: &str) -> Result<Client, StoreError> {
    let invalid = |reason: String| StoreError::InvalidUrl {
        url: masked.to_string(),
        reason,
    };
    let connection_string = client_connection_string(url).map_err(invalid)?;
    let settings = connection_string
        .parse::<ClientSettings>()
        .map_err(|error| {
            let reason = parse_failure(&error, &connection_string);
            invalid(mask_in(&mask_in(&reason, url), &connection_string))
        })?;
    let runtime =
        tokio::runtime::Handle::try_current().map_err(|error| StoreError::Unreachable {
            url: masked.to_string(),
            reason: format!("no Tokio runtime to run the client on: {error}"),
            hint: "connect from inside a Tokio runtime".to_string(),
        })?;
    Client::with_runtime_handle(runtime, settings).map_err(|error| StoreError::Unreachable {
        url: masked.to_string(),
        reason: mask_in(&error.to_string(), url),
        hint: UNREACHABLE_HINT.to_string(),
    })
}

/// Why the client could not parse `connection_string`, without repeating it.
fn parse_failure(error: &ClientSettingsParseError, connection_string: &str) -> String {
    match error.error() {
        Some(cause) if error.message() == connection_string => format!("not a valid URL: {cause}"),
        Some(cause) => format!("{}: {cause}", error.message()),
        None => error.message().to_string(),
    }
}

/// Reads the last event of `$all`: proves the server answers and lets us read the log.
async fn check_reachable(client: &Client, url: &str, masked: &str) -> Result<(), StoreError> {
    let probe = async {
        let options = ReadAllOptions::default()
            .position(StreamPosition::End)
            .max_count(1);
        client.read_all(&options).await?.next().await.map(|_| ())
    };
    let unreachable = |reason: String, hint: &str| StoreError::Unreachable {
        url: masked.to_string(),
        reason: mask_in(&reason, url),
        hint: hint.to_string(),
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, probe).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) if error.is_access_denied() => Err(unreachable(
            "access to $all denied".to_string(),
            ACCESS_DENIED_HINT,
        )),
        Ok(Err(error)) => Err(unreachable(error.to_string(), UNREACHABLE_HINT)),
        Err(_elapsed) => Err(unreachable(
            format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
            UNREACHABLE_HINT,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn connect_error(url: &str) -> StoreError {
        EsdbEventStore::connect(url, &StoreOptions::default())
            .await
            .expect_err("no EventStoreDB listens there")
    }

    #[tokio::test]
    async fn an_unparsable_url_is_an_invalid_url_with_the_password_masked() {
        let error =
            connect_error("esdb://admin:hunter2@localhost:2113?nodePreference=nearest").await;
        match &error {
            StoreError::InvalidUrl { url, reason } => {
                assert_eq!(
                    url,
                    "esdb://admin:****@localhost:2113?nodePreference=nearest"
                );
                assert!(reason.contains("nearest"), "{reason}");
            }
            other => panic!("expected an invalid URL, got {other:?}"),
        }
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[tokio::test]
    async fn a_malformed_url_says_why_without_the_password() {
        let error = connect_error("esdb://admin:hunter2@local host:2113").await;
        assert!(matches!(error, StoreError::InvalidUrl { .. }), "{error:?}");
        assert!(error.to_string().contains("not a valid URL"), "{error}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[tokio::test]
    async fn a_url_of_another_backend_is_an_invalid_url() {
        let error = connect_error("postgres://alpes:hunter2@localhost/alpes").await;
        assert!(matches!(error, StoreError::InvalidUrl { .. }), "{error:?}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[tokio::test]
    async fn a_server_that_does_not_answer_is_unreachable_with_what_to_do() {
        // Nothing listens on port 1; the client gives up after its discovery attempts.
        let started = std::time::Instant::now();
        let error =
            connect_error("kurrentdb://admin:hunter2@127.0.0.1:1?tls=false&maxDiscoverAttempts=1")
                .await;
        match &error {
            StoreError::Unreachable { url, hint, .. } => {
                assert_eq!(
                    url,
                    "kurrentdb://admin:****@127.0.0.1:1?tls=false&maxDiscoverAttempts=1"
                );
                assert!(hint.contains("docker compose up eventstore"), "{hint}");
            }
            other => panic!("expected an unreachable server, got {other:?}"),
        }
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(started.elapsed() <= CONNECT_TIMEOUT + Duration::from_secs(2));
    }
}
