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

use std::sync::{Condvar, Mutex};

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
