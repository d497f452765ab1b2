//! A projection run as a consumer of the global log: each batch's view rows and the
//! checkpoint commit in one transaction of the views database, so every event's effect
//! lands exactly once, whatever crashes.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use alpes_event_store::{Consumer, ConsumerError, Position, RecordedEvent};

use crate::db::{TableInfo, Views, WriteTx};
use crate::fanout::DecodedBatch;
use crate::log_event::{decode, Aggregates, LogEvent};
use crate::ReadError;

/// The projections, one per service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProjectionName {
    /// Campaigns and their statistics (`campanas`, `estadisticas_campana`).
    Marketing,
    /// Interactions and daily statistics (`interacciones`, `estadisticas_diarias`).
    Tracking,
    /// Attributions and their partner credits (`atribuciones`, `atribucion_creditos`).
    Atribucion,
    /// Commissions, partner balances and commission statistics (`comisiones`,
    /// `saldos_partner`, `estadisticas_comisiones`).
    Comisiones,
    /// The saga log of each journey (`journeys`, `journey_pasos`).
    Saga,
}

impl ProjectionName {
    /// Every projection, in a stable order.
    pub const ALL: [ProjectionName; 5] = [
        ProjectionName::Marketing,
        ProjectionName::Tracking,
        ProjectionName::Atribucion,
        ProjectionName::Comisiones,
        ProjectionName::Saga,
    ];

    /// The name: the key of its checkpoint and lease.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectionName::Marketing => "marketing",
            ProjectionName::Tracking => "tracking",
            ProjectionName::Atribucion => "atribucion",
            ProjectionName::Comisiones => "comisiones",
            ProjectionName::Saga => "saga",
        }
    }

    /// The consumer name of its live projector (checkpoint and lease key).
    pub fn consumer(self) -> String {
        format!("projection:{}", self.as_str())
    }

    /// The consumer name of a rebuild of it.
    pub fn rebuild_consumer(self) -> String {
        format!("projection:{}{REBUILD_SUFFIX}", self.as_str())
    }

    /// Every name, comma-separated (for messages).
    pub fn known() -> String {
        ProjectionName::ALL
            .iter()
            .map(|name| name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The tables it owns.
    pub fn tables(self) -> &'static [TableInfo] {
        crate::projection_of(self).tables()
    }
}

impl fmt::Display for ProjectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProjectionName {
    type Err = ReadError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ProjectionName::ALL
            .into_iter()
            .find(|known| known.as_str().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| ReadError::UnknownProjection {
                name: name.to_string(),
                known: ProjectionName::known(),
            })
    }
}

/// What the tables of a rebuild are called: `<table>__rebuild`.
pub(crate) const REBUILD_SUFFIX: &str = "__rebuild";

/// Which physical tables a projector writes: the live ones, or a rebuild's.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableNames {
    suffix: &'static str,
}

impl TableNames {
    /// The live tables.
    pub(crate) const LIVE: TableNames = TableNames { suffix: "" };
    /// A rebuild's tables.
    pub(crate) const REBUILD: TableNames = TableNames {
        suffix: REBUILD_SUFFIX,
    };

    /// The physical name of `table`.
    pub(crate) fn of(&self, table: &TableInfo) -> String {
        format!("{}{}", table.name, self.suffix)
    }
}

/// The business logic of one projection: how a batch of events changes its tables.
#[async_trait::async_trait]
pub(crate) trait Projection: Send + Sync + 'static {
    /// Which projection this is.
    fn name(&self) -> ProjectionName;

    /// The aggregates whose events it reads.
    fn aggregates(&self) -> Aggregates;

    /// The tables it owns (including its private lookup tables).
    fn tables(&self) -> &'static [TableInfo];

    /// Applies `events` (in log order, each after the checkpoint) inside `tx`.
    async fn apply(
        &self,
        tx: &mut WriteTx,
        tables: &TableNames,
        events: &[&LogEvent],
    ) -> Result<(), ReadError>;
}

/// A projection as a [`Consumer`] of the global log.
#[derive(Clone)]
pub struct Projector {
    projection: Arc<dyn Projection>,
    views: Views,
    tables: TableNames,
    consumer: String,
    lock: String,
}

impl Projector {
    /// The live projector of `name`: writes the live tables, checkpoint
    /// [`ProjectionName::consumer`].
    pub fn live(name: ProjectionName, views: Views) -> Projector {
        Projector {
            projection: crate::projection_of(name),
            views,
            tables: TableNames::LIVE,
            consumer: name.consumer(),
            lock: name.as_str().to_string(),
        }
    }

    /// A rebuild's projector: writes `<table>__rebuild`, checkpoint
    /// [`ProjectionName::rebuild_consumer`].
    pub(crate) fn rebuild(name: ProjectionName, views: Views) -> Projector {
        Projector {
            projection: crate::projection_of(name),
            views,
            tables: TableNames::REBUILD,
            consumer: name.rebuild_consumer(),
            lock: format!("{}{REBUILD_SUFFIX}", name.as_str()),
        }
    }

    /// Which projection it runs.
    pub fn projection(&self) -> ProjectionName {
        self.projection.name()
    }

    /// Applies the events of `batch` after `after` inside `tx` (the caller saves the
    /// checkpoint and commits); the position of the last event of the batch, if any was
    /// after `after`.
    pub(crate) async fn apply_in(
        &self,
        tx: &mut WriteTx,
        batch: &[RecordedEvent],
        after: Position,
    ) -> Result<Option<Position>, ReadError> {
        let first_new = batch.partition_point(|event| event.position <= after);
        let fresh = &batch[first_new..];
        let Some(last) = fresh.last().map(|event| event.position) else {
            return Ok(None);
        };
        let name = self.projection.name().as_str();
        let wanted = self.projection.aggregates();
        let mut events = Vec::with_capacity(fresh.len());
        for recorded in fresh {
            if let Some(event) = decode(recorded, wanted, name)? {
                events.push(event);
            }
        }
        let events: Vec<&LogEvent> = events.iter().collect();
        if !events.is_empty() {
            self.projection.apply(tx, &self.tables, &events).await?;
        }
        Ok(Some(last))
    }

    /// Applies a batch the log was read and decoded for once on behalf of several
    /// projectors (see [`crate::fanout`]), and moves the checkpoint, in one transaction.
    /// The position it is at afterwards.
    pub(crate) async fn handle_decoded(&self, batch: &DecodedBatch) -> Result<Position, ReadError> {
        self.handle_decoded_run(&[batch]).await
    }

    /// Applies a run of consecutive decoded batches as one: their rows in one pass of the
    /// projection and the checkpoint of the last, in one transaction. The position it is
    /// at afterwards.
    pub(crate) async fn handle_decoded_run(
        &self,
        run: &[&DecodedBatch],
    ) -> Result<Position, ReadError> {
        let Some(last) = run.last().map(|batch| batch.last) else {
            return self.saved_checkpoint().await;
        };
        let mut tx = self.views.begin_write(&self.lock).await?;
        let checkpoint = tx.load_checkpoint(&self.consumer).await?;
        if last <= checkpoint {
            return Ok(checkpoint);
        }
        let name = self.projection.name().as_str();
        let wanted = self.projection.aggregates();
        let mut events = Vec::with_capacity(run.iter().map(|batch| batch.events.len()).sum());
        for decoded in run.iter().flat_map(|batch| &batch.events) {
            if decoded.position() <= checkpoint {
                continue;
            }
            if let Some(event) = decoded.for_projection(wanted, name)? {
                events.push(event);
            }
        }
        if !events.is_empty() {
            self.projection
                .apply(&mut tx, &self.tables, &events)
                .await?;
        }
        tx.save_checkpoint(&self.consumer, last).await?;
        tx.commit().await?;
        Ok(last)
    }

    /// Its saved checkpoint.
    pub(crate) async fn saved_checkpoint(&self) -> Result<Position, ReadError> {
        Ok(self
            .views
            .checkpoint_row(&self.consumer)
            .await?
            .map_or(Position::START, |(position, _)| position))
    }

    /// Applies `batch` and moves the checkpoint, in one transaction. Events at or before
    /// the saved checkpoint are skipped, so a batch handed twice (a runner that resumed
    /// from an older position, a rebuild that swapped meanwhile) changes nothing twice.
    pub(crate) async fn handle_batch(&self, batch: &[RecordedEvent]) -> Result<(), ReadError> {
        let mut tx = self.views.begin_write(&self.lock).await?;
        let checkpoint = tx.load_checkpoint(&self.consumer).await?;
        let Some(last) = self.apply_in(&mut tx, batch, checkpoint).await? else {
            return Ok(());
        };
        tx.save_checkpoint(&self.consumer, last).await?;
        tx.commit().await
    }
}

#[async_trait::async_trait]
impl Consumer for Projector {
    fn name(&self) -> &str {
        &self.consumer
    }

    async fn checkpoint(&self) -> Result<Position, ConsumerError> {
        self.saved_checkpoint().await.map_err(ConsumerError::new)
    }

    async fn handle(&self, batch: &[RecordedEvent]) -> Result<(), ConsumerError> {
        self.handle_batch(batch).await.map_err(ConsumerError::new)
    }
}
