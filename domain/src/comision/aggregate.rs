//! Placeholder until the Comision rules land.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{ComisionCommand, ComisionError, ComisionEvent};

/// Lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EstadoComision {
    #[default]
    Nueva,
}

/// The Comision aggregate.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Comision {
    pub estado: EstadoComision,
}

impl Aggregate for Comision {
    const TYPE: &'static str = "Comision";
    type Command = ComisionCommand;
    type Event = ComisionEvent;
    type Error = ComisionError;
    type Services = ();

    async fn handle(
        &mut self,
        _command: Self::Command,
        _services: &Self::Services,
        _sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        Err(ComisionError::NoExiste)
    }

    fn apply(&mut self, _event: Self::Event) {}
}
