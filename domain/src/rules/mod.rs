//! Pure business rules, each a function of its inputs.

pub mod attribution;
pub mod commission;
pub mod fraud;
pub mod journey;
