//! Relation batches run by the request that asked for them.
//!
//! A loader that gathers the keys of a relation for a delay, then spawns their load on the
//! runtime (async-graphql's `DataLoader` waits 1 ms), splits them: walking a page of 1,000
//! rows takes longer than that, so the bench query's keys went out in eight batches, a
//! statement each, and every answer woke the request from another thread. Here the
//! [`loader`](super::loader)'s loads are queued instead, and [`Batches::run`] polls them in
//! the request's own task once its resolvers can go no further: all the keys one level of the
//! query asks for are in one batch, loaded without a timer or a hand-off between threads.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::task::AtomicWaker;

use crate::sync::locked;

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
        locked(&self.queued)
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
    /// Queues a load for [`Batches::run`] to start once the request's resolvers all wait.
    pub fn queue(&self, load: BoxFuture<'static, ()>) {
        self.0.queued().push(load);
        self.0.wake_by_ref();
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
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[tokio::test]
    async fn a_request_without_loads_is_just_run() {
        let batches = Batches::default();
        assert_eq!(batches.run(async { 7 }).await, 7);
    }

    #[tokio::test]
    async fn a_queued_load_starts_once_the_request_waits() {
        let batches = Batches::default();
        let started = Arc::new(AtomicUsize::new(0));
        let seen = batches
            .run(async {
                let (send, receive) = tokio::sync::oneshot::channel();
                let counted = started.clone();
                batches.queue(Box::pin(async move {
                    counted.fetch_add(1, Ordering::Relaxed);
                    let _ = send.send(7);
                }));
                let before = started.load(Ordering::Relaxed);
                (before, receive.await.ok())
            })
            .await;
        assert_eq!(seen, (0, Some(7)), "not started before the request waits, then run by it");
    }
}
