//! Single-flight for [`get_with`](super::Cache::get_with),
//! [`try_get_with`](super::Cache::try_get_with) and
//! [`optionally_get_with`](super::Cache::optionally_get_with) (and their
//! `*_by_ref` forms, which clone the key only on a miss): concurrent
//! misses on one key run its initializer once; the others wait for its value.
//!
//! The first miss registers a [`Flight`] under the key in the shard's
//! `flights` map (under the shard lock) and runs the initializer with no lock
//! held; later misses find it there and wait on it. The leader inserts the
//! value and removes the flight in one hold of the shard lock, then
//! publishes the value to the waiters: a caller arriving after that finds
//! the entry itself. If the initializer panics, the leader's guard removes
//! the flight and tells the waiters, each of which then tries again (one of
//! them becomes the next leader); the panic goes on to the leader's caller.
//! If a fallible initializer returns an error, nothing is inserted and the
//! error, shared as an `Arc`, goes to every waiter that expects that error
//! type; a waiter that expects another (a `get_with` behind a failed
//! `try_get_with`) tries again, as after a panic.

use std::any::Any;
use std::borrow::Borrow;
use std::convert::Infallible;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Condvar, Mutex};

use super::shard::Removed;
use super::{Cache, Inner};
use crate::sync::lock_std;

/// One running initializer and, once it finishes, its outcome.
pub(super) struct Flight<V> {
    outcome: Mutex<Outcome<V>>,
    done: Condvar,
}

enum Outcome<V> {
    Running,
    Value(V),
    /// The initializer returned an error (an `Arc<E>`, type-erased).
    Error(Arc<dyn Any + Send + Sync>),
    /// The initializer panicked: waiters try again.
    Failed,
}

/// What a waiter gets from its leader.
pub(super) enum Landed<V, E> {
    Value(V),
    Error(Arc<E>),
    /// Nothing for this waiter (a panic, or an error of another type): try again.
    Retry,
}

impl<V: Clone> Flight<V> {
    pub(super) fn new() -> Self {
        Flight {
            outcome: Mutex::new(Outcome::Running),
            done: Condvar::new(),
        }
    }

    /// Waits for the leader's outcome.
    pub(super) fn wait<E: Send + Sync + 'static>(&self) -> Landed<V, E> {
        let mut outcome = lock_std(&self.outcome);
        loop {
            match &*outcome {
                Outcome::Running => {
                    outcome = self
                        .done
                        .wait(outcome)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                Outcome::Value(v) => return Landed::Value(v.clone()),
                Outcome::Error(e) => {
                    return match e.clone().downcast::<E>() {
                        Ok(e) => Landed::Error(e),
                        Err(_) => Landed::Retry,
                    }
                }
                Outcome::Failed => return Landed::Retry,
            }
        }
    }

    /// The leader's value, for every waiter.
    pub(super) fn publish(&self, value: V) {
        *lock_std(&self.outcome) = Outcome::Value(value);
        self.done.notify_all();
    }

    /// The leader's initializer panicked (`None`) or returned an error.
    fn fail(&self, error: Option<Arc<dyn Any + Send + Sync>>) {
        *lock_std(&self.outcome) = error.map_or(Outcome::Failed, Outcome::Error);
        self.done.notify_all();
    }
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The value under `key`, or — on a miss — the one `init` returns, after
    /// inserting it. Concurrent misses on one key run `init` once: the other
    /// callers wait for its value (single-flight). If `init` panics, the
    /// panic reaches this caller and one of the waiters runs its own `init`.
    /// `init` must not call `get_with` for the same key (it would wait for itself).
    pub fn get_with(&self, key: K, init: impl FnOnce() -> V) -> V {
        match self.fly::<K, Infallible>(KeyArg::Owned(key), || Ok(init())) {
            Ok(v) => v,
            Err(never) => match *never {},
        }
    }

    /// [`get_with`](Cache::get_with) with a fallible initializer — moka's
    /// `try_get_with`. On `Err`, nothing is inserted and the error, as an
    /// `Arc<E>`, goes to this caller and to every concurrent caller waiting
    /// for the same key with the same error type `E` (a caller waiting with
    /// another type — e.g. a `get_with` — waits for this one to fail, then
    /// runs its own initializer). The next call tries again: errors are not
    /// cached.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tickless::cache::Cache;
    ///
    /// let cache: Cache<u32, String> = Cache::new(100);
    /// let failed = cache.try_get_with(1, || "backend down".parse::<u32>().map(|n| n.to_string()));
    /// assert!(failed.is_err());
    /// assert!(!cache.contains_key(&1), "an error is not cached");
    /// let loaded: Result<String, Arc<std::num::ParseIntError>> =
    ///     cache.try_get_with(1, || "42".parse::<u32>().map(|n| n.to_string()));
    /// assert_eq!(loaded.unwrap(), "42");
    /// ```
    pub fn try_get_with<F, E>(&self, key: K, init: F) -> Result<V, Arc<E>>
    where
        F: FnOnce() -> Result<V, E>,
        E: Send + Sync + 'static,
    {
        self.fly(KeyArg::Owned(key), init)
    }

    /// [`get_with`](Cache::get_with) with an initializer that may find no
    /// value — moka's `optionally_get_with`. On `None`, nothing is inserted
    /// and the concurrent `optionally_get_with` callers waiting for the key
    /// get `None` too (waiting `get_with`/`try_get_with` callers run their
    /// own initializers).
    ///
    /// ```
    /// use tickless::cache::Cache;
    ///
    /// let cache: Cache<&str, u32> = Cache::new(100);
    /// assert_eq!(cache.optionally_get_with("missing", || None), None);
    /// assert_eq!(cache.optionally_get_with("answer", || Some(42)), Some(42));
    /// assert_eq!(cache.get(&"answer"), Some(42));
    /// ```
    pub fn optionally_get_with<F>(&self, key: K, init: F) -> Option<V>
    where
        F: FnOnce() -> Option<V>,
    {
        self.fly(KeyArg::Owned(key), || init().ok_or(NoValue)).ok()
    }

    /// [`get_with`](Cache::get_with) by reference — moka's
    /// `get_with_by_ref`: the key is turned into a `K` (`to_owned`) only on
    /// a miss.
    ///
    /// ```
    /// use tickless::cache::Cache;
    ///
    /// let cache: Cache<String, usize> = Cache::new(100);
    /// assert_eq!(cache.get_with_by_ref("four", || 4), 4);
    /// assert_eq!(cache.get_with_by_ref("four", || unreachable!()), 4);
    /// ```
    pub fn get_with_by_ref<Q>(&self, key: &Q, init: impl FnOnce() -> V) -> V
    where
        K: Borrow<Q>,
        Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
    {
        match self.fly::<Q, Infallible>(KeyArg::Borrowed(key), || Ok(init())) {
            Ok(v) => v,
            Err(never) => match *never {},
        }
    }

    /// [`try_get_with`](Cache::try_get_with) by reference — moka's
    /// `try_get_with_by_ref`.
    pub fn try_get_with_by_ref<F, E, Q>(&self, key: &Q, init: F) -> Result<V, Arc<E>>
    where
        F: FnOnce() -> Result<V, E>,
        E: Send + Sync + 'static,
        K: Borrow<Q>,
        Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
    {
        self.fly(KeyArg::Borrowed(key), init)
    }

    /// [`optionally_get_with`](Cache::optionally_get_with) by reference —
    /// moka's `optionally_get_with_by_ref`.
    pub fn optionally_get_with_by_ref<F, Q>(&self, key: &Q, init: F) -> Option<V>
    where
        F: FnOnce() -> Option<V>,
        K: Borrow<Q>,
        Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
    {
        self.fly(KeyArg::Borrowed(key), || init().ok_or(NoValue))
            .ok()
    }

    /// The single-flight behind every `*get_with*`.
    fn fly<Q, E>(
        &self,
        key: KeyArg<'_, K, Q>,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, Arc<E>>
    where
        E: Send + Sync + 'static,
        K: Borrow<Q>,
        Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
    {
        let inner = &*self.inner;
        let hash = inner.hasher.hash_one(key.get());
        // One call is one read in the stats and the frequency sketch, however
        // often it looks again after a leader failed.
        let mut first = true;
        loop {
            let mut removed = Removed::new();
            let mut st = inner.lock(hash);
            let now = &mut inner.clock();
            let found = st.get(hash, key.get(), now, inner.tti, &mut removed, first);
            first = false;
            if let Some(v) = found {
                let v = v.clone();
                drop(st);
                inner.notify(removed);
                return Ok(v);
            }
            if let Some(flight) = st.flights.get(key.get()).cloned() {
                drop(st);
                inner.notify(removed);
                match flight.wait::<E>() {
                    Landed::Value(v) => return Ok(v),
                    Landed::Error(e) => return Err(e),
                    // The leader panicked, or failed with another error
                    // type: try again (perhaps as the leader).
                    Landed::Retry => continue,
                }
            }
            if removed.len() > 0 {
                // Report what the read removed before filing a flight: a
                // listener that panics, or reads this key, must not find a
                // flight that no leader guards yet.
                drop(st);
                inner.notify(removed);
                continue;
            }
            let key = key.into_owned();
            let flight = Arc::new(Flight::new());
            st.flights.insert(key.clone(), flight.clone());
            drop(st);
            inner.notify(removed);
            let guard = Lead {
                inner,
                hash,
                key: Some(key),
                flight,
            };
            return match init() {
                Ok(value) => Ok(guard.finish(value)),
                Err(e) => Err(guard.fail(e)),
            };
        }
    }
}

/// The error shared by the waiters of an initializer that found nothing
/// (`optionally_get_with*`); no caller can name it, so no other waiter
/// expects it.
struct NoValue;

/// A key as the caller gave it: owned (`get_with`) or borrowed
/// (`*_by_ref`), made a `K` only when a miss must file a flight.
enum KeyArg<'a, K, Q: ?Sized> {
    Owned(K),
    Borrowed(&'a Q),
}

impl<K: Borrow<Q>, Q: ToOwned<Owned = K> + ?Sized> KeyArg<'_, K, Q> {
    fn get(&self) -> &Q {
        match self {
            KeyArg::Owned(k) => k.borrow(),
            KeyArg::Borrowed(q) => q,
        }
    }

    fn into_owned(self) -> K {
        match self {
            KeyArg::Owned(k) => k,
            KeyArg::Borrowed(q) => q.to_owned(),
        }
    }
}

/// The leader of a `*get_with`: on drop without [`finish`](Lead::finish) or
/// [`fail`](Lead::fail) (its initializer panicked), removes the flight and
/// releases the waiters.
struct Lead<'a, K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    inner: &'a Inner<K, V>,
    hash: u64,
    key: Option<K>,
    flight: Arc<Flight<V>>,
}

impl<K, V> Lead<'_, K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn finish(mut self, value: V) -> V {
        let Some(key) = self.key.clone() else {
            unreachable!("finished once")
        };
        // The key stays in `self` until the insert returns: a panicking
        // weigher or key `Hash` still ends the flight (in `drop`).
        // Both clones before the flight leaves `self`: a panicking
        // `V::clone` still ends it (in `drop`).
        let out = value.clone();
        self.inner
            .insert_with(key, value.clone(), self.inner.ttl, true);
        self.key = None;
        self.flight.publish(value);
        out
    }

    /// The initializer returned `error`: ends the flight with nothing
    /// inserted and hands the error to the waiters that expect its type.
    fn fail<E: Send + Sync + 'static>(mut self, error: E) -> Arc<E> {
        let error = Arc::new(error);
        self.end(Some(error.clone()));
        error
    }

    /// Removes the flight (if still up, and still this one: an insert that
    /// panicked after landing may have let a newer leader in) and tells the
    /// waiters.
    fn end(&mut self, error: Option<Arc<dyn Any + Send + Sync>>) {
        if let Some(key) = self.key.take() {
            let mut st = lock_std(self.inner.shard(self.hash));
            if st
                .flights
                .get(&key)
                .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
            {
                st.flights.remove(&key);
            }
            drop(st);
            self.flight.fail(error);
        }
    }
}

impl<K, V> Drop for Lead<'_, K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        self.end(None);
    }
}
