//! The Alpes domain: the four aggregates (Campana, Interaccion, Atribucion, Comision),
//! their commands, versioned events and typed errors, plus the pure business rules
//! (money, attribution models, commission rules, fraud rules).
//!
//! No I/O happens here: time is passed in by callers, configuration arrives through
//! commands or aggregate services.

#![warn(missing_docs)]

pub mod atribucion;
pub mod campana;
pub mod catalog;
pub mod comision;
pub mod error;
pub mod ids;
pub mod interaccion;
pub mod money;
pub mod rules;
pub mod tipos;
mod validation;

pub use error::{ErrorKind, RuleViolation};
pub use money::{Currency, Money, MoneyError};
pub use tipos::{ModeloAtribucion, TipoConversion, TipoInteraccion};
