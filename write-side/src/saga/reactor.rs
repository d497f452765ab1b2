//! What every saga reactor has in common: a consumer of the global log that learns what its
//! service needs from events into its own tables and reacts to some events with commands.
//!
//! Learning and reacting follow the log in order, so a reaction sees exactly what its
//! service learned from the events before it (and from the event itself) — on the first
//! delivery and on every redelivery:
//! - what is learned is written with the checkpoint in one transaction;
//! - before a reaction, what was learned so far is committed with the checkpoint of the
//!   event *before* it, so the checkpoint never passes a reaction that has not finished and
//!   nothing learned from a later event is committed before it finishes;
//! - a crash between a reaction's commands and the next commit redelivers the event: its
//!   commands carry ids derived from it and the aggregates treat repeats as done, and its
//!   own writes are idempotent.
//!
//! Reactions to events that do not depend on each other run concurrently: the batch is cut
//! into segments within which no event teaches the reactor anything that a reaction earlier
//! in the segment reads ([`Reactor::reads`], [`Reactor::writes`]). A segment's learning is
//! committed, with the checkpoint of the event before its first reaction, and then its
//! reactions run side by side; a redelivery cuts the same segments again, so every reaction
//! sees exactly what it would have seen in order.
//!
//! Commits are queued without waiting when nothing waits on them: a segment's learning when
//! none of its reactions reads what it taught, and the checkpoint at the end of a batch. A
//! reaction waits only for the queued commits that taught something it reads. They go into
//! one write chain (SQLite): they commit in order and none after one that failed, so a
//! checkpoint never passes learning that was lost; the first failure fails the batch after
//! it, and the runner starts again from the checkpoint that did commit.
//!
//! A command an aggregate rejects (a business rule, an invalid transition) is logged,
//! recorded in `saga_rechazos` and skipped; only store failures and exhausted conflict
//! retries fail the batch, which the runner then retries with backoff.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use alpes_domain::atribucion::{Atribucion, AtribucionEvent};
use alpes_domain::campana::{Campana, CampanaEvent};
use alpes_domain::comision::{Comision, ComisionEvent};
use alpes_domain::interaccion::{Interaccion, InteraccionEvent};
use alpes_domain::RuleViolation;
use alpes_event_store::sqlite::WriteChain;
use alpes_event_store::{
    Consumer, ConsumerError, MetricHandles, Position, RecordedEvent, StoreError,
};
use cqrs_es::Aggregate;
use metrics::Counter;
use uuid::Uuid;

use super::database::{QueuedCommit, Rejection, SagaDatabase, Write};
use crate::{CommandContext, CommandError, Executed};

/// An event of one of the four aggregates, decoded (and upcast).
#[derive(Debug, Clone)]
pub(crate) enum AnyEvent {
    Campana(CampanaEvent),
    Interaccion(InteraccionEvent),
    Atribucion(AtribucionEvent),
    Comision(ComisionEvent),
}

/// An event a reactor is interested in, with where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// The id of the aggregate that recorded it.
    pub aggregate_id: Uuid,
    pub event: AnyEvent,
    /// `{stream}#{sequence}`: the causation id of every command sent in reaction to it.
    pub causa: String,
    /// The correlation id (the journey) recorded with it, if any.
    pub correlation: Option<String>,
    /// The HTTP request that started the chain of commands, if any: passed on to every
    /// command of the reaction, so the whole saga of a request can be found by its id.
    pub request_id: Option<String>,
}

/// One reaction of the saga, run by a [`SagaConsumer`].
#[async_trait::async_trait]
pub(crate) trait Reactor: Send + Sync + 'static {
    /// The consumer's name (key of its checkpoint and lease) and the actor of its commands.
    fn name(&self) -> &'static str;

    /// Whether events of this type are worth decoding (learned or reacted to).
    fn interested(&self, aggregate_type: &str, event_type: &str) -> bool;

    /// The idempotent writes that record what the service learns from `event`.
    fn learn(&self, _event: &Received) -> Vec<Write> {
        Vec::new()
    }

    /// Whether `event` calls for [`Reactor::react`].
    fn reacts_to(&self, event: &Received) -> bool;

    /// What the reaction to `event` reads of the reactor's tables. Default: everything.
    fn reads(&self, _event: &Received) -> Keys {
        Keys::All
    }

    /// What [`Reactor::learn`] of `event` changes in the reactor's tables, when it learns
    /// anything. Default: everything.
    fn writes(&self, _event: &Received) -> Keys {
        Keys::All
    }

    /// Sends the commands `event` calls for. Reads of the reactor's tables see what was
    /// learned up to and including `event`.
    async fn react(&self, event: &Received, reaction: &Reaction<'_>) -> Result<(), ConsumerError>;
}

/// Which rows of a reactor's tables an event's learning or reaction touches: those of some
/// aggregates (a journey, a campaign, a conversion: ids never repeat across kinds), or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Keys {
    Some(Vec<Uuid>),
    All,
}

impl Keys {
    pub fn of(ids: impl IntoIterator<Item = Uuid>) -> Self {
        Keys::Some(ids.into_iter().collect())
    }
}

/// [`Keys`] gathered over several events; empty at first.
#[derive(Debug)]
enum KeySet {
    Some(HashSet<Uuid>),
    All,
}

impl Default for KeySet {
    fn default() -> Self {
        KeySet::Some(HashSet::new())
    }
}

impl KeySet {
    fn add(&mut self, keys: Keys) {
        match (keys, &mut *self) {
            (Keys::Some(ids), KeySet::Some(set)) => set.extend(ids),
            _ => *self = KeySet::All,
        }
    }

    /// Whether `keys` touch a key of the set (everything touches all).
    fn meets_keys(&self, keys: &Keys) -> bool {
        match (self, keys) {
            (KeySet::All, _) | (_, Keys::All) => true,
            (KeySet::Some(set), Keys::Some(ids)) => ids.iter().any(|id| set.contains(id)),
        }
    }

    /// Whether the two sets share a key; all shares one with any set that is not empty.
    fn meets(&self, other: &KeySet) -> bool {
        match (self, other) {
            (KeySet::Some(a), KeySet::Some(b)) => {
                let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
                small.iter().any(|id| large.contains(id))
            }
            (KeySet::Some(set), KeySet::All) | (KeySet::All, KeySet::Some(set)) => !set.is_empty(),
            (KeySet::All, KeySet::All) => true,
        }
    }
}

/// How many reactions of one segment run at once.
const CONCURRENT_REACTIONS: usize = 256;

/// Events of a batch whose reactions can run side by side.
#[derive(Default)]
struct Segment {
    /// What its events taught, not yet committed.
    learned: Vec<Write>,
    /// What that learning touches.
    taught: KeySet,
    /// The position of the event before its first reaction: the checkpoint committed with
    /// its learning before the reactions run.
    before_reactions: Option<Position>,
    reactions: Vec<Received>,
    /// What its reactions read.
    read: KeySet,
}

impl Segment {
    /// Whether learning what touches `keys` would change what a reaction already in the
    /// segment reads.
    fn conflicts_with(&self, keys: &Keys) -> bool {
        !self.reactions.is_empty() && self.read.meets_keys(keys)
    }

    fn learn(&mut self, learned: Vec<Write>, keys: Keys) {
        self.learned.extend(learned);
        self.taught.add(keys);
    }

    fn add_reaction(&mut self, received: Received, reads: Keys, before: Option<Position>) {
        if self.reactions.is_empty() {
            self.before_reactions = before;
        }
        self.read.add(reads);
        self.reactions.push(received);
    }
}

/// A commit queued by a consumer, and what it teaches.
struct Outstanding {
    commit: QueuedCommit,
    taught: KeySet,
}

/// The commits a consumer queued and has not seen committed yet, in queue order.
#[derive(Default)]
struct Pipeline {
    chain: WriteChain,
    outstanding: VecDeque<Outstanding>,
}

/// Queued commits kept before the oldest is waited for.
const MAX_OUTSTANDING: usize = 64;

impl Pipeline {
    /// Drops the commits known to be done; fails with the first that failed.
    fn settle_done(&mut self) -> Result<(), StoreError> {
        while let Some(front) = self.outstanding.front_mut() {
            match front.commit.try_committed() {
                None => break,
                Some(outcome) => {
                    self.outstanding.pop_front();
                    outcome?;
                }
            }
        }
        Ok(())
    }

    /// Waits for every queued commit up to the last one that taught something in `read`.
    async fn wait_for_taught(&mut self, read: &KeySet) -> Result<(), StoreError> {
        let Some(last) = self
            .outstanding
            .iter()
            .rposition(|outstanding| outstanding.taught.meets(read))
        else {
            return Ok(());
        };
        self.wait_for(last + 1).await
    }

    /// Waits for the first `count` queued commits, in order; fails with the first failure.
    async fn wait_for(&mut self, count: usize) -> Result<(), StoreError> {
        let mut outcome = Ok(());
        for outstanding in self.outstanding.drain(..count) {
            let committed = outstanding.commit.committed().await;
            if outcome.is_ok() {
                outcome = committed;
            }
        }
        outcome
    }

    async fn wait_for_all(&mut self) -> Result<(), StoreError> {
        self.wait_for(self.outstanding.len()).await
    }

    async fn queue(
        &mut self,
        database: &SagaDatabase,
        consumer: &str,
        learned: &[Write],
        checkpoint: Option<Position>,
        taught: KeySet,
    ) -> Result<(), StoreError> {
        if self.outstanding.len() >= MAX_OUTSTANDING {
            self.wait_for(1).await?;
        }
        let commit = database
            .queue_commit(consumer, learned, checkpoint, Some(self.chain.clone()))
            .await?;
        self.outstanding.push_back(Outstanding { commit, taught });
        Ok(())
    }
}

/// Runs a [`Reactor`] as a consumer of the global log.
pub(crate) struct SagaConsumer<R> {
    reactor: Arc<R>,
    database: SagaDatabase,
    /// Locked for the whole of each call: the runner calls one at a time anyway.
    pipeline: tokio::sync::Mutex<Pipeline>,
}

impl<R: Reactor> SagaConsumer<R> {
    pub fn new(reactor: R, database: SagaDatabase) -> Self {
        SagaConsumer {
            reactor: Arc::new(reactor),
            database,
            pipeline: tokio::sync::Mutex::default(),
        }
    }

    /// Decodes `recorded` when the reactor is interested in it.
    fn receive(&self, recorded: &RecordedEvent) -> Result<Option<Received>, StoreError> {
        let event = &recorded.event;
        if !self
            .reactor
            .interested(&event.aggregate_type, &event.event_type)
        {
            return Ok(None);
        }
        let decoded = match event.aggregate_type.as_str() {
            Campana::TYPE => AnyEvent::Campana(recorded.decode::<Campana>()?.payload),
            Interaccion::TYPE => AnyEvent::Interaccion(recorded.decode::<Interaccion>()?.payload),
            Atribucion::TYPE => AnyEvent::Atribucion(recorded.decode::<Atribucion>()?.payload),
            Comision::TYPE => AnyEvent::Comision(recorded.decode::<Comision>()?.payload),
            _ => return Ok(None),
        };
        let Ok(aggregate_id) = event.aggregate_id.parse::<Uuid>() else {
            tracing::warn!(
                consumer = self.reactor.name(),
                stream = %recorded.stream(),
                "skipping an event whose aggregate id is not a UUID"
            );
            return Ok(None);
        };
        let mut metadata = recorded.metadata();
        Ok(Some(Received {
            aggregate_id,
            event: decoded,
            causa: format!("{}#{}", recorded.stream(), event.sequence),
            correlation: metadata.remove("correlation_id"),
            request_id: metadata.remove("request_id"),
        }))
    }
}

#[async_trait::async_trait]
impl<R: Reactor> Consumer for SagaConsumer<R> {
    fn name(&self) -> &str {
        self.reactor.name()
    }

    /// Called when the runner starts and after a failed batch: whatever is still queued
    /// commits (or fails) first, and later writes go into a new chain.
    async fn checkpoint(&self) -> Result<Position, ConsumerError> {
        let mut pipeline = self.pipeline.lock().await;
        if let Err(error) = pipeline.wait_for_all().await {
            tracing::warn!(
                consumer = self.reactor.name(),
                %error,
                "a queued commit failed; starting again from the saved checkpoint"
            );
        }
        *pipeline = Pipeline::default();
        Ok(self.database.checkpoint(self.reactor.name()).await?)
    }

    fn wants(&self, aggregate_type: &str, event_type: &str) -> bool {
        self.reactor.interested(aggregate_type, event_type)
    }

    async fn skip_to(&self, position: Position) -> Result<(), ConsumerError> {
        let mut pipeline = self.pipeline.lock().await;
        pipeline
            .queue(
                &self.database,
                self.reactor.name(),
                &[],
                Some(position),
                KeySet::default(),
            )
            .await?;
        Ok(pipeline.wait_for_all().await?)
    }

    async fn handle(&self, batch: &[RecordedEvent]) -> Result<(), ConsumerError> {
        let mut pipeline = self.pipeline.lock().await;
        pipeline.settle_done()?;
        let mut segment = Segment::default();
        // The last event of the batch looked at: every event up to it is handled once the
        // current segment's reactions are.
        let mut last: Option<Position> = None;
        for recorded in batch {
            if let Some(received) = self.receive(recorded)? {
                let learned = self.reactor.learn(&received);
                if !learned.is_empty() {
                    let writes = self.reactor.writes(&received);
                    if segment.conflicts_with(&writes) {
                        self.run(&mut pipeline, std::mem::take(&mut segment))
                            .await?;
                    }
                    segment.learn(learned, writes);
                }
                if self.reactor.reacts_to(&received) {
                    let reads = self.reactor.reads(&received);
                    segment.add_reaction(received, reads, last);
                }
            }
            last = Some(recorded.position);
        }
        let (learned, taught) = if segment.reactions.is_empty() {
            (segment.learned, segment.taught)
        } else {
            self.run(&mut pipeline, segment).await?;
            (Vec::new(), KeySet::default())
        };
        // Not waited for: the next batch's reactions wait for it only if they read what
        // it taught.
        pipeline
            .queue(&self.database, self.reactor.name(), &learned, last, taught)
            .await?;
        Ok(())
    }
}

impl<R: Reactor> SagaConsumer<R> {
    /// Queues what `segment` learned with the checkpoint before its first reaction, waits
    /// for the queued commits that taught what its reactions read, then runs its reactions
    /// side by side. Fails with the first reaction that failed, once all have finished.
    async fn run(&self, pipeline: &mut Pipeline, segment: Segment) -> Result<(), ConsumerError> {
        let name = self.reactor.name();
        let started = std::time::Instant::now();
        // Nothing learned since the last commit: the committed checkpoint (older) already
        // replays exactly the same state.
        if !segment.learned.is_empty() {
            pipeline
                .queue(
                    &self.database,
                    name,
                    &segment.learned,
                    segment.before_reactions,
                    segment.taught,
                )
                .await?;
        }
        pipeline.wait_for_taught(&segment.read).await?;
        let committed = started.elapsed();
        let reactions = segment.reactions.len();
        // Each on a task of its own, so reactions use every core of the runtime; at most
        // CONCURRENT_REACTIONS at once. The first failure is answered once all are done.
        let mut running = tokio::task::JoinSet::new();
        let mut outcome = Ok(());
        let mut settle = |done: Result<Result<(), ConsumerError>, tokio::task::JoinError>| {
            let done = done.unwrap_or_else(|error| Err(ConsumerError::new(error)));
            if outcome.is_ok() {
                outcome = done;
            }
        };
        for received in segment.reactions {
            if running.len() >= CONCURRENT_REACTIONS {
                if let Some(done) = running.join_next().await {
                    settle(done);
                }
            }
            running.spawn(react(self.reactor.clone(), self.database.clone(), received));
        }
        while let Some(done) = running.join_next().await {
            settle(done);
        }
        tracing::debug!(
            consumer = name,
            learned = segment.learned.len(),
            reactions,
            commit_ms = committed.as_secs_f64() * 1_000.0,
            reactions_ms = (started.elapsed() - committed).as_secs_f64() * 1_000.0,
            "segment handled"
        );
        outcome
    }
}

async fn react<R: Reactor>(
    reactor: Arc<R>,
    database: SagaDatabase,
    received: Received,
) -> Result<(), ConsumerError> {
    let reaction = Reaction {
        consumer: reactor.name(),
        database: &database,
        event: &received,
    };
    reactor.react(&received, &reaction).await
}

/// What a reactor needs while reacting to one event: the metadata of its commands and the
/// handling of their outcomes.
pub(crate) struct Reaction<'a> {
    consumer: &'static str,
    database: &'a SagaDatabase,
    event: &'a Received,
}

impl Reaction<'_> {
    /// The saga's tables.
    pub fn database(&self) -> &SagaDatabase {
        self.database
    }

    /// The metadata of a command caused by the event: correlated with `journey` (or, when
    /// the event does not name it, with the event's own correlation id), caused by the
    /// event, sent by the reactor.
    pub fn context(&self, journey: Option<Uuid>) -> CommandContext {
        CommandContext {
            correlation_id: journey
                .map(|journey| journey.to_string())
                .or_else(|| self.event.correlation.clone()),
            causation_id: Some(self.event.causa.clone()),
            actor: self.consumer.to_string(),
            request_id: self.event.request_id.clone(),
        }
    }

    /// Sorts a command's outcome: carried out, or rejected by the aggregate (logged,
    /// recorded, returned so the reactor can compensate), or failed in the store (the batch
    /// fails and is retried).
    pub async fn settle<E>(
        &self,
        aggregate: &str,
        command: &str,
        result: Result<Executed, CommandError<E>>,
    ) -> Result<Result<Executed, E>, ConsumerError>
    where
        E: RuleViolation + Send + Sync + 'static,
    {
        match result {
            Ok(executed) => {
                count_saga_outcomes(&executed);
                Ok(Ok(executed))
            }
            Err(CommandError::Rejected(error)) => {
                self.skip(aggregate, command, error.code(), &error.to_string())
                    .await?;
                Ok(Err(error))
            }
            Err(error) => Err(ConsumerError::new(error)),
        }
    }

    /// Logs and records a command that is not carried out, and moves on.
    pub async fn skip(
        &self,
        aggregate: &str,
        command: &str,
        code: &str,
        reason: &str,
    ) -> Result<(), ConsumerError> {
        tracing::warn!(
            consumer = self.consumer,
            causa = %self.event.causa,
            aggregate,
            command,
            code,
            reason,
            "saga command rejected; skipped"
        );
        let rejection = Rejection {
            consumer: self.consumer,
            causa: &self.event.causa,
            aggregate,
            command,
            code,
            reason,
        };
        Ok(self.database.record_rejection(&rejection).await?)
    }
}

/// Counts the saga's ends among the events a reaction appended (a redelivered reaction
/// appends nothing, so nothing is counted twice): `completed` per commission reserved,
/// `not_attributed` per conversion nobody is credited for (or that the fraud rules reject
/// before attribution), `compensated` per attribution reverted (budget or fraud).
fn count_saga_outcomes(executed: &Executed) {
    for event_type in &executed.event_types {
        let outcome = match event_type.as_str() {
            "ComisionReservada" => "completed",
            "ConversionNoAtribuida" => "not_attributed",
            // Sent by the saga only while attributing (the rules' findings); fraud reported
            // through REST is not a reaction.
            "FraudeDetectado" => "not_attributed",
            "AtribucionRevertida" => "compensated",
            _ => continue,
        };
        static OUTCOMES: MetricHandles<&'static str, Counter> = MetricHandles::new();
        OUTCOMES
            .get(
                outcome,
                |outcome| metrics::counter!("alpes_saga_outcomes_total", "outcome" => *outcome),
            )
            .increment(1);
    }
}

/// `{Aggregate}-{id}`, the stream of an aggregate.
pub(crate) fn stream<A: Aggregate>(id: Uuid) -> String {
    format!("{}-{id}", A::TYPE)
}
