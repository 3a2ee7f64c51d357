//! [`Sleep`]: a future that completes at a deadline.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::clock::saturating_add;
use crate::driver::{Handle, Registered};
use crate::queue::Key;

/// Waits until `duration` has elapsed, on the global driver.
///
/// Equivalent to `sleep_until(now + duration)`. A zero duration completes on
/// first poll; `Duration::MAX` (or anything beyond the driver's range, 13.9
/// years at the default resolution) never completes and registers no timer. Works under any executor:
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
    Sleep::new(Handle::current(), None, duration, Location::caller())
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
    Sleep::new(
        Handle::current(),
        Some(deadline),
        Duration::ZERO,
        Location::caller(),
    )
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
    handle: Handle,
    deadline: Instant,
    state: State,
    site: &'static Location<'static>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Not registered (not polled yet, reset after firing, or too far away).
    Idle,
    Registered {
        shard: u32,
        key: Key,
    },
    Done,
}

impl Sleep {
    /// `deadline`, or `now + duration` when `deadline` is `None`.
    pub(crate) fn new(
        handle: Handle,
        deadline: Option<Instant>,
        duration: Duration,
        site: &'static Location<'static>,
    ) -> Sleep {
        let (deadline, state) = match deadline {
            Some(deadline) => (deadline, State::Idle),
            None => {
                let now = handle.now();
                let state = if duration.is_zero() {
                    State::Done
                } else {
                    State::Idle
                };
                (saturating_add(now, duration), state)
            }
        };
        Sleep {
            handle,
            deadline,
            state,
            site,
        }
    }

    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// `true` once the deadline has passed (or the sleep completed).
    pub fn is_elapsed(&self) -> bool {
        self.state == State::Done || self.handle.now() >= self.deadline
    }

    /// Moves the deadline, keeping the timer registered (and its waker) when
    /// it is still pending. A completed sleep becomes pending again.
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
        self.deadline = deadline;
        self.state = match self.state {
            State::Registered { shard, key } if self.handle.inner().reset(shard, key, deadline) => {
                self.state
            }
            _ => State::Idle,
        };
    }

    /// Polls as the [`Future`] does; usable without pinning.
    pub fn poll_sleep(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let inner = self.handle.inner();
        match self.state {
            State::Done => Poll::Ready(()),
            State::Idle => match inner.register(self.deadline, cx.waker(), self.site) {
                Registered::Pending { shard, key } => {
                    self.state = State::Registered { shard, key };
                    Poll::Pending
                }
                Registered::Due => {
                    self.state = State::Done;
                    Poll::Ready(())
                }
                Registered::Never => Poll::Pending,
            },
            State::Registered { shard, key } => {
                if inner.refresh(shard, key, cx.waker()) {
                    Poll::Pending
                } else {
                    self.state = State::Done;
                    Poll::Ready(())
                }
            }
        }
    }

    /// The driver's clock reading (one clock read).
    pub(crate) fn handle_now(&self) -> Instant {
        self.handle.now()
    }

    /// The line of code that created this sleep.
    pub fn call_site(&self) -> &'static Location<'static> {
        self.site
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().poll_sleep(cx)
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let State::Registered { shard, key } = self.state {
            self.handle.inner().cancel(shard, key);
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("state", &self.state)
            .field("site", &format_args!("{}", self.site))
            .finish()
    }
}
