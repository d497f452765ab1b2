//! Reading the log once for several projectors.
//!
//! Reading and parsing the log costs more than applying it (measured: ~10 µs of client
//! CPU per event on PostgreSQL, most of it building JSON values), so projectors that run
//! together share one reader: it reads and decodes each batch once, a batch ahead of the
//! projectors, and every projector applies the same decoded batch in its own transaction
//! with its own checkpoint. Projectors stay independent: one that fails is retried from
//! its own checkpoint, and one that keeps failing is moved to a runner of its own so that
//! it never holds the others back.

use std::sync::Arc;
use std::time::Duration;

use alpes_event_store::{Consumer, EventLog, Position, RecordedEvent};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::log_event::Decoded;
use crate::{Projector, ReadError};

/// Batches the reader keeps ready ahead of the projectors.
const READ_AHEAD: usize = 2;

/// A batch of the log, read after `after` and decoded once for every projection.
#[derive(Debug)]
pub(crate) struct DecodedBatch {
    /// The position the batch was read after.
    pub after: Position,
    /// The position of its last event.
    pub last: Position,
    /// Its events, in order.
    pub events: Vec<Decoded>,
    /// Whether the read returned as many events as asked (more may follow at once).
    pub full: bool,
}

impl DecodedBatch {
    fn of(after: Position, recorded: &[RecordedEvent], asked: usize) -> Option<DecodedBatch> {
        let last = recorded.last()?.position;
        Some(DecodedBatch {
            after,
            last,
            events: recorded.iter().map(Decoded::of).collect(),
            full: recorded.len() >= asked,
        })
    }
}

/// What the reader hands the projectors.
pub(crate) enum Read {
    /// The next batch.
    Batch(Arc<DecodedBatch>),
    /// Nothing after this position yet.
    CaughtUp,
    /// Reading failed; the reader stopped.
    Failed(ReadError),
}

/// A task reading the log from a position, a few batches ahead.
pub(crate) struct Reader {
    receiver: mpsc::Receiver<Read>,
    task: JoinHandle<()>,
}

impl Reader {
    /// Starts reading after `from`, `batch_size` events at a time. When `follow`, it waits
    /// for new events (up to `idle_wait` at a time) once caught up; otherwise it stops.
    pub(crate) fn spawn(
        log: Arc<dyn EventLog>,
        from: Position,
        batch_size: usize,
        follow: bool,
        idle_wait: Duration,
    ) -> Reader {
        let (sender, receiver) = mpsc::channel(READ_AHEAD);
        let task = tokio::spawn(async move {
            let mut after = from;
            loop {
                let read = match log.read_after(after, batch_size).await {
                    Ok(recorded) => recorded,
                    Err(error) => {
                        let _ = sender.send(Read::Failed(error.into())).await;
                        return;
                    }
                };
                // Decoding is CPU work: done here, on the reader's task, while the
                // projectors apply the previous batch.
                match DecodedBatch::of(after, &read, batch_size) {
                    Some(batch) => {
                        after = batch.last;
                        if sender.send(Read::Batch(Arc::new(batch))).await.is_err() {
                            return;
                        }
                    }
                    None => {
                        if sender.send(Read::CaughtUp).await.is_err() || !follow {
                            return;
                        }
                        if let Err(error) = log.wait_for_events(after, idle_wait).await {
                            let _ = sender.send(Read::Failed(error.into())).await;
                            return;
                        }
                    }
                }
            }
        });
        Reader { receiver, task }
    }

    /// The next message; `None` once the reader stopped.
    pub(crate) async fn next(&mut self) -> Option<Read> {
        self.receiver.recv().await
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One projector of a set, and how far it is.
pub(crate) struct Member {
    pub projector: Projector,
    pub position: Position,
    /// Batches failed in a row.
    pub failures: u32,
    /// False once taken out of the set (it failed a rebuild, or runs on its own).
    pub active: bool,
}

impl Member {
    /// A member at its saved checkpoint.
    pub(crate) async fn at_checkpoint(projector: Projector) -> Result<Member, ReadError> {
        let position = projector.saved_checkpoint().await?;
        Ok(Member {
            projector,
            position,
            failures: 0,
            active: true,
        })
    }

    /// Whether it can apply `batch` now (it has applied everything before it) and has not
    /// applied it all yet.
    fn needs(&self, batch: &DecodedBatch) -> bool {
        self.active && self.position >= batch.after && self.position < batch.last
    }
}

/// The outcome of one member on one batch.
pub(crate) struct Applied {
    /// The member's index.
    pub index: usize,
    /// Events of the batch after its previous position.
    pub events: u64,
    /// Its position after, or why it failed.
    pub result: Result<Position, ReadError>,
}

/// Applies `batch` to every member that needs it, at once (each in its own transaction);
/// one outcome per member that took part.
pub(crate) async fn apply_to_members(members: &mut [Member], batch: &DecodedBatch) -> Vec<Applied> {
    let applying = members
        .iter()
        .enumerate()
        .filter(|(_, member)| member.needs(batch))
        .map(|(index, member)| async move {
            let events = batch
                .events
                .iter()
                .filter(|event| event.position() > member.position)
                .count() as u64;
            let span = tracing::info_span!(
                "consumer_batch",
                consumer = %member.projector.name(),
                first = %batch.after,
                last = %batch.last,
                events,
                outcome = tracing::field::Empty,
                duration_ms = tracing::field::Empty,
            );
            let started = std::time::Instant::now();
            let result = member
                .projector
                .handle_decoded(batch)
                .instrument(span.clone())
                .await;
            span.record("outcome", if result.is_ok() { "handled" } else { "failed" });
            span.record("duration_ms", started.elapsed().as_secs_f64() * 1_000.0);
            span.in_scope(|| tracing::debug!("consumer batch done"));
            Applied {
                index,
                events,
                result,
            }
        });
    let outcomes = futures::future::join_all(applying).await;
    for outcome in &outcomes {
        let member = &mut members[outcome.index];
        match &outcome.result {
            Ok(position) => {
                member.position = *position;
                member.failures = 0;
            }
            Err(_) => member.failures += 1,
        }
    }
    outcomes
}

/// The position the slowest member is at: where the reader must read from.
pub(crate) fn slowest(members: &[Member]) -> Option<Position> {
    members
        .iter()
        .filter(|member| member.active)
        .map(|member| member.position)
        .min()
}
