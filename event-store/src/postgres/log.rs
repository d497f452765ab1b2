//! The global log on PostgreSQL: gap-free, ordered by (transaction_id, global_position),
//! woken by LISTEN/NOTIFY.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgListener, PgPool, PgRow};
use sqlx::Row;
use tokio::sync::{watch, OnceCell};
use tokio::task::AbortHandle;

use super::rows::{serialized_event, EVENT_COLUMNS};
use crate::{upcast, EventLog, Position, RecordedEvent, StoreError, Upcasters};

/// The channel the events table's trigger notifies (migrations/postgres).
const CHANNEL: &str = "alpes_events";
/// How soon to look again when committed events wait behind an older open transaction,
/// whose end may not be notified (it need not write events at all).
const BLOCKED_POLL: Duration = Duration::from_millis(10);
/// Pause after the listener failed to reconnect, before it tries again.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// Only transactions older than every running one have finished for good: their rows are
/// all visible now or never will be, and every row still to come belongs to a newer
/// transaction, so it sorts after them. Evaluated once per statement (an InitPlan), with the
/// statement's own snapshot: the horizon must come from the very snapshot that decides
/// which rows are visible, or a late commit could slip below it unseen.
const READABLE: &str = "transaction_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))";
/// After a position; the row comparison is an index condition on events_log_order.
const AFTER: &str = "(transaction_id, global_position) > ($1::text::xid8, $2)";

/// The global log of a [`super::PostgresEventStore`].
pub struct PostgresLog {
    pool: PgPool,
    upcasters: Upcasters,
    /// Started on the first wait, so that writers alone never hold a listening connection.
    wakeups: OnceCell<Wakeups>,
}

/// Bumped on every notification (and on a reconnect, which may have missed some).
struct Wakeups {
    notified: watch::Receiver<u64>,
    listener: AbortHandle,
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// What a wait finds after `after`.
enum Ahead {
    /// Events that a read returns now.
    Readable,
    /// Committed events held back by an older transaction that is still open.
    Blocked,
    /// Nothing committed.
    Nothing,
}

impl PostgresLog {
    pub(crate) fn new(pool: PgPool, upcasters: Upcasters) -> PostgresLog {
        PostgresLog {
            pool,
            upcasters,
            wakeups: OnceCell::new(),
        }
    }

    async fn ahead(&self, after: Position) -> Result<Ahead, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT EXISTS (SELECT 1 FROM events WHERE {AFTER} AND {READABLE}) AS readable,
                    EXISTS (SELECT 1 FROM events WHERE {AFTER}) AS committed"
        ))
        .bind(after.high.to_string())
        .bind(global_position(after))
        .fetch_one(&self.pool)
        .await
        .and_then(|row| Ok((row.try_get("readable")?, row.try_get("committed")?)))
        .map_err(|error| database(format!("looking for events after {after}"), error))?;
        Ok(match row {
            (true, _) => Ahead::Readable,
            (false, true) => Ahead::Blocked,
            (false, false) => Ahead::Nothing,
        })
    }

    fn recorded_event(&self, row: &PgRow) -> Result<RecordedEvent, sqlx::Error> {
        let position = position(row)?;
        let event = serialized_event(row)?;
        Ok(RecordedEvent {
            position,
            recorded_at: row.try_get("recorded_at")?,
            stored_version: event.event_version.clone(),
            event: Arc::new(upcast(event, &self.upcasters)),
        })
    }
}

#[async_trait::async_trait]
impl EventLog for PostgresLog {
    async fn read_after(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT transaction_id::text AS log_transaction, global_position, recorded_at,
                    {EVENT_COLUMNS}
               FROM events
              WHERE {AFTER} AND {READABLE}
              ORDER BY transaction_id, global_position
              LIMIT $3"
        ))
        .bind(after.high.to_string())
        .bind(global_position(after))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|error| database(format!("reading the global log after {after}"), error))?;
        rows.iter()
            .map(|row| {
                self.recorded_event(row).map_err(|error| {
                    database(format!("decoding the global log after {after}"), error)
                })
            })
            .collect()
    }

    async fn wait_for_events(&self, after: Position, timeout: Duration) -> Result<(), StoreError> {
        let wakeups = self
            .wakeups
            .get_or_try_init(|| listen(self.pool.clone()))
            .await?;
        let mut notified = wakeups.notified.clone();
        // Marked seen before looking, so a commit between the look and the wait still wakes.
        notified.borrow_and_update();
        let wait = match self.ahead(after).await? {
            Ahead::Readable => return Ok(()),
            Ahead::Blocked => timeout.min(BLOCKED_POLL),
            Ahead::Nothing => timeout,
        };
        tokio::select! {
            _ = notified.changed() => {}
            _ = tokio::time::sleep(wait) => {}
        }
        Ok(())
    }

    async fn head(&self) -> Result<Option<(Position, DateTime<Utc>)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT transaction_id::text AS log_transaction, global_position, recorded_at
               FROM events
              WHERE {READABLE}
              ORDER BY transaction_id DESC, global_position DESC
              LIMIT 1"
        ))
        .fetch_optional(&self.pool)
        .await
        .and_then(|row| {
            row.map(|row| Ok((position(&row)?, row.try_get("recorded_at")?)))
                .transpose()
        })
        .map_err(|error| database("reading the head of the global log".to_string(), error))?;
        Ok(row)
    }
}

/// Starts the task that LISTENs for new events.
async fn listen(pool: PgPool) -> Result<Wakeups, StoreError> {
    let starting = |error| database(format!("listening on channel {CHANNEL}"), error);
    let mut listener = PgListener::connect_with(&pool).await.map_err(starting)?;
    listener.listen(CHANNEL).await.map_err(starting)?;
    let (wake, notified) = watch::channel(0);
    let listener = tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => {}
                Ok(None) => tracing::warn!(
                    channel = CHANNEL,
                    "lost the LISTEN connection; reconnected (waking readers in case events were missed)"
                ),
                Err(sqlx::Error::PoolClosed) => return,
                Err(error) => {
                    tracing::warn!(channel = CHANNEL, %error, "LISTEN connection failed; readers fall back to polling until it is back");
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                }
            }
            wake.send_modify(|count: &mut u64| *count = count.wrapping_add(1));
        }
    })
    .abort_handle();
    Ok(Wakeups { notified, listener })
}

fn position(row: &PgRow) -> Result<Position, sqlx::Error> {
    let transaction: String = row.try_get("log_transaction")?;
    let global_position: i64 = row.try_get("global_position")?;
    let decoding =
        |column: &str, error: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::ColumnDecode {
            index: column.to_string(),
            source: error,
        };
    Ok(Position {
        high: transaction
            .parse()
            .map_err(|error| decoding("transaction_id", Box::new(error)))?,
        low: u64::try_from(global_position)
            .map_err(|error| decoding("global_position", Box::new(error)))?,
    })
}

/// `global_position` never exceeds i64::MAX, so a larger `low` compares like i64::MAX.
fn global_position(position: Position) -> i64 {
    i64::try_from(position.low).unwrap_or(i64::MAX)
}

fn database(context: String, error: sqlx::Error) -> StoreError {
    StoreError::Database {
        context,
        source: Box::new(error),
    }
}
