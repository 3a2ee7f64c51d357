//! One shard: a timing wheel behind its own lock, and the thread → shard map.
//!
//! Each OS thread registers its timers in "its" shard (a per-thread number
//! modulo the shard count), so threads rarely contend on a lock. A timer
//! remembers its shard, so cancelling it from any other thread — a task moved
//! by work stealing — is still one lock and an O(1) unlink.

use std::cell::Cell;
use std::panic::Location;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::Waker;
use std::time::Instant;

use crate::queue::{Key, TimerQueue, Wheel};
use crate::sync::{lock, Mutex, MutexGuard};

/// What the wheel holds per pending timer: who to wake, and who created it.
pub(crate) struct Registration {
    /// `None` only for timers no task waits on yet.
    pub(crate) waker: Option<Waker>,
    pub(crate) site: &'static Location<'static>,
}

/// A wheel and its lock, on its own cache lines so shards do not false-share.
#[repr(align(128))]
pub(crate) struct Shard {
    wheel: Mutex<Wheel<Registration>>,
}

impl Shard {
    pub(crate) fn new(wheel: Wheel<Registration>) -> Self {
        Shard {
            wheel: Mutex::new(wheel),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, Wheel<Registration>> {
        lock(&self.wheel)
    }

    /// Inserts unless the wheel already counts `deadline` as due; returns the
    /// key and the tick the timer fires at.
    #[inline]
    pub(crate) fn insert(
        &self,
        deadline: Instant,
        registration: Registration,
    ) -> Option<(Key, u64)> {
        let mut wheel = self.lock();
        let tick = wheel.tick_for(deadline);
        if tick <= wheel.elapsed_ticks() {
            return None;
        }
        Some((wheel.insert_at_tick(tick, registration), tick))
    }

    /// Stores `waker` if the timer is still pending; `false` once it fired.
    #[inline]
    pub(crate) fn refresh(&self, key: Key, waker: &Waker) -> bool {
        let replaced;
        {
            let mut wheel = self.lock();
            let Some(registration) = wheel.get_mut(key) else {
                return false;
            };
            match &registration.waker {
                Some(w) if w.will_wake(waker) => return true,
                _ => replaced = registration.waker.replace(waker.clone()),
            }
        }
        // Dropped after the lock: dropping a waker can free a task whose
        // future holds another timer of this shard.
        drop(replaced);
        true
    }

    /// Removes a pending timer. The caller drops the registration (and its
    /// waker) after the lock is released.
    #[inline]
    pub(crate) fn cancel(&self, key: Key) -> Option<Registration> {
        self.lock().cancel(key)
    }

    /// Moves a pending timer; the tick it now fires at, `None` once it fired.
    pub(crate) fn reset(&self, key: Key, deadline: Instant) -> Option<u64> {
        let mut wheel = self.lock();
        wheel.reset(key, deadline).then(|| wheel.tick_for(deadline))
    }

    /// Takes every timer due at `now`, pushing their wakers; returns the
    /// shard's next deadline.
    pub(crate) fn expire(&self, now: Instant, wakers: &mut Vec<Waker>) -> Option<Instant> {
        let mut wheel = self.lock();
        wheel.poll_expired(now, |_, r| wakers.extend(r.waker));
        wheel.next_deadline()
    }

    /// `true` while `key` is pending in this shard.
    pub(crate) fn contains(&self, key: Key) -> bool {
        self.lock().get(key).is_some()
    }

    /// Visits every pending registration under the lock.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Registration)) {
        self.lock().for_each(|_, r| f(r));
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Numbers threads in the order they first register a timer.
static NEXT_THREAD: AtomicU32 = AtomicU32::new(0);

thread_local! {
    static THREAD_NUMBER: Cell<u32> = Cell::new(NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
}

/// The shard the calling thread registers in, out of `shards`.
#[inline]
pub(crate) fn current(shards: usize) -> usize {
    // Relaxed above: the number only needs to be unique-ish, not ordered.
    let n = THREAD_NUMBER.try_with(Cell::get).unwrap_or(0) as usize;
    n % shards
}
