//! Gathering concurrent requests into batches, so that one statement serves many callers.
//!
//! A statement has a fixed cost (a round trip, parsing, for writes a commit and its WAL
//! flush) on top of its cost per row. Under load, requests that arrive while the database
//! is busy with one batch are gathered into the next, which goes as soon as the database
//! is free (after the callers the previous batch released have queued their next
//! requests): few, full batches. Under light load a request goes at once, alone.

use std::future::Future;

use tokio::sync::{mpsc, watch, Mutex};

/// Where a few worker tasks take their batches from.
pub(crate) struct Batches<T> {
    /// Only one worker gathers at a time; the others execute their batches meanwhile.
    pending: Mutex<mpsc::Receiver<T>>,
    /// How many batches are executing now.
    executing: watch::Sender<usize>,
    /// A batch weighs at most this much (a single heavier request goes alone).
    max_weight: usize,
}

impl<T> Batches<T> {
    /// Batches of the requests sent to `pending`.
    pub(crate) fn new(pending: mpsc::Receiver<T>, max_weight: usize) -> Batches<T> {
        Batches {
            pending: Mutex::new(pending),
            executing: watch::channel(0).0,
            max_weight,
        }
    }

    /// Waits for a request, then gathers more for as long as another batch is executing,
    /// and then for as long as letting the callers that batch released run brings more, up
    /// to the maximum weight. `None` once every sender is gone and nothing is left.
    pub(crate) async fn next(&self, weight: impl Fn(&T) -> usize) -> Option<Vec<T>> {
        let mut pending = self.pending.lock().await;
        let first = pending.recv().await?;
        let mut total = weight(&first);
        let mut batch = vec![first];
        let mut executing = self.executing.subscribe();
        while total < self.max_weight {
            let request = match pending.try_recv() {
                Ok(request) => request,
                Err(_) => {
                    let next = tokio::select! {
                        biased;
                        _ = executing.wait_for(|running| *running == 0) => None,
                        next = pending.recv() => Some(next),
                    };
                    match next {
                        Some(Some(request)) => request,
                        Some(None) => break,
                        // The batch that just ended released its callers, whose wake-ups
                        // are queued behind ours: let them send their next requests before
                        // this batch goes. Otherwise they always miss it, and two groups
                        // of callers take turns (measured at 16 writers: transactions of
                        // 1 and 15 appends, alternating).
                        None => {
                            tokio::task::yield_now().await;
                            match pending.try_recv() {
                                Ok(request) => request,
                                Err(_) => break,
                            }
                        }
                    }
                }
            };
            total += weight(&request);
            batch.push(request);
        }
        Some(batch)
    }

    /// Runs `work` on a batch, counted as executing meanwhile (even if it is cancelled).
    pub(crate) async fn execute<F: Future>(&self, work: F) -> F::Output {
        self.executing.send_modify(|running| *running += 1);
        let _done = Executing(&self.executing);
        work.await
    }
}

/// Counts a batch out when its execution ends, however it ends.
struct Executing<'a>(&'a watch::Sender<usize>);

impl Drop for Executing<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|running| *running -= 1);
    }
}
