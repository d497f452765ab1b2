//! The write side: command services per bounded context, the saga reactors, and the REST
//! command API. Services talk only through events: nothing here reads another service's
//! views.

mod command_queue;
pub mod commands;
pub mod http;
pub mod saga;
pub mod service;

pub use commands::{CommandContext, CommandError, CommandServices, Executed};
pub use saga::{SagaConfig, SagaError};
pub use service::{Service, UnknownService};
