//! Consumer checkpoints in the `consumer_checkpoints` table.

use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Executor, Row, Sqlite};

use super::statement::{SqlParam, SqlStatement};
use super::writer::WriterHandle;
use crate::{CheckpointStore, Position, StoreError};

const UPSERT: &str = "INSERT INTO consumer_checkpoints (consumer, position_high, position_low) \
     VALUES (?1, ?2, ?3) \
     ON CONFLICT (consumer) DO UPDATE SET \
       position_high = excluded.position_high, \
       position_low = excluded.position_low, \
       updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// Checkpoints of consumers whose own writes are elsewhere (saga reactors), saved by the
/// file's writer.
pub struct SqliteCheckpointStore {
    pool: SqlitePool,
    writer: WriterHandle,
}

impl SqliteCheckpointStore {
    pub(crate) fn new(pool: SqlitePool, writer: WriterHandle) -> Self {
        SqliteCheckpointStore { pool, writer }
    }
}

#[async_trait::async_trait]
impl CheckpointStore for SqliteCheckpointStore {
    async fn load(&self, consumer: &str) -> Result<Position, StoreError> {
        load(&self.pool, consumer).await
    }

    async fn save(&self, consumer: &str, position: Position) -> Result<(), StoreError> {
        let statement = checkpoint_statement(consumer, position)?;
        self.writer
            .write(
                format!("saving the checkpoint of '{consumer}'"),
                vec![statement],
            )
            .await
    }
}

/// The statement that saves `consumer`'s checkpoint, to run with the consumer's own writes
/// through [`super::SqliteEventStore::write`].
pub fn checkpoint_statement(
    consumer: &str,
    position: Position,
) -> Result<SqlStatement, StoreError> {
    let (high, low) = checkpoint_numbers(consumer, position)?;
    Ok(SqlStatement::new(
        UPSERT,
        vec![
            SqlParam::from(consumer),
            SqlParam::Integer(high),
            SqlParam::Integer(low),
        ],
    ))
}

/// A position as SQLite integers (signed).
fn checkpoint_numbers(consumer: &str, position: Position) -> Result<(i64, i64), StoreError> {
    let too_large = || StoreError::Consumer {
        consumer: consumer.to_string(),
        reason: format!("position {position} does not fit an SQLite checkpoint"),
    };
    let high = i64::try_from(position.high).map_err(|_| too_large())?;
    let low = i64::try_from(position.low).map_err(|_| too_large())?;
    Ok((high, low))
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
    let (high, low) = checkpoint_numbers(consumer, position)?;
    sqlx::query(UPSERT)
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
