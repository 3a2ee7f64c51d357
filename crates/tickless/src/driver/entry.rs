//! The driver's one surface upward: a typed timer entry.
//!
//! - [`Entry`] is one registration — which shard, which key — and every
//!   operation on it: register, refresh the waker, reset, cancel, ask whether
//!   it is still pending. It is not `Copy`: cancelling consumes it, so a
//!   cancelled registration cannot be used again. Owners that keep their
//!   driver [`Handle`] and their state behind a lock of their own (the alarms
//!   behind `Timer`/`Ticker`/`after_func`, context nodes) hold an `Entry` and
//!   pass their handle to each call; they must cancel it (or see it fire).
//! - [`TimerEntry`] is an entry with its handle, deadline and state, which
//!   cancels itself on drop: what a `Sleep` is made of.
//!
//! No module above the driver sees the driver's keys or its shared state.
//!
//! # Cost
//!
//! Register: the calling thread's shard lock, an O(1) wheel insert, one
//! coarse clock read (the timer's age) and one atomic load (must the timer
//! thread wake?). Cancel and refresh: the entry's shard lock and O(1) work
//! (a cancel that leaves its shard mostly empty after a burst also trims the
//! shard's storage: O(slots), at most once per halving).

use std::panic::Location;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::exact::Stamp;
use super::shard::{self, Registration};
use super::{Handle, Inner};
use crate::clock::{nanos_after, nanos_since, reached};
use crate::queue::Key;

/// One pending registration in one driver (see the module docs).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    shard: u32,
    key: Key,
}

/// Where a registration ended up.
#[derive(Debug)]
pub(crate) enum Registered {
    /// Pending; the entry cancels or tracks it.
    Pending(Entry),
    /// Already due: complete now.
    Due,
    /// The driver is shut down: complete now, and do not re-arm (a periodic
    /// owner that re-armed would be answered `Closed` forever).
    Closed,
    /// Too far away to ever fire (beyond the wheel's range): stay pending
    /// without registering.
    Never,
}

impl Entry {
    /// Registers a timer for the deadline `at` ([`Handle::offset_of`]'s
    /// count) in the calling thread's shard, cloning `waker` only if it is
    /// actually registered.
    #[inline]
    fn register(
        handle: &Handle,
        at: i64,
        waker: &Waker,
        site: &'static Location<'static>,
    ) -> Registered {
        register_with(handle.inner(), nanos_after(at, 0), || waker.clone(), site)
    }

    /// [`register`](Self::register) for a caller that builds a waker just to
    /// register it (an alarm, a context): it is moved in, not cloned.
    #[inline]
    pub(crate) fn register_owned(
        handle: &Handle,
        at: i64,
        waker: Waker,
        site: &'static Location<'static>,
    ) -> Registered {
        register_with(handle.inner(), nanos_after(at, 0), || waker, site)
    }

    /// Keeps the waker current; `false` once the timer fired (or the driver shut down).
    #[inline]
    pub(crate) fn refresh(&self, handle: &Handle, waker: &Waker) -> bool {
        handle.inner().shards[self.shard as usize].refresh(self.key, waker)
    }

    /// `true` while the timer is still in its wheel (not fired, not cancelled).
    pub(crate) fn is_registered(&self, handle: &Handle) -> bool {
        handle.inner().shards[self.shard as usize].contains(self.key)
    }

    /// Moves a pending timer to the deadline `at`; `false` once it fired.
    fn reset(&self, handle: &Handle, at: i64) -> bool {
        let at = nanos_after(at, 0);
        let inner = handle.inner();
        let (tick, early) = inner.exact_tick(at);
        if !inner.shards[self.shard as usize].reset(self.key, tick, early) {
            return false;
        }
        if inner.manual {
            let now = inner.clock.now();
            if at <= nanos_since(inner.origin, now) {
                inner.fire_due_now(now);
            }
        } else {
            inner.after_insert(tick);
        }
        true
    }

    /// Cancels the timer; `false` if it had already fired.
    #[inline]
    pub(crate) fn cancel(self, handle: &Handle) -> bool {
        cancel(handle.inner(), self.shard, self.key)
    }
}

#[inline]
fn register_with(
    inner: &Inner,
    at: u64,
    waker: impl FnOnce() -> Waker,
    site: &'static Location<'static>,
) -> Registered {
    if at >= inner.never_nanos {
        return Registered::Never;
    }
    if inner.is_shut_down() {
        return Registered::Closed;
    }
    let shard = shard::current(inner.shards.len());
    let (tick, early) = inner.exact_tick(at);
    let registration = Registration {
        stamp: Stamp::new(inner.coarse_ms(), early),
        waker: Some(waker()),
        site,
    };
    let Some(key) = inner.shards[shard].insert(tick, registration) else {
        return Registered::Due;
    };
    let shard = shard as u32;
    if inner.manual {
        // Time only moves by hand: a deadline already reached by the clock
        // would otherwise wait for the next move. (Inserting first, then
        // checking, is what keeps a concurrent `advance` from being missed.)
        if at <= nanos_since(inner.origin, inner.clock.now()) {
            cancel(inner, shard, key);
            return Registered::Due;
        }
    } else {
        inner.after_insert(tick);
    }
    if inner.is_shut_down() {
        // Shut down while we inserted: the drain may have missed us.
        cancel(inner, shard, key);
        return Registered::Closed;
    }
    Registered::Pending(Entry { shard, key })
}

#[inline]
fn cancel(inner: &Inner, shard: u32, key: Key) -> bool {
    let registration = inner.shards[shard as usize].cancel(key);
    let was_pending = registration.is_some();
    drop(registration); // after the lock: see `Shard::refresh`
    was_pending
}

impl Inner {
    /// Wakes the timer thread if it sleeps past `tick` + slack; restarts it if it died.
    #[inline]
    fn after_insert(&self, tick: u64) {
        // Acquire: pairs with the Release when the thread dies, so the
        // restart sees the old thread's last state.
        if !self.thread_alive.load(Ordering::Acquire) {
            self.restart_thread();
            return;
        }
        if self.wakeup.must_wake(tick.saturating_add(self.slack_ticks)) {
            self.unpark_thread();
        }
    }
}

/// A timer with its driver, deadline and state; cancels itself on drop.
pub(crate) struct TimerEntry {
    handle: Handle,
    /// The deadline, in nanoseconds after the driver's origin (negative
    /// before it; `i64::MAX`: ~292 years or more away, never): 8 bytes, and
    /// a reset later is an integer compare and store (`Handle::offset_after`).
    at: i64,
    state: State,
    site: &'static Location<'static>,
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Not registered (not polled yet, reset after firing, or too far away).
    Idle,
    /// Registered; `moved` once the deadline was moved later than the
    /// registration's (see `TimerEntry::reset`).
    Registered {
        entry: Entry,
        moved: bool,
    },
    Done,
}

impl TimerEntry {
    /// A timer for `deadline`, registered on first poll.
    #[inline]
    pub(crate) fn new(handle: Handle, deadline: Instant, site: &'static Location<'static>) -> Self {
        TimerEntry {
            at: handle.inner().offset_of(deadline),
            handle,
            state: State::Idle,
            site,
        }
    }

    /// A timer for `duration` from now ([`Handle::deadline_after`]),
    /// registered on first poll; a zero duration has already completed and
    /// never registers.
    #[inline]
    pub(crate) fn after(
        handle: Handle,
        duration: Duration,
        site: &'static Location<'static>,
    ) -> Self {
        TimerEntry {
            at: handle.offset_after(duration),
            handle,
            state: if duration.is_zero() {
                State::Done
            } else {
                State::Idle
            },
            site,
        }
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.handle.inner().instant_at_offset(self.at)
    }

    /// `true` once the driver's clock has reached the deadline.
    fn has_passed(&self) -> bool {
        let inner = self.handle.inner();
        reached(inner.offset_of(inner.clock.now()), self.at)
    }

    pub(crate) fn site(&self) -> &'static Location<'static> {
        self.site
    }

    /// `true` once completed, or once the driver's clock has reached the deadline.
    pub(crate) fn is_elapsed(&self) -> bool {
        self.state == State::Done || self.has_passed()
    }

    /// Moves the deadline, keeping the registration (and its waker) while it
    /// is pending; a completed or unregistered timer registers on next poll.
    ///
    /// **Later is free.** A pending timer moved later keeps its registration
    /// where it is and only records the new deadline here: no lock, no wheel
    /// operation. When the old registration fires, the poll sees the clock
    /// short of the new deadline and registers again for it (one extra poll
    /// per chain of later resets — the idle-timeout pattern, where every read
    /// pushes the deadline out, costs one registration per idle period
    /// instead of one wheel operation per read). Earlier moves the
    /// registration at once, so it still fires on time.
    pub(crate) fn reset(&mut self, deadline: Instant) {
        self.reset_to(self.handle.inner().offset_of(deadline));
    }

    /// [`reset`](Self::reset) to `duration` from now, read as
    /// [`Handle::deadline_after`] reads it.
    #[inline]
    pub(crate) fn reset_after(&mut self, duration: Duration) {
        self.reset_to(self.handle.offset_after(duration));
    }

    #[inline]
    fn reset_to(&mut self, at: i64) {
        let earlier = at < self.at;
        self.at = at;
        let keep = match &mut self.state {
            State::Registered { moved, .. } if !earlier => {
                *moved = true;
                true
            }
            // Earlier than the deadline (perhaps still later than the
            // registration's, after lazy moves): move the registration; it now
            // holds the true deadline.
            State::Registered { entry, moved } => {
                *moved = false;
                entry.reset(&self.handle, at)
            }
            State::Idle | State::Done => false,
        };
        if !keep {
            self.state = State::Idle;
        }
    }

    /// Registers on first poll, refreshes the waker after; ready once fired
    /// and the (possibly moved) deadline has passed.
    pub(crate) fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match &self.state {
                State::Done => return Poll::Ready(()),
                State::Idle => {
                    return match Entry::register(&self.handle, self.at, cx.waker(), self.site) {
                        Registered::Pending(entry) => {
                            self.state = State::Registered {
                                entry,
                                moved: false,
                            };
                            Poll::Pending
                        }
                        Registered::Due | Registered::Closed => {
                            self.state = State::Done;
                            Poll::Ready(())
                        }
                        Registered::Never => Poll::Pending,
                    }
                }
                State::Registered { entry, moved } => {
                    if entry.refresh(&self.handle, cx.waker()) {
                        return Poll::Pending;
                    }
                    // Fired. A fire is never early, so it means the deadline
                    // has passed — unless the deadline was moved later since
                    // (see `reset`): then the clock tells, and we register
                    // again for the new deadline. (A shut-down driver answers
                    // that registration with `Closed`.)
                    self.state = if *moved && !self.has_passed() {
                        State::Idle
                    } else {
                        State::Done
                    };
                }
            }
        }
    }

    /// `"idle"`, `"registered"` or `"done"`, for `Debug`.
    pub(crate) fn state_name(&self) -> &'static str {
        match self.state {
            State::Idle => "idle",
            State::Registered { .. } => "registered",
            State::Done => "done",
        }
    }
}

impl Drop for TimerEntry {
    fn drop(&mut self) {
        if let State::Registered { entry, .. } = std::mem::replace(&mut self.state, State::Done) {
            entry.cancel(&self.handle);
        }
    }
}
