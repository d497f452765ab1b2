//! Where each projection is: its checkpoint, the head of the log, and the lag between.

use std::fmt;
use std::time::Duration;

use alpes_event_store::{EventStoreBackend, Position};
use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::{ProjectionName, ReadError, Views};

/// A projection that is behind and has not saved its checkpoint for this long is stalled
/// (not running, or failing).
pub const STALLED_AFTER: Duration = Duration::from_secs(60);
/// On EventStoreDB, pending events are counted by reading them, up to this many.
pub const LAG_COUNT_LIMIT: u64 = 100_000;

/// How a projection is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectionState {
    /// It has applied every event of the log.
    CaughtUp,
    /// Behind, and saving progress.
    CatchingUp,
    /// Behind, and no progress saved for [`STALLED_AFTER`].
    Stalled,
    /// It never saved a checkpoint, and the log has events.
    NotStarted,
}

impl fmt::Display for ProjectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProjectionState::CaughtUp => "caught up",
            ProjectionState::CatchingUp => "catching up",
            ProjectionState::Stalled => "stalled",
            ProjectionState::NotStarted => "not started",
        })
    }
}

/// A rebuild in progress (or abandoned) of a projection.
#[derive(Clone, Debug, PartialEq)]
pub struct RebuildStatus {
    /// How far the rebuild has replayed the log.
    pub position: Position,
    /// When it last saved progress.
    pub saved_at: DateTime<Utc>,
    /// False when it saved no progress for [`STALLED_AFTER`]: an interrupted rebuild,
    /// whose tables the next rebuild removes.
    pub active: bool,
}

/// One projection's status.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectionStatus {
    /// The projection.
    pub name: ProjectionName,
    /// The position of the last event it applied.
    pub position: Position,
    /// The last event of the log, if any.
    pub head: Option<Position>,
    /// Events in the log after `position`. On EventStoreDB counted up to
    /// [`LAG_COUNT_LIMIT`] (then `lag_events_exact` is false).
    pub lag_events: u64,
    /// Whether `lag_events` is exact.
    pub lag_events_exact: bool,
    /// How long the oldest event it has not applied has been in the log (0 when caught up).
    pub lag_seconds: f64,
    /// How it is doing.
    pub state: ProjectionState,
    /// When it last saved its checkpoint.
    pub checkpoint_saved_at: Option<DateTime<Utc>>,
    /// A rebuild of it, if one is running or was interrupted.
    pub rebuild: Option<RebuildStatus>,
}

impl Views {
    /// The status of every projection, against the log of `backend`.
    pub async fn projection_status(
        &self,
        backend: &EventStoreBackend,
    ) -> Result<Vec<ProjectionStatus>, ReadError> {
        let head = backend.log().head().await?.map(|(position, _)| position);
        let mut statuses = Vec::new();
        for name in ProjectionName::ALL {
            statuses.push(self.status_of(backend, name, head).await?);
        }
        Ok(statuses)
    }

    async fn status_of(
        &self,
        backend: &EventStoreBackend,
        name: ProjectionName,
        head: Option<Position>,
    ) -> Result<ProjectionStatus, ReadError> {
        let saved = self.checkpoint_row(&name.consumer()).await?;
        let position = saved.map_or(Position::START, |(position, _)| position);
        let checkpoint_saved_at = saved.map(|(_, saved_at)| saved_at);
        let (lag_events, lag_events_exact) = events_after(backend, position).await?;
        let lag_seconds = oldest_pending_age(backend, position).await?;
        let now = Utc::now();
        let stale =
            |saved_at: DateTime<Utc>| (now - saved_at).to_std().unwrap_or_default() > STALLED_AFTER;
        let state = match checkpoint_saved_at {
            _ if lag_events == 0 => ProjectionState::CaughtUp,
            None => ProjectionState::NotStarted,
            Some(saved_at) if stale(saved_at) => ProjectionState::Stalled,
            Some(_) => ProjectionState::CatchingUp,
        };
        let rebuild =
            self.checkpoint_row(&name.rebuild_consumer())
                .await?
                .map(|(position, saved_at)| RebuildStatus {
                    position,
                    saved_at,
                    active: !stale(saved_at),
                });
        Ok(ProjectionStatus {
            name,
            position,
            head,
            lag_events,
            lag_events_exact,
            lag_seconds,
            state,
            checkpoint_saved_at,
            rebuild,
        })
    }
}

/// How many events of the log come after `position`, and whether that count is exact.
pub async fn events_after(
    backend: &EventStoreBackend,
    position: Position,
) -> Result<(u64, bool), ReadError> {
    let context = "counting the events of the log after a checkpoint";
    if let Some(store) = backend.as_sqlite() {
        let after = i64::try_from(position.high).unwrap_or(i64::MAX);
        let count: i64 = sqlx::query("SELECT count(*) AS n FROM events WHERE global_position > ?")
            .bind(after)
            .fetch_one(store.pool())
            .await
            .and_then(|row| row.try_get("n"))
            .map_err(ReadError::database(context))?;
        return Ok((count.max(0) as u64, true));
    }
    if let Some(store) = backend.as_postgres() {
        // The same visibility rule as the log's reads: events of transactions that older,
        // still running ones may yet precede are not counted (not readable yet).
        let count: i64 = sqlx::query(
            "SELECT count(*) AS n FROM events \
              WHERE (transaction_id, global_position) > ($1::text::xid8, $2) \
                AND transaction_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))",
        )
        .bind(position.high.to_string())
        .bind(i64::try_from(position.low).unwrap_or(i64::MAX))
        .fetch_one(store.pool())
        .await
        .and_then(|row| row.try_get("n"))
        .map_err(ReadError::database(context))?;
        return Ok((count.max(0) as u64, true));
    }
    let log = backend.log();
    let mut counted = 0u64;
    let mut after = position;
    while counted < LAG_COUNT_LIMIT {
        let batch = log.read_after(after, 1_000).await?;
        let Some(last) = batch.last() else {
            return Ok((counted, true));
        };
        after = last.position;
        counted += batch.len() as u64;
    }
    Ok((counted, false))
}

/// Seconds since the store recorded the oldest event after `position` (0 when none).
async fn oldest_pending_age(
    backend: &EventStoreBackend,
    position: Position,
) -> Result<f64, ReadError> {
    let next = backend.log().read_after(position, 1).await?;
    Ok(next.first().map_or(0.0, |event| {
        let age = Utc::now() - event.recorded_at;
        (age.num_milliseconds().max(0) as f64) / 1_000.0
    }))
}

impl Views {
    /// The position every live projection has reached: the smallest of their checkpoints
    /// ([`Position::START`] for one that never saved any). A client that wrote at a
    /// position can read its own write once this is at or past it.
    pub async fn slowest_checkpoint(&self) -> Result<Position, ReadError> {
        let mut slowest: Option<Position> = None;
        for name in ProjectionName::ALL {
            let position = self
                .checkpoint_row(&name.consumer())
                .await?
                .map_or(Position::START, |(position, _)| position);
            slowest = Some(slowest.map_or(position, |seen| seen.min(position)));
        }
        Ok(slowest.unwrap_or(Position::START))
    }

    /// The checkpoint of projection `name` ([`Position::START`] if it never saved one).
    pub async fn checkpoint_of(&self, name: ProjectionName) -> Result<Position, ReadError> {
        Ok(self
            .checkpoint_row(&name.consumer())
            .await?
            .map_or(Position::START, |(position, _)| position))
    }
}
