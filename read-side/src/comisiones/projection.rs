//! Comisiones' projection: Comision events into `comisiones`, `saldos_partner` and
//! `estadisticas_comisiones`.

use alpes_domain::comision::{ComisionEvent, DatosComision};
use alpes_domain::Currency;
use chrono::Days;
use uuid::Uuid;

use super::{ComisionRow, EstadisticasComisionesRow, SaldoPartnerRow};
use crate::cache::RowCache;
use crate::db::{TableInfo, ViewRow, WriteTx};
use crate::log_event::{Aggregates, DomainEvent, LogEvent};
use crate::names::seq;
use crate::projector::{Projection, ProjectionName, TableNames};
use crate::ReadError;

/// Commissions, partner balances and commission statistics.
pub(crate) struct ComisionesProjection;

const TABLES: &[TableInfo] = &[
    ComisionRow::TABLE,
    SaldoPartnerRow::TABLE,
    EstadisticasComisionesRow::TABLE,
];

#[async_trait::async_trait]
impl Projection for ComisionesProjection {
    fn name(&self) -> ProjectionName {
        ProjectionName::Comisiones
    }

    fn aggregates(&self) -> Aggregates {
        Aggregates {
            comision: true,
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
        let mut batch = Batch::new();
        batch.load(tx, tables, events).await?;
        for event in events {
            if let DomainEvent::Comision(comision) = &event.event {
                batch.apply(event, comision);
            }
        }
        batch.comisiones.flush(tx, tables).await?;
        batch.saldos.flush(tx, tables).await?;
        batch.estadisticas.flush(tx, tables).await
    }
}

/// The states a commission's amount is counted in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Estado {
    Reservada,
    Aprobada,
    Pagada,
    Revertida,
}

impl Estado {
    fn as_str(self) -> &'static str {
        match self {
            Estado::Reservada => "Reservada",
            Estado::Aprobada => "Aprobada",
            Estado::Pagada => "Pagada",
            Estado::Revertida => "Revertida",
        }
    }

    fn parse(text: &str) -> Option<Estado> {
        [
            Estado::Reservada,
            Estado::Aprobada,
            Estado::Pagada,
            Estado::Revertida,
        ]
        .into_iter()
        .find(|estado| estado.as_str() == text)
    }
}

struct Batch {
    comisiones: RowCache<ComisionRow>,
    saldos: RowCache<SaldoPartnerRow>,
    estadisticas: RowCache<EstadisticasComisionesRow>,
}

/// A move of one commission's amount between states.
struct Movimiento {
    partner_id: Uuid,
    campana_id: Uuid,
    moneda: Currency,
    monto: i64,
    antes: Option<Estado>,
    despues: Estado,
    clawback: bool,
}

impl Batch {
    fn new() -> Self {
        Batch {
            comisiones: RowCache::new(),
            saldos: RowCache::new(),
            estadisticas: RowCache::new(),
        }
    }

    /// Reads the commissions the batch changes, then the balances and statistics they
    /// count in.
    async fn load(
        &mut self,
        tx: &mut WriteTx,
        tables: &TableNames,
        events: &[&LogEvent],
    ) -> Result<(), ReadError> {
        let changed = events.iter().filter_map(|event| match event.event {
            DomainEvent::Comision(ComisionEvent::ComisionReservada { .. }) => None,
            _ => Some((event.aggregate_id,)),
        });
        self.comisiones.load(tx, tables, changed).await?;
        let mut saldos: Vec<(Uuid, Currency)> = Vec::new();
        let mut estadisticas: Vec<(Uuid, Currency)> = Vec::new();
        for row in self.comisiones.rows() {
            saldos.push((row.partner_id, row.moneda));
            estadisticas.push((row.campana_id, row.moneda));
        }
        for event in events {
            if let DomainEvent::Comision(ComisionEvent::ComisionReservada { datos, .. }) =
                &event.event
            {
                saldos.push((datos.partner_id, datos.monto.currency));
                estadisticas.push((datos.campana_id, datos.monto.currency));
            }
        }
        self.saldos.load(tx, tables, saldos).await?;
        self.estadisticas.load(tx, tables, estadisticas).await
    }

    fn apply(&mut self, event: &LogEvent, comision: &ComisionEvent) {
        let movimiento = match comision {
            ComisionEvent::ComisionReservada { id, datos } => {
                let row = reservada(event, *id, datos);
                let movimiento = Movimiento {
                    partner_id: row.partner_id,
                    campana_id: row.campana_id,
                    moneda: row.moneda,
                    monto: row.monto,
                    antes: None,
                    despues: Estado::Reservada,
                    clawback: false,
                };
                self.comisiones.insert(row);
                movimiento
            }
            other => {
                let Some(row) = self.comisiones.get_mut(&(event.aggregate_id,)) else {
                    tracing::warn!(comision = %event.aggregate_id, position = %event.position,
                        "event of a commission never reserved; ignored");
                    return;
                };
                row.actualizada_en = event.recorded_at;
                row.version = event.sequence;
                row.log_position = event.position.to_string();
                let antes = Estado::parse(&row.estado);
                let (despues, clawback) = match other {
                    ComisionEvent::ComisionAprobada {
                        aprobada_en,
                        lote_id,
                    } => {
                        row.aprobada_en = Some(*aprobada_en);
                        row.lote_aprobacion = *lote_id;
                        (Estado::Aprobada, false)
                    }
                    ComisionEvent::ComisionPagada {
                        referencia_pago,
                        lote_id,
                        pagada_en,
                    } => {
                        row.pagada_en = Some(*pagada_en);
                        row.lote_pago = *lote_id;
                        row.referencia_pago = Some(referencia_pago.clone());
                        (Estado::Pagada, false)
                    }
                    ComisionEvent::ComisionRevertida {
                        motivo, clawback, ..
                    } => {
                        row.revertida_en = Some(event.recorded_at);
                        row.motivo_reversion = Some(motivo.clone());
                        row.clawback = *clawback;
                        (Estado::Revertida, *clawback)
                    }
                    ComisionEvent::ComisionReservada { .. } => return,
                };
                if antes == Some(despues) {
                    return;
                }
                row.estado = despues.as_str().to_string();
                Movimiento {
                    partner_id: row.partner_id,
                    campana_id: row.campana_id,
                    moneda: row.moneda,
                    monto: row.monto,
                    antes,
                    despues,
                    clawback,
                }
            }
        };
        self.contar(event, &movimiento);
    }

    /// Moves the amount in the partner's balance and the campaign's statistics.
    fn contar(&mut self, event: &LogEvent, movimiento: &Movimiento) {
        let monto = movimiento.monto;
        let saldo =
            self.saldos
                .get_or_insert_with((movimiento.partner_id, movimiento.moneda), || {
                    SaldoPartnerRow {
                        partner_id: movimiento.partner_id,
                        moneda: movimiento.moneda,
                        comisiones: 0,
                        reservado: 0,
                        aprobado: 0,
                        pagado: 0,
                        revertido: 0,
                        por_recuperar: 0,
                        actualizada_en: event.recorded_at,
                        log_position: String::new(),
                    }
                });
        saldo.actualizada_en = event.recorded_at;
        saldo.log_position = event.position.to_string();
        if movimiento.antes.is_none() {
            saldo.comisiones += 1;
        }
        if let Some(antes) = movimiento.antes {
            *saldo_de(saldo, antes) -= monto;
        }
        *saldo_de(saldo, movimiento.despues) += monto;
        if movimiento.clawback {
            saldo.por_recuperar += monto;
        }

        let estadisticas = self.estadisticas.get_or_insert_with(
            (movimiento.campana_id, movimiento.moneda),
            || EstadisticasComisionesRow {
                campana_id: movimiento.campana_id,
                moneda: movimiento.moneda,
                reservadas: 0,
                monto_reservado: 0,
                aprobadas: 0,
                monto_aprobado: 0,
                pagadas: 0,
                monto_pagado: 0,
                revertidas: 0,
                monto_revertido: 0,
                clawbacks: 0,
                monto_clawback: 0,
                actualizada_en: event.recorded_at,
                log_position: String::new(),
            },
        );
        estadisticas.actualizada_en = event.recorded_at;
        estadisticas.log_position = event.position.to_string();
        if let Some(antes) = movimiento.antes {
            let (cuantas, cuanto) = estadistica_de(estadisticas, antes);
            *cuantas -= 1;
            *cuanto -= monto;
        }
        let (cuantas, cuanto) = estadistica_de(estadisticas, movimiento.despues);
        *cuantas += 1;
        *cuanto += monto;
        if movimiento.clawback {
            estadisticas.clawbacks += 1;
            estadisticas.monto_clawback += monto;
        }
    }
}

fn reservada(event: &LogEvent, id: Uuid, datos: &DatosComision) -> ComisionRow {
    let (seq_high, seq_low) = seq(event.position);
    ComisionRow {
        id,
        conversion_id: datos.conversion_id,
        atribucion_id: datos.atribucion_id,
        campana_id: datos.campana_id,
        partner_id: datos.partner_id,
        journey_id: datos.journey_id,
        monto: datos.monto.amount,
        moneda: datos.monto.currency,
        estado: Estado::Reservada.as_str().to_string(),
        fecha_conversion: datos.fecha_conversion,
        dias_retencion: i64::from(datos.dias_retencion),
        disponible_desde: datos
            .fecha_conversion
            .checked_add_days(Days::new(u64::from(datos.dias_retencion))),
        reservada_en: event.recorded_at,
        aprobada_en: None,
        lote_aprobacion: None,
        pagada_en: None,
        lote_pago: None,
        referencia_pago: None,
        revertida_en: None,
        motivo_reversion: None,
        clawback: false,
        actualizada_en: event.recorded_at,
        version: event.sequence,
        seq_high,
        seq_low,
        log_position: event.position.to_string(),
    }
}

fn saldo_de(saldo: &mut SaldoPartnerRow, estado: Estado) -> &mut i64 {
    match estado {
        Estado::Reservada => &mut saldo.reservado,
        Estado::Aprobada => &mut saldo.aprobado,
        Estado::Pagada => &mut saldo.pagado,
        Estado::Revertida => &mut saldo.revertido,
    }
}

fn estadistica_de(row: &mut EstadisticasComisionesRow, estado: Estado) -> (&mut i64, &mut i64) {
    match estado {
        Estado::Reservada => (&mut row.reservadas, &mut row.monto_reservado),
        Estado::Aprobada => (&mut row.aprobadas, &mut row.monto_aprobado),
        Estado::Pagada => (&mut row.pagadas, &mut row.monto_pagado),
        Estado::Revertida => (&mut row.revertidas, &mut row.monto_revertido),
    }
}
