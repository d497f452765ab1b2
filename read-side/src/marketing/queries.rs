//! Queries over marketing's views.

use std::collections::BTreeMap;

use alpes_domain::campana::{EstadoCampana, TipoCampana};
use alpes_domain::Currency;
use uuid::Uuid;

use super::{CampanaRow, EstadisticasCampanaRow, Ratios};
use crate::db::{Column, DbRow, Sql, Views};
use crate::names::{estado_campana, tipo_campana};
use crate::pagination::{page, Filter, Page};
use crate::queries::{fetch_by_id, fetch_where_in};
use crate::ReadError;

/// Which campaigns to list; every field given must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampanaFilter {
    /// Of this brand.
    pub marca_id: Option<Uuid>,
    /// In this state.
    pub estado: Option<EstadoCampana>,
    /// Of this type.
    pub tipo: Option<TipoCampana>,
    /// Whose name contains this text (case-insensitive for ASCII letters).
    pub nombre_contiene: Option<String>,
}

/// The dashboard's summary over every campaign with statistics in one currency.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumenMarketing {
    /// The budget currency of these campaigns (`None`: campaigns not yet created whose
    /// statistics already started).
    pub moneda: Option<Currency>,
    /// Campaigns.
    pub campanas: i64,
    /// Impressions.
    pub vistas: i64,
    /// Clicks.
    pub clicks: i64,
    /// Likes and shares.
    pub engagements: i64,
    /// Conversions registered (leads, sign-ups, purchases), not discarded.
    pub conversiones: i64,
    /// Conversions attributed and not reverted.
    pub conversiones_atribuidas: i64,
    /// Value of the attributed conversions.
    pub ingresos_atribuidos: i64,
    /// Commission amounts reserved, approved, paid and reverted.
    pub monto_reservado: i64,
    /// See `monto_reservado`.
    pub monto_aprobado: i64,
    /// See `monto_reservado`.
    pub monto_pagado: i64,
    /// See `monto_reservado`.
    pub monto_revertido: i64,
    /// Total budgets.
    pub presupuesto: i64,
    /// Budget held by reservations.
    pub presupuesto_reservado: i64,
    /// Budget left.
    pub presupuesto_disponible: i64,
    /// Campaigns by state (`Activa` → 3, …).
    pub campanas_por_estado: BTreeMap<String, i64>,
}

impl ResumenMarketing {
    /// What the campaigns spend: commissions reserved, approved and paid.
    pub fn costo(&self) -> i64 {
        self.monto_reservado + self.monto_aprobado + self.monto_pagado
    }

    /// The ratios of the totals.
    pub fn ratios(&self) -> Ratios {
        Ratios::of(
            self.vistas,
            self.clicks,
            self.conversiones,
            self.conversiones_atribuidas,
            self.costo(),
            self.moneda,
        )
    }
}

const SUMMED: [&str; 13] = [
    "vistas",
    "clicks",
    "engagements",
    "conversiones",
    "conversiones_atribuidas",
    "ingresos_atribuidos",
    "monto_reservado",
    "monto_aprobado",
    "monto_pagado",
    "monto_revertido",
    "presupuesto",
    "presupuesto_reservado",
    "presupuesto_disponible",
];

impl Views {
    /// The campaign `id`.
    pub async fn campana(&self, id: Uuid) -> Result<Option<CampanaRow>, ReadError> {
        fetch_by_id(self, id).await
    }

    /// A page of campaigns matching `filter`, newest first, after the cursor `after`.
    pub async fn campanas(
        &self,
        filter: &CampanaFilter,
        first: u32,
        after: Option<&str>,
    ) -> Result<Page<CampanaRow>, ReadError> {
        let mut conditions = Filter::default();
        conditions
            .equal_if("c.marca_id", filter.marca_id)
            .equal_if("c.estado", filter.estado.map(estado_campana))
            .equal_if("c.tipo", filter.tipo.map(tipo_campana));
        if let Some(texto) = &filter.nombre_contiene {
            conditions
                .and()
                .push("LOWER(c.nombre) LIKE LOWER(")
                .bind(format!("%{}%", escape_like(texto)))
                .push(") ESCAPE '\\'");
        }
        page(self, "campanas c", "c", conditions, first, after).await
    }

    /// The statistics of campaign `id`.
    pub async fn estadisticas_campana(
        &self,
        id: Uuid,
    ) -> Result<Option<EstadisticasCampanaRow>, ReadError> {
        fetch_by_id(self, id).await
    }

    /// Totals over every campaign, one per budget currency.
    pub async fn resumen_marketing(&self) -> Result<Vec<ResumenMarketing>, ReadError> {
        let sums: Vec<String> = SUMMED
            .iter()
            .map(|column| {
                let expression = match *column {
                    "conversiones" => "leads + registros + compras",
                    other => other,
                };
                format!("CAST(COALESCE(SUM({expression}), 0) AS BIGINT) AS {column}")
            })
            .collect();
        let totals = Sql::new(format!(
            "SELECT moneda, COUNT(*) AS campanas, {} FROM estadisticas_campana \
             GROUP BY moneda ORDER BY moneda NULLS LAST",
            sums.join(", ")
        ));
        let states = Sql::new(
            "SELECT moneda, estado, COUNT(*) AS campanas FROM campanas GROUP BY moneda, estado",
        );
        let context = "summing the campaigns' statistics";
        let mut por_estado: BTreeMap<Option<String>, BTreeMap<String, i64>> = BTreeMap::new();
        for row in self.fetch_all(&states, context).await? {
            let read = || -> Result<(Option<String>, String, i64), crate::db::RowError> {
                Ok((
                    Column::from_row(&row, "moneda")?,
                    Column::from_row(&row, "estado")?,
                    Column::from_row(&row, "campanas")?,
                ))
            };
            let (moneda, estado, campanas) = read().map_err(ReadError::row("campanas"))?;
            por_estado
                .entry(moneda)
                .or_default()
                .insert(estado, campanas);
        }
        self.fetch_all(&totals, context)
            .await?
            .iter()
            .map(|row| resumen(row, &mut por_estado))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ReadError::row("estadisticas_campana"))
    }
}

fn resumen(
    row: &DbRow,
    por_estado: &mut BTreeMap<Option<String>, BTreeMap<String, i64>>,
) -> Result<ResumenMarketing, crate::db::RowError> {
    let int = |column: &str| -> Result<i64, crate::db::RowError> { Column::from_row(row, column) };
    let moneda: Option<Currency> = Column::from_row(row, "moneda")?;
    let campanas_por_estado = por_estado
        .remove(&moneda.map(|moneda| moneda.as_str().to_string()))
        .unwrap_or_default();
    Ok(ResumenMarketing {
        moneda,
        campanas: int("campanas")?,
        vistas: int("vistas")?,
        clicks: int("clicks")?,
        engagements: int("engagements")?,
        conversiones: int("conversiones")?,
        conversiones_atribuidas: int("conversiones_atribuidas")?,
        ingresos_atribuidos: int("ingresos_atribuidos")?,
        monto_reservado: int("monto_reservado")?,
        monto_aprobado: int("monto_aprobado")?,
        monto_pagado: int("monto_pagado")?,
        monto_revertido: int("monto_revertido")?,
        presupuesto: int("presupuesto")?,
        presupuesto_reservado: int("presupuesto_reservado")?,
        presupuesto_disponible: int("presupuesto_disponible")?,
        campanas_por_estado,
    })
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

impl Views {
    /// The campaigns of `ids` (those that exist), in one statement.
    pub async fn campanas_por_ids(&self, ids: &[Uuid]) -> Result<Vec<CampanaRow>, ReadError> {
        fetch_where_in(self, "id", ids, "id").await
    }

    /// The statistics of the campaigns of `ids` (those that have some), in one statement.
    pub async fn estadisticas_por_campanas(
        &self,
        ids: &[Uuid],
    ) -> Result<Vec<EstadisticasCampanaRow>, ReadError> {
        fetch_where_in(self, "campana_id", ids, "campana_id").await
    }
}
