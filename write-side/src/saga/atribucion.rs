//! The atribucion service's reactions: attribute each conversion, and take the credits back
//! when the budget cannot pay them or once a fraud's commissions are all released.

use alpes_domain::atribucion::{
    Atribucion, AtribucionCommand, AtribucionEvent, Conversion, EvidenciaJourney, MotivoReversion,
    ParametrosAtribucion, Touchpoint,
};
use alpes_domain::campana::{CampanaEvent, ConfiguracionAtribucion, EstadoCampana};
use alpes_domain::ids;
use alpes_domain::interaccion::{DatosInteraccion, InteraccionEvent};
use alpes_domain::{Currency, Money};
use alpes_event_store::{ConsumerError, StoreError};
use uuid::Uuid;

use super::database::{
    enum_text, instant_text, parse_currency, parse_enum, parse_instant, parse_u32, parse_uuid,
    uuid_text, Row, SagaDatabase, SqlValue, Write,
};
use super::names;
use super::reactor::{stream, AnyEvent, Keys, Reaction, Reactor, Received};
use crate::CommandServices;

/// InteraccionRegistrada of a conversion (Compra, Lead, Registro) → AtribuirConversion, with
/// the journey's interactions of the campaign up to the conversion, the campaign's settings
/// and whether another conversion already converted the order, all learned from the log.
pub(crate) struct AtribuirConversion {
    pub commands: CommandServices,
}

const INSERT_TOUCHPOINT: &str = "INSERT INTO saga_atribucion_touchpoints \
     (interaccion_id, journey_id, campana_id, tipo, partner_id, occurred_at, ip_hash, user_agent) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (interaccion_id) DO NOTHING";
const DELETE_TOUCHPOINT: &str = "DELETE FROM saga_atribucion_touchpoints WHERE interaccion_id = $1";
const INSERT_PEDIDO: &str = "INSERT INTO saga_atribucion_pedidos \
     (campana_id, pedido_id, conversion_id) VALUES ($1, $2, $3) \
     ON CONFLICT (campana_id, pedido_id) DO NOTHING";
const INSERT_CAMPANA: &str = "INSERT INTO saga_atribucion_campanas \
     (campana_id, modelo, ventana_dias, umbral_fraude, moneda, estado) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (campana_id) DO NOTHING";
const UPDATE_ESTADO_CAMPANA: &str =
    "UPDATE saga_atribucion_campanas SET estado = $2 WHERE campana_id = $1";

#[async_trait::async_trait]
impl Reactor for AtribuirConversion {
    fn name(&self) -> &'static str {
        names::ATRIBUIR_CONVERSION
    }

    fn interested(&self, aggregate_type: &str, event_type: &str) -> bool {
        matches!(
            (aggregate_type, event_type),
            (
                "Interaccion",
                "InteraccionRegistrada" | "InteraccionDescartada"
            ) | (
                "Campana",
                "CampanaCreada"
                    | "CampanaActivada"
                    | "CampanaPausada"
                    | "CampanaFinalizada"
                    | "CampanaCancelada"
            )
        )
    }

    fn learn(&self, event: &Received) -> Vec<Write> {
        let id = uuid_text(&event.aggregate_id);
        match &event.event {
            AnyEvent::Interaccion(InteraccionEvent::InteraccionRegistrada { id, datos }) => {
                aprender_interaccion(id, datos)
            }
            AnyEvent::Interaccion(InteraccionEvent::InteraccionDescartada { .. }) => {
                vec![Write::new(DELETE_TOUCHPOINT, vec![id])]
            }
            AnyEvent::Campana(CampanaEvent::CampanaCreada { datos, .. }) => {
                let atribucion = &datos.atribucion;
                vec![Write::new(
                    INSERT_CAMPANA,
                    vec![
                        id,
                        enum_text(&atribucion.modelo),
                        SqlValue::Integer(i64::from(atribucion.ventana_dias)),
                        SqlValue::Integer(i64::from(atribucion.umbral_fraude)),
                        SqlValue::Text(datos.presupuesto.currency.to_string()),
                        enum_text(&EstadoCampana::Borrador),
                    ],
                )]
            }
            AnyEvent::Campana(evento) => match estado_tras(evento) {
                Some(estado) => vec![Write::new(
                    UPDATE_ESTADO_CAMPANA,
                    vec![id, enum_text(&estado)],
                )],
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    fn reacts_to(&self, event: &Received) -> bool {
        matches!(
            &event.event,
            AnyEvent::Interaccion(InteraccionEvent::InteraccionRegistrada { datos, .. })
                if datos.tipo.is_conversion()
        )
    }

    /// The journey's touchpoints and the campaign. (Which conversion of an order came first
    /// never changes once learned: later ones do not replace it.)
    fn reads(&self, event: &Received) -> Keys {
        match &event.event {
            AnyEvent::Interaccion(InteraccionEvent::InteraccionRegistrada { datos, .. }) => {
                Keys::of([datos.journey_id, datos.campana_id])
            }
            _ => Keys::All,
        }
    }

    fn writes(&self, event: &Received) -> Keys {
        match &event.event {
            AnyEvent::Interaccion(InteraccionEvent::InteraccionRegistrada { datos, .. }) => {
                Keys::of([datos.journey_id])
            }
            AnyEvent::Campana(_) => Keys::of([event.aggregate_id]),
            // A discarded touchpoint's journey is not in the event.
            _ => Keys::All,
        }
    }

    async fn react(&self, event: &Received, reaction: &Reaction<'_>) -> Result<(), ConsumerError> {
        let AnyEvent::Interaccion(InteraccionEvent::InteraccionRegistrada { id, datos }) =
            &event.event
        else {
            return Ok(());
        };
        let Some(tipo) = datos.tipo.conversion() else {
            return Ok(());
        };
        let database = reaction.database();
        let campana = campana_aprendida(database, datos.campana_id).await?;
        let atribucion_id = ids::atribucion_id(id);
        let aggregate = stream::<Atribucion>(atribucion_id);
        let valor = match (datos.valor, &campana) {
            (Some(valor), _) => valor,
            // A Lead or Registro without a value is worth nothing in the campaign's currency.
            (None, Some(campana)) => Money::zero(campana.moneda),
            (None, None) => {
                let reason = format!(
                    "conversion without a value for campaign {}, which is unknown",
                    datos.campana_id
                );
                return reaction
                    .skip(
                        &aggregate,
                        "AtribuirConversion",
                        "CampanaDesconocida",
                        &reason,
                    )
                    .await;
            }
        };
        let conversion = Conversion {
            interaccion_id: *id,
            tipo,
            campana_id: datos.campana_id,
            journey_id: datos.journey_id,
            occurred_at: datos.occurred_at,
            valor,
            pedido_id: datos.pedido_id.clone(),
        };
        let command = AtribucionCommand::AtribuirConversion {
            journey: journey(database, datos.journey_id, datos.campana_id).await?,
            parametros: campana.map_or_else(parametros_de_campana_desconocida, |c| c.parametros),
            evidencia: EvidenciaJourney {
                pedido_ya_convertido_por: primera_conversion_del_pedido(database, &conversion)
                    .await?,
            },
            conversion,
        };
        let context = reaction.context(Some(datos.journey_id));
        let result = self
            .commands
            .atribucion(atribucion_id, command, &context)
            .await;
        reaction
            .settle(&aggregate, "AtribuirConversion", result)
            .await?
            .ok();
        Ok(())
    }
}

fn aprender_interaccion(id: &Uuid, datos: &DatosInteraccion) -> Vec<Write> {
    let usuario = &datos.contexto.usuario;
    let mut writes = vec![Write::new(
        INSERT_TOUCHPOINT,
        vec![
            uuid_text(id),
            uuid_text(&datos.journey_id),
            uuid_text(&datos.campana_id),
            enum_text(&datos.tipo),
            SqlValue::OptionalText(datos.partner_id.map(|partner| partner.to_string())),
            instant_text(datos.occurred_at),
            SqlValue::OptionalText(usuario.ip_hash.clone()),
            SqlValue::OptionalText(usuario.user_agent.clone()),
        ],
    )];
    if let (true, Some(pedido_id)) = (datos.tipo.is_conversion(), &datos.pedido_id) {
        // The first conversion of an order in log order keeps it; later ones are evidence.
        writes.push(Write::new(
            INSERT_PEDIDO,
            vec![
                uuid_text(&datos.campana_id),
                SqlValue::Text(pedido_id.clone()),
                uuid_text(id),
            ],
        ));
    }
    writes
}

/// The lifecycle state a campaign event leads to, for the events that change it.
fn estado_tras(evento: &CampanaEvent) -> Option<EstadoCampana> {
    match evento {
        CampanaEvent::CampanaActivada => Some(EstadoCampana::Activa),
        CampanaEvent::CampanaPausada => Some(EstadoCampana::Pausada),
        CampanaEvent::CampanaFinalizada => Some(EstadoCampana::Finalizada),
        CampanaEvent::CampanaCancelada { .. } => Some(EstadoCampana::Cancelada),
        _ => None,
    }
}

/// A campaign as the atribucion service learned it.
struct CampanaAprendida {
    parametros: ParametrosAtribucion,
    moneda: Currency,
}

async fn campana_aprendida(
    database: &SagaDatabase,
    campana_id: Uuid,
) -> Result<Option<CampanaAprendida>, StoreError> {
    const SQL: &str = "SELECT modelo, ventana_dias, umbral_fraude, moneda, estado \
         FROM saga_atribucion_campanas WHERE campana_id = $1";
    let row = database
        .fetch_optional(
            names::ATRIBUIR_CONVERSION,
            "reading a campaign",
            SQL,
            &[uuid_text(&campana_id)],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let estado: EstadoCampana = parse_enum("saga_atribucion_campanas.estado", row.text(4)?)?;
    let moneda = parse_currency("saga_atribucion_campanas.moneda", row.text(3)?)?;
    Ok(Some(CampanaAprendida {
        parametros: ParametrosAtribucion {
            modelo: parse_enum("saga_atribucion_campanas.modelo", row.text(0)?)?,
            ventana_dias: parse_u32("saga_atribucion_campanas.ventana_dias", row.integer(1)?)?,
            umbral_fraude: parse_u32("saga_atribucion_campanas.umbral_fraude", row.integer(2)?)?,
            campana_activa: estado == EstadoCampana::Activa,
        },
        moneda,
    }))
}

/// A campaign never created (as far as the log says) attributes nothing; the aggregate
/// records why.
fn parametros_de_campana_desconocida() -> ParametrosAtribucion {
    let defecto = ConfiguracionAtribucion::default();
    ParametrosAtribucion {
        modelo: defecto.modelo,
        ventana_dias: defecto.ventana_dias,
        umbral_fraude: defecto.umbral_fraude,
        campana_activa: false,
    }
}

/// Every interaction of the journey in the campaign learned so far (the conversion's own
/// included: the fraud rules look at it, attribution leaves it out).
async fn journey(
    database: &SagaDatabase,
    journey_id: Uuid,
    campana_id: Uuid,
) -> Result<Vec<Touchpoint>, StoreError> {
    const SQL: &str = "SELECT interaccion_id, tipo, partner_id, occurred_at, ip_hash, user_agent \
         FROM saga_atribucion_touchpoints WHERE journey_id = $1 AND campana_id = $2 \
         ORDER BY occurred_at, interaccion_id";
    let values = [uuid_text(&journey_id), uuid_text(&campana_id)];
    let rows = database
        .fetch_all(
            names::ATRIBUIR_CONVERSION,
            "reading a journey",
            SQL,
            &values,
        )
        .await?;
    rows.iter().map(touchpoint).collect()
}

fn touchpoint(row: &Row) -> Result<Touchpoint, StoreError> {
    Ok(Touchpoint {
        interaccion_id: row.uuid(0, "saga_atribucion_touchpoints.interaccion_id")?,
        tipo: parse_enum("saga_atribucion_touchpoints.tipo", row.text(1)?)?,
        partner_id: row
            .optional_text(2)?
            .map(|partner| parse_uuid("saga_atribucion_touchpoints.partner_id", partner))
            .transpose()?,
        occurred_at: parse_instant("saga_atribucion_touchpoints.occurred_at", row.text(3)?)?,
        ip_hash: row.optional_text(4)?.map(str::to_string),
        user_agent: row.optional_text(5)?.map(str::to_string),
    })
}

/// The first conversion (in log order) of the conversion's order id in its campaign.
async fn primera_conversion_del_pedido(
    database: &SagaDatabase,
    conversion: &Conversion,
) -> Result<Option<Uuid>, StoreError> {
    const SQL: &str = "SELECT conversion_id FROM saga_atribucion_pedidos \
         WHERE campana_id = $1 AND pedido_id = $2";
    let Some(pedido_id) = &conversion.pedido_id else {
        return Ok(None);
    };
    let values = [
        uuid_text(&conversion.campana_id),
        SqlValue::Text(pedido_id.clone()),
    ];
    let primera = database
        .fetch_optional(names::ATRIBUIR_CONVERSION, "reading an order", SQL, &values)
        .await?;
    primera
        .map(|row| row.uuid(0, "saga_atribucion_pedidos.conversion_id"))
        .transpose()
}

/// PresupuestoInsuficiente → RevertirAtribucion{PresupuestoInsuficiente}: the budget could
/// not cover a partner's commission, so the conversion's credits are taken back (the
/// reversion then releases and reverts what other partners had reserved).
pub(crate) struct RevertirPorPresupuesto {
    pub commands: CommandServices,
}

#[async_trait::async_trait]
impl Reactor for RevertirPorPresupuesto {
    fn name(&self) -> &'static str {
        names::REVERTIR_ATRIBUCION_POR_PRESUPUESTO
    }

    fn interested(&self, aggregate_type: &str, event_type: &str) -> bool {
        (aggregate_type, event_type) == ("Campana", "PresupuestoInsuficiente")
    }

    fn reacts_to(&self, _event: &Received) -> bool {
        true
    }

    async fn react(&self, event: &Received, reaction: &Reaction<'_>) -> Result<(), ConsumerError> {
        let AnyEvent::Campana(CampanaEvent::PresupuestoInsuficiente { conversion_id, .. }) =
            &event.event
        else {
            return Ok(());
        };
        revertir_atribucion(
            &self.commands,
            reaction,
            *conversion_id,
            None,
            MotivoReversion::PresupuestoInsuficiente,
        )
        .await
    }
}

/// Sends RevertirAtribucion for `conversion_id`; a rejection (e.g. an attribution under
/// fraud review, which the fraud compensation reverts) is recorded and skipped.
pub(crate) async fn revertir_atribucion(
    commands: &CommandServices,
    reaction: &Reaction<'_>,
    conversion_id: Uuid,
    journey: Option<Uuid>,
    motivo: MotivoReversion,
) -> Result<(), ConsumerError> {
    let atribucion_id = ids::atribucion_id(&conversion_id);
    let result = commands
        .atribucion(
            atribucion_id,
            AtribucionCommand::RevertirAtribucion { motivo },
            &reaction.context(journey),
        )
        .await;
    reaction
        .settle(
            &stream::<Atribucion>(atribucion_id),
            "RevertirAtribucion",
            result,
        )
        .await?
        .ok();
    Ok(())
}

/// FraudeDetectado after attribution → once every budget reservation of the conversion is
/// released (its commissions reverted first) → RevertirAtribucion{Fraude}. It learns the
/// conversion's reservations and their releases from the Campana events, and checks again
/// at each release.
pub(crate) struct RevertirPorFraude {
    pub commands: CommandServices,
}

const INSERT_RESERVA: &str = "INSERT INTO saga_atribucion_reservas \
     (comision_id, conversion_id) VALUES ($1, $2) ON CONFLICT (comision_id) DO NOTHING";
const LIBERAR_RESERVA: &str = "UPDATE saga_atribucion_reservas SET liberada_por = $2 \
     WHERE comision_id = $1 AND liberada_por IS NULL";
const INSERT_FRAUDE: &str = "INSERT INTO saga_atribucion_fraudes (conversion_id, journey_id) \
     VALUES ($1, $2) ON CONFLICT (conversion_id) DO NOTHING";

#[async_trait::async_trait]
impl Reactor for RevertirPorFraude {
    fn name(&self) -> &'static str {
        names::REVERTIR_ATRIBUCION_POR_FRAUDE
    }

    fn interested(&self, aggregate_type: &str, event_type: &str) -> bool {
        matches!(
            (aggregate_type, event_type),
            ("Campana", "PresupuestoReservado" | "PresupuestoLiberado")
                | ("Atribucion", "FraudeDetectado")
        )
    }

    fn learn(&self, event: &Received) -> Vec<Write> {
        match &event.event {
            AnyEvent::Campana(CampanaEvent::PresupuestoReservado {
                comision_id,
                conversion_id,
                ..
            }) => vec![Write::new(
                INSERT_RESERVA,
                vec![uuid_text(comision_id), uuid_text(conversion_id)],
            )],
            AnyEvent::Campana(CampanaEvent::PresupuestoLiberado { comision_id, .. }) => {
                vec![Write::new(
                    LIBERAR_RESERVA,
                    vec![uuid_text(comision_id), SqlValue::Text(event.causa.clone())],
                )]
            }
            AnyEvent::Atribucion(evento) => match fraude_tras_atribuir(evento) {
                Some(conversion) => vec![Write::new(
                    INSERT_FRAUDE,
                    vec![
                        uuid_text(&conversion.interaccion_id),
                        uuid_text(&conversion.journey_id),
                    ],
                )],
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    fn reacts_to(&self, event: &Received) -> bool {
        match &event.event {
            AnyEvent::Campana(CampanaEvent::PresupuestoLiberado { .. }) => true,
            AnyEvent::Atribucion(evento) => fraude_tras_atribuir(evento).is_some(),
            _ => false,
        }
    }

    async fn react(&self, event: &Received, reaction: &Reaction<'_>) -> Result<(), ConsumerError> {
        let database = reaction.database();
        let conversion_id = match &event.event {
            AnyEvent::Campana(CampanaEvent::PresupuestoLiberado { comision_id, .. }) => {
                match conversion_de_reserva(database, *comision_id).await? {
                    Some(conversion_id) => conversion_id,
                    None => return Ok(()),
                }
            }
            AnyEvent::Atribucion(evento) => match fraude_tras_atribuir(evento) {
                Some(conversion) => conversion.interaccion_id,
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        let Some(fraude) = fraude_pendiente(database, conversion_id).await? else {
            return Ok(());
        };
        if fraude.reservas_sin_liberar > 0 {
            return Ok(());
        }
        let journey = fraude.journey_id;
        revertir_atribucion(
            &self.commands,
            reaction,
            conversion_id,
            Some(journey),
            MotivoReversion::Fraude,
        )
        .await
    }
}

/// The conversion of a FraudeDetectado recorded after attribution. One recorded by the
/// rules (with a finding) rejected the conversion before anything was reserved.
pub(crate) fn fraude_tras_atribuir(evento: &AtribucionEvent) -> Option<&Conversion> {
    match evento {
        AtribucionEvent::FraudeDetectado {
            conversion,
            hallazgo: None,
            ..
        } => Some(conversion),
        _ => None,
    }
}

async fn conversion_de_reserva(
    database: &SagaDatabase,
    comision_id: Uuid,
) -> Result<Option<Uuid>, StoreError> {
    const SQL: &str = "SELECT conversion_id FROM saga_atribucion_reservas WHERE comision_id = $1";
    let row = database
        .fetch_optional(
            names::REVERTIR_ATRIBUCION_POR_FRAUDE,
            "reading a reservation",
            SQL,
            &[uuid_text(&comision_id)],
        )
        .await?;
    row.map(|row| row.uuid(0, "saga_atribucion_reservas.conversion_id"))
        .transpose()
}

struct FraudePendiente {
    journey_id: Uuid,
    reservas_sin_liberar: i64,
}

async fn fraude_pendiente(
    database: &SagaDatabase,
    conversion_id: Uuid,
) -> Result<Option<FraudePendiente>, StoreError> {
    const SQL: &str = "SELECT f.journey_id, \
         (SELECT COUNT(*) FROM saga_atribucion_reservas r \
          WHERE r.conversion_id = f.conversion_id AND r.liberada_por IS NULL) \
           AS reservas_sin_liberar \
         FROM saga_atribucion_fraudes f WHERE f.conversion_id = $1";
    let row = database
        .fetch_optional(
            names::REVERTIR_ATRIBUCION_POR_FRAUDE,
            "reading a fraud",
            SQL,
            &[uuid_text(&conversion_id)],
        )
        .await?;
    row.map(|row| {
        Ok(FraudePendiente {
            journey_id: row.uuid(0, "saga_atribucion_fraudes.journey_id")?,
            reservas_sin_liberar: row.integer(1)?,
        })
    })
    .transpose()
}
