//! Placeholder until the Atribucion rules land.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{AtribucionCommand, AtribucionError, AtribucionEvent};

/// Lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EstadoAtribucion {
    #[default]
    Nueva,
}

/// The Atribucion aggregate.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Atribucion {
    pub estado: EstadoAtribucion,
}

impl Aggregate for Atribucion {
    const TYPE: &'static str = "Atribucion";
    type Command = AtribucionCommand;
    type Event = AtribucionEvent;
    type Error = AtribucionError;
    type Services = ();

    async fn handle(
        &mut self,
        _command: Self::Command,
        _services: &Self::Services,
        _sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        Err(AtribucionError::NoExiste)
    }

    fn apply(&mut self, _event: Self::Event) {}
}
