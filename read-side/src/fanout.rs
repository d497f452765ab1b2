//! Reading the log once for several projectors.
//!
//! Reading and parsing the log costs more than applying it (measured: ~10 µs of client
//! CPU per event on PostgreSQL, most of it building JSON values), so projectors that run
//! together share one reader: it reads and decodes each batch once, a batch ahead of the
//! projectors, and every projector applies the same decoded batch in its own transaction
//! with its own checkpoint. Projectors stay independent: one that fails is retried from
//! its own checkpoint, and one that keeps failing is moved to a runner of its own so that
//! it never holds the others back.
//!
//! Catching up a long way (a rebuild) goes further: each projector gets a queue of its
//! own, a few batches deep, and applies all that waits in it as one run in one
//! transaction. Fewer commits and bigger statements, and the projectors no longer wait
//! for the slowest one after every batch.

use std::sync::Arc;
use std::time::Duration;

use alpes_event_store::{Consumer, EventLog, Position, RecordedEvent};
use futures::future::join_all;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::log_event::Decoded;
use crate::{ProjectionName, Projector, ReadError};

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
            Applied { index, result }
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

/// Batches a member's queue holds while catching up: how far one projector may fall
/// behind the reader (and so the most batches it applies as one run).
const QUEUE_DEPTH: usize = 4;

/// What one member did with the batches queued for it.
pub(crate) struct Drained {
    /// The member's index.
    pub index: usize,
    /// Events it applied.
    pub events: u64,
    /// Why it stopped early (it is made inactive).
    pub failure: Option<ReadError>,
}

/// Catches every active member up with `reader` until the reader is caught up (a short
/// read) or fails; the reason, when it failed. Each member has a queue of its own and
/// applies whatever waits in it as one run, in one transaction with its checkpoint, so the
/// members run side by side and a slow one only holds the reader back once its queue is
/// full. `applied` hears of each run: the projection, its events and its new position.
pub(crate) async fn catch_up_queued(
    reader: &mut Reader,
    members: &mut [Member],
    applied: &(dyn Fn(ProjectionName, u64, Position) + Sync),
) -> (Vec<Drained>, Option<ReadError>) {
    let mut queues = Vec::new();
    let mut drains = Vec::new();
    for (index, member) in members
        .iter_mut()
        .enumerate()
        .filter(|(_, member)| member.active)
    {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        queues.push(sender);
        drains.push(drain(index, member, receiver, applied));
    }
    let (failure, drained) = futures::join!(feed(reader, queues), join_all(drains));
    (drained, failure)
}

/// Hands every batch of `reader` to every queue still open, until a short read; the
/// reason, when reading failed.
async fn feed(
    reader: &mut Reader,
    mut queues: Vec<mpsc::Sender<Arc<DecodedBatch>>>,
) -> Option<ReadError> {
    while let Some(read) = reader.next().await {
        let batch = match read {
            Read::Batch(batch) => batch,
            Read::CaughtUp => return None,
            Read::Failed(error) => return Some(error),
        };
        let mut open = Vec::with_capacity(queues.len());
        for queue in queues {
            // A closed queue is a member that failed and stopped taking batches.
            if queue.send(batch.clone()).await.is_ok() {
                open.push(queue);
            }
        }
        queues = open;
        if queues.is_empty() || !batch.full {
            return None;
        }
    }
    None
}

/// Applies what `queue` brings to `member`, each time all that waits as one run, until the
/// queue closes or a run fails.
async fn drain(
    index: usize,
    member: &mut Member,
    mut queue: mpsc::Receiver<Arc<DecodedBatch>>,
    applied: &(dyn Fn(ProjectionName, u64, Position) + Sync),
) -> Drained {
    let mut drained = Drained {
        index,
        events: 0,
        failure: None,
    };
    while let Some(first) = queue.recv().await {
        let mut run = vec![first];
        while let Ok(next) = queue.try_recv() {
            run.push(next);
        }
        let batches: Vec<&DecodedBatch> = run.iter().map(Arc::as_ref).collect();
        let events = batches
            .iter()
            .flat_map(|batch| &batch.events)
            .filter(|event| event.position() > member.position)
            .count() as u64;
        match apply_run(member, &batches, events).await {
            Ok(position) => {
                member.position = position;
                drained.events += events;
                applied(member.projector.projection(), events, position);
            }
            Err(error) => {
                member.active = false;
                drained.failure = Some(error);
                break;
            }
        }
    }
    drained
}

/// Applies a run of batches to `member`, traced like a live batch.
async fn apply_run(
    member: &Member,
    run: &[&DecodedBatch],
    events: u64,
) -> Result<Position, ReadError> {
    let (Some(first), Some(last)) = (run.first(), run.last()) else {
        return Ok(member.position);
    };
    let span = tracing::info_span!(
        "consumer_batch",
        consumer = %member.projector.name(),
        first = %first.after,
        last = %last.last,
        events,
        batches = run.len(),
        outcome = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let result = member
        .projector
        .handle_decoded_run(run)
        .instrument(span.clone())
        .await;
    span.record("outcome", if result.is_ok() { "handled" } else { "failed" });
    span.record("duration_ms", started.elapsed().as_secs_f64() * 1_000.0);
    span.in_scope(|| tracing::debug!("consumer batch done"));
    result
}
