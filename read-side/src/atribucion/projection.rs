//! Atribucion's projection: Atribucion events into `atribuciones` and
//! `atribucion_creditos`.

use alpes_domain::atribucion::{AtribucionEvent, Conversion, OrigenFraude};

use super::{AtribucionRow, CreditoRow};
use crate::cache::RowCache;
use crate::db::{Json, TableInfo, ViewRow, WriteTx};
use crate::log_event::{Aggregates, DomainEvent, LogEvent};
use crate::names::{
    modelo, motivo_no_atribucion, motivo_reversion, origen_fraude, seq, tipo_conversion,
};
use crate::projector::{Projection, ProjectionName, TableNames};
use crate::ReadError;

/// Attributions and their credits.
pub(crate) struct AtribucionProjection;

const TABLES: &[TableInfo] = &[AtribucionRow::TABLE, CreditoRow::TABLE];

#[async_trait::async_trait]
impl Projection for AtribucionProjection {
    fn name(&self) -> ProjectionName {
        ProjectionName::Atribucion
    }

    fn aggregates(&self) -> Aggregates {
        Aggregates {
            atribucion: true,
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
        let mut atribuciones = RowCache::<AtribucionRow>::new();
        let mut creditos = RowCache::<CreditoRow>::new();
        atribuciones
            .load(tx, tables, events.iter().map(|event| (event.aggregate_id,)))
            .await?;
        for event in events {
            if let DomainEvent::Atribucion(atribucion) = &event.event {
                aplicar(&mut atribuciones, &mut creditos, event, atribucion);
            }
        }
        atribuciones.flush(tx, tables).await?;
        creditos.flush(tx, tables).await
    }
}

fn aplicar(
    atribuciones: &mut RowCache<AtribucionRow>,
    creditos: &mut RowCache<CreditoRow>,
    event: &LogEvent,
    atribucion: &AtribucionEvent,
) {
    let id = event.aggregate_id;
    let conversion = match atribucion {
        AtribucionEvent::ConversionAtribuida { conversion, .. }
        | AtribucionEvent::ConversionNoAtribuida { conversion, .. }
        | AtribucionEvent::FraudeDetectado { conversion, .. }
        | AtribucionEvent::AtribucionRevertida { conversion, .. } => conversion,
    };
    let nueva = atribuciones.get(&(id,)).is_none();
    let row = atribuciones.get_or_insert_with((id,), || decidida(event, conversion));
    row.actualizada_en = event.recorded_at;
    row.version = event.sequence;
    row.log_position = event.position.to_string();
    match atribucion {
        AtribucionEvent::ConversionAtribuida {
            modelo: usado,
            creditos: partes,
            ..
        } => {
            row.estado = "Atribuida".to_string();
            row.modelo = Some(modelo(*usado).to_string());
            for parte in partes {
                creditos.insert(CreditoRow {
                    atribucion_id: id,
                    partner_id: parte.partner_id,
                    touchpoint_id: parte.touchpoint_id,
                    monto: parte.monto.amount,
                    moneda: parte.monto.currency,
                    campana_id: conversion.campana_id,
                    seq_high: row.seq_high,
                    seq_low: row.seq_low,
                });
            }
        }
        AtribucionEvent::ConversionNoAtribuida { motivo, .. } => {
            row.estado = "NoAtribuida".to_string();
            row.motivo_no_atribucion = Some(motivo_no_atribucion(motivo).to_string());
        }
        AtribucionEvent::FraudeDetectado {
            origen,
            motivo,
            hallazgo,
            ..
        } => {
            // As the aggregate decides: fraud found before any attribution rejects the
            // conversion; found after, it puts the attribution under review.
            row.estado = if nueva {
                "RechazadaPorFraude"
            } else {
                "EnRevisionPorFraude"
            }
            .to_string();
            row.fraude_origen = Some(origen_fraude(origen).to_string());
            row.fraude_reportado_por = match origen {
                OrigenFraude::Reportado { reportado_por } => Some(reportado_por.clone()),
                OrigenFraude::Reglas => None,
            };
            row.fraude_motivo = Some(motivo.clone());
            row.fraude_puntuacion = hallazgo.as_ref().map(|h| i64::from(h.puntuacion_total));
            row.fraude_umbral = hallazgo.as_ref().map(|h| i64::from(h.umbral));
            row.fraude_reglas = hallazgo.as_ref().map(|h| Json(h.reglas.clone()));
        }
        AtribucionEvent::AtribucionRevertida { motivo, .. } => {
            row.estado = "Revertida".to_string();
            row.motivo_reversion = Some(motivo_reversion(*motivo).to_string());
        }
    }
}

/// The row of a conversion on its first event.
fn decidida(event: &LogEvent, conversion: &Conversion) -> AtribucionRow {
    let (seq_high, seq_low) = seq(event.position);
    AtribucionRow {
        id: event.aggregate_id,
        conversion_id: conversion.interaccion_id,
        campana_id: conversion.campana_id,
        journey_id: conversion.journey_id,
        tipo_conversion: tipo_conversion(conversion.tipo).to_string(),
        valor: conversion.valor.amount,
        moneda: conversion.valor.currency,
        pedido_id: conversion.pedido_id.clone(),
        conversion_en: conversion.occurred_at,
        estado: String::new(),
        modelo: None,
        motivo_no_atribucion: None,
        fraude_origen: None,
        fraude_reportado_por: None,
        fraude_motivo: None,
        fraude_puntuacion: None,
        fraude_umbral: None,
        fraude_reglas: None,
        motivo_reversion: None,
        decidida_en: event.recorded_at,
        actualizada_en: event.recorded_at,
        version: event.sequence,
        seq_high,
        seq_low,
        log_position: event.position.to_string(),
    }
}
