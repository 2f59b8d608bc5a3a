//! Locks that outlive a panic.
//!
//! Every mutex of the gateway guards data changed in one step (a push, an insert, a take), so
//! a holder that panics cannot leave it half-changed. A poisoned lock is therefore used as it
//! is, instead of turning one failed request into a panic in every later one.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, poisoned or not.
pub(crate) fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
