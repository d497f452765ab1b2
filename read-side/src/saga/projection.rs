//! The saga's projection: every event of a journey's saga into `journeys` and
//! `journey_pasos`.

use alpes_domain::atribucion::AtribucionEvent;
use alpes_domain::campana::CampanaEvent;
use alpes_domain::comision::ComisionEvent;
use alpes_domain::interaccion::InteraccionEvent;
use uuid::Uuid;

use super::{EstadoJourney, JourneyRow, PasoRow};
use crate::cache::RowCache;
use crate::db::{view_row, TableInfo, ViewRow, WriteTx};
use crate::log_event::{Aggregates, DomainEvent, LogEvent};
use crate::names::{motivo_no_atribucion, motivo_reversion, seq, tipo_interaccion};
use crate::projector::{Projection, ProjectionName, TableNames};
use crate::ReadError;

view_row! {
    /// Which journey an interaction or a commission belongs to, for the events that do
    /// not say (discards, budget reservations, approvals, payments, reversals).
    pub struct ReferenciaRow in "saga_referencias" key (id: Uuid) {
        /// The interaction or commission.
        pub id: Uuid,
        /// `Interaccion` or `Comision`.
        pub tipo: String,
        /// Its journey.
        pub journey_id: Uuid,
    }
}

/// The saga log of every journey.
pub(crate) struct SagaProjection;

const TABLES: &[TableInfo] = &[JourneyRow::TABLE, PasoRow::TABLE, ReferenciaRow::TABLE];

#[async_trait::async_trait]
impl Projection for SagaProjection {
    fn name(&self) -> ProjectionName {
        ProjectionName::Saga
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
        batch.journeys.flush(tx, tables).await?;
        batch.pasos.flush(tx, tables).await?;
        batch.referencias.flush(tx, tables).await
    }
}

struct Batch {
    journeys: RowCache<JourneyRow>,
    pasos: RowCache<PasoRow>,
    referencias: RowCache<ReferenciaRow>,
}

/// A step to log: who took it, what was recorded and what came of it.
struct Paso {
    paso: &'static str,
    comando: &'static str,
    resultado: String,
}

impl Batch {
    fn new() -> Self {
        Batch {
            journeys: RowCache::new(),
            pasos: RowCache::new(),
            referencias: RowCache::new(),
        }
    }

    /// Reads the references of events that do not name their journey, then the journeys
    /// every event touches.
    async fn load(
        &mut self,
        tx: &mut WriteTx,
        tables: &TableNames,
        events: &[&LogEvent],
    ) -> Result<(), ReadError> {
        let mut referencias = Vec::new();
        let mut journeys = Vec::new();
        for event in events {
            match journey_of(event) {
                Some(Journey::Known(id)) => journeys.push((id,)),
                Some(Journey::Through(id)) => referencias.push((id,)),
                None => {}
            }
        }
        self.referencias.load(tx, tables, referencias).await?;
        journeys.extend(self.referencias.rows().map(|row| (row.journey_id,)));
        self.journeys.load(tx, tables, journeys).await
    }

    fn apply(&mut self, event: &LogEvent) {
        let journey_id = match journey_of(event) {
            Some(Journey::Known(id)) => id,
            Some(Journey::Through(id)) => match self.referencias.get(&(id,)) {
                Some(referencia) => referencia.journey_id,
                None => {
                    tracing::warn!(position = %event.position, stream = %event.stream(),
                        "event of an interaction or commission of no known journey; not logged");
                    return;
                }
            },
            None => return,
        };
        self.remember(event, journey_id);
        let journey = self
            .journeys
            .get_or_insert_with((journey_id,), || iniciado(event, journey_id));
        journey.actualizado_en = event.recorded_at;
        journey.log_position = event.position.to_string();
        if let Some(paso) = step(journey, event) {
            journey.pasos += 1;
            let n = journey.pasos;
            let (seq_high, seq_low) = seq(event.position);
            // Step n + 1 of a journey whose row counts n steps is never stored yet.
            self.pasos.insert_new(PasoRow {
                journey_id,
                n,
                paso: paso.paso.to_string(),
                evento: event.event_type(),
                comando: paso.comando.to_string(),
                agregado: event.stream(),
                resultado: paso.resultado,
                actor: event.actor.clone(),
                ocurrido_en: event.recorded_at,
                seq_high,
                seq_low,
            });
        }
    }

    /// Records which journey the interactions and commissions of `event` belong to.
    fn remember(&mut self, event: &LogEvent, journey_id: Uuid) {
        let (id, tipo) = match &event.event {
            DomainEvent::Interaccion(InteraccionEvent::InteraccionRegistrada { id, .. }) => {
                // The interaction's first event: its reference cannot be stored yet.
                self.referencias.insert_new(ReferenciaRow {
                    id: *id,
                    tipo: "Interaccion".to_string(),
                    journey_id,
                });
                return;
            }
            DomainEvent::Campana(CampanaEvent::PresupuestoReservado { comision_id, .. }) => {
                (*comision_id, "Comision")
            }
            DomainEvent::Comision(ComisionEvent::ComisionReservada { id, .. }) => (*id, "Comision"),
            _ => return,
        };
        if self.referencias.get(&(id,)).is_none() {
            self.referencias.insert(ReferenciaRow {
                id,
                tipo: tipo.to_string(),
                journey_id,
            });
        }
    }
}

/// How an event names its journey.
enum Journey {
    /// It carries it.
    Known(Uuid),
    /// Through the journey of this interaction or commission.
    Through(Uuid),
}

fn journey_of(event: &LogEvent) -> Option<Journey> {
    Some(match &event.event {
        DomainEvent::Interaccion(InteraccionEvent::InteraccionRegistrada { datos, .. }) => {
            Journey::Known(datos.journey_id)
        }
        DomainEvent::Interaccion(InteraccionEvent::InteraccionDescartada { .. }) => {
            Journey::Through(event.aggregate_id)
        }
        DomainEvent::Atribucion(
            AtribucionEvent::ConversionAtribuida { conversion, .. }
            | AtribucionEvent::ConversionNoAtribuida { conversion, .. }
            | AtribucionEvent::FraudeDetectado { conversion, .. }
            | AtribucionEvent::AtribucionRevertida { conversion, .. },
        ) => Journey::Known(conversion.journey_id),
        DomainEvent::Campana(
            CampanaEvent::PresupuestoReservado { conversion_id, .. }
            | CampanaEvent::PresupuestoInsuficiente { conversion_id, .. },
        ) => Journey::Through(*conversion_id),
        DomainEvent::Campana(CampanaEvent::PresupuestoLiberado { comision_id, .. }) => {
            Journey::Through(*comision_id)
        }
        DomainEvent::Campana(_) => return None,
        DomainEvent::Comision(ComisionEvent::ComisionReservada { datos, .. }) => {
            Journey::Known(datos.journey_id)
        }
        DomainEvent::Comision(_) => Journey::Through(event.aggregate_id),
    })
}

fn iniciado(event: &LogEvent, id: Uuid) -> JourneyRow {
    let (seq_high, seq_low) = seq(event.position);
    let campana_id = match &event.event {
        DomainEvent::Interaccion(InteraccionEvent::InteraccionRegistrada { datos, .. }) => {
            Some(datos.campana_id)
        }
        _ => None,
    };
    JourneyRow {
        id,
        estado: EstadoJourney::Started.as_str().to_string(),
        campana_id,
        interacciones: 0,
        conversiones: 0,
        creditos: 0,
        comisiones_reservadas: 0,
        descartadas: 0,
        pasos: 0,
        iniciado_en: event.recorded_at,
        actualizado_en: event.recorded_at,
        seq_high,
        seq_low,
        log_position: event.position.to_string(),
    }
}

/// Moves the journey's state and counters for `event`; the step to log, if it is one
/// (touchpoints — views, clicks, engagements — are counted, not logged).
fn step(journey: &mut JourneyRow, event: &LogEvent) -> Option<Paso> {
    let paso = match &event.event {
        DomainEvent::Interaccion(InteraccionEvent::InteraccionRegistrada { datos, .. }) => {
            journey.interacciones += 1;
            journey.campana_id.get_or_insert(datos.campana_id);
            if !datos.tipo.is_conversion() {
                return None;
            }
            journey.conversiones += 1;
            if !compensando(journey) {
                set(journey, EstadoJourney::InProgress);
            }
            Paso {
                paso: "tracking",
                comando: "RegistrarInteraccion",
                resultado: format!("conversión {} registrada", tipo_interaccion(datos.tipo)),
            }
        }
        DomainEvent::Interaccion(InteraccionEvent::InteraccionDescartada { motivo }) => {
            journey.descartadas += 1;
            Paso {
                paso: "tracking",
                comando: "DescartarInteraccion",
                resultado: format!("interacción descartada: {motivo}"),
            }
        }
        DomainEvent::Atribucion(atribucion) => return Some(step_atribucion(journey, atribucion)),
        DomainEvent::Campana(campana) => return step_presupuesto(journey, campana),
        DomainEvent::Comision(comision) => return Some(step_comision(journey, comision)),
    };
    Some(paso)
}

fn set(journey: &mut JourneyRow, estado: EstadoJourney) {
    journey.estado = estado.as_str().to_string();
}

fn compensando(journey: &JourneyRow) -> bool {
    journey.estado() == Some(EstadoJourney::Compensating)
}

fn step_atribucion(journey: &mut JourneyRow, atribucion: &AtribucionEvent) -> Paso {
    match atribucion {
        AtribucionEvent::ConversionAtribuida { creditos, .. } => {
            journey.creditos += creditos.len() as i64;
            if !compensando(journey) {
                set(journey, EstadoJourney::InProgress);
            }
            Paso {
                paso: "atribucion",
                comando: "AtribuirConversion",
                resultado: format!("atribuida a {} partner(s)", creditos.len()),
            }
        }
        AtribucionEvent::ConversionNoAtribuida { motivo, .. } => {
            if !compensando(journey) {
                set(journey, EstadoJourney::NotAttributed);
            }
            Paso {
                paso: "atribucion",
                comando: "AtribuirConversion",
                resultado: format!("no atribuida: {}", motivo_no_atribucion(motivo)),
            }
        }
        AtribucionEvent::FraudeDetectado {
            motivo, hallazgo, ..
        } => {
            // Findings of the rules come with the attribution itself: the conversion is
            // rejected before anyone is credited. Fraud reported later starts the
            // compensation.
            if hallazgo.is_some() {
                if !compensando(journey) {
                    set(journey, EstadoJourney::NotAttributed);
                }
                Paso {
                    paso: "atribucion",
                    comando: "AtribuirConversion",
                    resultado: format!("rechazada por fraude: {motivo}"),
                }
            } else {
                set(journey, EstadoJourney::Compensating);
                Paso {
                    paso: "atribucion",
                    comando: "MarcarFraude",
                    resultado: format!("fraude detectado: {motivo}"),
                }
            }
        }
        AtribucionEvent::AtribucionRevertida { motivo, .. } => {
            set(journey, EstadoJourney::Reverted);
            Paso {
                paso: "atribucion",
                comando: "RevertirAtribucion",
                resultado: format!("atribución revertida: {}", motivo_reversion(*motivo)),
            }
        }
    }
}

fn step_presupuesto(journey: &mut JourneyRow, campana: &CampanaEvent) -> Option<Paso> {
    Some(match campana {
        CampanaEvent::PresupuestoReservado { monto, .. } => Paso {
            paso: "presupuesto",
            comando: "ReservarPresupuesto",
            resultado: format!("reservado {monto}"),
        },
        CampanaEvent::PresupuestoInsuficiente {
            monto, disponible, ..
        } => {
            if journey.estado() != Some(EstadoJourney::Reverted) {
                set(journey, EstadoJourney::Compensating);
            }
            Paso {
                paso: "presupuesto",
                comando: "ReservarPresupuesto",
                resultado: format!("presupuesto insuficiente: {monto} > {disponible}"),
            }
        }
        CampanaEvent::PresupuestoLiberado { monto, .. } => {
            if journey.estado() != Some(EstadoJourney::Reverted) {
                set(journey, EstadoJourney::Compensating);
            }
            Paso {
                paso: "presupuesto",
                comando: "LiberarPresupuesto",
                resultado: format!("liberado {monto}"),
            }
        }
        _ => return None,
    })
}

fn step_comision(journey: &mut JourneyRow, comision: &ComisionEvent) -> Paso {
    match comision {
        ComisionEvent::ComisionReservada { datos, .. } => {
            journey.comisiones_reservadas += 1;
            if journey.estado() == Some(EstadoJourney::InProgress)
                && journey.comisiones_reservadas >= journey.creditos
            {
                set(journey, EstadoJourney::Completed);
            }
            Paso {
                paso: "comision",
                comando: "ReservarComision",
                resultado: format!("comisión reservada: {}", datos.monto),
            }
        }
        ComisionEvent::ComisionAprobada { .. } => Paso {
            paso: "comision",
            comando: "AprobarComision",
            resultado: "comisión aprobada".to_string(),
        },
        ComisionEvent::ComisionPagada {
            referencia_pago, ..
        } => Paso {
            paso: "comision",
            comando: "PagarComision",
            resultado: format!("comisión pagada: {referencia_pago}"),
        },
        ComisionEvent::ComisionRevertida {
            monto, clawback, ..
        } => {
            if journey.estado() != Some(EstadoJourney::Reverted) {
                set(journey, EstadoJourney::Compensating);
            }
            Paso {
                paso: "comision",
                comando: "RevertirComision",
                resultado: if *clawback {
                    format!("comisión revertida: {monto}, a recuperar")
                } else {
                    format!("comisión revertida: {monto}")
                },
            }
        }
    }
}
