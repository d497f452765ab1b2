//! Tracking's projection: Interaccion events into `interacciones` and
//! `estadisticas_diarias`.

use alpes_domain::interaccion::{DatosInteraccion, InteraccionEvent};
use alpes_domain::Money;
use uuid::Uuid;

use super::{EstadisticaDiariaRow, InteraccionRow};
use crate::cache::RowCache;
use crate::db::{Json, TableInfo, ViewRow, WriteTx};
use crate::log_event::{Aggregates, DomainEvent, LogEvent};
use crate::names::{seq, tipo_interaccion};
use crate::projector::{Projection, ProjectionName, TableNames};
use crate::ReadError;

/// Interactions and their daily statistics.
pub(crate) struct TrackingProjection;

const TABLES: &[TableInfo] = &[InteraccionRow::TABLE, EstadisticaDiariaRow::TABLE];

#[async_trait::async_trait]
impl Projection for TrackingProjection {
    fn name(&self) -> ProjectionName {
        ProjectionName::Tracking
    }

    fn aggregates(&self) -> Aggregates {
        Aggregates {
            interaccion: true,
            ..Aggregates::default()
        }
    }

    fn tables(&self) -> &'static [TableInfo] {
        TABLES
    }

    async fn apply(
        &self,
        tx: &mut WriteTx,
        tables: &TableNames,
        events: &[&LogEvent],
    ) -> Result<(), ReadError> {
        let mut batch = Batch::default();
        batch.load(tx, tables, events).await?;
        for event in events {
            if let DomainEvent::Interaccion(interaccion) = &event.event {
                batch.apply(event, interaccion);
            }
        }
        batch.interacciones.flush(tx, tables).await?;
        batch.estadisticas.flush(tx, tables).await
    }
}

struct Batch {
    interacciones: RowCache<InteraccionRow>,
    estadisticas: RowCache<EstadisticaDiariaRow>,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            interacciones: RowCache::new(),
            estadisticas: RowCache::new(),
        }
    }
}

type DiaKey = <EstadisticaDiariaRow as ViewRow>::Key;

fn dia_key(row: &InteraccionRow) -> DiaKey {
    (
        row.campana_id,
        row.occurred_at.date_naive(),
        row.tipo.clone(),
    )
}

impl Batch {
    /// Reads the interactions discarded in the batch, then the statistics rows every event
    /// touches.
    async fn load(
        &mut self,
        tx: &mut WriteTx,
        tables: &TableNames,
        events: &[&LogEvent],
    ) -> Result<(), ReadError> {
        let discarded = events.iter().filter_map(|event| match event.event {
            DomainEvent::Interaccion(InteraccionEvent::InteraccionDescartada { .. }) => {
                Some((event.aggregate_id,))
            }
            _ => None,
        });
        self.interacciones.load(tx, tables, discarded).await?;
        let mut dias: Vec<DiaKey> = self.interacciones.rows().map(dia_key).collect();
        dias.extend(events.iter().filter_map(|event| match &event.event {
            DomainEvent::Interaccion(InteraccionEvent::InteraccionRegistrada { datos, .. }) => {
                Some((
                    datos.campana_id,
                    datos.occurred_at.date_naive(),
                    tipo_interaccion(datos.tipo).to_string(),
                ))
            }
            _ => None,
        }));
        self.estadisticas.load(tx, tables, dias).await
    }

    fn apply(&mut self, event: &LogEvent, interaccion: &InteraccionEvent) {
        match interaccion {
            InteraccionEvent::InteraccionRegistrada { id, datos } => {
                self.registrada(event, *id, datos)
            }
            InteraccionEvent::InteraccionDescartada { motivo } => {
                self.descartada(event, motivo);
            }
        }
    }

    fn registrada(&mut self, event: &LogEvent, id: Uuid, datos: &DatosInteraccion) {
        let (seq_high, seq_low) = seq(event.position);
        let row = InteraccionRow {
            id,
            campana_id: datos.campana_id,
            partner_id: datos.partner_id,
            journey_id: datos.journey_id,
            tipo: tipo_interaccion(datos.tipo).to_string(),
            occurred_at: datos.occurred_at,
            valor: datos.valor.map(|valor| valor.amount),
            moneda: datos.valor.map(|valor| valor.currency),
            pedido_id: datos.pedido_id.clone(),
            dispositivo: datos.contexto.dispositivo.clone(),
            utm_source: datos.contexto.utm.source.clone(),
            contexto: Json(datos.contexto.clone()),
            descartada: false,
            motivo_descarte: None,
            descartada_en: None,
            registrada_en: event.recorded_at,
            seq_high,
            seq_low,
            log_position: event.position.to_string(),
        };
        let estadistica = self.estadistica(event, dia_key(&row));
        estadistica.registradas += 1;
        if let Some(valor) = datos.valor {
            sumar_valor(estadistica, valor, 1);
        }
        self.interacciones.insert_new(row);
    }

    fn descartada(&mut self, event: &LogEvent, motivo: &str) {
        let Some(row) = self.interacciones.get_mut(&(event.aggregate_id,)) else {
            tracing::warn!(interaccion = %event.aggregate_id, position = %event.position,
                "discarded interaction never registered; nothing to flag");
            return;
        };
        if row.descartada {
            return;
        }
        row.descartada = true;
        row.motivo_descarte = Some(motivo.to_string());
        row.descartada_en = Some(event.recorded_at);
        row.log_position = event.position.to_string();
        let key = dia_key(row);
        let valor = row.valor();
        let estadistica = self.estadistica(event, key);
        estadistica.descartadas += 1;
        if let Some(valor) = valor {
            sumar_valor(estadistica, valor, -1);
        }
    }

    /// The statistics row of `key`, created empty when absent, stamped with `event`.
    fn estadistica(&mut self, event: &LogEvent, key: DiaKey) -> &mut EstadisticaDiariaRow {
        let row = self
            .estadisticas
            .get_or_insert_with(key.clone(), || EstadisticaDiariaRow {
                campana_id: key.0,
                dia: key.1,
                tipo: key.2.clone(),
                registradas: 0,
                descartadas: 0,
                valor: 0,
                moneda: None,
                valores_otra_moneda: 0,
                actualizada_en: event.recorded_at,
                log_position: String::new(),
            });
        row.actualizada_en = event.recorded_at;
        row.log_position = event.position.to_string();
        row
    }
}

/// Adds (`sign` 1) or removes (`sign` -1) a value: summed in the row's currency, counted
/// apart when in another.
fn sumar_valor(row: &mut EstadisticaDiariaRow, valor: Money, sign: i64) {
    let moneda = *row.moneda.get_or_insert(valor.currency);
    if moneda == valor.currency {
        row.valor = row.valor.saturating_add(sign.saturating_mul(valor.amount));
    } else {
        row.valores_otra_moneda += sign;
    }
}
