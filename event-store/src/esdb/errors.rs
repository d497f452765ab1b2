//! EventStoreDB client errors in the terms of cqrs-es and of our [`StoreError`], and the
//! bounded retry of operations that failed on the way to or from the server.

use std::future::Future;
use std::time::Duration;

use cqrs_es::persist::PersistenceError;

use crate::StoreError;

/// An EventStoreDB operation that failed, with what we were doing.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub(crate) struct EsdbFailure {
    pub context: String,
    #[source]
    pub source: eventstore::Error,
}

/// Attempts of an operation whose failure may be the connection's, not the request's.
const MAX_ATTEMPTS: u32 = 3;

/// Whether `error` may go away by itself: the node went away or stopped leading (the client
/// is already selecting another one), or the connection broke.
pub(crate) fn is_transient(error: &eventstore::Error) -> bool {
    matches!(
        error,
        eventstore::Error::ServerError(_)
            | eventstore::Error::NotLeaderException(_)
            | eventstore::Error::ConnectionClosed
            | eventstore::Error::GrpcConnectionError(_)
            | eventstore::Error::DeadlineExceeded
    )
}

/// Runs `operation` again, up to [`MAX_ATTEMPTS`] in all with a short pause, while it fails
/// with a transient error. Appends are safe to repeat: a repeat carries the same event ids
/// and the server acknowledges the events it already has without writing them twice.
pub(crate) async fn with_retries<T, F, Fut>(what: &str, mut operation: F) -> eventstore::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = eventstore::Result<T>>,
{
    let mut attempt = 1;
    loop {
        match operation().await {
            Err(error) if attempt < MAX_ATTEMPTS && is_transient(&error) => {
                tracing::warn!(%error, attempt, "EventStoreDB: {what} failed, retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// `error` as cqrs-es sees it: a concurrency conflict, a connection problem, or other.
pub(crate) fn persistence_error(context: String, error: eventstore::Error) -> PersistenceError {
    match error {
        eventstore::Error::WrongExpectedVersion { .. } => PersistenceError::OptimisticLockError,
        error if is_transient(&error) || error.is_access_denied() => {
            PersistenceError::ConnectionError(Box::new(EsdbFailure {
                context,
                source: error,
            }))
        }
        error => PersistenceError::UnknownError(Box::new(EsdbFailure {
            context,
            source: error,
        })),
    }
}

/// `error` as a [`StoreError`] of the global log.
pub(crate) fn store_error(context: impl Into<String>, error: eventstore::Error) -> StoreError {
    StoreError::Database {
        context: context.into(),
        source: Box::new(error),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use eventstore::{CurrentRevision, ExpectedRevision};

    use super::*;

    #[test]
    fn a_wrong_expected_version_is_an_optimistic_lock_error() {
        let error = eventstore::Error::WrongExpectedVersion {
            expected: ExpectedRevision::Exact(3),
            current: CurrentRevision::Current(4),
        };
        assert!(matches!(
            persistence_error("appending".into(), error),
            PersistenceError::OptimisticLockError
        ));
    }

    #[test]
    fn a_lost_connection_is_a_connection_error_with_context() {
        let error = persistence_error(
            "appending to Campana-1".into(),
            eventstore::Error::ConnectionClosed,
        );
        match error {
            PersistenceError::ConnectionError(error) => {
                assert!(
                    error.to_string().starts_with("appending to Campana-1: "),
                    "{error}"
                )
            }
            other => panic!("expected a connection error, got {other:?}"),
        }
    }

    #[test]
    fn a_denied_access_is_a_connection_error() {
        assert!(matches!(
            persistence_error("reading".into(), eventstore::Error::AccessDenied),
            PersistenceError::ConnectionError(_)
        ));
    }

    #[test]
    fn a_deleted_stream_is_an_unknown_error() {
        assert!(matches!(
            persistence_error("reading".into(), eventstore::Error::ResourceDeleted),
            PersistenceError::UnknownError(_)
        ));
    }

    #[tokio::test]
    async fn a_transient_failure_is_retried_until_it_succeeds() {
        let calls = AtomicU32::new(0);
        let result = with_retries("reading", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(eventstore::Error::ConnectionClosed),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(result.ok(), Some(7));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn retries_are_bounded() {
        let calls = AtomicU32::new(0);
        let result: eventstore::Result<()> = with_retries("reading", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(eventstore::Error::ConnectionClosed)
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), MAX_ATTEMPTS);
    }

    #[tokio::test]
    async fn a_conflict_is_not_retried() {
        let calls = AtomicU32::new(0);
        let result: eventstore::Result<()> = with_retries("appending", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(eventstore::Error::WrongExpectedVersion {
                expected: ExpectedRevision::NoStream,
                current: CurrentRevision::Current(0),
            })
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
