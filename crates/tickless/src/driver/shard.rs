//! One shard: a timing wheel and its counters behind their own lock, and the
//! thread → shard map.
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

use super::exact::{self, Exact, Plan, Stamp};
use super::stats::{call_sites, ShardStats};
use crate::queue::{Key, TimerQueue, Wheel};
use crate::sync::{lock, Mutex, MutexGuard};

/// What the wheel holds per pending timer: who to wake, who created it,
/// when, and how far before its tick's boundary its exact deadline lies.
pub(crate) struct Registration {
    /// `None` only for timers no task waits on yet.
    pub(crate) waker: Option<Waker>,
    pub(crate) site: &'static Location<'static>,
    /// Creation time, milliseconds on the driver's coarse clock, and the
    /// exact deadline's offset before its tick (`exact.rs`).
    pub(crate) stamp: Stamp,
}

pub(crate) struct ShardState {
    pub(crate) wheel: Wheel<Registration>,
    pub(crate) stats: ShardStats,
}

/// Storage slots [`Shard::for_each`] visits per lock hold.
const SCAN_CHUNK: usize = 4096;

/// A wheel, its counters and its lock, on their own cache lines so shards do
/// not false-share.
#[repr(align(128))]
pub(crate) struct Shard {
    state: Mutex<ShardState>,
}

impl Shard {
    pub(crate) fn new(wheel: Wheel<Registration>) -> Self {
        Shard {
            state: Mutex::new(ShardState {
                wheel,
                stats: ShardStats::default(),
            }),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, ShardState> {
        lock(&self.state)
    }

    /// Inserts at `tick` (the deadline rounded up, converted by the caller
    /// outside the lock) unless the wheel already counts it as due.
    #[inline]
    pub(crate) fn insert(&self, tick: u64, registration: Registration) -> Option<Key> {
        let mut st = self.lock();
        if tick <= st.wheel.elapsed_ticks() {
            return None;
        }
        st.stats.created += 1;
        if call_sites() {
            st.stats.sites.counts(registration.site).created += 1;
        }
        Some(st.wheel.insert_at_tick(tick, registration))
    }

    /// Stores `waker` if the timer is still pending; `false` once it fired.
    #[inline]
    pub(crate) fn refresh(&self, key: Key, waker: &Waker) -> bool {
        let replaced;
        {
            let mut st = self.lock();
            let Some(registration) = st.wheel.get_mut(key) else {
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
        let mut st = self.lock();
        let registration = st.wheel.cancel(key)?;
        st.wheel.trim(); // memory follows live timers after a burst too
        st.stats.cancelled += 1;
        if call_sites() {
            st.stats.sites.counts(registration.site).cancelled += 1;
        }
        Some(registration)
    }

    /// Moves a pending timer to `tick`, its exact deadline `early` (see
    /// `exact.rs`) before that tick's boundary; `false` once it fired.
    pub(crate) fn reset(&self, key: Key, tick: u64, early: u32) -> bool {
        let mut st = self.lock();
        let Some(registration) = st.wheel.get_mut(key) else {
            return false;
        };
        registration.stamp = registration.stamp.with_early(early);
        let index = key.index;
        st.wheel.reset_at_tick(index, tick);
        st.stats.reset += 1;
        true
    }

    /// Takes every timer due at `now` — its tick begun, or its exact
    /// deadline passed (`exact.rs`) — pushing their wakers; returns the
    /// shard's plan for the timer thread.
    pub(crate) fn expire(
        &self,
        now: Instant,
        exact: &Exact,
        wakers: &mut Vec<Waker>,
    ) -> Option<Plan> {
        let mut st = self.lock();
        let ShardState { wheel, stats } = &mut *st;
        let sites = call_sites();
        let now_nanos = crate::clock::nanos_since(wheel.origin(), now);
        // Lateness counts from the exact deadline (0 if the clock read
        // before it, which a fire never does: never early).
        let mut fired = |deadline_nanos: u64, r: Registration| {
            stats.fired += 1;
            stats
                .lateness
                .record(now_nanos.saturating_sub(deadline_nanos));
            if sites {
                stats.sites.counts(r.site).fired += 1;
            }
            wakers.extend(r.waker);
        };
        wheel.poll_expired_with_ticks(now, |_, tick, r| {
            fired(exact.deadline_nanos(tick, r.stamp), r)
        });
        exact::expire_early(wheel, exact, now_nanos, &mut fired);
        wheel.trim();
        exact::plan(wheel, exact)
    }

    /// The exact earliest pending deadline, in nanoseconds after the origin
    /// (its tick's boundary when the earliest list is long; `exact.rs`).
    /// O(`WALK`). For a clock moved by hand (`advance_to_next`).
    pub(crate) fn earliest(&self, exact: &Exact) -> Option<u64> {
        exact::earliest(&self.lock().wheel, exact)
    }

    /// `true` while `key` is pending in this shard.
    pub(crate) fn contains(&self, key: Key) -> bool {
        self.lock().wheel.get(key).is_some()
    }

    /// Visits every pending registration — its tick, call site and creation
    /// time — a piece at a time.
    ///
    /// Each piece ([`SCAN_CHUNK`] storage slots) is copied out under the
    /// lock (a few microseconds: three words per timer) and visited after
    /// the lock is released, so however slow `f` is (a snapshot hashes each
    /// timer's call site), it never holds up the timer thread or the threads
    /// registering in this shard. Timers created or dropped during the scan
    /// may or may not be seen.
    pub(crate) fn for_each(&self, mut f: impl FnMut(u64, &'static Location<'static>, u64)) {
        let mut piece: Vec<(u64, &'static Location<'static>, u64)> = Vec::new();
        let mut start = Some(0);
        while let Some(from) = start {
            piece.clear();
            start = self
                .lock()
                .wheel
                .for_each_in(from, SCAN_CHUNK, |_, tick, r| {
                    piece.push((tick, r.site, r.stamp.created_ms()))
                });
            for &(tick, site, created_ms) in &piece {
                f(tick, site, created_ms);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().wheel.len()
    }

    /// A copy of the counters (for a snapshot).
    pub(crate) fn stats(&self) -> ShardStats {
        self.lock().stats.clone()
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
