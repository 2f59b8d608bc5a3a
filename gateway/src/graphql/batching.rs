//! Relation batches run by the request that asked for them.
//!
//! async-graphql's `DataLoader` gathers the keys of a relation for a delay (1 ms), then
//! spawns their load on the runtime. Walking a page of 1,000 rows takes longer than that, so
//! a relation's keys were split into several batches (eight for the bench query, a statement
//! each), and every answer woke the request from another thread. Here the loader's tasks are
//! queued instead, with no delay, and [`Batches::run`] polls them in the request's own task
//! once its resolvers can go no further: all the keys one level of the query asks for are in
//! one batch, loaded without a timer or a hand-off between threads.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::task::AtomicWaker;

/// How many rounds (resolvers, then loads) one poll of a request may go before it lets the
/// runtime run something else.
const ROUNDS_PER_POLL: usize = 1024;

/// How many rounds in a row the loads may wait for resolvers that keep asking to be polled
/// again. Those are walking a list: `FuturesUnordered` polls two of its futures that yield,
/// then yields itself, so a page of 1,000 objects takes about 500 rounds to walk. Past this
/// bound the loads start anyway.
const ROUNDS_BEFORE_LOADS: usize = 1 << 16;

/// The loads a request has asked for and not started yet.
#[derive(Clone, Default)]
pub struct Batches(Arc<Shared>);

#[derive(Default)]
struct Shared {
    queued: Mutex<Vec<BoxFuture<'static, ()>>>,
    /// Set by any wake of the request or its loads: there is more to do before it waits.
    woken: AtomicBool,
    /// The task running the request.
    task: AtomicWaker,
}

impl Shared {
    fn queued(&self) -> MutexGuard<'_, Vec<BoxFuture<'static, ()>>> {
        // A queue of futures cannot be left half-changed by a panic; keep using it.
        self.queued.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Wake for Shared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl Batches {
    /// What the loader calls instead of spawning a task: it queues it for [`Batches::run`].
    pub fn spawner(&self) -> impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {
        let shared = self.0.clone();
        move |load| {
            shared.queued().push(load);
            shared.wake_by_ref();
        }
    }

    /// Runs `request` and the loads it queues, all in the calling task.
    pub fn run<F: Future>(&self, request: F) -> impl Future<Output = F::Output> {
        Run {
            request: Box::pin(request),
            loads: FuturesUnordered::new(),
            rounds_without_loads: 0,
            waker: Waker::from(self.0.clone()),
            shared: self.0.clone(),
        }
    }
}

struct Run<F: Future> {
    request: Pin<Box<F>>,
    loads: FuturesUnordered<BoxFuture<'static, ()>>,
    /// Rounds since the loads last ran.
    rounds_without_loads: usize,
    /// The waker the request and its loads are polled with: it notes that they woke, and
    /// wakes the task.
    waker: Waker,
    shared: Arc<Shared>,
}

impl<F: Future> Run<F> {
    /// Starts the queued loads and polls them all until each waits.
    fn poll_loads(&mut self, cx: &mut Context<'_>) {
        let queued = std::mem::take(&mut *self.shared.queued());
        self.loads.extend(queued);
        while let Poll::Ready(Some(())) = self.loads.poll_next_unpin(cx) {}
    }
}

impl<F: Future> Future for Run<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.shared.task.register(cx.waker());
        let waker = this.waker.clone();
        let mut inner = Context::from_waker(&waker);
        for _ in 0..ROUNDS_PER_POLL {
            this.shared.woken.store(false, Ordering::Release);
            if let Poll::Ready(output) = this.request.as_mut().poll(&mut inner) {
                return Poll::Ready(output);
            }
            // A resolver that asked to be polled again may still add keys to a batch: the
            // loads wait until every resolver waits.
            if this.shared.woken.swap(false, Ordering::AcqRel)
                && this.rounds_without_loads < ROUNDS_BEFORE_LOADS
            {
                this.rounds_without_loads += 1;
                continue;
            }
            this.rounds_without_loads = 0;
            this.poll_loads(&mut inner);
            if !this.shared.woken.load(Ordering::Acquire) {
                return Poll::Pending;
            }
        }
        // Long enough: let the runtime run something else.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicUsize;

    use async_graphql::dataloader::{DataLoader, Loader};

    use super::*;

    /// Counts its batches, and answers each key with itself.
    #[derive(Default)]
    struct Counting {
        batches: Arc<AtomicUsize>,
    }

    impl Loader<u32> for Counting {
        type Value = u32;
        type Error = ();

        async fn load(&self, keys: &[u32]) -> Result<HashMap<u32, u32>, ()> {
            self.batches.fetch_add(1, Ordering::Relaxed);
            // A database answers on another thread.
            tokio::task::yield_now().await;
            Ok(keys.iter().map(|key| (*key, *key)).collect())
        }
    }

    fn loader(batches: &Batches) -> (DataLoader<Counting>, Arc<AtomicUsize>) {
        let counting = Counting::default();
        let count = counting.batches.clone();
        let loader = DataLoader::new(counting, batches.spawner()).delay(std::time::Duration::ZERO);
        (loader, count)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_keys_of_one_level_are_one_batch_however_long_the_walk() {
        let batches = Batches::default();
        let (loader, count) = loader(&batches);
        let loader = &loader;
        let answers = batches
            .run(futures_util::future::join_all((0..1000u32).map(|key| async move {
                // A slow resolver: the walk of the level takes far longer than any delay.
                std::thread::sleep(std::time::Duration::from_micros(5));
                let first = loader.load_one(key).await?;
                // The next level, after the first answer.
                let second = loader.load_one(key + 1000).await?;
                Ok::<_, ()>(first.zip(second))
            })))
            .await;
        assert_eq!(answers.len(), 1000);
        assert!(
            answers
                .iter()
                .enumerate()
                .all(|(n, answer)| { *answer == Ok(Some((n as u32, n as u32 + 1000))) })
        );
        assert_eq!(count.load(Ordering::Relaxed), 2, "one batch per level");
    }

    #[tokio::test]
    async fn a_request_without_loads_is_just_run() {
        let batches = Batches::default();
        assert_eq!(batches.run(async { 7 }).await, 7);
    }
}
