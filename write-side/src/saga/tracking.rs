//! The tracking service's reaction: discard every interaction of a fraudulent journey.

use alpes_domain::atribucion::{AtribucionEvent, Conversion, MotivoReversion};
use alpes_domain::interaccion::{Interaccion, InteraccionCommand, InteraccionEvent};
use alpes_event_store::{ConsumerError, StoreError};
use uuid::Uuid;

use super::database::{uuid_text, SagaDatabase, Write};
use super::names;
use super::reactor::{stream, AnyEvent, Reaction, Reactor, Received};
use crate::CommandServices;

/// AtribucionRevertida{Fraude} (the last step of the fraud compensation), or FraudeDetectado
/// by the rules before attribution (nothing was reserved) → DescartarInteraccion for every
/// interaction of the journey, learned from InteraccionRegistrada.
pub(crate) struct DescartarInteraccion {
    pub commands: CommandServices,
}

const INSERT_INTERACCION: &str = "INSERT INTO saga_tracking_interacciones \
     (interaccion_id, journey_id) VALUES ($1, $2) ON CONFLICT (interaccion_id) DO NOTHING";

#[async_trait::async_trait]
impl Reactor for DescartarInteraccion {
    fn name(&self) -> &'static str {
        names::DESCARTAR_INTERACCION
    }

    fn interested(&self, aggregate_type: &str, event_type: &str) -> bool {
        matches!(
            (aggregate_type, event_type),
            ("Interaccion", "InteraccionRegistrada")
                | ("Atribucion", "AtribucionRevertida" | "FraudeDetectado")
        )
    }

    fn learn(&self, event: &Received) -> Vec<Write> {
        match &event.event {
            AnyEvent::Interaccion(InteraccionEvent::InteraccionRegistrada { id, datos }) => {
                vec![Write::new(
                    INSERT_INTERACCION,
                    vec![uuid_text(id), uuid_text(&datos.journey_id)],
                )]
            }
            _ => Vec::new(),
        }
    }

    fn reacts_to(&self, event: &Received) -> bool {
        matches!(&event.event, AnyEvent::Atribucion(evento) if journey_fraudulento(evento).is_some())
    }

    async fn react(&self, event: &Received, reaction: &Reaction<'_>) -> Result<(), ConsumerError> {
        let AnyEvent::Atribucion(evento) = &event.event else {
            return Ok(());
        };
        let Some(conversion) = journey_fraudulento(evento) else {
            return Ok(());
        };
        let motivo = format!("fraude en la conversión {}", conversion.interaccion_id);
        let context = reaction.context(Some(conversion.journey_id));
        for interaccion_id in interacciones(reaction.database(), conversion.journey_id).await? {
            let command = InteraccionCommand::DescartarInteraccion {
                motivo: motivo.clone(),
            };
            let result = self
                .commands
                .interaccion(interaccion_id, command, &context)
                .await;
            reaction
                .settle(
                    &stream::<Interaccion>(interaccion_id),
                    "DescartarInteraccion",
                    result,
                )
                .await?
                .ok();
        }
        Ok(())
    }
}

/// The conversion whose journey is to be discarded: reverted for fraud, or rejected as
/// fraud by the rules before attribution (a finding is only recorded by the rules).
fn journey_fraudulento(evento: &AtribucionEvent) -> Option<&Conversion> {
    match evento {
        AtribucionEvent::AtribucionRevertida {
            conversion,
            motivo: MotivoReversion::Fraude,
        } => Some(conversion),
        AtribucionEvent::FraudeDetectado {
            conversion,
            hallazgo: Some(_),
            ..
        } => Some(conversion),
        _ => None,
    }
}

async fn interacciones(database: &SagaDatabase, journey_id: Uuid) -> Result<Vec<Uuid>, StoreError> {
    const SQL: &str = "SELECT interaccion_id FROM saga_tracking_interacciones \
         WHERE journey_id = $1 ORDER BY interaccion_id";
    let rows = database
        .fetch_all(
            names::DESCARTAR_INTERACCION,
            "reading a journey",
            SQL,
            &[uuid_text(&journey_id)],
        )
        .await?;
    rows.iter()
        .map(|row| row.uuid(0, "saga_tracking_interacciones.interaccion_id"))
        .collect()
}
