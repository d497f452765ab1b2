//! Placeholder until the Interaccion rules land.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{InteraccionCommand, InteraccionError, InteraccionEvent};

/// Lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EstadoInteraccion {
    #[default]
    Nueva,
}

/// The Interaccion aggregate.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Interaccion {
    pub estado: EstadoInteraccion,
}

impl Aggregate for Interaccion {
    const TYPE: &'static str = "Interaccion";
    type Command = InteraccionCommand;
    type Event = InteraccionEvent;
    type Error = InteraccionError;
    type Services = ();

    async fn handle(
        &mut self,
        _command: Self::Command,
        _services: &Self::Services,
        _sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        Err(InteraccionError::NoExiste)
    }

    fn apply(&mut self, _event: Self::Event) {}
}
