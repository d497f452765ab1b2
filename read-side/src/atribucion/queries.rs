//! Queries over atribucion's views.

use std::collections::HashMap;

use uuid::Uuid;

use super::{AtribucionRow, CreditoRow};
use crate::db::{Sql, ViewRow, Views};
use crate::pagination::{page, Filter, Page};
use crate::queries::{fetch_by_id, fetch_rows};
use crate::ReadError;

/// Which attributions to list; every field given must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AtribucionFilter {
    /// Of this campaign.
    pub campana_id: Option<Uuid>,
    /// Crediting this partner.
    pub partner_id: Option<Uuid>,
    /// Of this journey.
    pub journey_id: Option<Uuid>,
    /// In this state (`Atribuida`, `NoAtribuida`, `RechazadaPorFraude`,
    /// `EnRevisionPorFraude`, `Revertida`).
    pub estado: Option<String>,
}

/// An attribution with its partner credits.
#[derive(Debug, Clone, PartialEq)]
pub struct AtribucionView {
    /// The attribution.
    pub atribucion: AtribucionRow,
    /// Its credits, by partner id (none unless attributed).
    pub creditos: Vec<CreditoRow>,
}

impl Views {
    /// The attribution `id`, with its credits.
    pub async fn atribucion(&self, id: Uuid) -> Result<Option<AtribucionView>, ReadError> {
        let Some(atribucion) = fetch_by_id::<AtribucionRow>(self, id).await? else {
            return Ok(None);
        };
        let mut creditos = self.creditos_de(&[id]).await?;
        Ok(Some(AtribucionView {
            creditos: creditos.remove(&id).unwrap_or_default(),
            atribucion,
        }))
    }

    /// A page of attributions matching `filter`, newest first, after the cursor `after`.
    pub async fn atribuciones(
        &self,
        filter: &AtribucionFilter,
        first: u32,
        after: Option<&str>,
    ) -> Result<Page<AtribucionView>, ReadError> {
        let mut conditions = Filter::default();
        conditions
            .equal_if("a.campana_id", filter.campana_id)
            .equal_if("a.journey_id", filter.journey_id)
            .equal_if("a.estado", filter.estado.clone());
        if let Some(partner_id) = filter.partner_id {
            conditions
                .and()
                .push("a.id IN (SELECT atribucion_id FROM atribucion_creditos WHERE partner_id = ")
                .bind(partner_id)
                .push(")");
        }
        let found: Page<AtribucionRow> =
            page(self, "atribuciones a", "a", conditions, first, after).await?;
        let ids: Vec<Uuid> = found.rows.iter().map(|row| row.id).collect();
        let mut creditos = self.creditos_de(&ids).await?;
        Ok(Page {
            rows: found
                .rows
                .into_iter()
                .map(|atribucion| AtribucionView {
                    creditos: creditos.remove(&atribucion.id).unwrap_or_default(),
                    atribucion,
                })
                .collect(),
            end_cursor: found.end_cursor,
            has_next_page: found.has_next_page,
        })
    }

    async fn creditos_de(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<CreditoRow>>, ReadError> {
        let mut by_attribution: HashMap<Uuid, Vec<CreditoRow>> = HashMap::new();
        if ids.is_empty() {
            return Ok(by_attribution);
        }
        let table = CreditoRow::TABLE;
        let mut sql = Sql::new(format!(
            "SELECT {} FROM {} WHERE atribucion_id IN (",
            table.column_list(),
            table.name
        ));
        for (index, id) in ids.iter().enumerate() {
            if index > 0 {
                sql.push(", ");
            }
            sql.bind(*id);
        }
        sql.push(") ORDER BY atribucion_id, partner_id");
        for credito in fetch_rows::<CreditoRow>(self, &sql).await? {
            by_attribution
                .entry(credito.atribucion_id)
                .or_default()
                .push(credito);
        }
        Ok(by_attribution)
    }
}
