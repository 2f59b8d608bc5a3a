//! Where a slow policy version's calls run, so that it never stalls the server.
//!
//! A sound policy answers a batch in microseconds and runs inline, at no cost. A version whose
//! call took long is marked slow for a while; its calls then run off the async workers, a few
//! at a time, and a call that waits too long for its turn is not made (and so denied).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A call that takes longer than this marks its policy version as slow (a sound policy
/// answers a batch in microseconds; the deadline is 50 ms).
const SLOW_CALL: Duration = Duration::from_millis(20);
/// How long a version stays marked slow after its last slow call; then it is tried inline
/// again, so that one slow moment (a machine under load) does not mark a sound policy for
/// good.
const SLOW_FOR: Duration = Duration::from_secs(10);

/// Runs `f`, a call into a policy version, so that it never stalls the server.
///
/// A fast version (every sound policy: a call takes microseconds) runs inline, at no cost. A
/// version marked slow runs its calls in its slow lane: off the async worker (with
/// [`tokio::task::block_in_place`], which hands the worker's other tasks to another thread),
/// and only a few at a time, so that however many of its calls are in flight they leave CPU
/// for everything else. A call that cannot enter the lane within [`SLOW_LANE_WAIT`] is not
/// made (`None`: the caller denies). Each version has its own lane: a hostile version never
/// delays another.
///
/// Every call made is timed once: the time marks a slow version, and is recorded in the
/// metrics under `call` (`decide`, `filter`, `resolve`, `instantiate`).
pub(super) fn unstalling<R>(
    lane: &SlowLane,
    call: &'static str,
    f: impl FnOnce() -> R,
) -> Option<R> {
    let timed = || {
        let started = Instant::now();
        let answer = f();
        let took = started.elapsed();
        crate::metrics::policy_call(call, took);
        if took > SLOW_CALL {
            lane.mark(took);
        }
        answer
    };
    if !lane.is_marked() {
        return Some(timed());
    }
    let on_a_worker = tokio::runtime::Handle::try_current()
        .is_ok_and(|handle| handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let run = || {
        let _turn = lane.enter()?;
        Some(timed())
    };
    if on_a_worker { tokio::task::block_in_place(run) } else { run() }
}

/// How long a call of a slow version waits for its turn before it is denied.
const SLOW_LANE_WAIT: Duration = Duration::from_millis(500);

/// The calls of one policy version while it is marked slow, a few at a time (a counting
/// semaphore, and when the mark ends).
pub(super) struct SlowLane {
    taken: Mutex<usize>,
    freed: Condvar,
    capacity: usize,
    /// Milliseconds since [`process_start`] until which the version counts as slow; 0 never.
    slow_until: AtomicU64,
}

/// A turn in a slow lane, given back when dropped.
struct Turn<'l>(&'l SlowLane);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.0.taken.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        self.0.freed.notify_one();
    }
}

/// A monotonic clock for the slow marks.
fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    u64::try_from(process_start().elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl SlowLane {
    pub(super) fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            taken: Mutex::new(0),
            freed: Condvar::new(),
            capacity: (cores / 2).max(1),
            slow_until: AtomicU64::new(0),
        }
    }

    fn is_marked(&self) -> bool {
        let until = self.slow_until.load(Ordering::Relaxed);
        until != 0 && now_ms() < until
    }

    fn mark(&self, took: Duration) {
        let until = now_ms().saturating_add(u64::try_from(SLOW_FOR.as_millis()).unwrap_or(0));
        if self.slow_until.swap(until, Ordering::Relaxed) < now_ms() {
            tracing::warn!(
                took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
                "a policy call took long; this version's calls run off the async workers, a few at a time"
            );
        }
    }

    fn enter(&self) -> Option<Turn<'_>> {
        let deadline = Instant::now() + SLOW_LANE_WAIT;
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        while *taken >= self.capacity {
            let left = deadline.checked_duration_since(Instant::now())?;
            taken = self.freed.wait_timeout(taken, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        *taken += 1;
        Some(Turn(self))
    }
}
