//! Relay connections over the views' keyset pages.

use alpes_read::{Page, MAX_PAGE_SIZE};
use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{OutputType, Result};

use crate::error::bad_input;

/// Rows a list hands out when `first` is not given.
pub(crate) const DEFAULT_PAGE_SIZE: i32 = 20;

/// A connection of `N` with string cursors.
pub(crate) type Conn<N> = Connection<String, N, EmptyFields, EmptyFields>;

/// The page size asked for with `first`.
pub(crate) fn page_size(first: Option<i32>) -> Result<u32> {
    let first = first.unwrap_or(DEFAULT_PAGE_SIZE);
    u32::try_from(first)
        .ok()
        .filter(|size| (1..=MAX_PAGE_SIZE).contains(size))
        .ok_or_else(|| {
            bad_input(format!(
                "first must be between 1 and {MAX_PAGE_SIZE}, not {first}"
            ))
        })
}

/// The complexity of a list field: its selection once per row asked for.
pub(crate) fn list_complexity(first: Option<i32>, child_complexity: usize) -> usize {
    let rows = first.unwrap_or(DEFAULT_PAGE_SIZE).max(1) as usize;
    rows.saturating_mul(child_complexity).saturating_add(1)
}

/// The connection of `page`: each row becomes an edge with its cursor.
pub(crate) fn connection<R, N: OutputType>(
    page: Page<R>,
    after: bool,
    cursor: impl Fn(&R) -> String,
    node: impl Fn(R) -> N,
) -> Conn<N> {
    let mut connection = Connection::new(after, page.has_next_page);
    connection.edges.extend(page.rows.into_iter().map(|row| {
        let cursor = cursor(&row);
        Edge::new(cursor, node(row))
    }));
    connection
}
