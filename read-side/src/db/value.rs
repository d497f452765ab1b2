//! Column values as both dialects store them, and the Rust types a view row is made of.
//!
//! | Rust | PostgreSQL | SQLite |
//! |---|---|---|
//! | `Uuid` | `uuid` | `text` (hyphenated) |
//! | `String` | `text` | `text` |
//! | `i64` | `bigint` | `integer` |
//! | `bool` | `boolean` | `integer` 0/1 |
//! | `DateTime<Utc>` | `timestamptz` | `text`, RFC 3339 with 6 decimals, so text order is time order |
//! | `NaiveDate` | `date` | `text` `YYYY-MM-DD` |
//! | [`Json<T>`] | `jsonb` | `text` |
//! | `Currency` | `text` | `text` |

use alpes_domain::Currency;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use super::row::{DbRow, RowError};

/// The SQL type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A UUID.
    Uuid,
    /// Text.
    Text,
    /// A 64-bit integer.
    Int,
    /// A boolean.
    Bool,
    /// An instant (UTC).
    Time,
    /// A calendar day.
    Date,
    /// A JSON document.
    Json,
}

impl Kind {
    /// The PostgreSQL type name.
    pub(crate) fn pg_type(self) -> &'static str {
        match self {
            Kind::Uuid => "uuid",
            Kind::Text => "text",
            Kind::Int => "bigint",
            Kind::Bool => "boolean",
            Kind::Time => "timestamptz",
            Kind::Date => "date",
            Kind::Json => "jsonb",
        }
    }
}

/// One value bound to a statement; `None` is SQL NULL of the variant's type.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A UUID.
    Uuid(Option<Uuid>),
    /// Text.
    Text(Option<String>),
    /// A 64-bit integer.
    Int(Option<i64>),
    /// A boolean.
    Bool(Option<bool>),
    /// An instant.
    Time(Option<DateTime<Utc>>),
    /// A calendar day.
    Date(Option<NaiveDate>),
    /// A JSON document, already serialized.
    Json(Option<String>),
}

/// How SQLite stores an instant: RFC 3339, UTC, always 6 decimals, so that comparing the
/// texts compares the instants.
pub(crate) fn sqlite_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl From<Uuid> for Value {
    fn from(value: Uuid) -> Self {
        Value::Uuid(Some(value))
    }
}

impl From<Option<Uuid>> for Value {
    fn from(value: Option<Uuid>) -> Self {
        Value::Uuid(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Text(Some(value.to_string()))
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Text(Some(value))
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::Int(Some(value))
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Bool(Some(value))
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(value: DateTime<Utc>) -> Self {
        Value::Time(Some(value))
    }
}

impl From<NaiveDate> for Value {
    fn from(value: NaiveDate) -> Self {
        Value::Date(Some(value))
    }
}

/// A JSON column holding a `T`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Json<T>(pub T);

/// A Rust type that a view column is read into and written from.
pub trait Column: Sized {
    /// The column's SQL type.
    const KIND: Kind;

    /// The value to bind.
    fn to_value(&self) -> Value;

    /// Reads the column named `column` of `row`.
    fn from_row(row: &DbRow, column: &str) -> Result<Self, RowError>;
}

/// Implements [`Column`] for a type and its `Option`, given the row getter of its kind.
macro_rules! column {
    ($ty:ty, $kind:ident, $getter:ident, |$value:ident| $to:expr) => {
        impl Column for Option<$ty> {
            const KIND: Kind = Kind::$kind;

            fn to_value(&self) -> Value {
                Value::$kind(self.as_ref().map(|$value| $to))
            }

            fn from_row(row: &DbRow, column: &str) -> Result<Self, RowError> {
                row.$getter(column)
            }
        }

        impl Column for $ty {
            const KIND: Kind = Kind::$kind;

            fn to_value(&self) -> Value {
                let $value = self;
                Value::$kind(Some($to))
            }

            fn from_row(row: &DbRow, column: &str) -> Result<Self, RowError> {
                row.$getter(column)?
                    .ok_or_else(|| RowError::new(column, "unexpected NULL"))
            }
        }
    };
}

column!(Uuid, Uuid, opt_uuid, |value| *value);
column!(String, Text, opt_text, |value| value.clone());
column!(i64, Int, opt_int, |value| *value);
column!(bool, Bool, opt_bool, |value| *value);
column!(DateTime<Utc>, Time, opt_time, |value| *value);
column!(NaiveDate, Date, opt_date, |value| *value);

impl Column for Currency {
    const KIND: Kind = Kind::Text;

    fn to_value(&self) -> Value {
        Value::Text(Some(self.as_str().to_string()))
    }

    fn from_row(row: &DbRow, column: &str) -> Result<Self, RowError> {
        Option::<Currency>::from_row(row, column)?
            .ok_or_else(|| RowError::new(column, "unexpected NULL"))
    }
}

impl Column for Option<Currency> {
    const KIND: Kind = Kind::Text;

    fn to_value(&self) -> Value {
        Value::Text(self.map(|currency| currency.as_str().to_string()))
    }

    fn from_row(row: &DbRow, column: &str) -> Result<Self, RowError> {
        row.opt_text(column)?
            .map(|code| {
                code.parse()
                    .map_err(|error| RowError::new(column, format!("{error}")))
            })
            .transpose()
    }
}

impl<T: Serialize + DeserializeOwned> Column for Json<T> {
    const KIND: Kind = Kind::Json;

    fn to_value(&self) -> Value {
        // Serializing plain data (maps with string keys, no floats) cannot fail; NULL would
        // be refused by the NOT NULL column, loudly.
        Value::Json(serde_json::to_string(&self.0).ok())
    }

    fn from_row(row: &DbRow, column: &str) -> Result<Self, RowError> {
        row.opt_json(column)?
            .map(Json)
            .ok_or_else(|| RowError::new(column, "unexpected NULL"))
    }
}

impl<T: Serialize + DeserializeOwned> Column for Option<Json<T>> {
    const KIND: Kind = Kind::Json;

    fn to_value(&self) -> Value {
        Value::Json(
            self.as_ref()
                .and_then(|json| serde_json::to_string(&json.0).ok()),
        )
    }

    fn from_row(row: &DbRow, column: &str) -> Result<Self, RowError> {
        Ok(row.opt_json(column)?.map(Json))
    }
}
