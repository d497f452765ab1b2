//! The marketing service's reactions: reserve each credited partner's commission against
//! the campaign budget, and release it when the commission is reverted.

use alpes_domain::atribucion::{AtribucionEvent, Conversion, CreditoPartner, MotivoReversion};
use alpes_domain::campana::{Campana, CampanaCommand, CampanaError, EstadoReserva};
use alpes_domain::comision::ComisionEvent;
use alpes_domain::ids;
use alpes_domain::rules::attribution::participaciones_bps;
use alpes_event_store::ConsumerError;
use uuid::Uuid;

use super::atribucion::revertir_atribucion;
use super::names;
use super::reactor::{stream, AnyEvent, Reaction, Reactor, Received};
use crate::CommandServices;

/// ConversionAtribuida → ReservarPresupuesto on the Campana for each partner credit, in
/// order, until one is not reserved:
/// - PresupuestoInsuficiente: the atribucion service reverts the attribution, which
///   releases what the earlier partners reserved;
/// - a rejection (the campaign is no longer active, …): recorded, and the attribution is
///   reverted here, since no event will say so;
/// - SinReglaComision: the campaign does not pay for this conversion type, so there is
///   nothing to reserve for any partner; recorded, and the attribution stands.
///
/// Stopping at the first refusal keeps every reservation of a conversion before its
/// reversion in the log, so the compensation sees them all.
pub(crate) struct ReservarPresupuesto {
    pub commands: CommandServices,
}

/// What became of one partner's reservation.
enum Reserva {
    Reservada,
    Rechazada,
}

#[async_trait::async_trait]
impl Reactor for ReservarPresupuesto {
    fn name(&self) -> &'static str {
        names::RESERVAR_PRESUPUESTO
    }

    fn interested(&self, aggregate_type: &str, event_type: &str) -> bool {
        (aggregate_type, event_type) == ("Atribucion", "ConversionAtribuida")
    }

    fn reacts_to(&self, _event: &Received) -> bool {
        true
    }

    async fn react(&self, event: &Received, reaction: &Reaction<'_>) -> Result<(), ConsumerError> {
        let AnyEvent::Atribucion(AtribucionEvent::ConversionAtribuida {
            conversion,
            creditos,
            ..
        }) = &event.event
        else {
            return Ok(());
        };
        let participaciones = match participaciones_bps(creditos) {
            Ok(participaciones) => participaciones,
            Err(error) => {
                let aggregate = stream::<Campana>(conversion.campana_id);
                reaction
                    .skip(
                        &aggregate,
                        "ReservarPresupuesto",
                        "ParticipacionInvalida",
                        &error.to_string(),
                    )
                    .await?;
                return self.revertir(conversion, reaction).await;
            }
        };
        for (credito, participacion_bps) in creditos.iter().zip(participaciones) {
            match self
                .reservar(conversion, credito, participacion_bps, reaction)
                .await?
            {
                Reserva::Reservada => {}
                Reserva::Rechazada => break,
            }
        }
        Ok(())
    }
}

impl ReservarPresupuesto {
    async fn reservar(
        &self,
        conversion: &Conversion,
        credito: &CreditoPartner,
        participacion_bps: u32,
        reaction: &Reaction<'_>,
    ) -> Result<Reserva, ConsumerError> {
        let comision_id = ids::comision_id(&conversion.interaccion_id, &credito.partner_id);
        let command = CampanaCommand::ReservarPresupuesto {
            comision_id,
            conversion_id: conversion.interaccion_id,
            partner_id: credito.partner_id,
            tipo_conversion: conversion.tipo,
            credito: credito.monto,
            participacion_bps,
        };
        let result = self
            .commands
            .campana(
                conversion.campana_id,
                command,
                &reaction.context(Some(conversion.journey_id)),
            )
            .await;
        let aggregate = stream::<Campana>(conversion.campana_id);
        match reaction
            .settle(&aggregate, "ReservarPresupuesto", result)
            .await?
        {
            Ok(executed)
                if executed
                    .event_types
                    .iter()
                    .any(|t| t == "PresupuestoReservado") =>
            {
                Ok(Reserva::Reservada)
            }
            // PresupuestoInsuficiente.
            Ok(executed) if executed.appended > 0 => Ok(Reserva::Rechazada),
            // A redelivery: the campaign already decided this commission.
            Ok(_) => self.decidida(conversion.campana_id, comision_id).await,
            Err(CampanaError::SinReglaComision { .. }) => Ok(Reserva::Rechazada),
            Err(_) => {
                self.revertir(conversion, reaction).await?;
                Ok(Reserva::Rechazada)
            }
        }
    }

    /// How the campaign decided a commission it had already seen.
    async fn decidida(
        &self,
        campana_id: Uuid,
        comision_id: Uuid,
    ) -> Result<Reserva, ConsumerError> {
        let campana = self
            .commands
            .load_campana(campana_id)
            .await
            .map_err(ConsumerError::new)?;
        Ok(match campana.reserva(comision_id) {
            Some(EstadoReserva::Insuficiente) | None => Reserva::Rechazada,
            Some(EstadoReserva::Reservada { .. } | EstadoReserva::Liberada) => Reserva::Reservada,
        })
    }

    async fn revertir(
        &self,
        conversion: &Conversion,
        reaction: &Reaction<'_>,
    ) -> Result<(), ConsumerError> {
        revertir_atribucion(
            &self.commands,
            reaction,
            conversion.interaccion_id,
            Some(conversion.journey_id),
            MotivoReversion::PresupuestoInsuficiente,
        )
        .await
    }
}

/// ComisionRevertida → LiberarPresupuesto on the commission's campaign. A reservation the
/// campaign does not hold (never reserved, or already released) is recorded and skipped.
pub(crate) struct LiberarPresupuesto {
    pub commands: CommandServices,
}

#[async_trait::async_trait]
impl Reactor for LiberarPresupuesto {
    fn name(&self) -> &'static str {
        names::LIBERAR_PRESUPUESTO
    }

    fn interested(&self, aggregate_type: &str, event_type: &str) -> bool {
        (aggregate_type, event_type) == ("Comision", "ComisionRevertida")
    }

    fn reacts_to(&self, _event: &Received) -> bool {
        true
    }

    async fn react(&self, event: &Received, reaction: &Reaction<'_>) -> Result<(), ConsumerError> {
        let AnyEvent::Comision(ComisionEvent::ComisionRevertida { campana_id, .. }) = &event.event
        else {
            return Ok(());
        };
        let command = CampanaCommand::LiberarPresupuesto {
            comision_id: event.aggregate_id,
        };
        let result = self
            .commands
            .campana(*campana_id, command, &reaction.context(None))
            .await;
        reaction
            .settle(
                &stream::<Campana>(*campana_id),
                "LiberarPresupuesto",
                result,
            )
            .await?
            .ok();
        Ok(())
    }
}
