//! The read side: one projection per service folds the global log into its own SQL views,
//! and a query API reads them. See ../shared/ARCHITECTURE.md, "Consumers of the global log".
//!
//! - [`Views::open`] opens (and migrates) the views database: SQLite or PostgreSQL.
//! - [`Projector`] runs one projection as a [`alpes_event_store::Consumer`]: its rows and its
//!   checkpoint commit in one transaction.
//! - [`start`] runs every projector for `alpes serve`.
//! - The query API is a set of async methods on [`Views`] (`campana`, `campanas`,
//!   `interacciones`, …), with keyset [`Page`]s.
//! - [`rebuild`] replays the log into fresh tables and swaps them in.

#![warn(missing_docs)]

pub mod atribucion;
mod cache;
pub mod comisiones;
pub mod db;
mod dump;
mod error;
mod fanout;
mod log_event;
pub mod marketing;
mod names;
mod pagination;
mod projector;
mod queries;
pub mod rebuild;
pub mod saga;
mod start;
pub mod status;
pub mod tracking;
pub mod workload;

use std::sync::Arc;

pub use db::Views;
pub use error::ReadError;
pub use pagination::{Page, Paged, MAX_PAGE_SIZE};
pub use projector::{ProjectionName, Projector};
pub use rebuild::{
    rebuild, rebuild_many, RebuildOptions, RebuildProgress, RebuildReport, REBUILD_BATCH_SIZE,
};
pub use start::{default_views_url, start, start_with, RunningProjections, DEFAULT_BATCH_SIZE};
pub use status::{ProjectionState, ProjectionStatus};

use projector::Projection;

/// The projection named `name`.
pub(crate) fn projection_of(name: ProjectionName) -> Arc<dyn Projection> {
    match name {
        ProjectionName::Marketing => Arc::new(marketing::MarketingProjection),
        ProjectionName::Tracking => Arc::new(tracking::TrackingProjection),
        ProjectionName::Atribucion => Arc::new(atribucion::AtribucionProjection),
        ProjectionName::Comisiones => Arc::new(comisiones::ComisionesProjection),
        ProjectionName::Saga => Arc::new(saga::SagaProjection),
    }
}
