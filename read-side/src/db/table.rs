//! View tables as Rust structs, and the bulk reads and writes projectors make of them.

use std::hash::Hash;

use super::row::{DbRow, RowError};
use super::sql::{Array, Sql};
use super::value::{Kind, Value};
use super::{Dialect, WriteTx};
use crate::ReadError;

/// Most arguments one SQLite statement binds (its limit is 32,766).
const SQLITE_MAX_ARGS: usize = 30_000;
/// Most rows one SQLite statement writes.
const SQLITE_MAX_ROWS: usize = 500;
/// Most rows one PostgreSQL statement writes (arrays of this length per column).
const POSTGRES_MAX_ROWS: usize = 10_000;

/// The shape of a view table: its name, columns (in order) and key columns.
#[derive(Clone, Copy, Debug)]
pub struct TableInfo {
    /// The live table's name.
    pub name: &'static str,
    /// Every column, with its type.
    pub columns: &'static [(&'static str, Kind)],
    /// The primary key's columns.
    pub key: &'static [&'static str],
}

impl TableInfo {
    /// `"a", "b", …` — every column, quoted.
    pub(crate) fn column_list(&self) -> String {
        quoted(self.columns.iter().map(|(name, _)| *name))
    }

    /// `"a", "b"` — the key's columns, quoted.
    pub(crate) fn key_list(&self) -> String {
        quoted(self.key.iter().copied())
    }

    /// The type of `column`.
    fn kind_of(&self, column: &str) -> Kind {
        self.columns
            .iter()
            .find(|(name, _)| *name == column)
            .map_or(Kind::Text, |(_, kind)| *kind)
    }

    /// `SET "c" = excluded."c", …` for every column outside the key; `DO NOTHING` when
    /// every column is in the key.
    fn on_conflict(&self) -> String {
        let updates: Vec<String> = self
            .columns
            .iter()
            .filter(|(name, _)| !self.key.contains(name))
            .map(|(name, _)| format!("\"{name}\" = excluded.\"{name}\""))
            .collect();
        if updates.is_empty() {
            format!("ON CONFLICT ({}) DO NOTHING", self.key_list())
        } else {
            format!(
                "ON CONFLICT ({}) DO UPDATE SET {}",
                self.key_list(),
                updates.join(", ")
            )
        }
    }
}

fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|name| format!("\"{name}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A row of a view table.
pub trait ViewRow: Sized + Clone + Send + Sync + 'static {
    /// The primary key's values.
    type Key: Eq + Hash + Clone + Send + Sync;
    /// The table.
    const TABLE: TableInfo;
    /// This row's key.
    fn key(&self) -> Self::Key;
    /// The key's values, in key column order.
    fn key_values(key: &Self::Key) -> Vec<Value>;
    /// Every column's value, in column order.
    fn values(&self) -> Vec<Value>;
    /// Reads a row selected with every column.
    fn decode(row: &DbRow) -> Result<Self, RowError>;
}

/// Declares a view row: the struct, its table, its key and its columns (named as the
/// fields, in field order, matching the migrations).
macro_rules! view_row {
    (
        $(#[$meta:meta])*
        pub struct $name:ident in $table:literal key ($($key:ident: $key_ty:ty),+ $(,)?) {
            $( $(#[$field_meta:meta])* pub $field:ident : $ty:ty ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty ),+
        }

        impl $crate::db::ViewRow for $name {
            type Key = ($($key_ty,)+);

            const TABLE: $crate::db::TableInfo = $crate::db::TableInfo {
                name: $table,
                columns: &[ $( (stringify!($field), <$ty as $crate::db::Column>::KIND) ),+ ],
                key: &[ $( stringify!($key) ),+ ],
            };

            fn key(&self) -> Self::Key {
                ($(self.$key.clone(),)+)
            }

            fn key_values(key: &Self::Key) -> Vec<$crate::db::Value> {
                let ($($key,)+) = key;
                vec![$( $crate::db::Column::to_value($key) ),+]
            }

            fn values(&self) -> Vec<$crate::db::Value> {
                vec![$( $crate::db::Column::to_value(&self.$field) ),+]
            }

            fn decode(row: &$crate::db::DbRow) -> Result<Self, $crate::db::RowError> {
                Ok($name {
                    $( $field: $crate::db::Column::from_row(row, stringify!($field))? ),+
                })
            }
        }
    };
}

pub(crate) use view_row;

impl WriteTx {
    /// The rows of `table` (a physical name of `R`'s table) with these keys; missing keys
    /// are simply absent.
    pub(crate) async fn load_rows<R: ViewRow>(
        &mut self,
        table: &str,
        keys: &[R::Key],
    ) -> Result<Vec<R>, ReadError> {
        let info = R::TABLE;
        let context = format!("reading {table}");
        let mut rows = Vec::with_capacity(keys.len());
        for sql in select_by_keys::<R>(self.dialect(), table, keys) {
            for row in self.fetch_all(&sql, &context).await? {
                rows.push(R::decode(&row).map_err(ReadError::row(info.name))?);
            }
        }
        Ok(rows)
    }

    /// Inserts `rows` into `table`; `conflicts` says what a key already there does.
    pub(crate) async fn write_rows<R: ViewRow>(
        &mut self,
        table: &str,
        rows: &[&R],
        conflicts: Conflicts,
    ) -> Result<(), ReadError> {
        let context = format!("writing {table}");
        for sql in insert::<R>(self.dialect(), table, rows, conflicts) {
            self.execute(&sql, &context).await?;
        }
        Ok(())
    }
}

/// What an insert does with a row whose key is already in the table.
#[derive(Clone, Copy)]
pub(crate) enum Conflicts {
    /// Replaces it (an upsert).
    Replace,
    /// Fails: for rows that cannot be there yet, which then need no conflict check.
    Fail,
}

fn select_by_keys<R: ViewRow>(dialect: Dialect, table: &str, keys: &[R::Key]) -> Vec<Sql> {
    if keys.is_empty() {
        return Vec::new();
    }
    let info = R::TABLE;
    let head = format!("SELECT {} FROM \"{table}\" WHERE ", info.column_list());
    match dialect {
        Dialect::Postgres => keys
            .chunks(POSTGRES_MAX_ROWS)
            .map(|chunk| {
                let mut sql = Sql::new(head.as_str());
                let arrays = columns_of(
                    info.key.iter().map(|column| info.kind_of(column)),
                    chunk.iter().map(R::key_values),
                );
                if let [(kind, array)] = arrays.as_slice() {
                    sql.push(&format!("\"{}\" = ANY(", info.key[0]))
                        .bind_array(array.clone())
                        .push(&format!("::{}[])", kind.pg_type()));
                } else {
                    sql.push(&format!("({}) IN (SELECT * FROM UNNEST(", info.key_list()));
                    for (index, (kind, array)) in arrays.into_iter().enumerate() {
                        if index > 0 {
                            sql.push(", ");
                        }
                        sql.bind_array(array)
                            .push(&format!("::{}[]", array_type(kind)));
                    }
                    sql.push("))");
                }
                sql
            })
            .collect(),
        Dialect::Sqlite => {
            let per_statement = (SQLITE_MAX_ARGS / info.key.len()).max(1);
            keys.chunks(per_statement)
                .map(|chunk| {
                    let mut sql = Sql::new(head.as_str());
                    if info.key.len() == 1 {
                        sql.push(&format!("\"{}\" IN (", info.key[0]));
                        for (index, key) in chunk.iter().enumerate() {
                            if index > 0 {
                                sql.push(", ");
                            }
                            for value in R::key_values(key) {
                                sql.bind(value);
                            }
                        }
                        sql.push(")");
                    } else {
                        sql.push(&format!("({}) IN (VALUES ", info.key_list()));
                        for (index, key) in chunk.iter().enumerate() {
                            if index > 0 {
                                sql.push(", ");
                            }
                            push_tuple(&mut sql, R::key_values(key));
                        }
                        sql.push(")");
                    }
                    sql
                })
                .collect()
        }
    }
}

fn insert<R: ViewRow>(
    dialect: Dialect,
    table: &str,
    rows: &[&R],
    conflicts: Conflicts,
) -> Vec<Sql> {
    if rows.is_empty() {
        return Vec::new();
    }
    let info = R::TABLE;
    let head = format!("INSERT INTO \"{table}\" ({}) ", info.column_list());
    let tail = match conflicts {
        Conflicts::Replace => format!(" {}", info.on_conflict()),
        Conflicts::Fail => String::new(),
    };
    match dialect {
        Dialect::Postgres => rows
            .chunks(POSTGRES_MAX_ROWS)
            .map(|chunk| {
                let arrays = columns_of(
                    info.columns.iter().map(|(_, kind)| *kind),
                    chunk.iter().map(|row| row.values()),
                );
                let selected: Vec<String> = info
                    .columns
                    .iter()
                    .map(|(name, kind)| match kind {
                        Kind::Json => format!("u.\"{name}\"::jsonb"),
                        _ => format!("u.\"{name}\""),
                    })
                    .collect();
                let mut sql = Sql::new(head.as_str());
                sql.push(&format!("SELECT {} FROM UNNEST(", selected.join(", ")));
                for (index, (kind, array)) in arrays.into_iter().enumerate() {
                    if index > 0 {
                        sql.push(", ");
                    }
                    sql.bind_array(array)
                        .push(&format!("::{}[]", array_type(kind)));
                }
                sql.push(&format!(") AS u({})", info.column_list()));
                sql.push(&tail);
                sql
            })
            .collect(),
        Dialect::Sqlite => {
            let per_statement = (SQLITE_MAX_ARGS / info.columns.len()).clamp(1, SQLITE_MAX_ROWS);
            rows.chunks(per_statement)
                .map(|chunk| {
                    let mut sql = Sql::new(head.as_str());
                    sql.push("VALUES ");
                    for (index, row) in chunk.iter().enumerate() {
                        if index > 0 {
                            sql.push(", ");
                        }
                        push_tuple(&mut sql, row.values());
                    }
                    sql.push(&tail);
                    sql
                })
                .collect()
        }
    }
}

/// `(v1, v2, …)`: one placeholder per value.
fn push_tuple(sql: &mut Sql, values: Vec<Value>) {
    sql.push("(");
    for (index, value) in values.into_iter().enumerate() {
        if index > 0 {
            sql.push(", ");
        }
        sql.bind(value);
    }
    sql.push(")");
}

/// The element type of the array a column of `kind` is bound as (JSON goes as text).
fn array_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Json => "text",
        other => other.pg_type(),
    }
}

/// Rows of values turned into one array per column.
fn columns_of(
    kinds: impl Iterator<Item = Kind>,
    rows: impl Iterator<Item = Vec<Value>>,
) -> Vec<(Kind, Array)> {
    let mut columns: Vec<(Kind, Array)> = kinds.map(|kind| (kind, Array::of(kind, 0))).collect();
    for row in rows {
        for ((kind, array), value) in columns.iter_mut().zip(row) {
            // A row's value always has its column's type (both come from the same struct
            // field), so this never fails; a mismatch would insert NULL and be refused by
            // the column's NOT NULL, loudly.
            if !array.push(value) {
                tracing::error!(?kind, "value of the wrong type for its column");
            }
        }
    }
    columns
}
