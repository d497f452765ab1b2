//! Marketing's projection: Campana events into `campanas`; those and the interactions,
//! attributions and commissions of each campaign into `estadisticas_campana`.

use alpes_domain::atribucion::AtribucionEvent;
use alpes_domain::campana::{CampanaEvent, DatosCampana, EstadoCampana};
use alpes_domain::comision::ComisionEvent;
use alpes_domain::interaccion::InteraccionEvent;
use alpes_domain::{Money, TipoInteraccion};
use uuid::Uuid;

use super::resumen_reglas::resumen_reglas;
use super::{CampanaRow, EstadisticasCampanaRow};
use crate::cache::RowCache;
use crate::db::{view_row, Json, TableInfo, ViewRow, WriteTx};
use crate::log_event::{Aggregates, DomainEvent, LogEvent};
use crate::names::{estado_campana, modelo, seq, tipo_campana, tipo_interaccion};
use crate::projector::{Projection, ProjectionName, TableNames};
use crate::ReadError;

view_row! {
    /// Marketing's own record of an interaction, to count a later discard against the
    /// right campaign and type.
    pub struct MarketingInteraccionRow in "marketing_interacciones" key (id: Uuid) {
        /// The interaction.
        pub id: Uuid,
        /// Its campaign.
        pub campana_id: Uuid,
        /// Its type.
        pub tipo: String,
        /// Whether it was discarded.
        pub descartada: bool,
    }
}

view_row! {
    /// Marketing's own record of a commission, to move its amount between states.
    pub struct MarketingComisionRow in "marketing_comisiones" key (id: Uuid) {
        /// The commission.
        pub id: Uuid,
        /// Its campaign.
        pub campana_id: Uuid,
        /// Its amount, in the budget currency.
        pub monto: i64,
        /// `Reservada`, `Aprobada`, `Pagada` or `Revertida`.
        pub estado: String,
    }
}

/// Campaigns and their statistics.
pub(crate) struct MarketingProjection;

const TABLES: &[TableInfo] = &[
    CampanaRow::TABLE,
    EstadisticasCampanaRow::TABLE,
    MarketingInteraccionRow::TABLE,
    MarketingComisionRow::TABLE,
];

#[async_trait::async_trait]
impl Projection for MarketingProjection {
    fn name(&self) -> ProjectionName {
        ProjectionName::Marketing
    }

    fn aggregates(&self) -> Aggregates {
        Aggregates::ALL
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
            batch.apply(event);
        }
        batch.campanas.flush(tx, tables).await?;
        batch.estadisticas.flush(tx, tables).await?;
        batch.interacciones.flush(tx, tables).await?;
        batch.comisiones.flush(tx, tables).await
    }
}

struct Batch {
    campanas: RowCache<CampanaRow>,
    estadisticas: RowCache<EstadisticasCampanaRow>,
    interacciones: RowCache<MarketingInteraccionRow>,
    comisiones: RowCache<MarketingComisionRow>,
}

/// Where a commission's amount is counted.
#[derive(Clone, Copy, PartialEq, Eq)]
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

impl Batch {
    fn new() -> Self {
        Batch {
            campanas: RowCache::new(),
            estadisticas: RowCache::new(),
            interacciones: RowCache::new(),
            comisiones: RowCache::new(),
        }
    }

    /// Reads the interactions and commissions whose events name no campaign, then the
    /// statistics of the campaigns every event touches, and the campaign rows of the
    /// campaign events (only those change a `campanas` row: reading the row of every
    /// campaign an interaction names would read ~200 wide rows per batch for nothing).
    async fn load(
        &mut self,
        tx: &mut WriteTx,
        tables: &TableNames,
        events: &[&LogEvent],
    ) -> Result<(), ReadError> {
        let mut interacciones = Vec::new();
        let mut comisiones = Vec::new();
        let mut campanas = Vec::new();
        let mut estadisticas = Vec::new();
        for event in events {
            match &event.event {
                DomainEvent::Campana(_) => campanas.push((event.aggregate_id,)),
                DomainEvent::Interaccion(InteraccionEvent::InteraccionRegistrada {
                    datos, ..
                }) => estadisticas.push((datos.campana_id,)),
                DomainEvent::Interaccion(InteraccionEvent::InteraccionDescartada { .. }) => {
                    interacciones.push((event.aggregate_id,))
                }
                DomainEvent::Atribucion(atribucion) => {
                    estadisticas.push((conversion_de(atribucion).campana_id,))
                }
                DomainEvent::Comision(ComisionEvent::ComisionReservada { datos, .. }) => {
                    estadisticas.push((datos.campana_id,))
                }
                DomainEvent::Comision(_) => comisiones.push((event.aggregate_id,)),
            }
        }
        self.interacciones.load(tx, tables, interacciones).await?;
        self.comisiones.load(tx, tables, comisiones).await?;
        estadisticas.extend(self.interacciones.rows().map(|row| (row.campana_id,)));
        estadisticas.extend(self.comisiones.rows().map(|row| (row.campana_id,)));
        estadisticas.extend(campanas.iter().copied());
        self.campanas.load(tx, tables, campanas).await?;
        self.estadisticas.load(tx, tables, estadisticas).await
    }

    fn apply(&mut self, event: &LogEvent) {
        match &event.event {
            DomainEvent::Campana(campana) => self.campana(event, campana),
            DomainEvent::Interaccion(interaccion) => self.interaccion(event, interaccion),
            DomainEvent::Atribucion(atribucion) => self.atribucion(event, atribucion),
            DomainEvent::Comision(comision) => self.comision(event, comision),
        }
    }

    /// The statistics of `campana_id`, created empty when absent, stamped with `event`.
    fn estadisticas(&mut self, event: &LogEvent, campana_id: Uuid) -> &mut EstadisticasCampanaRow {
        let row = self
            .estadisticas
            .get_or_insert_with((campana_id,), || estadisticas_vacias(campana_id, event));
        row.actualizada_en = event.recorded_at;
        row.log_position = event.position.to_string();
        row
    }

    fn campana(&mut self, event: &LogEvent, campana: &CampanaEvent) {
        let id = event.aggregate_id;
        if let CampanaEvent::CampanaCreada { datos, .. } = campana {
            let row = campana_creada(event, datos);
            let estadisticas = self.estadisticas(event, id);
            estadisticas.moneda = Some(row.moneda);
            Presupuesto::of(&row).copiar_a(estadisticas);
            self.campanas.insert(row);
            return;
        }
        let Some(row) = self.campanas.get_mut(&(id,)) else {
            tracing::warn!(campana = %id, position = %event.position,
                "event of a campaign never created; ignored by the campaign view");
            return;
        };
        row.actualizada_en = event.recorded_at;
        row.version = event.sequence;
        row.log_position = event.position.to_string();
        let mut insuficiente = false;
        match campana {
            CampanaEvent::CampanaCreada { .. } => {}
            CampanaEvent::CampanaActivada => {
                row.estado = estado_campana(EstadoCampana::Activa).to_string()
            }
            CampanaEvent::CampanaPausada => {
                row.estado = estado_campana(EstadoCampana::Pausada).to_string()
            }
            CampanaEvent::CampanaFinalizada => {
                row.estado = estado_campana(EstadoCampana::Finalizada).to_string()
            }
            CampanaEvent::CampanaCancelada { motivo } => {
                row.estado = estado_campana(EstadoCampana::Cancelada).to_string();
                row.motivo_cancelacion = Some(motivo.clone());
            }
            CampanaEvent::ReglaComisionActualizada {
                tipo_conversion,
                regla,
            } => {
                row.reglas_comision.0.fijar(*tipo_conversion, regla.clone());
                row.reglas_resumen = resumen_reglas(&row.reglas_comision.0);
            }
            CampanaEvent::PresupuestoAmpliado { presupuesto, .. } => {
                row.presupuesto = presupuesto.amount;
                row.disponible = row.presupuesto - row.reservado;
            }
            CampanaEvent::PresupuestoReservado { reservado, .. }
            | CampanaEvent::PresupuestoLiberado { reservado, .. } => {
                row.reservado = reservado.amount;
                row.disponible = row.presupuesto - row.reservado;
            }
            CampanaEvent::PresupuestoInsuficiente { .. } => insuficiente = true,
        }
        let presupuesto = Presupuesto::of(row);
        let estadisticas = self.estadisticas(event, id);
        presupuesto.copiar_a(estadisticas);
        if insuficiente {
            estadisticas.reservas_insuficientes += 1;
        }
    }

    fn interaccion(&mut self, event: &LogEvent, interaccion: &InteraccionEvent) {
        match interaccion {
            InteraccionEvent::InteraccionRegistrada { id, datos } => {
                let tipo = tipo_interaccion(datos.tipo);
                *contador(self.estadisticas(event, datos.campana_id), datos.tipo) += 1;
                self.interacciones.insert_new(MarketingInteraccionRow {
                    id: *id,
                    campana_id: datos.campana_id,
                    tipo: tipo.to_string(),
                    descartada: false,
                });
            }
            InteraccionEvent::InteraccionDescartada { .. } => {
                let Some(row) = self.interacciones.get_mut(&(event.aggregate_id,)) else {
                    tracing::warn!(interaccion = %event.aggregate_id, position = %event.position,
                        "discarded interaction never registered; not counted");
                    return;
                };
                if row.descartada {
                    return;
                }
                row.descartada = true;
                let campana_id = row.campana_id;
                let tipo = TipoInteraccion::ALL
                    .into_iter()
                    .find(|tipo| tipo_interaccion(*tipo) == row.tipo);
                let estadisticas = self.estadisticas(event, campana_id);
                estadisticas.descartadas += 1;
                if let Some(tipo) = tipo {
                    *contador(estadisticas, tipo) -= 1;
                }
            }
        }
    }

    fn atribucion(&mut self, event: &LogEvent, atribucion: &AtribucionEvent) {
        let conversion = conversion_de(atribucion);
        let estadisticas = self.estadisticas(event, conversion.campana_id);
        match atribucion {
            AtribucionEvent::ConversionAtribuida { .. } => {
                estadisticas.conversiones_atribuidas += 1;
                sumar_ingresos(estadisticas, conversion.valor, 1);
            }
            AtribucionEvent::ConversionNoAtribuida { .. } => {
                estadisticas.conversiones_no_atribuidas += 1
            }
            AtribucionEvent::FraudeDetectado { .. } => estadisticas.fraudes_detectados += 1,
            AtribucionEvent::AtribucionRevertida { .. } => {
                estadisticas.conversiones_atribuidas -= 1;
                estadisticas.conversiones_revertidas += 1;
                sumar_ingresos(estadisticas, conversion.valor, -1);
            }
        }
    }

    fn comision(&mut self, event: &LogEvent, comision: &ComisionEvent) {
        let (campana_id, monto, antes, despues) = match comision {
            ComisionEvent::ComisionReservada { id, datos } => {
                self.comisiones.insert(MarketingComisionRow {
                    id: *id,
                    campana_id: datos.campana_id,
                    monto: datos.monto.amount,
                    estado: Estado::Reservada.as_str().to_string(),
                });
                (
                    datos.campana_id,
                    datos.monto.amount,
                    None,
                    Estado::Reservada,
                )
            }
            ComisionEvent::ComisionAprobada { .. } => {
                let Some(cambio) = self.mover(event, Estado::Aprobada) else {
                    return;
                };
                cambio
            }
            ComisionEvent::ComisionPagada { .. } => {
                let Some(cambio) = self.mover(event, Estado::Pagada) else {
                    return;
                };
                cambio
            }
            ComisionEvent::ComisionRevertida { .. } => {
                let Some(cambio) = self.mover(event, Estado::Revertida) else {
                    return;
                };
                cambio
            }
        };
        let estadisticas = self.estadisticas(event, campana_id);
        if let Some(antes) = antes {
            let (cuantas, cuanto) = bucket(estadisticas, antes);
            *cuantas -= 1;
            *cuanto -= monto;
        }
        let (cuantas, cuanto) = bucket(estadisticas, despues);
        *cuantas += 1;
        *cuanto += monto;
    }

    /// Moves the commission of `event` to `despues`: its campaign, amount, and the states
    /// before and after; `None` when it is unknown or already there.
    fn mover(
        &mut self,
        event: &LogEvent,
        despues: Estado,
    ) -> Option<(Uuid, i64, Option<Estado>, Estado)> {
        let Some(row) = self.comisiones.get_mut(&(event.aggregate_id,)) else {
            tracing::warn!(comision = %event.aggregate_id, position = %event.position,
                "event of a commission never reserved; not counted");
            return None;
        };
        let antes = Estado::parse(&row.estado);
        if antes == Some(despues) {
            return None;
        }
        row.estado = despues.as_str().to_string();
        Some((row.campana_id, row.monto, antes, despues))
    }
}

fn conversion_de(atribucion: &AtribucionEvent) -> &alpes_domain::atribucion::Conversion {
    match atribucion {
        AtribucionEvent::ConversionAtribuida { conversion, .. }
        | AtribucionEvent::ConversionNoAtribuida { conversion, .. }
        | AtribucionEvent::FraudeDetectado { conversion, .. }
        | AtribucionEvent::AtribucionRevertida { conversion, .. } => conversion,
    }
}

fn campana_creada(event: &LogEvent, datos: &DatosCampana) -> CampanaRow {
    let (seq_high, seq_low) = seq(event.position);
    CampanaRow {
        id: event.aggregate_id,
        marca_id: datos.marca.id,
        marca_nombre: datos.marca.nombre.clone(),
        nombre: datos.nombre.clone(),
        descripcion: datos.descripcion.clone(),
        tipo: tipo_campana(datos.tipo).to_string(),
        estado: estado_campana(EstadoCampana::Borrador).to_string(),
        motivo_cancelacion: None,
        fecha_inicio: datos.fecha_inicio,
        fecha_fin: datos.fecha_fin,
        canales: Json(datos.canales.clone()),
        segmento: Json(datos.segmento.clone()),
        frecuencia_maxima: datos.frecuencia_maxima.map(i64::from),
        moneda: datos.presupuesto.currency,
        presupuesto: datos.presupuesto.amount,
        reservado: 0,
        disponible: datos.presupuesto.amount,
        reglas_comision: Json(datos.reglas_comision.clone()),
        reglas_resumen: resumen_reglas(&datos.reglas_comision),
        modelo_atribucion: modelo(datos.atribucion.modelo).to_string(),
        ventana_dias: i64::from(datos.atribucion.ventana_dias),
        dias_retencion: i64::from(datos.atribucion.dias_retencion),
        umbral_fraude: i64::from(datos.atribucion.umbral_fraude),
        creada_en: event.recorded_at,
        actualizada_en: event.recorded_at,
        version: event.sequence,
        seq_high,
        seq_low,
        log_position: event.position.to_string(),
    }
}

fn estadisticas_vacias(campana_id: Uuid, event: &LogEvent) -> EstadisticasCampanaRow {
    EstadisticasCampanaRow {
        campana_id,
        moneda: None,
        vistas: 0,
        clicks: 0,
        engagements: 0,
        leads: 0,
        registros: 0,
        compras: 0,
        descartadas: 0,
        conversiones_atribuidas: 0,
        conversiones_no_atribuidas: 0,
        conversiones_revertidas: 0,
        fraudes_detectados: 0,
        ingresos_atribuidos: 0,
        ingresos_otra_moneda: 0,
        comisiones_reservadas: 0,
        monto_reservado: 0,
        comisiones_aprobadas: 0,
        monto_aprobado: 0,
        comisiones_pagadas: 0,
        monto_pagado: 0,
        comisiones_revertidas: 0,
        monto_revertido: 0,
        reservas_insuficientes: 0,
        presupuesto: 0,
        presupuesto_reservado: 0,
        presupuesto_disponible: 0,
        actualizada_en: event.recorded_at,
        log_position: event.position.to_string(),
    }
}

/// A campaign's budget figures, copied into its statistics.
struct Presupuesto {
    total: i64,
    reservado: i64,
    disponible: i64,
}

impl Presupuesto {
    fn of(campana: &CampanaRow) -> Presupuesto {
        Presupuesto {
            total: campana.presupuesto,
            reservado: campana.reservado,
            disponible: campana.disponible,
        }
    }

    fn copiar_a(&self, estadisticas: &mut EstadisticasCampanaRow) {
        estadisticas.presupuesto = self.total;
        estadisticas.presupuesto_reservado = self.reservado;
        estadisticas.presupuesto_disponible = self.disponible;
    }
}

fn contador(estadisticas: &mut EstadisticasCampanaRow, tipo: TipoInteraccion) -> &mut i64 {
    match tipo {
        TipoInteraccion::Vista => &mut estadisticas.vistas,
        TipoInteraccion::Click => &mut estadisticas.clicks,
        TipoInteraccion::Engagement => &mut estadisticas.engagements,
        TipoInteraccion::Lead => &mut estadisticas.leads,
        TipoInteraccion::Registro => &mut estadisticas.registros,
        TipoInteraccion::Compra => &mut estadisticas.compras,
    }
}

fn bucket(estadisticas: &mut EstadisticasCampanaRow, estado: Estado) -> (&mut i64, &mut i64) {
    match estado {
        Estado::Reservada => (
            &mut estadisticas.comisiones_reservadas,
            &mut estadisticas.monto_reservado,
        ),
        Estado::Aprobada => (
            &mut estadisticas.comisiones_aprobadas,
            &mut estadisticas.monto_aprobado,
        ),
        Estado::Pagada => (
            &mut estadisticas.comisiones_pagadas,
            &mut estadisticas.monto_pagado,
        ),
        Estado::Revertida => (
            &mut estadisticas.comisiones_revertidas,
            &mut estadisticas.monto_revertido,
        ),
    }
}

/// Adds (`sign` 1) or removes (`sign` -1) an attributed conversion's value: summed in the
/// campaign's currency, counted apart when in another.
fn sumar_ingresos(estadisticas: &mut EstadisticasCampanaRow, valor: Money, sign: i64) {
    let moneda = *estadisticas.moneda.get_or_insert(valor.currency);
    if moneda == valor.currency {
        estadisticas.ingresos_atribuidos += sign * valor.amount;
    } else {
        estadisticas.ingresos_otra_moneda += sign;
    }
}
