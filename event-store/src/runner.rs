//! Drives a [`Consumer`] along the global log: from its checkpoint, in order, in batches,
//! while holding its lease; retries a failing batch with backoff; stops cleanly on shutdown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::consumer::SharedConsumer;
use crate::{
    CheckpointStore, Consumer, ConsumerError, EventLog, Lease, LeaseProvider, Position,
    RecordedEvent,
};

/// How a runner reads and retries.
#[derive(Clone, Debug)]
pub struct RunnerOptions {
    /// Most events handed to the consumer at once.
    pub batch_size: usize,
    /// Longest wait for new events when caught up, in case a wake-up is missed (polling
    /// fallback).
    pub idle_wait: Duration,
    /// Delay before the first retry of a failure; doubled on each failure in a row.
    pub first_retry_delay: Duration,
    /// The longest delay between retries, however many failures in a row.
    pub max_retry_delay: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            batch_size: 500,
            idle_wait: Duration::from_secs(1),
            first_retry_delay: Duration::from_millis(100),
            max_retry_delay: Duration::from_secs(30),
        }
    }
}

/// Counters of one runner, readable while it runs (lag reports, tests, metrics).
#[derive(Debug, Default)]
pub struct RunnerStats {
    handled_batches: AtomicU64,
    handled_events: AtomicU64,
    failed_batches: AtomicU64,
    store_failures: AtomicU64,
    position: Mutex<Position>,
}

impl RunnerStats {
    /// Batches the consumer handled successfully.
    pub fn handled_batches(&self) -> u64 {
        self.handled_batches.load(Ordering::Relaxed)
    }

    /// Events in those batches.
    pub fn handled_events(&self) -> u64 {
        self.handled_events.load(Ordering::Relaxed)
    }

    /// Times the consumer failed a batch (each then retried after a backoff).
    pub fn failed_batches(&self) -> u64 {
        self.failed_batches.load(Ordering::Relaxed)
    }

    /// Times reading the log, the checkpoint or the lease failed (each then retried).
    pub fn store_failures(&self) -> u64 {
        self.store_failures.load(Ordering::Relaxed)
    }

    /// The position of the last event handled in this run (or the checkpoint it started
    /// from).
    pub fn position(&self) -> Position {
        *self
            .position
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn record_position(&self, position: Position) {
        *self
            .position
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = position;
    }
}

/// Runs one consumer until shutdown.
pub struct ConsumerRunner {
    consumer: SharedConsumer,
    log: Arc<dyn EventLog>,
    leases: Arc<dyn LeaseProvider>,
    options: RunnerOptions,
    stats: Arc<RunnerStats>,
}

/// Why following the log stopped.
enum Stop {
    Shutdown,
    LeaseLost,
}

impl ConsumerRunner {
    /// A runner of `consumer` over `log`, taking its lease from `leases`.
    pub fn new(
        consumer: SharedConsumer,
        log: Arc<dyn EventLog>,
        leases: Arc<dyn LeaseProvider>,
    ) -> Self {
        ConsumerRunner {
            consumer,
            log,
            leases,
            options: RunnerOptions::default(),
            stats: Arc::default(),
        }
    }

    /// Replaces the default options.
    pub fn with_options(mut self, options: RunnerOptions) -> Self {
        self.options = options;
        self
    }

    /// The runner's counters.
    pub fn stats(&self) -> Arc<RunnerStats> {
        self.stats.clone()
    }

    /// Runs on a task of its own; see [`ConsumerRunner::run`].
    pub fn spawn(self, shutdown: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(self.run(shutdown))
    }

    /// Follows the log until `shutdown` is cancelled: takes the lease (waiting for it if
    /// another holds it), then hands the consumer every batch after its checkpoint, in
    /// order. A batch being handled when shutdown comes is finished first. Failures are
    /// logged, counted and retried with backoff; they never end the run.
    pub async fn run(self, shutdown: CancellationToken) {
        let name = self.consumer.name().to_string();
        let mut retry = Backoff::new(&self.options);
        loop {
            let acquired = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                acquired = self.leases.acquire(&name) => acquired,
            };
            let mut lease = match acquired {
                Ok(lease) => lease,
                Err(error) => {
                    self.store_failed(&name, "acquiring its lease", &error);
                    if retry.wait(&shutdown).await {
                        continue;
                    }
                    break;
                }
            };
            tracing::info!(consumer = %name, "lease acquired, following the log");
            match self
                .follow(&name, lease.as_mut(), &mut retry, &shutdown)
                .await
            {
                Stop::Shutdown => break,
                Stop::LeaseLost => {
                    tracing::warn!(consumer = %name, "lease lost, stopping until acquired again");
                }
            }
        }
        tracing::info!(consumer = %name, position = %self.stats.position(), "consumer stopped");
    }

    async fn follow(
        &self,
        name: &str,
        lease: &mut dyn Lease,
        retry: &mut Backoff,
        shutdown: &CancellationToken,
    ) -> Stop {
        // `None`: ask the consumer (at the start and after a failure, since a failed batch
        // may have been partly handled by a consumer without transactions).
        let mut checkpoint: Option<Position> = None;
        let mut skipped = Skipped::default();
        let wanted = |aggregate_type: &str, event_type: &str| {
            self.consumer.wants(aggregate_type, event_type)
        };
        loop {
            if shutdown.is_cancelled() {
                self.save_skipped(name, &mut skipped, true).await;
                return Stop::Shutdown;
            }
            if !lease.is_held().await {
                return Stop::LeaseLost;
            }
            let after = match checkpoint {
                Some(position) => position,
                None => match self.consumer.checkpoint().await {
                    Ok(position) => {
                        self.stats.record_position(position);
                        skipped = Skipped::default();
                        position
                    }
                    Err(error) => {
                        self.store_failed(name, "loading its checkpoint", &error);
                        if !retry.wait(shutdown).await {
                            return Stop::Shutdown;
                        }
                        continue;
                    }
                },
            };
            checkpoint = Some(after);
            let read = match self
                .log
                .read_wanted_after(after, self.options.batch_size.max(1), &wanted)
                .await
            {
                Ok(read) => read,
                Err(error) => {
                    self.store_failed(name, "reading the log", &error);
                    if !retry.wait(shutdown).await {
                        return Stop::Shutdown;
                    }
                    continue;
                }
            };
            let Some(scanned_to) = read.scanned_to else {
                // Caught up: a good moment to record how far the unwanted events went.
                self.save_skipped(name, &mut skipped, false).await;
                if !self
                    .wait_for_events(name, after, skipped.wait_at_most(), retry, shutdown)
                    .await
                {
                    self.save_skipped(name, &mut skipped, true).await;
                    return Stop::Shutdown;
                }
                continue;
            };
            let batch = read.events;
            let Some(last) = batch.last().map(|event| event.position) else {
                checkpoint = Some(scanned_to);
                self.stats.record_position(scanned_to);
                skipped.to(scanned_to);
                continue;
            };
            // Not raced against shutdown: the batch is finished, then the loop stops.
            match self.handle_batch(name, &batch).await {
                Ok(()) => {
                    checkpoint = Some(scanned_to);
                    self.batch_handled(&batch, scanned_to);
                    skipped.handled(last, scanned_to);
                    retry.reset();
                }
                Err(error) => {
                    self.batch_failed(name, &batch, &error, retry.next_delay());
                    checkpoint = None;
                    if !retry.wait(shutdown).await {
                        return Stop::Shutdown;
                    }
                }
            }
        }
    }

    /// Records the position past the unwanted events, when there is one to record and the
    /// last time is long enough ago (or `now`).
    async fn save_skipped(&self, name: &str, skipped: &mut Skipped, now: bool) {
        let Some(position) = skipped.due(now) else {
            return;
        };
        match self.consumer.skip_to(position).await {
            Ok(()) => skipped.saved(position),
            Err(error) => self.store_failed(name, "saving its checkpoint", &*error.0),
        }
    }

    /// Hands `batch` to the consumer in a `consumer_batch` span (consumer, positions,
    /// events), where its outcome and duration are recorded; the commands a saga reactor
    /// sends are logged inside it.
    async fn handle_batch(&self, name: &str, batch: &[RecordedEvent]) -> Result<(), ConsumerError> {
        let span = tracing::info_span!(
            "consumer_batch",
            consumer = %name,
            first = %batch.first().map(|event| event.position).unwrap_or_default(),
            last = %batch.last().map(|event| event.position).unwrap_or_default(),
            events = batch.len(),
            outcome = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let handled = self.consumer.handle(batch).instrument(span.clone()).await;
        let elapsed = started.elapsed();
        let outcome = if handled.is_ok() { "handled" } else { "failed" };
        span.record("outcome", outcome);
        metrics::counter!("alpes_consumer_batches_total", "consumer" => name.to_string(), "outcome" => outcome)
            .increment(1);
        if handled.is_ok() {
            metrics::counter!("alpes_consumer_events_total", "consumer" => name.to_string())
                .increment(batch.len() as u64);
        }
        span.record("duration_ms", elapsed.as_secs_f64() * 1_000.0);
        span.in_scope(|| tracing::debug!("consumer batch done"));
        handled
    }

    /// False when shutdown came while waiting (`at_most` shortens the idle wait).
    async fn wait_for_events(
        &self,
        name: &str,
        after: Position,
        at_most: Option<Duration>,
        retry: &mut Backoff,
        shutdown: &CancellationToken,
    ) -> bool {
        let timeout = at_most.map_or(self.options.idle_wait, |at_most| {
            at_most.min(self.options.idle_wait)
        });
        let waited = tokio::select! {
            biased;
            () = shutdown.cancelled() => return false,
            waited = self.log.wait_for_events(after, timeout) => waited,
        };
        match waited {
            Ok(()) => true,
            Err(error) => {
                self.store_failed(name, "waiting for new events", &error);
                retry.wait(shutdown).await
            }
        }
    }

    fn batch_handled(&self, batch: &[RecordedEvent], last: Position) {
        self.stats.handled_batches.fetch_add(1, Ordering::Relaxed);
        self.stats
            .handled_events
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.stats.record_position(last);
    }

    fn batch_failed(
        &self,
        name: &str,
        batch: &[RecordedEvent],
        error: &ConsumerError,
        retry_in: Duration,
    ) {
        let failures = self.stats.failed_batches.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(
            consumer = %name,
            %error,
            first = %batch.first().map(|event| event.position).unwrap_or_default(),
            events = batch.len(),
            failures,
            retry_in_ms = retry_in.as_millis() as u64,
            "consumer failed a batch; retrying"
        );
    }

    fn store_failed(&self, name: &str, doing: &str, error: &dyn std::error::Error) {
        let failures = self.stats.store_failures.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(consumer = %name, %error, failures, "failed {doing}; retrying");
    }
}

/// How often, at most, a consumer's checkpoint is moved past unwanted events alone.
const SKIP_SAVE_INTERVAL: Duration = Duration::from_millis(200);

/// Where a consumer's checkpoint could be moved past events it does not want, and when it
/// last was.
#[derive(Default)]
struct Skipped {
    /// Past the saved checkpoint, up to here, every event is handled or unwanted.
    unsaved: Option<Position>,
    last_saved: Option<Instant>,
}

impl Skipped {
    /// Events up to `position` were unwanted.
    fn to(&mut self, position: Position) {
        self.unsaved = Some(position);
    }

    /// A batch ending at `last` was handled (which saved `last`), after looking up to
    /// `scanned_to`.
    fn handled(&mut self, last: Position, scanned_to: Position) {
        self.unsaved = (scanned_to > last).then_some(scanned_to);
    }

    /// The position to save now, if any.
    fn due(&self, now: bool) -> Option<Position> {
        let waited_enough = self
            .last_saved
            .is_none_or(|saved| saved.elapsed() >= SKIP_SAVE_INTERVAL);
        self.unsaved.filter(|_| now || waited_enough)
    }

    fn saved(&mut self, position: Position) {
        if self.unsaved == Some(position) {
            self.unsaved = None;
        }
        self.last_saved = Some(Instant::now());
    }

    /// How long an idle wait may last before the unsaved position is due.
    fn wait_at_most(&self) -> Option<Duration> {
        self.unsaved?;
        let since = self
            .last_saved
            .map_or(SKIP_SAVE_INTERVAL, |saved| saved.elapsed());
        Some(SKIP_SAVE_INTERVAL.saturating_sub(since))
    }
}

/// Exponential backoff between retries, bounded.
struct Backoff {
    first: Duration,
    max: Duration,
    failures_in_a_row: u32,
}

impl Backoff {
    fn new(options: &RunnerOptions) -> Self {
        Backoff {
            first: options.first_retry_delay,
            max: options.max_retry_delay.max(options.first_retry_delay),
            failures_in_a_row: 0,
        }
    }

    fn next_delay(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.failures_in_a_row.min(30));
        self.first.saturating_mul(factor).min(self.max)
    }

    /// Sleeps the next delay; false when shutdown came meanwhile.
    async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let delay = self.next_delay();
        self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
        tokio::select! {
            biased;
            () = shutdown.cancelled() => false,
            () = tokio::time::sleep(delay) => true,
        }
    }

    fn reset(&mut self) {
        self.failures_in_a_row = 0;
    }
}

/// The part of an at-least-once consumer (a saga reactor) that acts on events; its effects
/// must be idempotent, since a batch is handled again when a crash comes between its effects
/// and its checkpoint.
#[async_trait::async_trait]
pub trait EventHandler: Send + Sync {
    /// Unique, stable name: the key of its checkpoint and lease.
    fn name(&self) -> &str;

    /// Acts on a non-empty batch, in order.
    async fn handle(&self, batch: &[RecordedEvent]) -> Result<(), ConsumerError>;
}

/// Makes a [`Consumer`] of an [`EventHandler`]: its checkpoint is saved in a
/// [`CheckpointStore`] after each handled batch.
pub struct AtLeastOnceConsumer<H> {
    handler: H,
    checkpoints: Arc<dyn CheckpointStore>,
}

impl<H: EventHandler> AtLeastOnceConsumer<H> {
    /// `handler`, checkpointed in `checkpoints`.
    pub fn new(handler: H, checkpoints: Arc<dyn CheckpointStore>) -> Self {
        AtLeastOnceConsumer {
            handler,
            checkpoints,
        }
    }

    /// The wrapped handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }
}

#[async_trait::async_trait]
impl<H: EventHandler> Consumer for AtLeastOnceConsumer<H> {
    fn name(&self) -> &str {
        self.handler.name()
    }

    async fn checkpoint(&self) -> Result<Position, ConsumerError> {
        Ok(self.checkpoints.load(self.handler.name()).await?)
    }

    async fn skip_to(&self, position: Position) -> Result<(), ConsumerError> {
        Ok(self.checkpoints.save(self.handler.name(), position).await?)
    }

    async fn handle(&self, batch: &[RecordedEvent]) -> Result<(), ConsumerError> {
        let Some(last) = batch.last() else {
            return Ok(());
        };
        self.handler.handle(batch).await?;
        self.checkpoints
            .save(self.handler.name(), last.position)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        let mut backoff = Backoff::new(&RunnerOptions {
            first_retry_delay: Duration::from_millis(100),
            max_retry_delay: Duration::from_millis(500),
            ..RunnerOptions::default()
        });
        let mut delays = Vec::new();
        for _ in 0..5 {
            delays.push(backoff.next_delay().as_millis());
            backoff.failures_in_a_row += 1;
        }
        assert_eq!(delays, vec![100, 200, 400, 500, 500]);
        backoff.failures_in_a_row = 1_000;
        assert_eq!(backoff.next_delay(), Duration::from_millis(500));
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
    }
}
