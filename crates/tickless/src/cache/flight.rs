//! Single-flight for [`get_with`](super::Cache::get_with): concurrent misses
//! on one key run its initializer once; the others wait for its value.
//!
//! The first miss registers a [`Flight`] under the key in the shard's
//! `flights` map (under the shard lock) and runs the initializer with no lock
//! held; later misses find it there and wait on it. The leader inserts the
//! value and removes the flight in one hold of the shard lock, then
//! publishes the value to the waiters: a caller arriving after that finds
//! the entry itself. If the initializer panics, the leader's guard removes
//! the flight and tells the waiters, each of which then tries again (one of
//! them becomes the next leader); the panic goes on to the leader's caller.

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
    /// The initializer panicked: waiters try again.
    Failed,
}

impl<V: Clone> Flight<V> {
    pub(super) fn new() -> Self {
        Flight {
            outcome: Mutex::new(Outcome::Running),
            done: Condvar::new(),
        }
    }

    /// Waits for the leader: its value, or `None` if its initializer panicked.
    pub(super) fn wait(&self) -> Option<V> {
        let mut outcome = lock_std(&self.outcome);
        loop {
            match &*outcome {
                Outcome::Running => {
                    outcome = self
                        .done
                        .wait(outcome)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                Outcome::Value(v) => return Some(v.clone()),
                Outcome::Failed => return None,
            }
        }
    }

    /// The leader's value, for every waiter.
    pub(super) fn publish(&self, value: V) {
        *lock_std(&self.outcome) = Outcome::Value(value);
        self.done.notify_all();
    }

    /// The leader's initializer panicked.
    pub(super) fn fail(&self) {
        *lock_std(&self.outcome) = Outcome::Failed;
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
        let inner = &*self.inner;
        let hash = inner.hasher.hash_one(&key);
        let mut init = Some(init);
        loop {
            let mut removed = Removed::new();
            let lead = {
                let mut st = inner.lock(hash);
                if let Some(v) = st.get(hash, &key, &mut inner.clock(), inner.tti, &mut removed) {
                    let v = v.clone();
                    drop(st);
                    inner.notify(removed);
                    return v;
                }
                match st.flights.get(&key) {
                    Some(flight) => Err(flight.clone()),
                    None => {
                        let flight = Arc::new(Flight::new());
                        st.flights.insert(key.clone(), flight.clone());
                        Ok(flight)
                    }
                }
            };
            inner.notify(removed);
            match lead {
                Err(flight) => {
                    if let Some(v) = flight.wait() {
                        return v;
                    }
                    // The leader panicked: try again (perhaps as the leader).
                }
                Ok(flight) => {
                    let guard = Lead {
                        inner,
                        hash,
                        key: Some(key),
                        flight,
                    };
                    let f = init
                        .take()
                        .unwrap_or_else(|| unreachable!("one lead per call"));
                    return guard.finish(f());
                }
            }
        }
    }
}

/// The leader of a `get_with`: on drop without [`finish`](Lead::finish)
/// (its initializer panicked), removes the flight and releases the waiters.
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
        self.inner
            .insert_with(key, value.clone(), self.inner.ttl, true);
        self.key = None;
        self.flight.publish(value.clone());
        value
    }
}

impl<K, V> Drop for Lead<'_, K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            lock_std(self.inner.shard(self.hash)).flights.remove(&key);
            self.flight.fail();
        }
    }
}
