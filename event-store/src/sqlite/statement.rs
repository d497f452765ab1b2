//! SQL writes that other parts of Alpes keep in the event store's SQLite file (the saga's
//! tables, checkpoints, the commissions the comisiones service knows), run by the writer
//! in its next group commit: one writer per file means no connection ever waits for
//! another's write lock, and one fsync covers them and the appends committed with them.

use std::borrow::Cow;

use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};

/// One parameter of a statement.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlParam {
    Null,
    Integer(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for SqlParam {
    fn from(value: i64) -> Self {
        SqlParam::Integer(value)
    }
}

impl From<String> for SqlParam {
    fn from(value: String) -> Self {
        SqlParam::Text(value)
    }
}

impl From<&str> for SqlParam {
    fn from(value: &str) -> Self {
        SqlParam::Text(value.to_string())
    }
}

impl<T: Into<SqlParam>> From<Option<T>> for SqlParam {
    fn from(value: Option<T>) -> Self {
        value.map_or(SqlParam::Null, Into::into)
    }
}

impl ToSql for SqlParam {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            SqlParam::Null => ValueRef::Null,
            SqlParam::Integer(value) => ValueRef::Integer(*value),
            SqlParam::Text(text) => ValueRef::Text(text.as_bytes()),
            SqlParam::Blob(bytes) => ValueRef::Blob(bytes),
        }))
    }
}

/// A statement and its parameters: `?NNN` and `$NNN` placeholders take parameter NNN
/// (from 1) wherever they appear; plain `?` ones take the parameters in order.
#[derive(Clone, Debug, PartialEq)]
pub struct SqlStatement {
    pub sql: Cow<'static, str>,
    pub params: Vec<SqlParam>,
}

impl SqlStatement {
    pub fn new(sql: impl Into<Cow<'static, str>>, params: Vec<SqlParam>) -> Self {
        SqlStatement {
            sql: sql.into(),
            params,
        }
    }

    /// Runs it on `connection` (a cached prepared statement).
    pub(crate) fn run(&self, connection: &rusqlite::Connection) -> rusqlite::Result<usize> {
        let mut statement = connection.prepare_cached(&self.sql)?;
        let count = statement.parameter_count();
        // SQLite numbers named parameters in the order they first appear, so `$2 … $1`
        // would swap the values if bound by index: read each one's own number.
        for index in 1..=count {
            let number = statement
                .parameter_name(index)
                .and_then(|name| name.get(1..)?.parse::<usize>().ok())
                .filter(|number| *number >= 1)
                .unwrap_or(index);
            let value =
                self.params
                    .get(number - 1)
                    .ok_or(rusqlite::Error::InvalidParameterCount(
                        number,
                        self.params.len(),
                    ))?;
            statement.raw_bind_parameter(index, value)?;
        }
        statement.raw_execute()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_take_their_own_values_wherever_they_appear() {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        connection
            .execute_batch("CREATE TABLE t (a TEXT, b TEXT); INSERT INTO t VALUES ('x', 'old')")
            .unwrap();
        let update = SqlStatement::new(
            "UPDATE t SET b = $2 WHERE a = $1",
            vec![SqlParam::from("x"), SqlParam::from("new")],
        );
        assert_eq!(update.run(&connection).unwrap(), 1);
        let b: String = connection
            .query_row("SELECT b FROM t WHERE a = 'x'", [], |row| row.get(0))
            .unwrap();
        assert_eq!(b, "new");
    }

    #[test]
    fn a_statement_with_too_few_values_fails_instead_of_binding_null() {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        connection.execute_batch("CREATE TABLE t (a TEXT)").unwrap();
        let insert = SqlStatement::new("INSERT INTO t VALUES (?1)", Vec::new());
        assert!(insert.run(&connection).is_err());
    }
}
