//! Where each projection is.

use alpes_read::ProjectionStatus;
use async_graphql::Object;

/// One projection's checkpoint and lag.
pub(crate) struct Projection(pub ProjectionStatus);

#[Object]
impl Projection {
    /// `marketing`, `tracking`, `atribucion`, `comisiones` or `saga`.
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }
    /// The log position (`HIGH:LOW`) of the last event it applied.
    async fn position(&self) -> String {
        self.0.position.to_string()
    }
    /// The last event of the log, if any.
    async fn head(&self) -> Option<String> {
        self.0.head.map(|head| head.to_string())
    }
    /// Events of the log it has not applied yet.
    async fn lag(&self) -> u64 {
        self.0.lag_events
    }
    /// Whether `lag` is exact (EventStoreDB counts up to a limit).
    async fn lag_exact(&self) -> bool {
        self.0.lag_events_exact
    }
    /// Seconds since the oldest event it has not applied was recorded.
    async fn lag_seconds(&self) -> f64 {
        self.0.lag_seconds
    }
    /// `caught up`, `catching up`, `stalled` or `not started`.
    async fn status(&self) -> String {
        self.0.state.to_string()
    }
}
