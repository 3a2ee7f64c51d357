//! [`Sleep`]: a future that completes at a deadline.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::driver::{Handle, TimerEntry};

/// Waits until `duration` has elapsed, on the global driver.
///
/// Equivalent to `sleep_until(now + duration)`. A zero duration completes on
/// first poll; `Duration::MAX` (or any deadline ≈292 years or more after
/// the driver started) never completes and registers no timer. Works under any executor:
/// the future needs only the [`Waker`](std::task::Waker) it is polled with.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// futures::executor::block_on(tickless::sleep(Duration::from_millis(10)));
/// assert!(start.elapsed() >= Duration::from_millis(10)); // never early
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    Handle::current().sleep(duration)
}

/// Waits until `deadline`, on the global driver.
///
/// A deadline in the past completes on the timer thread's next turn (at
/// once, in practice).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let deadline = Instant::now() + Duration::from_millis(5);
/// futures::executor::block_on(tickless::sleep_until(deadline));
/// assert!(Instant::now() >= deadline);
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Handle::current().sleep_until(deadline)
}

impl Handle {
    /// A [`Sleep`] on this driver that completes `duration` from now; see [`sleep`].
    #[track_caller]
    pub fn sleep(&self, duration: Duration) -> Sleep {
        Sleep::after(self.clone(), duration, Location::caller())
    }

    /// A [`Sleep`] on this driver that completes at `deadline`; see [`sleep_until`].
    #[track_caller]
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep::until(self.clone(), deadline, Location::caller())
    }
}

/// A future that completes at its deadline; created by [`sleep`] and [`sleep_until`].
///
/// The timer is registered on first poll and cancelled — its memory freed at
/// once — when the `Sleep` is dropped, on whatever thread that happens.
/// `Sleep` is `Unpin`, so it can be polled without pinning it to the heap.
///
/// **Guarantee:** it never completes before its deadline, and completes at
/// most one driver resolution (default 100 µs) plus the driver's slack after it,
/// plus scheduling latency. The one exception: when an explicitly built
/// [`Driver`](crate::Driver) is dropped, its pending sleeps complete at once.
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    entry: TimerEntry,
}

impl Sleep {
    /// Completes at `deadline`.
    pub(crate) fn until(
        handle: Handle,
        deadline: Instant,
        site: &'static Location<'static>,
    ) -> Sleep {
        Sleep {
            entry: TimerEntry::new(handle, deadline, site),
        }
    }

    /// Completes `duration` from now (one clock read); a zero duration is
    /// complete at once and never registers.
    pub(crate) fn after(
        handle: Handle,
        duration: Duration,
        site: &'static Location<'static>,
    ) -> Sleep {
        Sleep {
            entry: TimerEntry::after(handle, duration, site),
        }
    }

    /// The instant this sleep completes at. A deadline ≈292 years or more
    /// after the driver started (which never comes) reads back as that limit.
    pub fn deadline(&self) -> Instant {
        self.entry.deadline()
    }

    /// `true` once the deadline has passed (or the sleep completed).
    pub fn is_elapsed(&self) -> bool {
        self.entry.is_elapsed()
    }

    /// Moves the deadline, keeping the timer registered (and its waker) when
    /// it is still pending. A completed sleep becomes pending again.
    ///
    /// Moving a pending sleep **later** is nearly free — no lock, no queue
    /// operation: the new deadline is recorded here, and when the old one
    /// comes the task is woken once, sees the deadline moved, and registers
    /// for the new one (a spurious wake-up, which futures tolerate). This is
    /// the idle-timeout pattern — every read pushes the deadline out — at
    /// one registration per idle period instead of one per read. Moving it
    /// **earlier** re-files the registration at once.
    ///
    /// `Sleep` is `Unpin`, so this is callable on a `Pin<&mut Sleep>` too.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let mut sleep = tickless::sleep(Duration::from_secs(3600));
    /// sleep.reset(Instant::now() + Duration::from_millis(1));
    /// futures::executor::block_on(&mut sleep);
    /// assert!(sleep.is_elapsed());
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.entry.reset(deadline);
    }

    /// [`reset`](Sleep::reset) to `duration` from now — the idle-timeout
    /// call (`idle.reset_after(IDLE)` on every read). Like [`sleep`], a
    /// duration of at least the driver's
    /// [`coarse_clock_min`](crate::Builder::coarse_clock_min) (1 s by
    /// default) reads the cheap coarse clock: never early.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut idle = tickless::sleep(Duration::from_secs(60));
    /// let before = idle.deadline();
    /// idle.reset_after(Duration::from_secs(90)); // a read arrived
    /// assert!(idle.deadline() > before);
    /// ```
    pub fn reset_after(&mut self, duration: Duration) {
        self.entry.reset_after(duration);
    }

    /// Polls as the [`Future`] does; usable without pinning.
    pub fn poll_sleep(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.entry.poll_elapsed(cx)
    }

    /// The driver this sleep runs on.
    pub(crate) fn handle(&self) -> &Handle {
        self.entry.handle()
    }

    /// The line of code that created this sleep.
    pub fn call_site(&self) -> &'static Location<'static> {
        self.entry.site()
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().poll_sleep(cx)
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline())
            .field("state", &self.entry.state_name())
            .field("site", &format_args!("{}", self.call_site()))
            .finish()
    }
}
