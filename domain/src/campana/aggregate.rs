//! Placeholder until the Campana rules land.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{CampanaCommand, CampanaError, CampanaEvent};

/// Lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EstadoCampana {
    #[default]
    Nueva,
}

/// The Campana aggregate.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Campana {
    pub estado: EstadoCampana,
}

impl Aggregate for Campana {
    const TYPE: &'static str = "Campana";
    type Command = CampanaCommand;
    type Event = CampanaEvent;
    type Error = CampanaError;
    type Services = ();

    async fn handle(
        &mut self,
        _command: Self::Command,
        _services: &Self::Services,
        _sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        Err(CampanaError::NoExiste)
    }

    fn apply(&mut self, _event: Self::Event) {}
}
