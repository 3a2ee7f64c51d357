//! The driver: sharded timing wheels and one timer thread that sleeps until
//! the earliest deadline.
//!
//! # Shape
//!
//! A driver owns `N` shards — each a [`Wheel`](crate::queue::Wheel) behind its
//! own mutex — and one timer thread. A timer registers in the calling thread's
//! shard (no global lock) and remembers the shard, so it can be cancelled from
//! any thread in O(1). The timer thread scans the shards, fires what is due,
//! publishes when it next needs to look (`driver/wakeup.rs`), wakes the fired
//! tasks (outside every lock) and parks until that time. It is **tickless**:
//! with no timer pending it parks without a timeout and makes no wakeups at all.
//!
//! The layers above reach the driver through one typed entry (`entry.rs`:
//! register, reset, cancel, cancel-on-drop) and a read-only stats view
//! (`stats.rs`). The driver imports nothing above it.
//!
//! # Hot path: create, then cancel
//!
//! Registering takes the calling thread's shard lock (uncontended unless two
//! threads share a shard), inserts into the wheel (O(1), no allocation once
//! the slab is warm), releases the lock and reads one atomic. Only if the new
//! timer is due earlier than the timer thread's planned wake-up minus the
//! slack does it unpark the thread (one futex wake). Cancelling is the same
//! lock and an O(1) unlink. The only clock read on either path is the
//! kernel's coarse clock (~11 ns) for the timer's creation time, which
//! [`observe`](super::observe) reports as its age.
//!
//! # Precision
//!
//! A timer never fires before its deadline. It fires at most one resolution
//! tick plus the configured slack after it, plus the operating system's
//! scheduling latency — and usually at its exact deadline: the timer thread
//! parks until the latest exact deadline of the next tick's timers rather
//! than that tick's boundary, so it wakes no more often (`exact.rs`). The timer thread sets its own kernel timer slack to
//! 1 ns (`PR_SET_TIMERSLACK`) so its `park_timeout` is not rounded up by the
//! default 50 µs.
//!
//! # Manual clocks
//!
//! A driver built on a clock moved by hand ([`ManualClock`](crate::clock::ManualClock))
//! starts no thread: due timers fire inside `advance`/`set`, on the calling
//! thread, before it returns. Tests therefore never sleep. They fire at
//! their exact deadlines, as with the timer thread: a move that reaches a
//! deadline between two ticks fires it, and `advance_to_next` moves to the
//! exact earliest deadline (to the boundary of the wheel slot it sits in
//! only when more than 64 timers share that slot).
//!
//! # Shutdown
//!
//! Dropping a [`Driver`] stops and joins its thread, then completes every
//! timer still pending on it: their futures resolve at once (a
//! [`Sleep`](super::Sleep) completes, a [`Timeout`](super::Timeout) returns
//! `Err(Elapsed)`), and timers created afterwards complete on first poll.
//! Nothing hangs and nothing panics. This is the one case where a timer
//! completes before its deadline. The global driver behind
//! [`sleep`](super::sleep) lives for the whole process.
//!
//! # Shared state (`Inner`) and what guards it
//!
//! | field | written by | guarded by |
//! |---|---|---|
//! | `clock`, `origin`, `never_nanos`, `coarse_nanos`, `ticks`, `slack*`, `coarse_min`, `manual`, `thread_name` | `Builder::build` | immutable afterwards |
//! | `shards[i]` (wheel, counters) | registering/cancelling threads, the timer thread | the shard's own mutex (`shard.rs`); never two shard locks at once |
//! | `wakeup` (the timer thread's plan) | timer thread stores, registering threads load | one atomic, Release/Acquire; the proof is in `wakeup.rs` |
//! | `thread` (its `Thread` and `JoinHandle`) | start, restart, shutdown | `std::sync::Mutex`; taken after a shard lock is released, never with one held |
//! | `thread_alive` | the timer thread (clears on exit), spawner (sets) | atomic, Release/Acquire: a restarter sees the dead thread's last state |
//! | `shut_down` | `Driver::drop` | atomic, Release/Acquire: a timer that sees it also sees the drained shards |
//! | `wake_panics`, `wakeups` | the timer thread | atomics, Relaxed: statistics |
//! | `callbacks` (the `after_func` executor) | first callback | `OnceLock`; the executor's own counters are documented in `executor.rs` |
//! | `history` (leak trends) | snapshots | `std::sync::Mutex`, taken with no other lock held |
//! | `collections` (live counts of delay queues…) | collection creation, snapshots | `std::sync::Mutex` over the list; each count a Relaxed atomic (`collections.rs`) |
//!
//! Lock order: alarm or context lock → shard lock → (released) → thread
//! slot. Wakers are called with no driver lock held.

mod builder;
mod collections;
mod current;
mod entry;
mod exact;
mod executor;
mod handle;
mod history;
#[cfg(all(test, tickless_loom))]
mod models;
mod shard;
pub(crate) mod stats;
mod thread;
mod wakeup;

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::clock::{Clock, CoarseNanos};
use crate::queue::wheel::TickMath;
pub use builder::{Builder, Driver, DriverError};
pub(crate) use collections::CollectionCount;
pub use current::EnterGuard;
pub(crate) use entry::{Entry, Registered, TimerEntry};
pub(crate) use executor::Job;
pub use handle::Handle;
pub(crate) use history::History;
use shard::Shard;
pub(crate) use thread::set_precise_timer_slack;
use thread::ThreadSlot;
use wakeup::Wakeup;

/// A driver's shared state; see the table in the module docs.
pub(crate) struct Inner {
    /// Itself, to restart the timer thread from `&self`.
    me: Weak<Inner>,
    clock: std::sync::Arc<dyn Clock>,
    /// `clock` is the default [`SystemClock`](crate::clock::SystemClock):
    /// deadlines skip the dynamic call (see `Handle::deadline_after`).
    system_clock: bool,
    /// Tick 0 of every shard's wheel.
    origin: Instant,
    /// Registrations at or past this many nanoseconds after the origin never
    /// fire: ≈584 years (or the last instant the platform represents), where
    /// tick arithmetic saturates. A timer's own deadline (`TimerEntry::at`,
    /// an alarm's, a context's) is a signed count that saturates sooner, at
    /// ≈292 years: that is "never" for them. (The wheels' own range counts
    /// from their current tick: farther deadlines are re-filed, not dropped.)
    never_nanos: u64,
    /// The coarse clock's bound counted from `origin` (the system clock on
    /// Linux): a long timer's deadline with no `Instant` arithmetic.
    coarse_nanos: Option<CoarseNanos>,
    /// The wheels' tick arithmetic, for converting instants outside a lock.
    ticks: TickMath,
    /// Exact deadlines beside the ticks (`exact.rs`).
    exact: exact::Exact,
    slack: Duration,
    /// `slack` in ticks, rounded up.
    slack_ticks: u64,
    slack_percent: u32,
    /// Timers at least this long take their deadline from `clock.now_coarse()`.
    coarse_min: Duration,
    shards: Box<[Shard]>,
    /// The clock is moved by hand and tells us: no timer thread.
    manual: bool,
    wakeup: Wakeup,
    thread: Mutex<ThreadSlot>,
    thread_alive: AtomicBool,
    shut_down: AtomicBool,
    thread_name: String,
    wake_panics: AtomicU64,
    /// Timer-thread cycles (wakeups), including the first.
    wakeups: AtomicU64,
    /// Where `after_func` callbacks run (started on first use).
    callbacks: OnceLock<executor::Executor>,
    /// Live counts per call site of recent snapshots, for leak suspects.
    history: Mutex<History>,
    /// Collections (delay queues…) whose entries count under their site.
    collections: collections::Collections,
    /// Test hook: the timer thread panics on its next cycle.
    #[cfg(test)]
    crash: AtomicBool,
}

impl Inner {
    /// The wheel tick `t` falls in, rounded up (every shard shares origin and tick).
    #[inline]
    fn tick_for(&self, t: Instant) -> u64 {
        self.ticks.ceil_since(self.origin, t)
    }

    /// The tick a deadline `at` nanoseconds after the origin fires at
    /// (rounded up) and how far before that tick's boundary it lies, as a
    /// registration keeps it (`exact.rs`).
    #[inline]
    fn exact_tick(&self, at: u64) -> (u64, u32) {
        let (tick, rest) = self.ticks.ceil_with_rest(Duration::from_nanos(at));
        (tick, self.exact.early(tick, rest))
    }

    /// `t` as a timer keeps its deadline: signed nanoseconds after the origin.
    #[inline]
    fn offset_of(&self, t: Instant) -> i64 {
        crate::clock::offset_since(self.origin, t)
    }

    /// The instant of a timer's deadline kept as [`offset_of`](Self::offset_of).
    fn instant_at_offset(&self, offset: i64) -> Instant {
        crate::clock::at_offset(self.origin, offset)
    }

    /// `nanos` after the origin, as an instant (saturating).
    fn instant_at(&self, nanos: u64) -> Instant {
        crate::clock::saturating_add(self.origin, Duration::from_nanos(nanos))
    }

    fn is_shut_down(&self) -> bool {
        // Acquire: pairs with the Release in `shut_down`, so a timer that sees
        // the flag also sees the drained shards.
        self.shut_down.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Milliseconds on a cheap clock, for timer ages: the kernel's coarse
    /// monotonic clock (~11 ns to read here, 1–4 ms resolution), or the
    /// driver's own clock when it is moved by hand.
    #[inline]
    fn coarse_ms(&self) -> u64 {
        if self.manual {
            return crate::clock::nanos_since(self.origin, self.clock.now()) / 1_000_000;
        }
        thread::coarse_clock_ms()
    }
}
