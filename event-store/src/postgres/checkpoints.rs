//! Consumer checkpoints in a PostgreSQL database: on their own, or inside the transaction
//! in which a projector writes its view rows.

use sqlx::postgres::PgPool;
use sqlx::{PgExecutor, Postgres, Transaction};

use crate::{CheckpointStore, Position, StoreError};

/// The checkpoints table, the same file the migrations run (it only creates if missing).
const CREATE_TABLE: &str =
    include_str!("../../../migrations/postgres/20250101000002_consumer_checkpoints.sql");

const SAVE: &str = "
INSERT INTO consumer_checkpoints (consumer, position, updated_at) VALUES ($1, $2, now())
ON CONFLICT (consumer) DO UPDATE SET position = excluded.position, updated_at = now()";

/// The `consumer_checkpoints` table of one database.
#[derive(Clone)]
pub struct PostgresCheckpoints {
    pool: PgPool,
}

impl PostgresCheckpoints {
    /// Checkpoints in a database whose migrations created the table (the event store's).
    pub fn new(pool: PgPool) -> PostgresCheckpoints {
        PostgresCheckpoints { pool }
    }

    /// Checkpoints in any database (e.g. a view database), creating the table if missing.
    pub async fn install(pool: PgPool) -> Result<PostgresCheckpoints, StoreError> {
        sqlx::raw_sql(CREATE_TABLE)
            .execute(&pool)
            .await
            .map_err(|error| StoreError::Database {
                context: "creating the consumer_checkpoints table".to_string(),
                source: Box::new(error),
            })?;
        Ok(PostgresCheckpoints { pool })
    }

    /// Saves `consumer`'s position inside the caller's transaction, so that it commits or
    /// rolls back together with the view rows written in it.
    pub async fn save_in(
        transaction: &mut Transaction<'_, Postgres>,
        consumer: &str,
        position: Position,
    ) -> Result<(), StoreError> {
        save(&mut **transaction, consumer, position).await
    }

    /// Loads `consumer`'s position inside the caller's transaction ([`Position::START`]
    /// when it has none).
    pub async fn load_in(
        transaction: &mut Transaction<'_, Postgres>,
        consumer: &str,
    ) -> Result<Position, StoreError> {
        load(&mut **transaction, consumer).await
    }
}

#[async_trait::async_trait]
impl CheckpointStore for PostgresCheckpoints {
    async fn load(&self, consumer: &str) -> Result<Position, StoreError> {
        load(&self.pool, consumer).await
    }

    async fn save(&self, consumer: &str, position: Position) -> Result<(), StoreError> {
        save(&self.pool, consumer, position).await
    }
}

async fn save(
    executor: impl PgExecutor<'_>,
    consumer: &str,
    position: Position,
) -> Result<(), StoreError> {
    sqlx::query(SAVE)
        .bind(consumer)
        .bind(position.to_string())
        .execute(executor)
        .await
        .map_err(|error| failed(consumer, "saving the checkpoint", error))?;
    Ok(())
}

async fn load(executor: impl PgExecutor<'_>, consumer: &str) -> Result<Position, StoreError> {
    let saved: Option<String> =
        sqlx::query_scalar("SELECT position FROM consumer_checkpoints WHERE consumer = $1")
            .bind(consumer)
            .fetch_optional(executor)
            .await
            .map_err(|error| failed(consumer, "loading the checkpoint", error))?;
    match saved {
        None => Ok(Position::START),
        Some(text) => text.parse().map_err(|error| StoreError::Consumer {
            consumer: consumer.to_string(),
            reason: format!("the saved checkpoint is unreadable: {error}"),
        }),
    }
}

fn failed(consumer: &str, action: &str, error: sqlx::Error) -> StoreError {
    StoreError::Database {
        context: format!("consumer '{consumer}': {action}"),
        source: Box::new(error),
    }
}
