//! Keyset pagination, newest first.
//!
//! Every listed row keeps the log position of the event that created it (`seq_high`,
//! `seq_low`): unique, never changed, and larger for every row created later, because
//! projectors apply the log in order. Pages are ordered by it, newest first, and a cursor is
//! the position of the last row handed out; the next page is "older than the cursor". A
//! row created while a client walks the pages sorts before the first page, so it can
//! neither push a row onto the next page twice nor push one past the client unseen, and a
//! rebuilt table has the same positions, so a walk survives a rebuild's swap too.

use crate::db::{Sql, ViewRow, Views};
use crate::ReadError;

/// The largest page a list hands out.
pub const MAX_PAGE_SIZE: u32 = 1_000;

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The rows, newest first.
    pub rows: Vec<T>,
    /// The cursor of the last row: pass it as `after` for the next page.
    pub end_cursor: Option<String>,
    /// Whether older rows follow.
    pub has_next_page: bool,
}

/// A row that can be listed page by page.
pub trait Paged {
    /// Its keyset position (`seq_high`, `seq_low`).
    fn seq(&self) -> (i64, i64);

    /// The opaque cursor that pages after this row.
    fn cursor(&self) -> String {
        let (high, low) = self.seq();
        format!("{high}:{low}")
    }
}

/// The conditions of a list query, joined with AND.
#[derive(Default)]
pub(crate) struct Filter {
    sql: Sql,
    any: bool,
}

impl Filter {
    /// Adds `column <op> value` (`column` is trusted SQL).
    pub(crate) fn compare(
        &mut self,
        column: &str,
        op: &str,
        value: impl Into<crate::db::Value>,
    ) -> &mut Filter {
        self.and().push(&format!("{column} {op} ")).bind(value);
        self
    }

    /// Adds `column = value` when `value` is given.
    pub(crate) fn equal_if<V: Into<crate::db::Value>>(
        &mut self,
        column: &str,
        value: Option<V>,
    ) -> &mut Filter {
        if let Some(value) = value {
            self.compare(column, "=", value);
        }
        self
    }

    /// Starts a condition and returns the statement to write it into.
    pub(crate) fn and(&mut self) -> &mut Sql {
        self.sql.push(if self.any { " AND " } else { " WHERE " });
        self.any = true;
        &mut self.sql
    }
}

/// Checks a requested page size.
pub(crate) fn check_page_size(first: u32) -> Result<usize, ReadError> {
    if first == 0 || first > MAX_PAGE_SIZE {
        return Err(ReadError::InvalidPageSize {
            asked: first,
            max: MAX_PAGE_SIZE,
        });
    }
    Ok(first as usize)
}

/// Parses a cursor handed out by [`Paged::cursor`].
fn parse_cursor(cursor: &str) -> Result<(i64, i64), ReadError> {
    let invalid = || ReadError::InvalidCursor(cursor.to_string());
    let (high, low) = cursor.split_once(':').ok_or_else(invalid)?;
    Ok((
        high.parse().map_err(|_| invalid())?,
        low.parse().map_err(|_| invalid())?,
    ))
}

/// One page of `R`'s rows from `from` (`"table" alias`, with joins if any, trusted SQL)
/// matching `filter`, after `after`. `alias` prefixes the selected and ordering columns.
pub(crate) async fn page<R: ViewRow + Paged>(
    views: &Views,
    from: &str,
    alias: &str,
    mut filter: Filter,
    first: u32,
    after: Option<&str>,
) -> Result<Page<R>, ReadError> {
    let size = check_page_size(first)?;
    if let Some(cursor) = after {
        let (high, low) = parse_cursor(cursor)?;
        filter
            .and()
            .push(&format!("({alias}.seq_high, {alias}.seq_low) < ("))
            .bind(high)
            .push(", ")
            .bind(low)
            .push(")");
    }
    let columns: Vec<String> = R::TABLE
        .columns
        .iter()
        .map(|(name, _)| format!("{alias}.\"{name}\""))
        .collect();
    let mut sql = filter
        .sql
        .prepend(&format!("SELECT {} FROM {from}", columns.join(", ")));
    sql.push(&format!(
        " ORDER BY {alias}.seq_high DESC, {alias}.seq_low DESC LIMIT "
    ))
    .bind(i64::try_from(size + 1).unwrap_or(i64::MAX));
    let context = format!("listing {}", R::TABLE.name);
    let mut rows = views
        .fetch_all(&sql, &context)
        .await?
        .iter()
        .map(R::decode)
        .collect::<Result<Vec<R>, _>>()
        .map_err(ReadError::row(R::TABLE.name))?;
    let has_next_page = rows.len() > size;
    rows.truncate(size);
    Ok(Page {
        end_cursor: rows.last().map(Paged::cursor),
        rows,
        has_next_page,
    })
}
