//! A statement and its arguments, written once for both dialects.
//!
//! Each bound argument gets its own placeholder, in the order bound: `$1, $2, …` for
//! PostgreSQL, anonymous `?` for SQLite. SQLite accepts `$N` too, but then sqlx asks
//! `sqlite3_bind_parameter_name` for every argument, and SQLite finds a name by scanning
//! the statement's list of names: binding a statement with n arguments costs O(n²), which
//! made up ~15 % of the CPU of multi-row writes. Anonymous parameters have no name to
//! look up, so they bind in O(n). No placeholder is ever used twice, so binding in order
//! is all either dialect needs.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::Query;
use sqlx::sqlite::{Sqlite, SqliteArguments};
use uuid::Uuid;

use super::value::{sqlite_time, Value};

/// A PostgreSQL array argument (bulk reads and writes with `UNNEST`/`ANY`).
#[derive(Clone, Debug)]
pub enum Array {
    /// `uuid[]`
    Uuid(Vec<Option<Uuid>>),
    /// `text[]` (also JSON documents, cast to `jsonb` in the statement)
    Text(Vec<Option<String>>),
    /// `bigint[]`
    Int(Vec<Option<i64>>),
    /// `boolean[]`
    Bool(Vec<Option<bool>>),
    /// `timestamptz[]`
    Time(Vec<Option<DateTime<Utc>>>),
    /// `date[]`
    Date(Vec<Option<NaiveDate>>),
}

impl Array {
    /// An empty array of the type that holds `kind`.
    pub(crate) fn of(kind: super::Kind, capacity: usize) -> Array {
        use super::Kind;
        match kind {
            Kind::Uuid => Array::Uuid(Vec::with_capacity(capacity)),
            Kind::Text | Kind::Json => Array::Text(Vec::with_capacity(capacity)),
            Kind::Int => Array::Int(Vec::with_capacity(capacity)),
            Kind::Bool => Array::Bool(Vec::with_capacity(capacity)),
            Kind::Time => Array::Time(Vec::with_capacity(capacity)),
            Kind::Date => Array::Date(Vec::with_capacity(capacity)),
        }
    }

    /// Appends `value`; false (and a NULL appended, so rows stay aligned) when it is of
    /// another type than the array.
    pub(crate) fn push(&mut self, value: Value) -> bool {
        match (&mut *self, value) {
            (Array::Uuid(values), Value::Uuid(value)) => values.push(value),
            (Array::Text(values), Value::Text(value) | Value::Json(value)) => values.push(value),
            (Array::Int(values), Value::Int(value)) => values.push(value),
            (Array::Bool(values), Value::Bool(value)) => values.push(value),
            (Array::Time(values), Value::Time(value)) => values.push(value),
            (Array::Date(values), Value::Date(value)) => values.push(value),
            _ => {
                self.push_null();
                return false;
            }
        }
        true
    }

    fn push_null(&mut self) {
        match self {
            Array::Uuid(values) => values.push(None),
            Array::Text(values) => values.push(None),
            Array::Int(values) => values.push(None),
            Array::Bool(values) => values.push(None),
            Array::Time(values) => values.push(None),
            Array::Date(values) => values.push(None),
        }
    }
}

/// An argument: one value, or an array (PostgreSQL only).
#[derive(Clone, Debug)]
pub enum Arg {
    /// One value.
    Value(Value),
    /// An array.
    Array(Array),
}

/// SQL text with one placeholder per argument, in both dialects' forms, and the arguments.
#[derive(Clone, Debug, Default)]
pub struct Sql {
    /// The text for PostgreSQL (`$1, $2, …`).
    postgres: String,
    /// The same text for SQLite (`?, ?, …`).
    sqlite: String,
    args: Vec<Arg>,
}

impl Sql {
    /// A statement starting with `text` (SQL without placeholders).
    pub fn new(text: impl Into<String>) -> Sql {
        let postgres = text.into();
        Sql {
            sqlite: postgres.clone(),
            postgres,
            args: Vec::new(),
        }
    }

    /// Appends SQL text (without placeholders: bind arguments with [`Sql::bind`]).
    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.postgres.push_str(text);
        self.sqlite.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Sql {
        self.args.push(Arg::Value(value.into()));
        self.placeholder()
    }

    /// Appends a placeholder for an array (PostgreSQL).
    pub fn bind_array(&mut self, array: Array) -> &mut Sql {
        self.args.push(Arg::Array(array));
        self.placeholder()
    }

    /// The placeholder of the argument just bound, in both forms.
    fn placeholder(&mut self) -> &mut Sql {
        self.postgres.push('$');
        push_decimal(&mut self.postgres, self.args.len());
        self.sqlite.push('?');
        self
    }

    /// This statement with `head` (SQL without placeholders) before it.
    pub fn prepend(mut self, head: &str) -> Sql {
        self.postgres.insert_str(0, head);
        self.sqlite.insert_str(0, head);
        self
    }

    /// How many arguments are bound so far.
    pub fn arg_count(&self) -> usize {
        self.args.len()
    }

    /// The SQL text in `dialect`'s form.
    pub fn text(&self, dialect: super::Dialect) -> &str {
        match dialect {
            super::Dialect::Postgres => &self.postgres,
            super::Dialect::Sqlite => &self.sqlite,
        }
    }

    /// The statement for SQLite. Arrays cannot be bound there; a statement that binds one
    /// is a bug of this crate, reported when it runs.
    pub(crate) fn sqlite(&self) -> Result<Query<'_, Sqlite, SqliteArguments<'_>>, sqlx::Error> {
        let mut query = sqlx::query(&self.sqlite);
        for arg in &self.args {
            let Arg::Value(value) = arg else {
                return Err(sqlx::Error::Protocol(
                    "an array argument was bound on SQLite".to_string(),
                ));
            };
            query = match value {
                Value::Uuid(value) => query.bind(value.map(|uuid| uuid.hyphenated().to_string())),
                Value::Text(value) | Value::Json(value) => query.bind(value.as_deref()),
                Value::Int(value) => query.bind(*value),
                Value::Bool(value) => query.bind(*value),
                Value::Time(value) => query.bind(value.as_ref().map(sqlite_time)),
                Value::Date(value) => query.bind(value.map(|date| date.to_string())),
            };
        }
        Ok(query)
    }

    /// The statement for PostgreSQL.
    pub(crate) fn postgres(&self) -> Query<'_, Postgres, PgArguments> {
        let mut query = sqlx::query(&self.postgres);
        for arg in &self.args {
            query = match arg {
                Arg::Value(value) => match value {
                    Value::Uuid(value) => query.bind(*value),
                    Value::Text(value) => query.bind(value.as_deref()),
                    // Bound as text; statements cast it (`$n::jsonb`).
                    Value::Json(value) => query.bind(value.as_deref()),
                    Value::Int(value) => query.bind(*value),
                    Value::Bool(value) => query.bind(*value),
                    Value::Time(value) => query.bind(*value),
                    Value::Date(value) => query.bind(*value),
                },
                Arg::Array(array) => match array {
                    Array::Uuid(values) => query.bind(values.as_slice()),
                    Array::Text(values) => query.bind(values.as_slice()),
                    Array::Int(values) => query.bind(values.as_slice()),
                    Array::Bool(values) => query.bind(values.as_slice()),
                    Array::Time(values) => query.bind(values.as_slice()),
                    Array::Date(values) => query.bind(values.as_slice()),
                },
            };
        }
        query
    }
}

/// Appends `number` in decimal. `write!` would do, through `fmt`'s machinery, at ~290
/// instructions a placeholder: 2 % of all the work of ingest with the projectors running,
/// which bind one placeholder per column of every row they write.
fn push_decimal(text: &mut String, number: usize) {
    text.push_str(itoa::Buffer::new().format(number));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Dialect;

    fn statement() -> Sql {
        let mut sql = Sql::new("WHERE a = ");
        sql.bind(1_i64).push(" AND (b, c) IN (VALUES (");
        sql.bind("x").push(", ").bind(true).push("))");
        sql.prepend("SELECT * FROM t ")
    }

    #[test]
    fn postgres_placeholders_are_numbered_in_bind_order() {
        assert_eq!(
            statement().text(Dialect::Postgres),
            "SELECT * FROM t WHERE a = $1 AND (b, c) IN (VALUES ($2, $3))"
        );
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for number in [0, 9, 10, 99, 100, 65_535, usize::MAX] {
            let mut text = String::from("$");
            push_decimal(&mut text, number);
            assert_eq!(text, format!("${number}"));
        }
    }

    #[test]
    fn the_hundredth_placeholder_is_numbered_100() {
        let mut sql = Sql::new("VALUES (");
        for value in 0..100_i64 {
            sql.bind(value).push(",");
        }
        assert!(sql.text(Dialect::Postgres).ends_with("$99,$100,"));
        assert_eq!(sql.text(Dialect::Sqlite).matches('?').count(), 100);
    }

    #[test]
    fn sqlite_placeholders_are_anonymous_one_per_argument() {
        let sql = statement();
        assert_eq!(
            sql.text(Dialect::Sqlite),
            "SELECT * FROM t WHERE a = ? AND (b, c) IN (VALUES (?, ?))"
        );
        assert_eq!(
            sql.text(Dialect::Sqlite).matches('?').count(),
            sql.arg_count()
        );
    }
}
