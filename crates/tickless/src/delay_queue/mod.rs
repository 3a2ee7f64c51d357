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
//! operations that touch no shared lock and wake no thread — except an
//! `insert`/`reset` that moves the earliest deadline earlier, which moves
//! that one timer (one shard lock). Expiry hands out values due at the
//! driver's clock; a batch due at once comes back in deadline order.
//! Per entry: the value and the wheel's 32 bytes of links and bookkeeping.
//! Deadlines are kept in the driver's resolution (100 µs by default):
//! [`deadline`](DelayQueue::deadline) and [`Expired::deadline`] read back
//! the deadline rounded up to it (tokio-util rounds to 1 ms).
//!
//! # End of stream
//!
//! As in tokio-util: [`poll_expired`](DelayQueue::poll_expired) returns
//! `Ready(None)` when the queue is empty, and values again after the next
//! insert. A task that sees `None` and wants to wait for future inserts must
//! be woken by whoever inserts (the queue is `&mut`-owned, so that is the
//! task itself in practice).
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

use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

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

    /// The deadline it was inserted (or last reset) with.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

/// A queue of values, each handed back once its deadline has passed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tickless::DelayQueue;
///
/// futures::executor::block_on(async {
///     use futures::StreamExt;
///     let mut queue = DelayQueue::new();
///     let slow = queue.insert("slow", Duration::from_millis(20));
///     queue.insert("fast", Duration::from_millis(5));
///     queue.reset(&slow, Duration::from_millis(1)); // now the first
///     assert_eq!(queue.next().await.unwrap().into_inner(), "slow");
///     assert_eq!(queue.next().await.unwrap().into_inner(), "fast");
///     assert!(queue.next().await.is_none(), "empty: the stream ends");
/// });
/// ```
pub struct DelayQueue<T> {
    handle: Handle,
    wheel: Wheel<T>,
    /// Expired values not handed out yet, in deadline order.
    expired: VecDeque<Expired<T>>,
    /// The one driver timer, armed for the earliest deadline while polled.
    timer: Option<Sleep>,
    site: &'static Location<'static>,
    /// This queue's entries, as `observe` sees them.
    count: Arc<CollectionCount>,
}

impl<T> DelayQueue<T> {
    /// An empty queue on the global driver.
    #[track_caller]
    pub fn new() -> Self {
        Handle::current().delay_queue()
    }

    /// An empty queue with room for `capacity` values before it allocates.
    #[track_caller]
    pub fn with_capacity(capacity: usize) -> Self {
        let mut queue = Self::new();
        queue.wheel.reserve(capacity);
        queue
    }

    fn on(handle: Handle, site: &'static Location<'static>) -> Self {
        let wheel = Wheel::with_tick(handle.now(), handle.resolution());
        DelayQueue {
            count: handle.register_collection(site),
            handle,
            wheel,
            expired: VecDeque::new(),
            timer: None,
            site,
        }
    }

    /// Inserts `value`, due `timeout` from now; its key.
    ///
    /// Long timeouts read the driver's cheap coarse clock, as timers do
    /// (never early; see [`Builder::coarse_clock_min`](crate::Builder::coarse_clock_min)).
    pub fn insert(&mut self, value: T, timeout: Duration) -> Key {
        let deadline = self.handle.deadline_after(timeout);
        self.insert_at(value, deadline)
    }

    /// Inserts `value`, due at `deadline` (a past deadline is due at once).
    /// Any distance is fine: nothing overflows or panics.
    pub fn insert_at(&mut self, value: T, deadline: Instant) -> Key {
        let key = Key(self.wheel.insert(deadline, value));
        self.count.set(self.len());
        self.arm_earlier(deadline);
        key
    }

    /// Removes the value under `key` and returns it; `None` for a stale key
    /// (expired and handed out, or removed), which touches nothing. Keys mean
    /// something only to the queue that issued them.
    pub fn remove(&mut self, key: &Key) -> Option<T> {
        let value = match self.wheel.cancel(key.0) {
            Some(value) => value,
            // Expired but not handed out yet: still this queue's to give back.
            None => {
                let at = self.expired.iter().position(|e| e.key == *key)?;
                self.expired.remove(at)?.into_inner()
            }
        };
        self.count.set(self.len());
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
        self.reset_at(key, deadline)
    }

    /// Moves the value under `key` to `deadline`; `false` for a stale key.
    pub fn reset_at(&mut self, key: &Key, deadline: Instant) -> bool {
        if !self.wheel.reset(key.0, deadline) {
            return false;
        }
        self.arm_earlier(deadline);
        true
    }

    /// The deadline of the value under `key`, rounded up to the driver's
    /// resolution (see the module docs); `None` for a stale key.
    pub fn deadline(&self, key: &Key) -> Option<Instant> {
        self.wheel.deadline(key.0)
    }

    /// The key of a value with the earliest deadline (one not handed out yet).
    pub fn peek(&self) -> Option<Key> {
        match self.expired.front() {
            Some(e) => Some(e.key),
            None => self.wheel.peek().map(Key),
        }
    }

    /// Values held, due or not.
    pub fn len(&self) -> usize {
        self.wheel.len() + self.expired.len()
    }

    /// `true` when no value is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every value; every key goes stale. Keeps the storage.
    pub fn clear(&mut self) {
        self.wheel.clear();
        self.expired.clear();
        self.timer = None;
        self.count.set(0);
    }

    /// Values the queue holds room for without allocating.
    pub fn capacity(&self) -> usize {
        self.wheel.capacity()
    }

    /// Returns the storage of removed and expired values to the allocator
    /// (as far as the free slots lie at its end; keys stay valid).
    pub fn shrink_to_fit(&mut self) {
        self.wheel.shrink_to_fit();
        self.expired.shrink_to_fit();
    }

    /// Hands out the next value whose deadline has passed: `Ready(Some)`,
    /// `Pending` (the task is woken at the earliest deadline), or
    /// `Ready(None)` when the queue is empty (see the module docs).
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<Option<Expired<T>>> {
        loop {
            if let Some(expired) = self.expired.pop_front() {
                self.count.set(self.len());
                return Poll::Ready(Some(expired));
            }
            if self.wheel.is_empty() {
                self.timer = None;
                return Poll::Ready(None);
            }
            self.collect_due(self.handle.now());
            if !self.expired.is_empty() {
                continue;
            }
            // Nothing due: arm the one driver timer for the wheel's next
            // deadline (never after the earliest value) with this task's waker.
            let Some(next) = self.wheel.next_deadline() else {
                continue;
            };
            let timer = match &mut self.timer {
                Some(timer) => {
                    if timer.deadline() != next {
                        timer.reset(next);
                    }
                    timer
                }
                None => self
                    .timer
                    .insert(Sleep::until(self.handle.clone(), next, self.site)),
            };
            if timer.poll_sleep(cx).is_pending() {
                return Poll::Pending;
            }
            // It fired: the clock has reached `next`, so collecting again
            // makes progress (values come due, or a coarse slot cascades and
            // `next` moves on) — unless the driver was dropped, which
            // completes every timer at once: then, like every timer on it,
            // every value completes now.
            if self.handle.now() < next {
                self.collect_due(far_future(next));
            }
        }
    }

    /// Moves every value due at `now` to `expired`, in deadline order (at the
    /// driver's resolution; ties by key).
    fn collect_due(&mut self, now: Instant) {
        let mut batch = Vec::new();
        self.wheel
            .poll_expired_with_ticks(now, |key, tick, value| batch.push((tick, key, value)));
        batch.sort_unstable_by_key(|&(tick, key, _)| (tick, key));
        let wheel = &self.wheel;
        self.expired
            .extend(batch.into_iter().map(|(tick, key, value)| Expired {
                deadline: wheel.tick_instant(tick),
                key: Key(key),
                value,
            }));
    }

    /// A new deadline earlier than the armed timer's moves the timer there.
    fn arm_earlier(&mut self, deadline: Instant) {
        if let Some(timer) = &mut self.timer {
            if deadline < timer.deadline() {
                timer.reset(deadline);
            }
        }
    }
}

/// An instant past every deadline a wheel can hold (≈ 584 years on).
fn far_future(from: Instant) -> Instant {
    crate::clock::saturating_add(from, Duration::from_nanos(u64::MAX))
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

impl<T> futures_core::Stream for DelayQueue<T> {
    type Item = Expired<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Expired<T>>> {
        self.get_mut().poll_expired(cx)
    }
}

impl<T> fmt::Debug for DelayQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayQueue")
            .field("len", &self.len())
            .field("next", &self.wheel.next_deadline())
            .field("site", &format_args!("{}", self.site))
            .finish()
    }
}
