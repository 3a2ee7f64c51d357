//! [`DelayQueue`]: values that come back when their deadline passes — keyed,
//! resettable, removable, on any executor and on plain threads.
//!
//! tokio-util's `DelayQueue` API (`insert`, `remove`, `reset`,
//! `poll_expired`, a `Stream` of [`Expired`]), without its traps: keys carry a
//! generation, so a stale key (expired, removed, slot reused) is answered
//! `None`/`false` and touches nothing; nothing panics; deadlines any distance
//! away are fine; and it needs no runtime.
//!
//! # Shape and cost
//!
//! The values live in the queue's own [`Wheel`] (no lock: the queue is owned,
//! `&mut self`). One driver timer stands for the whole queue, armed for its
//! earliest deadline: `insert`, `remove` and `reset` are O(1) wheel
//! operations that touch no shared lock and wake no thread (an
//! `insert`/`reset` that moves the earliest deadline earlier wakes the task
//! waiting on the queue, if any, which re-arms that one timer when it polls).
//! Expiry hands out values one at a time straight from the wheel
//! ([`Wheel::pop_expired`]), in deadline order however late the poll: a value
//! due but not handed out yet stays in the wheel, so `remove` and `reset`
//! still reach it in O(1), and nothing is buffered or sorted. The clock is
//! read once per poll that finds nothing due at the last reading.
//! Per entry: the value and the wheel's 32 bytes of links and bookkeeping;
//! storage left over after a burst is given back as the queue drains
//! ([`Wheel::trim`]).
//! Deadlines are kept in the driver's resolution (100 µs by default):
//! [`deadline`](DelayQueue::deadline) and [`Expired::deadline`] read back
//! the deadline rounded up to it (tokio-util rounds to 1 ms) — or, for one
//! that had passed already when inserted or reset (due at once), rounded down.
//!
//! # End of stream
//!
//! As in tokio-util: [`poll_expired`](DelayQueue::poll_expired) returns
//! `Ready(None)` when the queue is empty, and values again after the next
//! insert. The queue remembers the waker of the last poll whatever it
//! answered, and wakes it when an insert or reset brings a deadline earlier
//! than the one it waits for — or any deadline after the end of the stream —
//! and when `clear` or the last `remove` ends the stream. So a task may treat
//! `None` as "wait": a queue shared behind a mutex, drained by one task and
//! filled by others, loses no wake-up.
//!
//! # Why no wake-up is lost
//!
//! The waiting task is woken by the driver timer (armed, with the waker of
//! the latest poll, for the wheel's next deadline — never later than the
//! earliest value) or by the queue itself. Every poll that returns `Pending`
//! has just armed the timer for the current next deadline (or, for the
//! cooperative yield of [`poll_expired`](DelayQueue::poll_expired), woken the
//! task at once), and every later
//! change that makes an earlier deadline (insert, reset) wakes the stored
//! waker, so the task polls again and re-arms. The stored waker is taken when
//! woken: `None` means the task was woken since its last poll (and will poll
//! again) or never polled. A fire is never early, so a timer that fired means
//! the clock reached its deadline; the one exception, a shut-down driver,
//! completes the timer at once, and the queue then hands its values out
//! without waiting, as the driver does with every timer.
//!
//! # Shutdown
//!
//! On an explicit [`Driver`](crate::Driver) that is dropped, every value
//! comes due at once (as every timer on it completes at once).
//!
//! # Observability
//!
//! Its entries count as live timers of the line that created the queue in
//! [`observe`](crate::observe) snapshots, so a queue that only grows shows up
//! as a leak suspect like any timer.

mod blocking;
mod poll;

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::coop::Streak;
use crate::driver::{CollectionCount, Handle};
use crate::queue::{self, TimerQueue, Wheel};
use crate::Sleep;
pub use blocking::RecvTimeoutError;

/// Names one value in a [`DelayQueue`]; stale once it expired or was removed.
///
/// Keys are `Copy`, 8 bytes, and carry a generation: a stale key never
/// reaches a newer value that reuses its slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(queue::Key);

/// A value whose deadline passed, as [`DelayQueue::poll_expired`] hands it out.
#[derive(Debug)]
pub struct Expired<T> {
    value: T,
    key: Key,
    deadline: Instant,
}

impl<T> Expired<T> {
    /// The value.
    pub fn get_ref(&self) -> &T {
        &self.value
    }

    /// The value, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.value
    }

    /// The value, taken out.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The key it had (now stale).
    pub fn key(&self) -> Key {
        self.key
    }

    /// The deadline it was inserted (or last reset) with, in the driver's
    /// resolution (see the [module docs](self): not the exact instant given).
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

/// A queue of values, each handed back once its deadline has passed.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use tickless::DelayQueue;
///
/// futures::executor::block_on(async {
///     use futures::StreamExt;
///     let mut queue = DelayQueue::new();
///     // Deadlines from one reading, so a stall between the calls cannot
///     // reorder them (`insert(value, timeout)` counts from each call).
///     let start = Instant::now();
///     let slow = queue.insert_at("slow", start + Duration::from_millis(20));
///     queue.insert_at("fast", start + Duration::from_millis(5));
///     queue.reset_at(&slow, start + Duration::from_millis(1)); // now the first
///     assert_eq!(queue.next().await.unwrap().into_inner(), "slow");
///     assert_eq!(queue.next().await.unwrap().into_inner(), "fast");
///     assert!(queue.next().await.is_none(), "empty: the stream ends");
/// });
/// ```
pub struct DelayQueue<T> {
    handle: Handle,
    wheel: Wheel<T>,
    /// The one driver timer, armed for the wheel's next deadline by the last
    /// poll that returned `Pending`; `None` before that and after the stream ended.
    timer: Option<Sleep>,
    /// The last poll's waker, until woken (see "Why no wake-up is lost").
    waker: Option<Waker>,
    /// The latest clock reading: values due by then come out without
    /// reading the clock again (never early: the clock only moves on).
    seen: Instant,
    site: &'static Location<'static>,
    /// This queue's entries, as `observe` sees them.
    count: Arc<CollectionCount>,
    /// Values handed out from a backlog in a row (the queue yields once
    /// after 32: see [`poll_expired`](DelayQueue::poll_expired)).
    streak: Streak,
}

impl<T> DelayQueue<T> {
    /// An empty queue on the global driver.
    #[track_caller]
    pub fn new() -> Self {
        Handle::current().delay_queue()
    }

    /// An empty queue with room for `capacity` values before it allocates.
    /// A queue holds at most 2³² − 1 values, so a larger capacity counts as
    /// that; memory the allocator cannot give aborts the process, as for
    /// [`Vec::with_capacity`].
    #[track_caller]
    pub fn with_capacity(capacity: usize) -> Self {
        let mut queue = Self::new();
        queue.wheel.reserve(capacity);
        queue
    }

    fn on(handle: Handle, site: &'static Location<'static>) -> Self {
        let now = handle.now();
        let wheel = Wheel::with_tick(now, handle.resolution());
        DelayQueue {
            count: handle.register_collection(site),
            handle,
            wheel,
            timer: None,
            waker: None,
            seen: now,
            site,
            streak: Streak::default(),
        }
    }

    /// Inserts `value`, due `timeout` from now; its key.
    ///
    /// Long timeouts read the driver's cheap coarse clock, as timers do
    /// (never early; see [`Builder::coarse_clock_min`](crate::Builder::coarse_clock_min)).
    /// A zero timeout is due at once.
    pub fn insert(&mut self, value: T, timeout: Duration) -> Key {
        let deadline = self.handle.deadline_after(timeout);
        self.file(value, deadline, timeout.is_zero())
    }

    /// Inserts `value`, due at `deadline` (a past deadline is due at once).
    /// Any distance is fine: nothing overflows or panics.
    pub fn insert_at(&mut self, value: T, deadline: Instant) -> Key {
        let passed = self.handle.has_passed(deadline);
        self.file(value, deadline, passed)
    }

    fn file(&mut self, value: T, deadline: Instant, passed: bool) -> Key {
        let key = Key(self
            .wheel
            .insert_at_tick(self.tick(deadline, passed), value));
        self.count.set(self.len());
        self.wake_if_earlier(deadline);
        key
    }

    /// Removes the value under `key` and returns it; `None` for a stale key
    /// (expired and handed out, or removed), which touches nothing. Keys mean
    /// something only to the queue that issued them.
    ///
    /// A value already due but not handed out yet is still the queue's:
    /// `remove` returns it (O(1), like any other), and it is never handed out.
    pub fn remove(&mut self, key: &Key) -> Option<T> {
        let value = self.wheel.cancel(key.0)?;
        self.after_removal();
        if self.wheel.is_empty() {
            // The stream just ended: tell the waiting task now, not when the
            // timer armed for the removed value fires.
            self.wake();
        }
        Some(value)
    }

    /// [`remove`](DelayQueue::remove), under tokio-util's later name.
    pub fn try_remove(&mut self, key: &Key) -> Option<T> {
        self.remove(key)
    }

    /// Moves the value under `key` to `timeout` from now; `false` (and no
    /// change) for a stale key.
    pub fn reset(&mut self, key: &Key, timeout: Duration) -> bool {
        let deadline = self.handle.deadline_after(timeout);
        self.refile(key, deadline, timeout.is_zero())
    }

    /// Moves the value under `key` to `deadline`; `false` for a stale key.
    ///
    /// A value due but not handed out yet can still be reset: it then comes
    /// out at its new deadline.
    pub fn reset_at(&mut self, key: &Key, deadline: Instant) -> bool {
        let passed = self.handle.has_passed(deadline);
        self.refile(key, deadline, passed)
    }

    fn refile(&mut self, key: &Key, deadline: Instant, passed: bool) -> bool {
        if self.wheel.get(key.0).is_none() {
            return false;
        }
        let tick = self.tick(deadline, passed);
        self.wheel.reset_at_tick(key.0.index, tick);
        self.wake_if_earlier(deadline);
        true
    }

    /// The wheel tick for `deadline`: rounded up to the resolution, never
    /// early — unless it has `passed`: then rounded down, so it is due now
    /// rather than at the end of the current tick (which, on a manual clock,
    /// never came until the test moved time).
    fn tick(&self, deadline: Instant, passed: bool) -> u64 {
        if passed {
            self.wheel.floor_tick(deadline)
        } else {
            self.wheel.tick_for(deadline)
        }
    }

    /// The deadline of the value under `key`, rounded up to the driver's
    /// resolution (see the module docs); `None` for a stale key.
    pub fn deadline(&self, key: &Key) -> Option<Instant> {
        self.wheel.deadline(key.0)
    }

    /// The key of a value with the earliest deadline (one not handed out
    /// yet); ties: any of them. O(values in the wheel's earliest slot).
    pub fn peek(&self) -> Option<Key> {
        self.wheel.peek().map(Key)
    }

    /// Values held, due or not.
    pub fn len(&self) -> usize {
        self.wheel.len()
    }

    /// `true` when no value is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every value; every key goes stale. Keeps the storage. A task
    /// waiting on the queue is woken (its stream has ended).
    pub fn clear(&mut self) {
        let had_values = !self.wheel.is_empty();
        self.wheel.clear();
        self.timer = None;
        self.count.set(0);
        if had_values {
            self.wake();
        }
    }

    /// Values the queue holds room for without allocating.
    pub fn capacity(&self) -> usize {
        self.wheel.capacity()
    }

    /// Returns the storage of removed and expired values to the allocator
    /// (as far as the free slots lie at its end; keys stay valid).
    pub fn shrink_to_fit(&mut self) {
        self.wheel.shrink_to_fit();
    }
}

impl Handle {
    /// An empty [`DelayQueue`] on this driver (e.g. one on a
    /// [`ManualClock`](crate::clock::ManualClock) in tests).
    #[track_caller]
    pub fn delay_queue<T>(&self) -> DelayQueue<T> {
        DelayQueue::on(self.clone(), Location::caller())
    }
}

impl<T> Default for DelayQueue<T> {
    #[track_caller]
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for DelayQueue<T> {
    fn drop(&mut self) {
        self.count.set(0);
    }
}

/// Values are never pinned: the queue moves them freely.
impl<T> Unpin for DelayQueue<T> {}

impl<T> fmt::Debug for DelayQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayQueue")
            .field("len", &self.len())
            .field("next", &self.wheel.next_deadline())
            .field("site", &format_args!("{}", self.site))
            .finish()
    }
}
