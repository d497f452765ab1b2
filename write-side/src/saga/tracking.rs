//! The tracking service's reaction: discard every interaction of a fraudulent journey.

use alpes_domain::atribucion::{AtribucionEvent, MotivoReversion};
use alpes_domain::interaccion::{Interaccion, InteraccionCommand};
use alpes_event_store::ConsumerError;
use uuid::Uuid;

use super::names;
use super::reactor::{stream, AnyEvent, Reaction, Reactor, Received};
use crate::CommandServices;

/// AtribucionRevertida{Fraude} (the last step of the fraud compensation), or FraudeDetectado
/// by the rules before attribution (nothing was reserved) → DescartarInteraccion for every
/// interaction of the journey the event names (the atribucion service, which learns every
/// journey to attribute it, names them; this service keeps nothing of its own).
pub(crate) struct DescartarInteraccion {
    pub commands: CommandServices,
}

#[async_trait::async_trait]
impl Reactor for DescartarInteraccion {
    fn name(&self) -> &'static str {
        names::DESCARTAR_INTERACCION
    }

    fn interested(&self, aggregate_type: &str, event_type: &str) -> bool {
        matches!(
            (aggregate_type, event_type),
            ("Atribucion", "AtribucionRevertida" | "FraudeDetectado")
        )
    }

    fn reacts_to(&self, event: &Received) -> bool {
        matches!(&event.event, AnyEvent::Atribucion(evento) if journey_fraudulento(evento).is_some())
    }

    async fn react(&self, event: &Received, reaction: &Reaction<'_>) -> Result<(), ConsumerError> {
        let AnyEvent::Atribucion(evento) = &event.event else {
            return Ok(());
        };
        let Some(fraude) = journey_fraudulento(evento) else {
            return Ok(());
        };
        let motivo = format!("fraude en la conversión {}", fraude.conversion);
        let context = reaction.context(Some(fraude.journey));
        for interaccion_id in fraude.interacciones {
            let command = InteraccionCommand::DescartarInteraccion {
                motivo: motivo.clone(),
            };
            let result = self
                .commands
                .interaccion(*interaccion_id, command, &context)
                .await;
            reaction
                .settle(
                    &stream::<Interaccion>(*interaccion_id),
                    "DescartarInteraccion",
                    result,
                )
                .await?
                .ok();
        }
        Ok(())
    }
}

/// A journey found fraudulent: its conversion, and the interactions to discard.
struct JourneyFraudulento<'a> {
    conversion: Uuid,
    journey: Uuid,
    interacciones: &'a [Uuid],
}

/// The journey to discard: reverted for fraud, or rejected as fraud by the rules before
/// attribution (a finding is only recorded by the rules).
fn journey_fraudulento(evento: &AtribucionEvent) -> Option<JourneyFraudulento<'_>> {
    let (conversion, interacciones) = match evento {
        AtribucionEvent::AtribucionRevertida {
            conversion,
            motivo: MotivoReversion::Fraude,
            interacciones,
        } => (conversion, interacciones),
        AtribucionEvent::FraudeDetectado {
            conversion,
            hallazgo: Some(_),
            interacciones,
            ..
        } => (conversion, interacciones),
        _ => return None,
    };
    Some(JourneyFraudulento {
        conversion: conversion.interaccion_id,
        journey: conversion.journey_id,
        interacciones,
    })
}
