//! Queries over comisiones' views.

use alpes_domain::Currency;
use uuid::Uuid;

use super::{ComisionRow, EstadisticasComisionesRow, SaldoPartnerRow};
use crate::db::{Column, DbRow, RowError, Sql, ViewRow, Views};
use crate::pagination::{page, Filter, Page};
use crate::queries::{fetch_by_id, fetch_rows};
use crate::ReadError;

/// Which commissions to list; every field given must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComisionFilter {
    /// Earned by this partner.
    pub partner_id: Option<Uuid>,
    /// Paid by this campaign.
    pub campana_id: Option<Uuid>,
    /// In this state (`Reservada`, `Aprobada`, `Pagada`, `Revertida`).
    pub estado: Option<String>,
    /// Approved or paid in this batch.
    pub lote_id: Option<Uuid>,
}

/// Commission counts and amounts per state over every campaign, in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotalesComisiones {
    /// The currency of every amount.
    pub moneda: Currency,
    /// Campaigns with commissions in this currency.
    pub campanas: i64,
    /// Reserved, waiting for approval.
    pub reservadas: i64,
    /// Their amount.
    pub monto_reservado: i64,
    /// Approved, not yet paid.
    pub aprobadas: i64,
    /// Their amount.
    pub monto_aprobado: i64,
    /// Paid.
    pub pagadas: i64,
    /// Their amount.
    pub monto_pagado: i64,
    /// Reverted.
    pub revertidas: i64,
    /// Their amount.
    pub monto_revertido: i64,
    /// Reverted after payment.
    pub clawbacks: i64,
    /// Their amount.
    pub monto_clawback: i64,
}

const COUNTED: [&str; 10] = [
    "reservadas",
    "monto_reservado",
    "aprobadas",
    "monto_aprobado",
    "pagadas",
    "monto_pagado",
    "revertidas",
    "monto_revertido",
    "clawbacks",
    "monto_clawback",
];

impl Views {
    /// The commission `id`.
    pub async fn comision(&self, id: Uuid) -> Result<Option<ComisionRow>, ReadError> {
        fetch_by_id(self, id).await
    }

    /// A page of commissions matching `filter`, newest first, after the cursor `after`.
    pub async fn comisiones(
        &self,
        filter: &ComisionFilter,
        first: u32,
        after: Option<&str>,
    ) -> Result<Page<ComisionRow>, ReadError> {
        let mut conditions = Filter::default();
        conditions
            .equal_if("c.partner_id", filter.partner_id)
            .equal_if("c.campana_id", filter.campana_id)
            .equal_if("c.estado", filter.estado.clone());
        if let Some(lote_id) = filter.lote_id {
            conditions
                .and()
                .push("(c.lote_aprobacion = ")
                .bind(lote_id)
                .push(" OR c.lote_pago = ")
                .bind(lote_id)
                .push(")");
        }
        page(self, "comisiones c", "c", conditions, first, after).await
    }

    /// The balances of partner `partner_id`, one per currency.
    pub async fn saldos_partner(
        &self,
        partner_id: Uuid,
    ) -> Result<Vec<SaldoPartnerRow>, ReadError> {
        let table = SaldoPartnerRow::TABLE;
        let mut sql = Sql::new(format!(
            "SELECT {} FROM {} WHERE partner_id = ",
            table.column_list(),
            table.name
        ));
        sql.bind(partner_id).push(" ORDER BY moneda");
        fetch_rows(self, &sql).await
    }

    /// The commission statistics of campaign `campana_id`, one per currency.
    pub async fn estadisticas_comisiones(
        &self,
        campana_id: Uuid,
    ) -> Result<Vec<EstadisticasComisionesRow>, ReadError> {
        let table = EstadisticasComisionesRow::TABLE;
        let mut sql = Sql::new(format!(
            "SELECT {} FROM {} WHERE campana_id = ",
            table.column_list(),
            table.name
        ));
        sql.bind(campana_id).push(" ORDER BY moneda");
        fetch_rows(self, &sql).await
    }

    /// The commission statistics over every campaign, one per currency.
    pub async fn totales_comisiones(&self) -> Result<Vec<TotalesComisiones>, ReadError> {
        let sums: Vec<String> = COUNTED
            .iter()
            .map(|column| format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT) AS {column}"))
            .collect();
        let sql = Sql::new(format!(
            "SELECT moneda, COUNT(DISTINCT campana_id) AS campanas, {} \
             FROM estadisticas_comisiones GROUP BY moneda ORDER BY moneda",
            sums.join(", ")
        ));
        self.fetch_all(&sql, "summing the commission statistics")
            .await?
            .iter()
            .map(totales)
            .collect::<Result<Vec<_>, _>>()
            .map_err(ReadError::row("estadisticas_comisiones"))
    }
}

fn totales(row: &DbRow) -> Result<TotalesComisiones, RowError> {
    let int = |column: &str| -> Result<i64, RowError> { Column::from_row(row, column) };
    Ok(TotalesComisiones {
        moneda: Column::from_row(row, "moneda")?,
        campanas: int("campanas")?,
        reservadas: int("reservadas")?,
        monto_reservado: int("monto_reservado")?,
        aprobadas: int("aprobadas")?,
        monto_aprobado: int("monto_aprobado")?,
        pagadas: int("pagadas")?,
        monto_pagado: int("monto_pagado")?,
        revertidas: int("revertidas")?,
        monto_revertido: int("monto_revertido")?,
        clawbacks: int("clawbacks")?,
        monto_clawback: int("monto_clawback")?,
    })
}
