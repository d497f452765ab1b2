//! `alpes`: the one binary of the platform, and the library behind it, so that tests can
//! run the real application (HTTP API, saga, projectors) in process on a random port.

pub mod audit;
pub mod bench;
pub mod cli;
pub mod configuration;
pub mod metrics;
pub mod projections;
pub mod startup;
pub mod telemetry;
