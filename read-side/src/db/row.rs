//! A result row of either dialect, read by column name into Rust types.

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::value::Kind;

/// A column could not be read as the type the view expects.
#[derive(Debug, thiserror::Error)]
#[error("column {column}: {reason}")]
pub struct RowError {
    /// The column.
    pub column: String,
    /// What was wrong with it.
    pub reason: String,
}

impl RowError {
    pub(crate) fn new(column: &str, reason: impl Into<String>) -> Self {
        RowError {
            column: column.to_string(),
            reason: reason.into(),
        }
    }
}

/// One row of a result, from SQLite or PostgreSQL.
pub enum DbRow {
    /// From SQLite.
    Sqlite(SqliteRow),
    /// From PostgreSQL.
    Postgres(PgRow),
}

fn sqlx_error(column: &str) -> impl FnOnce(sqlx::Error) -> RowError + '_ {
    move |error| RowError::new(column, error.to_string())
}

impl DbRow {
    /// A UUID column (text on SQLite).
    pub fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, RowError> {
        match self {
            DbRow::Sqlite(row) => row
                .try_get::<Option<String>, _>(column)
                .map_err(sqlx_error(column))?
                .map(|text| {
                    Uuid::parse_str(&text)
                        .map_err(|error| RowError::new(column, format!("'{text}': {error}")))
                })
                .transpose(),
            DbRow::Postgres(row) => row.try_get(column).map_err(sqlx_error(column)),
        }
    }

    /// A text column.
    pub fn opt_text(&self, column: &str) -> Result<Option<String>, RowError> {
        match self {
            DbRow::Sqlite(row) => row.try_get(column).map_err(sqlx_error(column)),
            DbRow::Postgres(row) => row.try_get(column).map_err(sqlx_error(column)),
        }
    }

    /// An integer column.
    pub fn opt_int(&self, column: &str) -> Result<Option<i64>, RowError> {
        match self {
            DbRow::Sqlite(row) => row.try_get(column).map_err(sqlx_error(column)),
            DbRow::Postgres(row) => row.try_get(column).map_err(sqlx_error(column)),
        }
    }

    /// A boolean column (0/1 on SQLite).
    pub fn opt_bool(&self, column: &str) -> Result<Option<bool>, RowError> {
        match self {
            DbRow::Sqlite(row) => row.try_get(column).map_err(sqlx_error(column)),
            DbRow::Postgres(row) => row.try_get(column).map_err(sqlx_error(column)),
        }
    }

    /// An instant (RFC 3339 text on SQLite).
    pub fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, RowError> {
        match self {
            DbRow::Sqlite(row) => row
                .try_get::<Option<String>, _>(column)
                .map_err(sqlx_error(column))?
                .map(|text| {
                    DateTime::parse_from_rfc3339(&text)
                        .map(|time| time.with_timezone(&Utc))
                        .map_err(|error| RowError::new(column, format!("'{text}': {error}")))
                })
                .transpose(),
            DbRow::Postgres(row) => row.try_get(column).map_err(sqlx_error(column)),
        }
    }

    /// A calendar day (`YYYY-MM-DD` on SQLite).
    pub fn opt_date(&self, column: &str) -> Result<Option<NaiveDate>, RowError> {
        match self {
            DbRow::Sqlite(row) => row
                .try_get::<Option<String>, _>(column)
                .map_err(sqlx_error(column))?
                .map(|text| {
                    NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                        .map_err(|error| RowError::new(column, format!("'{text}': {error}")))
                })
                .transpose(),
            DbRow::Postgres(row) => row.try_get(column).map_err(sqlx_error(column)),
        }
    }

    /// A JSON column read as `T` (jsonb on PostgreSQL, text on SQLite).
    pub fn opt_json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>, RowError> {
        let invalid = |error: serde_json::Error| RowError::new(column, error.to_string());
        match self {
            DbRow::Sqlite(row) => row
                .try_get::<Option<String>, _>(column)
                .map_err(sqlx_error(column))?
                .map(|text| serde_json::from_str(&text).map_err(invalid))
                .transpose(),
            DbRow::Postgres(row) => row
                .try_get::<Option<serde_json::Value>, _>(column)
                .map_err(sqlx_error(column))?
                .map(|value| serde_json::from_value(value).map_err(invalid))
                .transpose(),
        }
    }

    /// Any column as text, the same on both dialects (for comparing whole tables).
    pub fn render(&self, column: &str, kind: Kind) -> Result<String, RowError> {
        let text = match kind {
            Kind::Uuid => self.opt_uuid(column)?.map(|value| value.to_string()),
            Kind::Text => self.opt_text(column)?,
            Kind::Int => self.opt_int(column)?.map(|value| value.to_string()),
            Kind::Bool => self.opt_bool(column)?.map(|value| value.to_string()),
            Kind::Time => self.opt_time(column)?.map(|value| value.to_rfc3339()),
            Kind::Date => self.opt_date(column)?.map(|value| value.to_string()),
            Kind::Json => self
                .opt_json::<serde_json::Value>(column)?
                .map(|value| value.to_string()),
        };
        Ok(text.unwrap_or_else(|| "NULL".to_string()))
    }
}
