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

use super::stats::{call_sites, ShardStats};
use crate::queue::{Key, TimerQueue, Wheel};
use crate::sync::{lock, Mutex, MutexGuard};

/// What the wheel holds per pending timer: who to wake, who created it, when.
pub(crate) struct Registration {
    /// `None` only for timers no task waits on yet.
    pub(crate) waker: Option<Waker>,
    pub(crate) site: &'static Location<'static>,
    /// Creation time, milliseconds on the driver's coarse clock.
    pub(crate) created_ms: u64,
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

    /// Inserts unless the wheel already counts `deadline` as due; returns the
    /// key and the tick the timer fires at.
    #[inline]
    pub(crate) fn insert(
        &self,
        deadline: Instant,
        registration: Registration,
    ) -> Option<(Key, u64)> {
        let mut st = self.lock();
        let tick = st.wheel.tick_for(deadline);
        if tick <= st.wheel.elapsed_ticks() {
            return None;
        }
        st.stats.created += 1;
        if call_sites() {
            st.stats.sites.counts(registration.site).created += 1;
        }
        Some((st.wheel.insert_at_tick(tick, registration), tick))
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

    /// Moves a pending timer; the tick it now fires at, `None` once it fired.
    pub(crate) fn reset(&self, key: Key, deadline: Instant) -> Option<u64> {
        let mut st = self.lock();
        if !st.wheel.reset(key, deadline) {
            return None;
        }
        st.stats.reset += 1;
        Some(st.wheel.tick_for(deadline))
    }

    /// Takes every timer due at `now`, pushing their wakers; returns the
    /// shard's next deadline.
    pub(crate) fn expire(&self, now: Instant, wakers: &mut Vec<Waker>) -> Option<Instant> {
        let mut st = self.lock();
        let ShardState { wheel, stats } = &mut *st;
        let sites = call_sites();
        let origin = wheel.origin();
        let now_nanos = crate::clock::nanos_since(origin, now);
        let tick_nanos = wheel.tick().as_nanos() as u64;
        wheel.poll_expired_with_ticks(now, |_, tick, r| {
            stats.fired += 1;
            stats
                .lateness
                .record(now_nanos.saturating_sub(tick.saturating_mul(tick_nanos)));
            if sites {
                stats.sites.counts(r.site).fired += 1;
            }
            wakers.extend(r.waker);
        });
        wheel.trim();
        wheel.next_deadline()
    }

    /// The exact earliest pending deadline (rounded up to the tick: when it
    /// fires), O(timers in the earliest slot). For tests moving a manual clock.
    pub(crate) fn earliest(&self) -> Option<Instant> {
        let st = self.lock();
        st.wheel.peek().and_then(|key| st.wheel.deadline(key))
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
                    piece.push((tick, r.site, r.created_ms))
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
