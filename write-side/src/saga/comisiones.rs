//! The comisiones service's reactions: record each commission the budget reserved, and take
//! back every commission of a conversion whose attribution is reverted or found to be fraud.

use alpes_domain::atribucion::{AtribucionEvent, MotivoReversion};
use alpes_domain::campana::CampanaEvent;
use alpes_domain::comision::{Comision, ComisionCommand, ComisionEvent, DatosComision};
use alpes_domain::ids;
use alpes_event_store::{ConsumerError, StoreError};
use chrono::{DateTime, Days, Utc};
use uuid::Uuid;

use super::atribucion::fraude_tras_atribuir;
use super::database::{
    instant_text, parse_instant, parse_u32, uuid_text, SagaDatabase, SqlValue, Write,
};
use super::names;
use super::reactor::{stream, AnyEvent, Keys, Reaction, Reactor, Received};
use crate::CommandServices;

/// PresupuestoReservado → ReservarComision, with the conversion's journey and date (learned
/// from ConversionAtribuida) and the campaign's hold period (learned from CampanaCreada).
pub(crate) struct ReservarComision {
    pub commands: CommandServices,
}

const INSERT_CAMPANA: &str = "INSERT INTO saga_comisiones_campanas (campana_id, dias_retencion) \
     VALUES ($1, $2) ON CONFLICT (campana_id) DO NOTHING";
const INSERT_CONVERSION: &str = "INSERT INTO saga_comisiones_conversiones \
     (conversion_id, journey_id, campana_id, occurred_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (conversion_id) DO NOTHING";

#[async_trait::async_trait]
impl Reactor for ReservarComision {
    fn name(&self) -> &'static str {
        names::RESERVAR_COMISION
    }

    fn interested(&self, aggregate_type: &str, event_type: &str) -> bool {
        matches!(
            (aggregate_type, event_type),
            ("Campana", "CampanaCreada" | "PresupuestoReservado")
                | ("Atribucion", "ConversionAtribuida")
        )
    }

    fn learn(&self, event: &Received) -> Vec<Write> {
        match &event.event {
            AnyEvent::Campana(CampanaEvent::CampanaCreada { datos, .. }) => vec![Write::new(
                INSERT_CAMPANA,
                vec![
                    uuid_text(&event.aggregate_id),
                    SqlValue::Integer(i64::from(datos.atribucion.dias_retencion)),
                ],
            )],
            AnyEvent::Atribucion(AtribucionEvent::ConversionAtribuida { conversion, .. }) => {
                vec![Write::new(
                    INSERT_CONVERSION,
                    vec![
                        uuid_text(&conversion.interaccion_id),
                        uuid_text(&conversion.journey_id),
                        uuid_text(&conversion.campana_id),
                        instant_text(conversion.occurred_at),
                    ],
                )]
            }
            _ => Vec::new(),
        }
    }

    fn reacts_to(&self, event: &Received) -> bool {
        matches!(
            &event.event,
            AnyEvent::Campana(CampanaEvent::PresupuestoReservado { .. })
        )
    }

    /// The conversion and the campaign of the reservation.
    fn reads(&self, event: &Received) -> Keys {
        match &event.event {
            AnyEvent::Campana(CampanaEvent::PresupuestoReservado { conversion_id, .. }) => {
                Keys::of([*conversion_id, event.aggregate_id])
            }
            _ => Keys::All,
        }
    }

    fn writes(&self, event: &Received) -> Keys {
        match &event.event {
            AnyEvent::Atribucion(AtribucionEvent::ConversionAtribuida { conversion, .. }) => {
                Keys::of([conversion.interaccion_id])
            }
            _ => Keys::of([event.aggregate_id]),
        }
    }

    async fn react(&self, event: &Received, reaction: &Reaction<'_>) -> Result<(), ConsumerError> {
        let AnyEvent::Campana(CampanaEvent::PresupuestoReservado {
            comision_id,
            conversion_id,
            partner_id,
            monto,
            ..
        }) = &event.event
        else {
            return Ok(());
        };
        let aggregate = stream::<Comision>(*comision_id);
        let campana_id = event.aggregate_id;
        let Some(hechos) =
            hechos_de_la_reserva(reaction.database(), *conversion_id, campana_id).await?
        else {
            let reason = format!(
                "the log holds no ConversionAtribuida of {conversion_id} or no CampanaCreada of \
                 {campana_id} before this reservation"
            );
            return reaction
                .skip(
                    &aggregate,
                    "ReservarComision",
                    "HechosDesconocidos",
                    &reason,
                )
                .await;
        };
        let datos = DatosComision {
            conversion_id: *conversion_id,
            atribucion_id: ids::atribucion_id(conversion_id),
            campana_id,
            partner_id: *partner_id,
            journey_id: hechos.journey_id,
            monto: *monto,
            fecha_conversion: hechos.fecha_conversion,
            dias_retencion: hechos.dias_retencion,
        };
        let command = ComisionCommand::ReservarComision {
            id: *comision_id,
            datos,
        };
        let context = reaction.context(Some(hechos.journey_id));
        let result = self
            .commands
            .comision(*comision_id, command, &context)
            .await;
        reaction
            .settle(&aggregate, "ReservarComision", result)
            .await?
            .ok();
        Ok(())
    }
}

/// What a commission needs beyond the reservation event.
struct HechosDeLaReserva {
    journey_id: Uuid,
    fecha_conversion: DateTime<Utc>,
    dias_retencion: u32,
}

async fn hechos_de_la_reserva(
    database: &SagaDatabase,
    conversion_id: Uuid,
    campana_id: Uuid,
) -> Result<Option<HechosDeLaReserva>, StoreError> {
    const SQL: &str = "SELECT c.journey_id, c.occurred_at, k.dias_retencion \
         FROM saga_comisiones_conversiones c \
         JOIN saga_comisiones_campanas k ON k.campana_id = $2 \
         WHERE c.conversion_id = $1";
    let values = [uuid_text(&conversion_id), uuid_text(&campana_id)];
    let row = database
        .fetch_optional(
            names::RESERVAR_COMISION,
            "reading a conversion",
            SQL,
            &values,
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(HechosDeLaReserva {
        journey_id: row.uuid(0, "saga_comisiones_conversiones.journey_id")?,
        fecha_conversion: parse_instant("saga_comisiones_conversiones.occurred_at", row.text(1)?)?,
        dias_retencion: parse_u32("saga_comisiones_campanas.dias_retencion", row.integer(2)?)?,
    }))
}

/// Takes back the commissions of a conversion:
/// - AtribucionRevertida{PresupuestoInsuficiente} or FraudeDetectado after attribution →
///   RevertirComision for every commission of the conversion reserved so far;
/// - a ComisionReservada of such a conversion that comes later (its reservation was under
///   way) → RevertirComision for it too.
///
/// It also keeps the ledger of commissions (state and end of the hold period) that the
/// approval schedule reads.
pub(crate) struct RevertirComision {
    pub commands: CommandServices,
}

/// States of the ledger (`saga_comisiones.estado`).
pub(crate) const RESERVADA: &str = "Reservada";
const APROBADA: &str = "Aprobada";
const PAGADA: &str = "Pagada";
const REVERTIDA: &str = "Revertida";

const INSERT_COMISION: &str = "INSERT INTO saga_comisiones \
     (comision_id, conversion_id, journey_id, estado, disponible_desde_ms, reservada_por) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (comision_id) DO NOTHING";
const UPDATE_ESTADO: &str = "UPDATE saga_comisiones SET estado = $2 WHERE comision_id = $1";
const INSERT_COMPENSACION: &str = "INSERT INTO saga_comisiones_compensaciones \
     (conversion_id, motivo) VALUES ($1, $2) ON CONFLICT (conversion_id) DO NOTHING";

#[async_trait::async_trait]
impl Reactor for RevertirComision {
    fn name(&self) -> &'static str {
        names::REVERTIR_COMISION
    }

    fn interested(&self, aggregate_type: &str, event_type: &str) -> bool {
        matches!(
            (aggregate_type, event_type),
            ("Comision", _) | ("Atribucion", "AtribucionRevertida" | "FraudeDetectado")
        )
    }

    fn learn(&self, event: &Received) -> Vec<Write> {
        let id = uuid_text(&event.aggregate_id);
        let estado = |estado: &str| {
            vec![Write::new(
                UPDATE_ESTADO,
                vec![id.clone(), SqlValue::Text(estado.to_string())],
            )]
        };
        match &event.event {
            AnyEvent::Comision(ComisionEvent::ComisionReservada { datos, .. }) => {
                vec![Write::new(
                    INSERT_COMISION,
                    vec![
                        id.clone(),
                        uuid_text(&datos.conversion_id),
                        uuid_text(&datos.journey_id),
                        SqlValue::Text(RESERVADA.to_string()),
                        SqlValue::Integer(disponible_desde_ms(
                            datos.fecha_conversion,
                            datos.dias_retencion,
                        )),
                        SqlValue::Text(event.causa.clone()),
                    ],
                )]
            }
            AnyEvent::Comision(ComisionEvent::ComisionAprobada { .. }) => estado(APROBADA),
            AnyEvent::Comision(ComisionEvent::ComisionPagada { .. }) => estado(PAGADA),
            AnyEvent::Comision(ComisionEvent::ComisionRevertida { .. }) => estado(REVERTIDA),
            AnyEvent::Atribucion(evento) => match compensacion(evento) {
                Some((conversion_id, motivo)) => vec![Write::new(
                    INSERT_COMPENSACION,
                    vec![uuid_text(&conversion_id), SqlValue::Text(motivo)],
                )],
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    fn reacts_to(&self, event: &Received) -> bool {
        match &event.event {
            AnyEvent::Comision(ComisionEvent::ComisionReservada { .. }) => true,
            // A reversion for fraud comes after the commissions were reverted on
            // FraudeDetectado: nothing left to do.
            AnyEvent::Atribucion(AtribucionEvent::AtribucionRevertida {
                motivo: MotivoReversion::PresupuestoInsuficiente,
                ..
            }) => true,
            AnyEvent::Atribucion(evento) => fraude_tras_atribuir(evento).is_some(),
            _ => false,
        }
    }

    /// A reserved commission's conversion (was it compensated?); everything otherwise.
    fn reads(&self, event: &Received) -> Keys {
        match &event.event {
            AnyEvent::Comision(ComisionEvent::ComisionReservada { datos, .. }) => {
                Keys::of([datos.conversion_id])
            }
            _ => Keys::All,
        }
    }

    /// A new commission is a row of its conversion; a change of state or a compensation
    /// may concern any conversion's commissions.
    fn writes(&self, event: &Received) -> Keys {
        match &event.event {
            AnyEvent::Comision(ComisionEvent::ComisionReservada { datos, .. }) => {
                Keys::of([datos.conversion_id])
            }
            _ => Keys::All,
        }
    }

    async fn react(&self, event: &Received, reaction: &Reaction<'_>) -> Result<(), ConsumerError> {
        let database = reaction.database();
        match &event.event {
            AnyEvent::Comision(ComisionEvent::ComisionReservada { id, datos }) => {
                if let Some(motivo) = motivo_de_compensacion(database, datos.conversion_id).await? {
                    self.revertir(*id, datos.journey_id, motivo, reaction)
                        .await?;
                }
            }
            AnyEvent::Atribucion(evento) => {
                let Some((conversion_id, motivo)) = compensacion(evento) else {
                    return Ok(());
                };
                for (comision_id, journey_id) in
                    comisiones_sin_revertir(database, conversion_id).await?
                {
                    self.revertir(comision_id, journey_id, motivo.clone(), reaction)
                        .await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl RevertirComision {
    async fn revertir(
        &self,
        comision_id: Uuid,
        journey_id: Uuid,
        motivo: String,
        reaction: &Reaction<'_>,
    ) -> Result<(), ConsumerError> {
        let result = self
            .commands
            .comision(
                comision_id,
                ComisionCommand::RevertirComision { motivo },
                &reaction.context(Some(journey_id)),
            )
            .await;
        reaction
            .settle(&stream::<Comision>(comision_id), "RevertirComision", result)
            .await?
            .ok();
        Ok(())
    }
}

/// The conversion whose commissions an event takes back, and why, in words.
fn compensacion(evento: &AtribucionEvent) -> Option<(Uuid, String)> {
    match evento {
        AtribucionEvent::AtribucionRevertida {
            conversion, motivo, ..
        } => {
            let motivo = match motivo {
                MotivoReversion::PresupuestoInsuficiente => {
                    "atribución revertida: presupuesto insuficiente"
                }
                MotivoReversion::Fraude => "atribución revertida: fraude",
            };
            Some((conversion.interaccion_id, motivo.to_string()))
        }
        AtribucionEvent::FraudeDetectado { motivo, .. } => {
            let conversion = fraude_tras_atribuir(evento)?;
            Some((conversion.interaccion_id, format!("fraude: {motivo}")))
        }
        _ => None,
    }
}

/// The end of the hold period in milliseconds since the epoch, rounded up so the schedule
/// never asks early; a period beyond the calendar never ends.
fn disponible_desde_ms(fecha_conversion: DateTime<Utc>, dias_retencion: u32) -> i64 {
    fecha_conversion
        .checked_add_days(Days::new(u64::from(dias_retencion)))
        .map(|fin| {
            let ms = fin.timestamp_millis();
            if fin.timestamp_subsec_nanos() % 1_000_000 == 0 {
                ms
            } else {
                ms.saturating_add(1)
            }
        })
        .unwrap_or(i64::MAX)
}

async fn motivo_de_compensacion(
    database: &SagaDatabase,
    conversion_id: Uuid,
) -> Result<Option<String>, StoreError> {
    const SQL: &str = "SELECT motivo FROM saga_comisiones_compensaciones WHERE conversion_id = $1";
    let row = database
        .fetch_optional(
            names::REVERTIR_COMISION,
            "reading a compensation",
            SQL,
            &[uuid_text(&conversion_id)],
        )
        .await?;
    row.map(|row| row.text(0).map(str::to_string)).transpose()
}

async fn comisiones_sin_revertir(
    database: &SagaDatabase,
    conversion_id: Uuid,
) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
    const SQL: &str = "SELECT comision_id, journey_id FROM saga_comisiones \
         WHERE conversion_id = $1 AND estado <> $2 ORDER BY comision_id";
    let values = [
        uuid_text(&conversion_id),
        SqlValue::Text(REVERTIDA.to_string()),
    ];
    let rows = database
        .fetch_all(
            names::REVERTIR_COMISION,
            "reading commissions",
            SQL,
            &values,
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.uuid(0, "saga_comisiones.comision_id")?,
                row.uuid(1, "saga_comisiones.journey_id")?,
            ))
        })
        .collect()
}
