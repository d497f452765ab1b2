//! Shared pieces of the query API (each service's queries live beside its views).

use uuid::Uuid;

use crate::db::{Sql, ViewRow, Views};
use crate::ReadError;

/// The row of `R`'s table whose single-column key is `id`.
pub(crate) async fn fetch_by_id<R>(views: &Views, id: Uuid) -> Result<Option<R>, ReadError>
where
    R: ViewRow<Key = (Uuid,)>,
{
    let table = R::TABLE;
    let mut sql = Sql::new(format!(
        "SELECT {} FROM {} WHERE \"{}\" = ",
        table.column_list(),
        table.name,
        table.key[0]
    ));
    sql.bind(id);
    let row = views
        .fetch_optional(&sql, &format!("reading {}", table.name))
        .await?;
    row.map(|row| R::decode(&row))
        .transpose()
        .map_err(ReadError::row(table.name))
}

/// Every row `sql` selects (every column of `R`'s table).
pub(crate) async fn fetch_rows<R: ViewRow>(views: &Views, sql: &Sql) -> Result<Vec<R>, ReadError> {
    let table = R::TABLE;
    views
        .fetch_all(sql, &format!("reading {}", table.name))
        .await?
        .iter()
        .map(R::decode)
        .collect::<Result<Vec<R>, _>>()
        .map_err(ReadError::row(table.name))
}

/// The rows of `R`'s table whose `column` is one of `ids` (trusted column name), in no
/// particular order: one statement however many ids (what a GraphQL DataLoader batches).
pub(crate) async fn fetch_where_in<R: ViewRow>(
    views: &Views,
    column: &str,
    ids: &[Uuid],
    order_by: &str,
) -> Result<Vec<R>, ReadError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let table = R::TABLE;
    let mut sql = Sql::new(format!(
        "SELECT {} FROM {} WHERE \"{column}\" IN (",
        table.column_list(),
        table.name
    ));
    for (index, id) in ids.iter().enumerate() {
        if index > 0 {
            sql.push(", ");
        }
        sql.bind(*id);
    }
    sql.push(&format!(") ORDER BY {order_by}"));
    fetch_rows(views, &sql).await
}
