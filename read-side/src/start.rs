//! Running every projector for `alpes serve`.

use std::sync::Arc;

use alpes_event_store::{
    ConsumerRunner, EventStoreBackend, EventStoreUrl, RunnerOptions, RunnerStats,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{ProjectionName, Projector, ReadError, Views};

/// Events handed to a projector at once: large enough that a batch's reads and writes are
/// a few bulk statements, small enough that a transaction holds SQLite's write lock for
/// milliseconds only.
pub const DEFAULT_BATCH_SIZE: usize = 1_000;

/// The views URL used when none is given: the events' own database (SQLite file or
/// PostgreSQL database). EventStoreDB keeps no views: an SQL URL must be given.
pub fn default_views_url(events_url: &str) -> Result<String, ReadError> {
    let parsed = EventStoreUrl::parse(events_url).map_err(|error| ReadError::InvalidUrl {
        url: alpes_event_store::url::mask_password(events_url),
        reason: error.to_string(),
    })?;
    match parsed {
        EventStoreUrl::Sqlite { .. } | EventStoreUrl::Postgres { .. } => {
            Ok(events_url.trim().to_string())
        }
        EventStoreUrl::EventStoreDb { .. } => Err(ReadError::InvalidUrl {
            url: parsed.masked(),
            reason: "EventStoreDB holds no views: give --views postgres://… or sqlite://PATH"
                .to_string(),
        }),
    }
}

/// One running projector.
pub struct RunningProjector {
    /// Which projection.
    pub name: ProjectionName,
    /// Its runner's counters (batches, events, failures, position).
    pub stats: Arc<RunnerStats>,
    handle: JoinHandle<()>,
}

/// Every projector, running until the shutdown token is cancelled.
pub struct RunningProjections {
    views: Views,
    projectors: Vec<RunningProjector>,
}

impl RunningProjections {
    /// The views they write (and the query API reads).
    pub fn views(&self) -> &Views {
        &self.views
    }

    /// The projectors.
    pub fn projectors(&self) -> &[RunningProjector] {
        &self.projectors
    }

    /// Waits for every projector to stop (after the shutdown token is cancelled; a batch
    /// being applied is finished first).
    pub async fn join(self) {
        for projector in self.projectors {
            if let Err(error) = projector.handle.await {
                tracing::error!(projection = %projector.name, %error, "projector task failed");
            }
        }
    }
}

/// Opens the views at `views_url` and runs every projector over `backend`'s log, each
/// under its lease (one running instance per projector across processes), until
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

/// Runs the projectors of `names` over `backend`'s log into `views`, with `options`.
pub fn start_with(
    backend: &EventStoreBackend,
    views: Views,
    names: &[ProjectionName],
    options: RunnerOptions,
    shutdown: CancellationToken,
) -> RunningProjections {
    let projectors = names
        .iter()
        .map(|name| {
            let projector = Arc::new(Projector::live(*name, views.clone()));
            let runner = ConsumerRunner::new(projector, backend.log(), backend.leases())
                .with_options(options.clone());
            let stats = runner.stats();
            RunningProjector {
                name: *name,
                stats,
                handle: runner.spawn(shutdown.clone()),
            }
        })
        .collect();
    tracing::info!(views = %views.url(), "projectors started");
    RunningProjections { views, projectors }
}
