//! Commands to one aggregate that arrive while another group of its commands runs wait for
//! it, then run together: one load, each command decided in arrival order on the state the
//! ones before it left, one append. A hot campaign (it takes every reservation of its
//! conversions) then costs one load and one durable append per group instead of per
//! command, and its concurrent commands stop racing each other into conflicts. Each group
//! starts from the aggregate the last one left (kept for the [`KEPT_AGGREGATES`] most
//! recently used) and reads only the events appended since (by another process, say).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use alpes_event_store::{AggregateStore, EventRepository};
use cqrs_es::persist::EventStoreAggregateContext;
use cqrs_es::{Aggregate, AggregateError};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::commands::{backoff, executed, store_failure, MAX_ATTEMPTS};
use crate::{CommandError, Executed};

type Answer<A> = Result<Executed, CommandError<<A as Aggregate>::Error>>;

/// How many aggregates are kept in memory between their groups. A campaign with 10,000
/// reservations took ~10 ms to load from its snapshot, each time a pause in its commands
/// ended a run of groups; the hot aggregates are few.
const KEPT_AGGREGATES: usize = 64;

/// A command waiting for its aggregate's group.
struct Queued<A: Aggregate> {
    command: A::Command,
    metadata: HashMap<String, String>,
    reply: oneshot::Sender<Answer<A>>,
}

/// The groups of commands of one aggregate type. Cheap to clone.
pub(crate) struct CommandQueue<A: Aggregate> {
    shared: Arc<Shared<A>>,
}

impl<A: Aggregate> Clone for CommandQueue<A> {
    fn clone(&self) -> Self {
        CommandQueue {
            shared: self.shared.clone(),
        }
    }
}

struct Shared<A: Aggregate> {
    store: AggregateStore<A, EventRepository>,
    services: A::Services,
    /// Per aggregate with a group running: the commands that arrived since it started.
    waiting: Mutex<HashMap<Uuid, Vec<Queued<A>>>>,
    kept: Mutex<Kept<A>>,
}

/// Aggregates as their last group left them, each with the number of the keep that put it
/// there (the lowest goes first when the map is full).
struct Kept<A: Aggregate> {
    contexts: HashMap<Uuid, (u64, EventStoreAggregateContext<A>)>,
    keeps: u64,
}

impl<A> CommandQueue<A>
where
    A: Aggregate + 'static,
    A::Command: Clone + Send + 'static,
    A::Error: Send + 'static,
{
    pub fn new(store: AggregateStore<A, EventRepository>, services: A::Services) -> Self {
        CommandQueue {
            shared: Arc::new(Shared {
                store,
                services,
                waiting: Mutex::default(),
                kept: Mutex::new(Kept {
                    contexts: HashMap::new(),
                    keeps: 0,
                }),
            }),
        }
    }

    /// Runs `command` on the aggregate `id` in the next group, retrying the group a bounded
    /// number of times when another writer appended first.
    pub async fn execute(
        &self,
        id: Uuid,
        command: A::Command,
        metadata: HashMap<String, String>,
    ) -> Answer<A> {
        let (reply, answer) = oneshot::channel();
        let queued = Queued {
            command,
            metadata,
            reply,
        };
        let starts_group = match self.shared.waiting().entry(id) {
            Entry::Occupied(mut waiting) => {
                waiting.get_mut().push(queued);
                false
            }
            Entry::Vacant(vacant) => {
                vacant.insert(vec![queued]);
                true
            }
        };
        if starts_group {
            // On a task of its own: the caller may stop waiting, the others may not.
            tokio::spawn(self.shared.clone().drain(id));
        }
        answer.await.unwrap_or_else(|_| {
            Err(store_failure::<A>(
                id,
                "the command's group stopped before answering".to_string(),
            ))
        })
    }
}

impl<A> Shared<A>
where
    A: Aggregate + 'static,
    A::Command: Clone + Send + 'static,
    A::Error: Send + 'static,
{
    fn waiting(&self) -> MutexGuard<'_, HashMap<Uuid, Vec<Queued<A>>>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn kept(&self) -> MutexGuard<'_, Kept<A>> {
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs groups of `id` until no command is waiting.
    async fn drain(self: Arc<Self>, id: Uuid) {
        let _guard = ForgetOnPanic { shared: &self, id };
        // The aggregate as the last group left it: the next group reads only what others
        // appended since, not the whole aggregate.
        let mut cached = self.kept().contexts.remove(&id).map(|(_, context)| context);
        loop {
            let group = {
                let mut waiting = self.waiting();
                match waiting.get_mut(&id) {
                    Some(queue) if !queue.is_empty() => std::mem::take(queue),
                    _ => {
                        // Kept before the queue goes, so the next group finds it.
                        if let Some(context) = cached {
                            self.keep(id, context);
                        }
                        waiting.remove(&id);
                        return;
                    }
                }
            };
            cached = self.run(id, group, cached).await;
        }
    }

    /// Keeps `context` for the next group of `id`, forgetting the least recently used
    /// aggregate when [`KEPT_AGGREGATES`] are kept already.
    fn keep(&self, id: Uuid, context: EventStoreAggregateContext<A>) {
        let mut kept = self.kept();
        kept.keeps += 1;
        let keep = kept.keeps;
        let contexts = &mut kept.contexts;
        if contexts.len() >= KEPT_AGGREGATES && !contexts.contains_key(&id) {
            let oldest = contexts
                .iter()
                .min_by_key(|(_, (keep, _))| *keep)
                .map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                contexts.remove(&oldest);
            }
        }
        contexts.insert(id, (keep, context));
    }

    /// Runs one group; answers the aggregate after it, unless it failed.
    async fn run(
        &self,
        id: Uuid,
        group: Vec<Queued<A>>,
        mut cached: Option<EventStoreAggregateContext<A>>,
    ) -> Option<EventStoreAggregateContext<A>> {
        let aggregate_id = id.to_string();
        let (commands, replies): (Vec<_>, Vec<_>) = group
            .into_iter()
            .map(|queued| ((queued.command, queued.metadata), queued.reply))
            .unzip();
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            let outcome = self
                .store
                .execute_each_from(
                    &aggregate_id,
                    cached.take(),
                    commands.clone(),
                    &self.services,
                )
                .await;
            match outcome {
                Err(AggregateError::AggregateConflict) if attempt < MAX_ATTEMPTS => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                other => break other,
            }
        };
        match result {
            Ok((outcomes, aggregate)) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let answer = outcome
                        .map(|outcome| executed(id, outcome))
                        .map_err(CommandError::Rejected);
                    // A caller that stopped waiting needs no answer.
                    let _ = reply.send(answer);
                }
                Some(aggregate)
            }
            Err(error) => {
                for reply in replies {
                    let _ = reply.send(Err(failure::<A>(id, &error, attempt)));
                }
                None
            }
        }
    }
}

/// The answer to every command of a group that could not be appended.
fn failure<A: Aggregate>(
    id: Uuid,
    error: &AggregateError<A::Error>,
    attempts: usize,
) -> CommandError<A::Error> {
    match error {
        AggregateError::AggregateConflict => CommandError::Conflict {
            aggregate: format!("{}-{id}", A::TYPE),
            attempts,
        },
        other => store_failure::<A>(id, other.to_string()),
    }
}

/// Removes the aggregate's queue when its group panics, so the commands waiting in it are
/// answered (their senders dropped) and later ones start a new group.
struct ForgetOnPanic<'a, A: Aggregate> {
    shared: &'a Shared<A>,
    id: Uuid,
}

impl<A: Aggregate> Drop for ForgetOnPanic<'_, A> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.shared
                .waiting
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&self.id);
        }
    }
}
