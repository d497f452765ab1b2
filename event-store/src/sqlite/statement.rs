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
        self.bind(&mut statement)?;
        statement.raw_execute()
    }

    /// Runs it as a query on `connection`: every row, its columns in order (a real number
    /// comes back as its text).
    pub(crate) fn rows(
        &self,
        connection: &rusqlite::Connection,
    ) -> rusqlite::Result<Vec<Vec<SqlParam>>> {
        let mut statement = connection.prepare_cached(&self.sql)?;
        self.bind(&mut statement)?;
        let columns = statement.column_count();
        let mut rows = statement.raw_query();
        let mut read = Vec::new();
        while let Some(row) = rows.next()? {
            let values = (0..columns)
                .map(|index| {
                    Ok(match row.get_ref(index)? {
                        ValueRef::Null => SqlParam::Null,
                        ValueRef::Integer(value) => SqlParam::Integer(value),
                        ValueRef::Real(value) => SqlParam::Text(value.to_string()),
                        ValueRef::Text(text) => {
                            SqlParam::Text(String::from_utf8_lossy(text).into_owned())
                        }
                        ValueRef::Blob(bytes) => SqlParam::Blob(bytes.to_vec()),
                    })
                })
                .collect::<rusqlite::Result<Vec<_>>>()?;
            read.push(values);
        }
        Ok(read)
    }

    fn bind(&self, statement: &mut rusqlite::CachedStatement<'_>) -> rusqlite::Result<()> {
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
        Ok(())
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
    fn a_query_answers_every_row_with_its_columns_in_order() {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        connection
            .execute_batch(
                "CREATE TABLE t (a TEXT, b INTEGER, c TEXT); \
                 INSERT INTO t VALUES ('x', 1, NULL), ('y', 2, 'z'), ('w', 3, 'v')",
            )
            .unwrap();
        let query = SqlStatement::new(
            "SELECT a, b, c FROM t WHERE b >= $1 AND a <> $2 ORDER BY b",
            vec![SqlParam::Integer(1), SqlParam::from("w")],
        );
        assert_eq!(
            query.rows(&connection).unwrap(),
            vec![
                vec![SqlParam::from("x"), SqlParam::Integer(1), SqlParam::Null],
                vec![
                    SqlParam::from("y"),
                    SqlParam::Integer(2),
                    SqlParam::from("z")
                ],
            ]
        );
    }

    #[test]
    fn a_statement_with_too_few_values_fails_instead_of_binding_null() {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        connection.execute_batch("CREATE TABLE t (a TEXT)").unwrap();
        let insert = SqlStatement::new("INSERT INTO t VALUES (?1)", Vec::new());
        assert!(insert.run(&connection).is_err());
    }
}
