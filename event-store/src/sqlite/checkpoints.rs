//! Consumer checkpoints in the `consumer_checkpoints` table.

use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Executor, Row, Sqlite};

use crate::{CheckpointStore, Position, StoreError};

/// Checkpoints of consumers whose own writes are elsewhere (saga reactors).
pub struct SqliteCheckpointStore {
    pool: SqlitePool,
}

impl SqliteCheckpointStore {
    pub(crate) fn new(pool: SqlitePool) -> Self {
        SqliteCheckpointStore { pool }
    }
}

#[async_trait::async_trait]
impl CheckpointStore for SqliteCheckpointStore {
    async fn load(&self, consumer: &str) -> Result<Position, StoreError> {
        load(&self.pool, consumer).await
    }

    async fn save(&self, consumer: &str, position: Position) -> Result<(), StoreError> {
        save(&self.pool, consumer, position).await
    }
}

/// The checkpoint of `consumer` read on `connection` (e.g. inside the consumer's own
/// transaction), or [`Position::START`].
pub async fn load_checkpoint(
    connection: &mut SqliteConnection,
    consumer: &str,
) -> Result<Position, StoreError> {
    load(connection, consumer).await
}

/// Saves the checkpoint of `consumer` on `connection`: pass the transaction holding the
/// consumer's own writes (`&mut *transaction`), so both commit or neither does.
pub async fn save_checkpoint(
    connection: &mut SqliteConnection,
    consumer: &str,
    position: Position,
) -> Result<(), StoreError> {
    save(connection, consumer, position).await
}

async fn load<'e, E>(executor: E, consumer: &str) -> Result<Position, StoreError>
where
    E: Executor<'e, Database = Sqlite>,
{
    let failure = |error: sqlx::Error| checkpoint_error(consumer, "load", &error);
    let row = sqlx::query(
        "SELECT position_high, position_low FROM consumer_checkpoints WHERE consumer = ?",
    )
    .bind(consumer)
    .fetch_optional(executor)
    .await
    .map_err(failure)?;
    let Some(row) = row else {
        return Ok(Position::START);
    };
    let high: i64 = row.try_get("position_high").map_err(failure)?;
    let low: i64 = row.try_get("position_low").map_err(failure)?;
    Ok(Position::new(high.max(0) as u64, low.max(0) as u64))
}

async fn save<'e, E>(executor: E, consumer: &str, position: Position) -> Result<(), StoreError>
where
    E: Executor<'e, Database = Sqlite>,
{
    let too_large = || StoreError::Consumer {
        consumer: consumer.to_string(),
        reason: format!("position {position} does not fit an SQLite checkpoint"),
    };
    let high = i64::try_from(position.high).map_err(|_| too_large())?;
    let low = i64::try_from(position.low).map_err(|_| too_large())?;
    sqlx::query(
        "INSERT INTO consumer_checkpoints (consumer, position_high, position_low) \
         VALUES (?, ?, ?) \
         ON CONFLICT (consumer) DO UPDATE SET \
           position_high = excluded.position_high, \
           position_low = excluded.position_low, \
           updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    )
    .bind(consumer)
    .bind(high)
    .bind(low)
    .execute(executor)
    .await
    .map_err(|error| checkpoint_error(consumer, "save", &error))?;
    Ok(())
}

fn checkpoint_error(consumer: &str, action: &str, error: &sqlx::Error) -> StoreError {
    StoreError::Consumer {
        consumer: consumer.to_string(),
        reason: format!("cannot {action} its checkpoint: {error}"),
    }
}
