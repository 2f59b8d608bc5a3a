//! The request's relation loader: the keys of a relation that its resolvers ask for while
//! they run go into one batch, the batch is loaded once, and every requester reads its keys
//! from the batch's one answer.
//!
//! This is what async-graphql's `DataLoader` does, with less per requester: there, each had a
//! key set, a channel, and a copy of its part of the answer in a map of its own. A page of
//! 1,000 workflows has about 6,000 requesters; here each one pushes its keys, leaves a waker
//! and clones its values when the answer is in. The relations themselves are still answered
//! by async-graphql's [`Loader`] trait, implemented by the store's `Batcher`.

use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use async_graphql::dataloader::Loader;

use super::batching::Batches;
use crate::error::Error;
use crate::sync::locked;

/// The most keys one statement is asked for (as async-graphql's loader did); a larger batch
/// is loaded in parts.
const MAX_KEYS_PER_LOAD: usize = 1000;

/// What a key type's batch answers: the value of each key found, or why none could be.
type Answer<K, V> = Result<HashMap<K, V>, Arc<Error>>;

/// The batch still taking keys of each key type (an [`Open`] of that type): a few types, so a
/// list.
type OpenBatches = Vec<(TypeId, Box<dyn Any + Send>)>;

/// Loads the relations of one request in batches.
pub struct RelationLoader<B> {
    batcher: Arc<B>,
    /// The batch of each key type still taking keys.
    open: Arc<Mutex<OpenBatches>>,
    start: Start,
}

/// How a batch's load is started.
enum Start {
    /// Queued for the request's own task, which runs it once its resolvers all wait.
    Batches(Batches),
    /// Spawned on the runtime, a millisecond later (no request task to run it: a
    /// subscription's events).
    Spawn,
}

/// A batch still taking keys.
struct Open<K, V> {
    keys: Vec<K>,
    batch: Arc<Batch<K, V>>,
}

/// A batch's answer, once it is in, and who waits for it.
struct Batch<K, V> {
    answer: OnceLock<Answer<K, V>>,
    waiting: Mutex<Vec<Waker>>,
}

impl<K, V> Batch<K, V> {
    /// Sets the answer (unless one is set already) and wakes every requester.
    fn finish(&self, answer: Answer<K, V>) {
        let _ = self.answer.set(answer);
        for waker in std::mem::take(&mut *locked(&self.waiting)) {
            waker.wake();
        }
    }
}

/// Answers a batch whose load ends without an answer (dropped, or panicked), so that no
/// requester waits forever.
struct Finish<K, V>(Arc<Batch<K, V>>);

impl<K, V> Drop for Finish<K, V> {
    fn drop(&mut self) {
        if self.0.answer.get().is_none() {
            let stopped = Error::DatabaseUnavailable("a relation's load stopped unanswered".into());
            self.0.finish(Err(Arc::new(stopped)));
        }
    }
}

impl<B: Send + Sync + 'static> RelationLoader<B> {
    /// A loader whose loads `batches` runs in the request's task (see [`Batches::run`]).
    pub fn in_request(batcher: B, batches: &Batches) -> Self {
        Self::new(batcher, Start::Batches(batches.clone()))
    }

    /// A loader whose loads are spawned on the runtime.
    pub fn spawning(batcher: B) -> Self {
        Self::new(batcher, Start::Spawn)
    }

    fn new(batcher: B, start: Start) -> Self {
        Self { batcher: Arc::new(batcher), open: Arc::default(), start }
    }

    /// The values of `key`, if it has any.
    pub async fn load_one<K>(&self, key: K) -> Result<Option<B::Value>, Arc<Error>>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        B: Loader<K, Error = Arc<Error>>,
    {
        let batch = self.join(std::slice::from_ref(&key));
        let answer = Wait { batch: &batch, waker: None }.await;
        Ok(answer.as_ref().map_err(Arc::clone)?.get(&key).cloned())
    }

    /// The values of those `keys` that have any.
    pub async fn load_many<K>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<HashMap<K, B::Value>, Arc<Error>>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        B: Loader<K, Error = Arc<Error>>,
    {
        let keys: Vec<K> = keys.into_iter().collect();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let batch = self.join(&keys);
        let found = Wait { batch: &batch, waker: None }.await.as_ref().map_err(Arc::clone)?;
        Ok(keys
            .into_iter()
            .filter_map(|key| found.get(&key).cloned().map(|value| (key, value)))
            .collect())
    }

    /// Adds `keys` to the open batch of their type, opening one (and starting its load)
    /// if there is none.
    fn join<K>(&self, keys: &[K]) -> Arc<Batch<K, B::Value>>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        B: Loader<K, Error = Arc<Error>>,
    {
        let mut open = locked(&self.open);
        let kind = TypeId::of::<K>();
        if let Some(batch) = open
            .iter_mut()
            .find(|(id, _)| *id == kind)
            .and_then(|(_, open)| open.downcast_mut::<Open<K, B::Value>>())
        {
            batch.keys.extend_from_slice(keys);
            return batch.batch.clone();
        }
        let batch = Arc::new(Batch { answer: OnceLock::new(), waiting: Mutex::default() });
        open.retain(|(id, _)| *id != kind);
        open.push((kind, Box::new(Open { keys: keys.to_vec(), batch: batch.clone() })));
        drop(open);
        self.start::<K>();
        batch
    }

    /// Starts the load of the open batch of `K`: when it runs, it closes the batch (later
    /// keys open the next one) and answers it.
    fn start<K>(&self)
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        B: Loader<K, Error = Arc<Error>>,
    {
        let open = self.open.clone();
        let batcher = self.batcher.clone();
        let load = async move {
            let taken = {
                let mut open = locked(&open);
                let at = open.iter().position(|(id, _)| *id == TypeId::of::<K>());
                at.map(|at| open.swap_remove(at).1)
            };
            let Some(Ok(taken)) = taken.map(|taken| taken.downcast::<Open<K, B::Value>>()) else {
                return;
            };
            let Open { keys, batch } = *taken;
            let finish = Finish(batch);
            let mut seen = HashSet::with_capacity(keys.len());
            let keys: Vec<K> = keys.into_iter().filter(|key| seen.insert(key.clone())).collect();
            let mut found = HashMap::with_capacity(keys.len());
            for chunk in keys.chunks(MAX_KEYS_PER_LOAD) {
                match batcher.load(chunk).await {
                    Ok(part) => found.extend(part),
                    Err(error) => return finish.0.finish(Err(error)),
                }
            }
            finish.0.finish(Ok(found));
        };
        match &self.start {
            Start::Batches(batches) => batches.queue(Box::pin(load)),
            Start::Spawn => {
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    load.await
                });
            }
        }
    }
}

/// Waits for a batch's answer.
struct Wait<'a, K, V> {
    batch: &'a Batch<K, V>,
    /// Where this requester's waker is in the batch's list, once it is there.
    waker: Option<usize>,
}

impl<'a, K, V> Future for Wait<'a, K, V> {
    type Output = &'a Answer<K, V>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let batch = self.batch;
        if let Some(answer) = batch.answer.get() {
            return Poll::Ready(answer);
        }
        let mut waiting = locked(&batch.waiting);
        // The answer is set before the wakers are taken: seen here, or this waker is woken.
        if let Some(answer) = batch.answer.get() {
            return Poll::Ready(answer);
        }
        match self.waker.and_then(|at| waiting.get_mut(at)) {
            Some(waker) => waker.clone_from(cx.waker()),
            None => {
                self.waker = Some(waiting.len());
                waiting.push(cx.waker().clone());
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Counts its batches and the keys it was asked, and answers each even key with itself.
    #[derive(Default)]
    struct Counting {
        batches: AtomicUsize,
        keys: AtomicUsize,
    }

    impl Loader<u32> for Counting {
        type Value = u32;
        type Error = Arc<Error>;

        async fn load(&self, keys: &[u32]) -> Result<HashMap<u32, u32>, Arc<Error>> {
            self.batches.fetch_add(1, Ordering::Relaxed);
            self.keys.fetch_add(keys.len(), Ordering::Relaxed);
            // A database answers on another thread.
            tokio::task::yield_now().await;
            Ok(keys.iter().filter(|key| *key % 2 == 0).map(|key| (*key, *key)).collect())
        }
    }

    /// Fails every batch.
    struct Failing;

    impl Loader<u32> for Failing {
        type Value = u32;
        type Error = Arc<Error>;

        async fn load(&self, _: &[u32]) -> Result<HashMap<u32, u32>, Arc<Error>> {
            Err(Arc::new(Error::DatabaseUnavailable("gone".into())))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_keys_of_one_level_are_one_batch_however_long_the_walk() {
        let batches = Batches::default();
        let loader = RelationLoader::in_request(Counting::default(), &batches);
        let loader = &loader;
        let answers = batches
            .run(futures_util::future::join_all((0..1000u32).map(|key| async move {
                // A slow resolver: the walk of the level takes far longer than any delay.
                std::thread::sleep(Duration::from_micros(5));
                let first = loader.load_one(key).await?;
                // The next level, after the first answer.
                let second = loader.load_one(key + 1000).await?;
                Ok::<_, Arc<Error>>((first, second))
            })))
            .await;
        for (key, answer) in (0..1000u32).zip(&answers) {
            let expected = if key % 2 == 0 { (Some(key), Some(key + 1000)) } else { (None, None) };
            assert_eq!(answer.as_ref().ok(), Some(&expected), "key {key}");
        }
        assert_eq!(loader.batcher.batches.load(Ordering::Relaxed), 2, "one batch per level");
    }

    #[tokio::test]
    async fn a_key_asked_twice_is_loaded_once_and_answered_twice() {
        let batches = Batches::default();
        let loader = RelationLoader::in_request(Counting::default(), &batches);
        let (one, many) = batches
            .run(futures_util::future::join(loader.load_one(4u32), loader.load_many([4u32, 5, 6])))
            .await;
        assert_eq!(one.ok(), Some(Some(4)));
        let many = many.unwrap_or_default();
        assert_eq!(many, HashMap::from([(4, 4), (6, 6)]), "an unanswered key is absent");
        assert_eq!(loader.batcher.batches.load(Ordering::Relaxed), 1);
        assert_eq!(loader.batcher.keys.load(Ordering::Relaxed), 3, "4, 5 and 6, once each");
    }

    #[tokio::test]
    async fn a_failed_batch_fails_each_requester() {
        let batches = Batches::default();
        let loader = RelationLoader::in_request(Failing, &batches);
        let (one, many) = batches
            .run(futures_util::future::join(loader.load_one(1u32), loader.load_many([2u32])))
            .await;
        assert_eq!(one.map_err(|error| error.code()), Err("INTERNAL"));
        assert_eq!(many.map_err(|error| error.code()), Err("INTERNAL"));
    }

    #[tokio::test]
    async fn a_spawning_loader_answers_without_a_request_task() {
        let loader = RelationLoader::spawning(Counting::default());
        let (one, two) =
            futures_util::future::join(loader.load_one(2u32), loader.load_one(8u32)).await;
        assert_eq!((one.ok(), two.ok()), (Some(Some(2)), Some(Some(8))));
        assert_eq!(loader.batcher.batches.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_load_dropped_before_it_answers_fails_its_requesters() {
        let batch =
            Arc::new(Batch::<u32, u32> { answer: OnceLock::new(), waiting: Mutex::default() });
        drop(Finish(batch.clone()));
        let answer = Wait { batch: &batch, waker: None }.await;
        assert_eq!(answer.as_ref().map_err(|error| error.code()).err(), Some("INTERNAL"));
    }
}
