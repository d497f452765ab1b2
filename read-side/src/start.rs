//! Running every projector for `alpes serve`.
//!
//! The projectors run as one set over one reader of the log (see [`crate::fanout`]),
//! under one lease, so that only one process runs them at a time. A projector that keeps
//! failing is moved to a [`ConsumerRunner`] of its own, under its own lease, and retried
//! there without holding the others back. Whatever runs a projector, and however many
//! times, each event's effect lands once: every batch commits with the projector's
//! checkpoint and skips what the checkpoint already covers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use alpes_event_store::{ConsumerRunner, EventStoreBackend, EventStoreUrl, Lease, RunnerOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::fanout::{apply_to_members, slowest, Member, Read, Reader};
use crate::{ProjectionName, Projector, ReadError, Views};

/// Events handed to the projectors at once: large enough that a batch's reads and writes
/// are a few bulk statements, small enough that a transaction holds SQLite's write lock
/// for milliseconds only.
pub const DEFAULT_BATCH_SIZE: usize = 1_000;

/// Failures in a row after which a projector leaves the set for a runner of its own.
const DETACH_AFTER: u32 = 3;

/// The views URL used when none is given: for a SQLite event store, a file beside it
/// (`data/alpes.db` → `data/alpes-views.db`), so the projectors' commits never take the
/// event writer's lock nor empty its page cache; for PostgreSQL, the events' own database.
/// EventStoreDB keeps no views: an SQL URL must be given.
pub fn default_views_url(events_url: &str) -> Result<String, ReadError> {
    let parsed = EventStoreUrl::parse(events_url).map_err(|error| ReadError::InvalidUrl {
        url: alpes_event_store::url::mask_password(events_url),
        reason: error.to_string(),
    })?;
    match parsed {
        EventStoreUrl::Sqlite { path } => Ok(format!("sqlite://{}", views_file(&path).display())),
        EventStoreUrl::Postgres { .. } => Ok(events_url.trim().to_string()),
        EventStoreUrl::EventStoreDb { .. } => Err(ReadError::InvalidUrl {
            url: parsed.masked(),
            reason: "EventStoreDB holds no views: give --views postgres://… or sqlite://PATH"
                .to_string(),
        }),
    }
}

/// `alpes.db` → `alpes-views.db`, in the same folder.
fn views_file(events: &Path) -> PathBuf {
    let stem = events
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match events.extension() {
        Some(extension) => format!("{stem}-views.{}", extension.to_string_lossy()),
        None => format!("{stem}-views"),
    };
    events.with_file_name(name)
}

/// The projectors, running until the shutdown token is cancelled.
pub struct RunningProjections {
    views: Views,
    names: Vec<ProjectionName>,
    task: JoinHandle<()>,
}

impl RunningProjections {
    /// The views they write (and the query API reads).
    pub fn views(&self) -> &Views {
        &self.views
    }

    /// The projections running.
    pub fn names(&self) -> &[ProjectionName] {
        &self.names
    }

    /// Waits for every projector to stop (after the shutdown token is cancelled; a batch
    /// being applied is finished first).
    pub async fn join(self) {
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the projectors' task failed");
        }
    }
}

/// Opens the views at `views_url` and runs every projector over `backend`'s log until
/// `shutdown` is cancelled.
pub async fn start(
    backend: &EventStoreBackend,
    views_url: &str,
    shutdown: CancellationToken,
) -> Result<RunningProjections, ReadError> {
    let views = Views::open(views_url).await?;
    let options = RunnerOptions {
        batch_size: DEFAULT_BATCH_SIZE,
        ..RunnerOptions::default()
    };
    Ok(start_with(
        backend,
        views,
        &ProjectionName::ALL,
        options,
        shutdown,
    ))
}

/// Runs the projectors of `names` over `backend`'s log into `views`, reading `options`'
/// batch size at a time and retrying with its backoff.
pub fn start_with(
    backend: &EventStoreBackend,
    views: Views,
    names: &[ProjectionName],
    options: RunnerOptions,
    shutdown: CancellationToken,
) -> RunningProjections {
    let set = ProjectionSet {
        backend: backend.clone(),
        views: views.clone(),
        names: names.to_vec(),
        options,
        shutdown,
        detached: Vec::new(),
    };
    tracing::info!(views = %views.url(), projections = ?names, "projectors starting");
    RunningProjections {
        views,
        names: names.to_vec(),
        task: tokio::spawn(set.run()),
    }
}

/// Why following the log stopped.
enum Stop {
    Shutdown,
    LeaseLost,
}

struct ProjectionSet {
    backend: EventStoreBackend,
    views: Views,
    names: Vec<ProjectionName>,
    options: RunnerOptions,
    shutdown: CancellationToken,
    /// Runners of projectors that left the set.
    detached: Vec<JoinHandle<()>>,
}

impl ProjectionSet {
    fn lease_name(&self) -> String {
        let names: Vec<&str> = self.names.iter().map(|name| name.as_str()).collect();
        format!("projections:{}", names.join(","))
    }

    async fn run(mut self) {
        let lease_name = self.lease_name();
        let leases = self.backend.leases();
        let mut failures = 0;
        loop {
            let acquired = tokio::select! {
                biased;
                () = self.shutdown.cancelled() => break,
                acquired = leases.acquire(&lease_name) => acquired,
            };
            let mut lease = match acquired {
                Ok(lease) => lease,
                Err(error) => {
                    tracing::warn!(lease = %lease_name, %error, "cannot take the projectors' lease; retrying");
                    failures += 1;
                    if !self.pause(failures).await {
                        break;
                    }
                    continue;
                }
            };
            tracing::info!(lease = %lease_name, "lease acquired, projecting the log");
            match self.follow(lease.as_mut()).await {
                Stop::Shutdown => break,
                Stop::LeaseLost => {
                    tracing::warn!(lease = %lease_name, "lease lost; stopping until acquired again")
                }
            }
        }
        for runner in std::mem::take(&mut self.detached) {
            let _ = runner.await;
        }
        tracing::info!("projectors stopped");
    }

    /// Sleeps the backoff of the `failures`-th failure in a row; false on shutdown.
    async fn pause(&self, failures: u32) -> bool {
        let delay = self
            .options
            .first_retry_delay
            .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(20)))
            .min(self.options.max_retry_delay);
        tokio::select! {
            biased;
            () = self.shutdown.cancelled() => false,
            () = tokio::time::sleep(delay) => true,
        }
    }

    async fn members(&self) -> Option<Vec<Member>> {
        let mut failures = 0;
        loop {
            let mut members = Vec::new();
            let mut failed = None;
            for name in &self.names {
                match Member::at_checkpoint(Projector::live(*name, self.views.clone())).await {
                    Ok(member) => members.push(member),
                    Err(error) => {
                        failed = Some(error);
                        break;
                    }
                }
            }
            let Some(error) = failed else {
                return Some(members);
            };
            failures += 1;
            tracing::warn!(%error, "cannot read the projectors' checkpoints; retrying");
            if !self.pause(failures).await {
                return None;
            }
        }
    }

    async fn follow(&mut self, lease: &mut dyn Lease) -> Stop {
        let Some(mut members) = self.members().await else {
            return Stop::Shutdown;
        };
        let mut reader: Option<Reader> = None;
        let mut failures = 0;
        loop {
            if self.shutdown.is_cancelled() {
                return Stop::Shutdown;
            }
            if !lease.is_held().await {
                return Stop::LeaseLost;
            }
            let Some(from) = slowest(&members) else {
                // Every projector runs on its own now.
                self.shutdown.cancelled().await;
                return Stop::Shutdown;
            };
            let current = reader.get_or_insert_with(|| {
                Reader::spawn(
                    self.backend.log(),
                    from,
                    self.options.batch_size.max(1),
                    true,
                    self.options.idle_wait,
                )
            });
            let read = tokio::select! {
                biased;
                () = self.shutdown.cancelled() => return Stop::Shutdown,
                read = current.next() => read,
            };
            let batch = match read {
                Some(Read::Batch(batch)) => batch,
                Some(Read::CaughtUp) => continue,
                Some(Read::Failed(error)) => {
                    tracing::warn!(%error, "reading the log failed; retrying");
                    reader = None;
                    failures += 1;
                    if !self.pause(failures).await {
                        return Stop::Shutdown;
                    }
                    continue;
                }
                None => {
                    reader = None;
                    continue;
                }
            };
            // Not raced against shutdown: the batch is finished, then the loop stops.
            let outcomes = apply_to_members(&mut members, &batch).await;
            let mut failed = false;
            for outcome in outcomes {
                let Err(error) = outcome.result else {
                    continue;
                };
                failed = true;
                let member = &mut members[outcome.index];
                let name = member.projector.projection();
                tracing::warn!(projection = %name, %error, failures = member.failures,
                    "projector failed a batch; retrying");
                if member.failures >= DETACH_AFTER {
                    member.active = false;
                    self.detach(member.projector.clone());
                }
            }
            if failed {
                // The failed projectors are behind the reader now: read again from them.
                reader = None;
                failures += 1;
                if !self.pause(failures).await {
                    return Stop::Shutdown;
                }
            } else {
                failures = 0;
            }
        }
    }

    /// Moves a projector that keeps failing to a runner of its own.
    fn detach(&mut self, projector: Projector) {
        tracing::error!(projection = %projector.projection(),
            "projector keeps failing; it runs on its own now, retried with backoff");
        let runner = ConsumerRunner::new(
            Arc::new(projector),
            self.backend.log(),
            self.backend.leases(),
        )
        .with_options(self.options.clone());
        self.detached.push(runner.spawn(self.shutdown.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_views_default_to_a_file_beside_the_events() {
        assert_eq!(
            default_views_url("sqlite://data/alpes.db").unwrap(),
            "sqlite://data/alpes-views.db"
        );
        assert_eq!(
            default_views_url("sqlite:///var/lib/alpes/events").unwrap(),
            "sqlite:///var/lib/alpes/events-views"
        );
    }

    #[test]
    fn postgres_views_default_to_the_events_database_and_eventstoredb_has_none() {
        let postgres = "postgres://postgres@127.0.0.1:5432/alpes";
        assert_eq!(default_views_url(postgres).unwrap(), postgres);
        let error = default_views_url("esdb://localhost:2113?tls=false").unwrap_err();
        assert!(error.to_string().contains("--views"), "{error}");
    }
}
