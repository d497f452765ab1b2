//! What every aggregate error has in common, so callers (the REST layer) can map any
//! rejected command to a status and a rule code without knowing the aggregate.

/// The class of a rejected command, which decides how it is reported to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command names an aggregate that does not exist.
    NotFound,
    /// The command is not allowed in the aggregate's current state (an invalid transition).
    Conflict,
    /// The command breaks a business rule (budget, dates, hold period, ...).
    BusinessRule,
    /// The command itself is malformed (an empty name, a negative amount, ...).
    InvalidInput,
}

/// Implemented by every aggregate's error type.
pub trait RuleViolation: std::error::Error {
    /// The rule's stable code, e.g. `CampanaNoActiva` or `TransicionInvalida`.
    fn code(&self) -> &'static str;
    /// How the rejection is classified.
    fn kind(&self) -> ErrorKind;
}
