//! [`Handle`]: a reference to a driver, and the global driver behind it.
//!
//! Timer constructors live with the types they construct (`impl Handle`
//! blocks in `sleep.rs`, `timeout.rs`, `interval.rs`, `blocking/`,
//! `observe/`); this file holds only what belongs to the driver itself.

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::current::{self, EnterGuard};
use super::executor::Job;
use super::Inner;
use crate::clock::{duration_nanos, nanos_since, reached, saturating_add, SystemClock};

/// A reference to a driver, from which timers are created.
///
/// [`Handle::current`] is the driver the free functions use; [`Driver::handle`](crate::Driver::handle)
/// an explicit one. Timers keep their driver's state alive, never its thread.
#[derive(Clone)]
pub struct Handle {
    /// `None` is the global driver: no reference count to touch per timer.
    inner: Option<Arc<Inner>>,
}

impl Handle {
    /// The driver the free functions ([`sleep`](crate::sleep),
    /// [`timeout`](crate::timeout), [`Timer::new`](crate::blocking::Timer::new)…)
    /// use on this thread: the innermost one [entered](crate::Driver::enter) on it,
    /// else the process-wide driver — the one installed by
    /// [`Builder::build_global`](super::Builder::build_global), or one with
    /// the defaults started on first use. Never fails, never panics (unless
    /// the operating system refuses the default driver its thread).
    ///
    /// The returned handle is fixed at the call: entering another driver
    /// later does not move it, nor the timers created from it.
    ///
    /// ```
    /// use tickless::clock::ManualClock;
    /// use tickless::{Driver, Handle};
    ///
    /// let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
    /// assert!(!Handle::current().same_driver_as(driver.handle()));
    /// let _guard = driver.enter();
    /// assert!(Handle::current().same_driver_as(driver.handle()));
    /// ```
    #[inline]
    pub fn current() -> Handle {
        current::entered().unwrap_or(Handle { inner: None })
    }

    /// Makes this driver the current one on this thread until the guard
    /// drops; see [`Driver::enter`](crate::Driver::enter).
    pub fn enter(&self) -> EnterGuard {
        current::enter(self)
    }

    /// `true` if both handles reach the same driver.
    pub fn same_driver_as(&self, other: &Handle) -> bool {
        std::ptr::eq(self.inner(), other.inner())
    }

    pub(super) fn explicit(inner: Arc<Inner>) -> Handle {
        Handle { inner: Some(inner) }
    }

    #[inline]
    pub(super) fn inner(&self) -> &Inner {
        match &self.inner {
            Some(inner) => inner,
            None => current::global(),
        }
    }

    /// The state of a handle built by [`Driver`](super::Driver) itself.
    pub(super) fn explicit_inner(&self) -> &Inner {
        match &self.inner {
            Some(inner) => inner,
            None => unreachable!("a driver's own handle is explicit"),
        }
    }

    /// The driver's clock reading.
    pub fn now(&self) -> Instant {
        self.inner().clock.now()
    }

    /// The deadline of a timer of `duration` created now: `now + duration`,
    /// from the clock's cheap coarse reading when `duration` is at least
    /// [`Builder::coarse_clock_min`](super::Builder::coarse_clock_min)
    /// (never early; see there). Saturates instead of overflowing.
    #[inline]
    pub fn deadline_after(&self, duration: Duration) -> Instant {
        let inner = self.inner();
        let coarse = duration >= inner.coarse_min;
        if inner.system_clock {
            // The default clock, called directly (no dynamic call), with one
            // `Instant` addition. Timers take their deadline in integers from
            // `offset_after` instead; this is the `Instant` form (the delay
            // queue's wheel and the public API).
            return if coarse {
                SystemClock::coarse_deadline(duration)
            } else {
                saturating_add(Instant::now(), duration)
            };
        }
        let now = if coarse {
            inner.clock.now_coarse()
        } else {
            inner.clock.now()
        };
        saturating_add(now, duration)
    }

    /// [`deadline_after`](Self::deadline_after) as a timer keeps it: signed
    /// nanoseconds after the driver's origin, saturating at `i64::MAX`
    /// (never). On the system clock a long duration adds to the coarse
    /// clock's bound in integers: a lazy reset is this, a compare and a store.
    #[inline]
    pub(crate) fn offset_after(&self, duration: Duration) -> i64 {
        let inner = self.inner();
        let coarse = duration >= inner.coarse_min;
        let at = match &inner.coarse_nanos {
            Some(bound) if coarse => bound.upper_after(duration),
            _ => {
                let now = match (inner.system_clock, coarse) {
                    (true, false) => Instant::now(),
                    (_, true) => inner.clock.now_coarse(),
                    (false, false) => inner.clock.now(),
                };
                nanos_since(inner.origin, now).saturating_add(duration_nanos(duration))
            }
        };
        i64::try_from(at).unwrap_or(i64::MAX)
    }

    /// `t` as [`offset_after`](Self::offset_after) counts: signed
    /// nanoseconds after the driver's origin.
    #[inline]
    pub(crate) fn offset_of(&self, t: Instant) -> i64 {
        self.inner().offset_of(t)
    }

    /// The instant of a deadline counted as [`offset_of`](Self::offset_of)
    /// counts it (saturating).
    pub(crate) fn instant_at_offset(&self, at: i64) -> Instant {
        self.inner().instant_at_offset(at)
    }

    /// `true` once `at` has passed on this driver's clock. The cheap coarse
    /// reading comes first: it is never before the true time, so while it is
    /// before `at`, so is now; the exact clock is read only near or past `at`.
    #[inline]
    pub(crate) fn has_passed(&self, at: Instant) -> bool {
        let inner = self.inner();
        let upper = if inner.system_clock {
            SystemClock::coarse_deadline(Duration::ZERO)
        } else {
            inner.clock.now_coarse()
        };
        upper >= at && inner.clock.now() >= at
    }

    /// [`has_passed`](Self::has_passed) for a deadline counted as
    /// [`offset_of`](Self::offset_of) counts it, in integers.
    #[inline]
    pub(crate) fn offset_has_passed(&self, at: i64) -> bool {
        // The coarse bound first: when it has not reached `at`, no exact read.
        reached(self.offset_upper(), at) && reached(self.offset_of(self.now()), at)
    }

    /// The clock's cheap coarse reading, as [`offset_of`](Self::offset_of)
    /// counts: never before the true time, at most
    /// [`Clock::coarse_error`](crate::clock::Clock::coarse_error) after it.
    #[inline]
    pub(crate) fn offset_upper(&self) -> i64 {
        let inner = self.inner();
        match &inner.coarse_nanos {
            Some(bound) => i64::try_from(bound.upper_after(Duration::ZERO)).unwrap_or(i64::MAX),
            None => inner.offset_of(inner.clock.now_coarse()),
        }
    }

    /// Timers at least this long take their deadline from the coarse clock
    /// ([`Builder::coarse_clock_min`](super::Builder::coarse_clock_min)).
    pub(crate) fn coarse_min(&self) -> Duration {
        self.inner().coarse_min
    }

    /// Whether the driver reads the system clock (time passes while a thread
    /// waits), not a [`ManualClock`](crate::clock::ManualClock).
    pub(crate) fn real_time(&self) -> bool {
        self.inner().system_clock
    }

    /// `true` once the driver has shut down (it registers nothing more).
    pub(crate) fn is_shut_down(&self) -> bool {
        self.inner().is_shut_down()
    }

    /// The driver's resolution (wheel tick): a timer fires at most this late
    /// (see [`Builder::resolution`](super::Builder::resolution)).
    pub fn resolution(&self) -> Duration {
        Duration::from_nanos(self.inner().ticks.tick_nanos)
    }

    /// Number of timers pending on this driver (locks every shard).
    pub fn pending_timers(&self) -> usize {
        self.inner().shards.iter().map(|s| s.len()).sum()
    }

    /// Pending timers per line of code that created them, most first
    /// (locks each shard in turn; O(pending timers)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tickless::Driver;
    ///
    /// let driver = Driver::builder().build().unwrap();
    /// let waker = futures::task::noop_waker();
    /// let mut cx = std::task::Context::from_waker(&waker);
    /// let line = line!() + 1;
    /// let mut sleeps: Vec<_> = (0..3).map(|_| driver.handle().sleep(Duration::from_secs(60))).collect();
    /// for s in &mut sleeps {
    ///     assert!(s.poll_sleep(&mut cx).is_pending()); // registers
    /// }
    /// let sites = driver.handle().pending_call_sites();
    /// assert_eq!(sites.len(), 1);
    /// assert_eq!((sites[0].0.line(), sites[0].1), (line, 3));
    /// drop(sleeps);
    /// assert!(driver.handle().pending_call_sites().is_empty());
    /// ```
    pub fn pending_call_sites(&self) -> Vec<(&'static Location<'static>, usize)> {
        // Keyed by file, line and column, not by address: one line can have
        // two `Location`s (a generic constructor instantiated in two crates).
        let mut counts: HashMap<(&str, u32, u32), (&'static Location<'static>, usize)> =
            HashMap::new();
        for shard in self.inner().shards.iter() {
            shard.for_each(|_, site, _| {
                let key = (site.file(), site.line(), site.column());
                counts.entry(key).or_insert((site, 0)).1 += 1;
            });
        }
        let mut sites: Vec<_> = counts.into_values().collect();
        sites.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| a.0.to_string().cmp(&b.0.to_string()))
        });
        sites
    }

    /// [`after_func`](super::super::blocking::after_func) callbacks that panicked (caught and counted).
    pub fn callback_panics(&self) -> u64 {
        self.inner()
            .callbacks
            .get()
            .map_or(0, super::executor::Executor::panics)
    }

    /// Threads of the [`after_func`](super::super::blocking::after_func)
    /// callback pool alive now (at most 256; idle ones exit after 5 s, or at
    /// once after the driver shut down).
    pub fn callback_threads(&self) -> usize {
        self.inner()
            .callbacks
            .get()
            .map_or(0, super::executor::Executor::threads)
    }

    /// Callbacks due and not started yet: non-zero for long only when 256
    /// callbacks are running at once and the rest wait for one to finish.
    pub fn callbacks_waiting(&self) -> usize {
        self.inner()
            .callbacks
            .get()
            .map_or(0, super::executor::Executor::waiting)
    }

    /// Wakers that panicked when the timer thread woke them (caught and counted).
    pub fn waker_panics(&self) -> u64 {
        // Relaxed: a statistic.
        self.inner().wake_panics.load(Ordering::Relaxed)
    }

    /// How many times the timer thread has woken up (every cycle of its loop).
    /// Idle — no timer pending — it does not wake at all.
    pub fn timer_thread_wakeups(&self) -> u64 {
        // Relaxed: a statistic.
        self.inner().wakeups.load(Ordering::Relaxed)
    }

    /// Runs `job` on this driver's callback executor (never on the timer
    /// thread, never blocking the caller).
    pub(crate) fn run_callback(&self, job: Job) {
        let inner = self.inner();
        inner
            .callbacks
            .get_or_init(|| {
                super::executor::Executor::new(format!("{}-callback", inner.thread_name))
            })
            .submit(job);
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner();
        f.debug_struct("Handle")
            .field("global", &self.inner.is_none())
            .field("clock", &inner.clock)
            .field("shards", &inner.shards.len())
            .field("shut_down", &inner.shut_down.load(Ordering::Relaxed))
            .finish()
    }
}
