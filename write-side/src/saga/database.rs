//! The SQL database where the saga reactors keep what their services learn from the log,
//! their checkpoints and the commands that were rejected: the event store's own database on
//! SQLite and PostgreSQL, the consumers' database with EventStoreDB.
//!
//! Every statement is written once, in the SQL both dialects understand (`$1` parameters,
//! `ON CONFLICT`, text and 64-bit integer columns only), and run on whichever pool is open.

use alpes_event_store::postgres::{PostgresCheckpoints, PostgresEventStore};
use alpes_event_store::sqlite::{
    checkpoint_statement, load_checkpoint, QueuedWrite, SqlParam, SqlStatement, SqliteEventStore,
    WriteChain,
};
use alpes_event_store::url::EventStoreUrl;
use alpes_event_store::{CheckpointStore, EventStoreBackend, Position, StoreError};
use sqlx::postgres::PgPool;

use super::SagaError;

/// Binds `values`, in order, to an sqlx query.
macro_rules! bind_all {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                SqlValue::Text(text) => query.bind(text.clone()),
                SqlValue::OptionalText(text) => query.bind(text.clone()),
                SqlValue::Integer(integer) => query.bind(*integer),
            };
        }
        query
    }};
}

/// The SQL database of the saga's tables (migrations `20250202*_saga_*.sql`). Cheap to
/// clone.
#[derive(Clone, Debug)]
pub enum SagaDatabase {
    /// The SQLite file of the event store (or of the consumers, with EventStoreDB): read
    /// on its read-only connections, written through its writer.
    Sqlite(SqliteEventStore),
    /// The PostgreSQL database of the event store (or of the consumers, with EventStoreDB).
    Postgres(PgPool),
}

/// One parameter of a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SqlValue {
    Text(String),
    OptionalText(Option<String>),
    Integer(i64),
}

/// A write a reactor learned from an event, applied later in its consumer's transaction.
/// Every write is idempotent (an insert that ignores a repeat, an update to a fixed value):
/// the event a reactor reacts to may have its writes applied again when it is redelivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Write {
    pub sql: &'static str,
    pub values: Vec<SqlValue>,
}

impl Write {
    pub fn new(sql: &'static str, values: Vec<SqlValue>) -> Self {
        Write { sql, values }
    }

    /// The write as the SQLite writer runs it.
    fn statement(&self) -> SqlStatement {
        let params = self
            .values
            .iter()
            .map(|value| match value {
                SqlValue::Text(text) => SqlParam::Text(text.clone()),
                SqlValue::OptionalText(text) => SqlParam::from(text.clone()),
                SqlValue::Integer(integer) => SqlParam::Integer(*integer),
            })
            .collect();
        SqlStatement::new(self.sql, params)
    }
}

/// A command an aggregate rejected, as recorded in `saga_rechazos`.
pub(crate) struct Rejection<'a> {
    pub consumer: &'a str,
    pub causa: &'a str,
    pub aggregate: &'a str,
    pub command: &'a str,
    pub code: &'a str,
    pub reason: &'a str,
}

impl SagaDatabase {
    /// The database of `backend`'s consumers: the event store's own pool on SQLite and
    /// PostgreSQL; with EventStoreDB, the SQL database named by
    /// [`alpes_event_store::StoreOptions::consumer_database`] (where the backend also keeps
    /// the consumers' checkpoints and leases), opened and migrated here.
    pub async fn of_backend(backend: &EventStoreBackend) -> Result<Self, SagaError> {
        if let Some(store) = backend.as_sqlite() {
            return Ok(SagaDatabase::Sqlite(store.clone()));
        }
        if let Some(store) = backend.as_postgres() {
            return Ok(SagaDatabase::Postgres(store.pool().clone()));
        }
        let url = backend
            .options()
            .consumer_database
            .as_deref()
            .ok_or(SagaError::NoConsumerDatabase)?;
        Self::open(url, backend).await
    }

    async fn open(url: &str, backend: &EventStoreBackend) -> Result<Self, SagaError> {
        let options = backend.options();
        match EventStoreUrl::parse(url)? {
            EventStoreUrl::Sqlite { .. } => {
                let store = SqliteEventStore::connect(url, options).await?;
                Ok(SagaDatabase::Sqlite(store))
            }
            EventStoreUrl::Postgres { .. } => {
                let store = PostgresEventStore::connect(url, options).await?;
                Ok(SagaDatabase::Postgres(store.pool().clone()))
            }
            EventStoreUrl::EventStoreDb { .. } => Err(SagaError::NoConsumerDatabase),
        }
    }

    /// The saved position of `consumer`, or [`Position::START`].
    pub async fn checkpoint(&self, consumer: &str) -> Result<Position, StoreError> {
        match self {
            SagaDatabase::Sqlite(store) => {
                let mut connection = store
                    .pool()
                    .acquire()
                    .await
                    .map_err(|error| failed(consumer, "loading its checkpoint", error))?;
                load_checkpoint(&mut connection, consumer).await
            }
            SagaDatabase::Postgres(pool) => {
                PostgresCheckpoints::new(pool.clone()).load(consumer).await
            }
        }
    }

    /// Applies `writes` in order and, when given, saves `consumer`'s checkpoint, in one
    /// transaction. On SQLite it returns once the transaction is queued for the writer's
    /// next group commit, after every write queued before it (in `chain`: not run if an
    /// earlier write of the chain failed); on PostgreSQL, once committed.
    pub(crate) async fn queue_commit(
        &self,
        consumer: &str,
        writes: &[Write],
        checkpoint: Option<Position>,
        chain: Option<WriteChain>,
    ) -> Result<QueuedCommit, StoreError> {
        if writes.is_empty() && checkpoint.is_none() {
            return Ok(QueuedCommit::Committed);
        }
        let fail = |error| failed(consumer, "saving what it learned", error);
        match self {
            SagaDatabase::Sqlite(store) => {
                let mut statements: Vec<SqlStatement> =
                    writes.iter().map(Write::statement).collect();
                if let Some(position) = checkpoint {
                    statements.push(checkpoint_statement(consumer, position)?);
                }
                let context = format!("saga consumer '{consumer}': saving what it learned");
                let queued = store.queue_write(context, statements, chain).await?;
                Ok(QueuedCommit::Queued(queued))
            }
            SagaDatabase::Postgres(pool) => {
                let mut transaction = pool.begin().await.map_err(fail)?;
                for write in writes {
                    bind_all!(sqlx::query(write.sql), &write.values)
                        .execute(&mut *transaction)
                        .await
                        .map_err(fail)?;
                }
                if let Some(position) = checkpoint {
                    PostgresCheckpoints::save_in(&mut transaction, consumer, position).await?;
                }
                transaction.commit().await.map_err(fail)?;
                Ok(QueuedCommit::Committed)
            }
        }
    }

    /// Records a rejected command; a repeat of the same (consumer, cause, aggregate) is
    /// ignored.
    pub(crate) async fn record_rejection(
        &self,
        rejection: &Rejection<'_>,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO saga_rechazos \
             (consumer, causa, aggregate, command, code, reason) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (consumer, causa, aggregate) DO NOTHING";
        let values = [
            rejection.consumer,
            rejection.causa,
            rejection.aggregate,
            rejection.command,
            rejection.code,
            rejection.reason,
        ];
        match self {
            SagaDatabase::Sqlite(store) => {
                let statement = SqlStatement::new(SQL, values.map(SqlParam::from).into());
                let context = format!(
                    "saga consumer '{}': recording a rejected command",
                    rejection.consumer
                );
                store.write(context, vec![statement]).await
            }
            SagaDatabase::Postgres(pool) => values
                .into_iter()
                .fold(sqlx::query(SQL), |query, value| query.bind(value))
                .execute(pool)
                .await
                .map(drop)
                .map_err(|error| failed(rejection.consumer, "recording a rejected command", error)),
        }
    }

    /// Every row `sql` answers with `values` bound, for `consumer` while `doing` (named in
    /// the error). On SQLite, read in the calling task (see `SqliteEventStore::query`): the
    /// reactions' lookups are the saga's hot path.
    pub(crate) async fn fetch_all(
        &self,
        consumer: &str,
        doing: &str,
        sql: &'static str,
        values: &[SqlValue],
    ) -> Result<Vec<Row>, StoreError> {
        match self {
            SagaDatabase::Sqlite(store) => {
                let statement = Write::new(sql, values.to_vec()).statement();
                let context = format!("saga consumer '{consumer}': {doing}");
                let rows = store.query(&context, &statement)?;
                Ok(rows.into_iter().map(Row::from_sqlite).collect())
            }
            SagaDatabase::Postgres(pool) => {
                let rows = bind_all!(sqlx::query(sql), values)
                    .fetch_all(pool)
                    .await
                    .map_err(|error| failed(consumer, doing, error))?;
                rows.iter()
                    .map(|row| {
                        Row::from_postgres(row).map_err(|error| failed(consumer, doing, error))
                    })
                    .collect()
            }
        }
    }

    /// The first row `sql` answers, if any; see [`SagaDatabase::fetch_all`].
    pub(crate) async fn fetch_optional(
        &self,
        consumer: &str,
        doing: &str,
        sql: &'static str,
        values: &[SqlValue],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self
            .fetch_all(consumer, doing, sql, values)
            .await?
            .into_iter()
            .next())
    }

    /// The rule codes of the commands `consumer` had rejected, oldest first (for operators
    /// and tests).
    pub async fn rejections(&self, consumer: &str) -> Result<Vec<String>, StoreError> {
        const SQL: &str =
            "SELECT code FROM saga_rechazos WHERE consumer = $1 ORDER BY recorded_at, causa";
        let values = [SqlValue::Text(consumer.to_string())];
        let rows = self
            .fetch_all(consumer, "reading its rejected commands", SQL, &values)
            .await?;
        rows.iter()
            .map(|row| row.text(0).map(str::to_string))
            .collect()
    }
}

/// A transaction of [`SagaDatabase::queue_commit`]: committed, or in the SQLite writer's
/// queue.
#[derive(Debug)]
pub(crate) enum QueuedCommit {
    Committed,
    Queued(QueuedWrite),
}

impl QueuedCommit {
    /// Once durable, or why it is not.
    pub async fn committed(self) -> Result<(), StoreError> {
        match self {
            QueuedCommit::Committed => Ok(()),
            QueuedCommit::Queued(queued) => queued.committed().await,
        }
    }

    /// The outcome if known, without waiting.
    pub fn try_committed(&mut self) -> Option<Result<(), StoreError>> {
        match self {
            QueuedCommit::Committed => Some(Ok(())),
            QueuedCommit::Queued(queued) => queued.try_committed(),
        }
    }
}

/// One row a query of the saga's tables answered, its columns in the query's order.
#[derive(Debug)]
pub(crate) struct Row {
    columns: Vec<SqlValue>,
}

impl Row {
    /// The text of column `index` (from 0).
    pub fn text(&self, index: usize) -> Result<&str, StoreError> {
        match self.optional_text(index)? {
            Some(text) => Ok(text),
            None => Err(unexpected(index, "NULL", "text")),
        }
    }

    /// The text of column `index`, or `None` when it is NULL.
    pub fn optional_text(&self, index: usize) -> Result<Option<&str>, StoreError> {
        match self.columns.get(index) {
            Some(SqlValue::Text(text)) => Ok(Some(text)),
            Some(SqlValue::OptionalText(text)) => Ok(text.as_deref()),
            Some(SqlValue::Integer(value)) => Err(unexpected(index, &value.to_string(), "text")),
            None => Err(unexpected(index, "nothing", "text")),
        }
    }

    /// The UUID in column `index`, named `column` in the error when it is not one.
    pub fn uuid(&self, index: usize, column: &'static str) -> Result<uuid::Uuid, StoreError> {
        parse_uuid(column, self.text(index)?)
    }

    /// The integer of column `index`.
    pub fn integer(&self, index: usize) -> Result<i64, StoreError> {
        match self.columns.get(index) {
            Some(SqlValue::Integer(value)) => Ok(*value),
            Some(SqlValue::Text(text) | SqlValue::OptionalText(Some(text))) => {
                Err(unexpected(index, text, "an integer"))
            }
            Some(SqlValue::OptionalText(None)) => Err(unexpected(index, "NULL", "an integer")),
            None => Err(unexpected(index, "nothing", "an integer")),
        }
    }

    fn from_sqlite(values: Vec<SqlParam>) -> Self {
        let columns = values
            .into_iter()
            .map(|value| match value {
                SqlParam::Integer(value) => SqlValue::Integer(value),
                SqlParam::Text(text) => SqlValue::Text(text),
                SqlParam::Null => SqlValue::OptionalText(None),
                SqlParam::Blob(bytes) => {
                    SqlValue::Text(String::from_utf8_lossy(&bytes).into_owned())
                }
            })
            .collect();
        Row { columns }
    }

    /// The saga's tables hold text and 64-bit integers only.
    fn from_postgres(row: &sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::{Column, Row as _, TypeInfo};
        let columns = row
            .columns()
            .iter()
            .map(|column| {
                let index = column.ordinal();
                Ok(match column.type_info().name() {
                    "INT8" => row
                        .try_get::<Option<i64>, _>(index)?
                        .map_or(SqlValue::OptionalText(None), SqlValue::Integer),
                    _ => SqlValue::OptionalText(row.try_get::<Option<String>, _>(index)?),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Row { columns })
    }
}

fn unexpected(index: usize, found: &str, wanted: &str) -> StoreError {
    StoreError::Database {
        context: "reading the saga's tables".to_string(),
        source: format!("column {index} of the row holds {found}, not {wanted}").into(),
    }
}

/// A database failure of `consumer`, with what it was doing.
pub(crate) fn failed(consumer: &str, doing: &str, error: sqlx::Error) -> StoreError {
    StoreError::Database {
        context: format!("saga consumer '{consumer}': {doing}"),
        source: Box::new(error),
    }
}

/// A value of the saga's tables that this code cannot read back.
#[derive(Debug, thiserror::Error)]
#[error("{column} holds '{value}', which cannot be read back: {reason}")]
pub(crate) struct UnreadableColumn {
    column: &'static str,
    value: String,
    reason: String,
}

impl UnreadableColumn {
    /// The store error of an unreadable `value` in `column`.
    fn store_error(column: &'static str, value: &str, reason: impl ToString) -> StoreError {
        StoreError::Database {
            context: "reading the saga's tables".to_string(),
            source: Box::new(UnreadableColumn {
                column,
                value: value.to_string(),
                reason: reason.to_string(),
            }),
        }
    }
}

/// A UUID as stored: hyphenated text.
pub(crate) fn uuid_text(id: &uuid::Uuid) -> SqlValue {
    SqlValue::Text(id.to_string())
}

/// Reads back a [`uuid_text`].
pub(crate) fn parse_uuid(column: &'static str, text: &str) -> Result<uuid::Uuid, StoreError> {
    text.parse()
        .map_err(|error| UnreadableColumn::store_error(column, text, error))
}

/// An instant as stored: RFC 3339 in UTC with nanoseconds, so it reads back exactly.
pub(crate) fn instant_text(at: chrono::DateTime<chrono::Utc>) -> SqlValue {
    SqlValue::Text(at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
}

/// Reads back an [`instant_text`].
pub(crate) fn parse_instant(
    column: &'static str,
    text: &str,
) -> Result<chrono::DateTime<chrono::Utc>, StoreError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&chrono::Utc))
        .map_err(|error| UnreadableColumn::store_error(column, text, error))
}

/// A unit enum (a type, a model, a state) as stored: its serde name, e.g. `Click`.
pub(crate) fn enum_text<T: serde::Serialize + std::fmt::Debug>(value: &T) -> SqlValue {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => SqlValue::Text(name),
        // Every enum stored here is a unit enum, which serializes as its name.
        _ => SqlValue::Text(format!("{value:?}")),
    }
}

/// Reads back an [`enum_text`].
pub(crate) fn parse_enum<T: serde::de::DeserializeOwned>(
    column: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|error| UnreadableColumn::store_error(column, text, error))
}

/// Reads back a number of days or a threshold.
pub(crate) fn parse_u32(column: &'static str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value)
        .map_err(|error| UnreadableColumn::store_error(column, &value.to_string(), error))
}

/// Reads back an ISO 4217 currency code.
pub(crate) fn parse_currency(
    column: &'static str,
    text: &str,
) -> Result<alpes_domain::Currency, StoreError> {
    text.parse()
        .map_err(|error| UnreadableColumn::store_error(column, text, error))
}
