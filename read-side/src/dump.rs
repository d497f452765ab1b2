//! Whole tables as text, to compare a view with the same view rebuilt.

use std::collections::BTreeMap;

use crate::db::{Sql, TableInfo, Views};
use crate::{ProjectionName, ReadError};

impl Views {
    /// Every row of every table of `projection`, rendered as text the same way on both
    /// dialects and sorted: two views hold the same rows exactly when their dumps
    /// are equal.
    pub async fn dump(
        &self,
        projection: ProjectionName,
    ) -> Result<BTreeMap<&'static str, Vec<String>>, ReadError> {
        let mut tables = BTreeMap::new();
        for table in projection.tables() {
            tables.insert(table.name, self.dump_table(table).await?);
        }
        Ok(tables)
    }

    async fn dump_table(&self, table: &TableInfo) -> Result<Vec<String>, ReadError> {
        let sql = Sql::new(format!(
            "SELECT {} FROM \"{}\"",
            table.column_list(),
            table.name
        ));
        let mut rows = Vec::new();
        for row in self
            .fetch_all(&sql, &format!("dumping {}", table.name))
            .await?
        {
            let mut values = Vec::with_capacity(table.columns.len());
            for (column, kind) in table.columns {
                let value = row
                    .render(column, *kind)
                    .map_err(ReadError::row(table.name))?;
                values.push(format!("{column}={value}"));
            }
            rows.push(values.join(" | "));
        }
        // Sorted here, not in SQL: both dialects order text and UUIDs the same way once
        // rendered.
        rows.sort();
        Ok(rows)
    }
}
