//! [`Timeout`]: a future raced against a deadline.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::driver::Handle;
use crate::Sleep;

/// The error of a [`Timeout`] whose deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// Requires `future` to complete within `duration`, on the global driver.
///
/// The future is polled first, on every poll: if it completes on its first
/// poll no timer is ever registered. Otherwise one timer is registered, and
/// it is cancelled (and freed) as soon as the future completes or the
/// `Timeout` is dropped — the common case for a timeout, and the cheap one.
/// A zero duration still polls the future once; `Duration::MAX` never
/// elapses and registers nothing.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// futures::executor::block_on(async {
///     let fast = tickless::timeout(Duration::from_secs(1), async { 42 }).await;
///     assert_eq!(fast, Ok(42));
///
///     let slow = tickless::timeout(Duration::from_millis(5), std::future::pending::<()>()).await;
///     assert!(slow.is_err());
/// });
/// ```
#[track_caller]
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Handle::current().timeout(duration, future)
}

/// Requires `future` to complete before `deadline`, on the global driver.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let deadline = Instant::now() + Duration::from_millis(5);
/// let r = futures::executor::block_on(tickless::timeout_at(deadline, std::future::pending::<()>()));
/// assert_eq!(r, Err(tickless::Elapsed::new()));
/// ```
#[track_caller]
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Handle::current().timeout_at(deadline, future)
}

impl Handle {
    /// [`timeout`] on this driver.
    #[track_caller]
    pub fn timeout<F: Future>(&self, duration: Duration, future: F) -> Timeout<F> {
        Timeout {
            future,
            sleep: Sleep::after(self.clone(), duration, Location::caller()),
        }
    }

    /// [`timeout_at`] on this driver.
    #[track_caller]
    pub fn timeout_at<F: Future>(&self, deadline: Instant, future: F) -> Timeout<F> {
        Timeout {
            future,
            sleep: Sleep::until(self.clone(), deadline, Location::caller()),
        }
    }
}

/// [`timeout`] and [`timeout_at`] as methods on any future, on the global
/// driver — the shape of tokio-util's and smol-timeout's extension traits.
///
/// ```
/// use std::time::Duration;
/// use tickless::FutureExt;
///
/// futures::executor::block_on(async {
///     assert_eq!(async { 7 }.timeout(Duration::from_secs(1)).await, Ok(7));
///     let never = std::future::pending::<()>().timeout(Duration::from_millis(2)).await;
///     assert!(never.is_err());
/// });
/// ```
pub trait FutureExt: Future + Sized {
    /// Requires this future to complete within `duration`; see [`timeout`].
    #[track_caller]
    fn timeout(self, duration: Duration) -> Timeout<Self> {
        Handle::current().timeout(duration, self)
    }

    /// Requires this future to complete before `deadline`; see [`timeout_at`].
    #[track_caller]
    fn timeout_at(self, deadline: Instant) -> Timeout<Self> {
        Handle::current().timeout_at(deadline, self)
    }
}

impl<F: Future> FutureExt for F {}

impl Elapsed {
    /// The error value (for tests and adapters).
    pub fn new() -> Elapsed {
        Elapsed(())
    }
}

impl Default for Elapsed {
    fn default() -> Self {
        Elapsed::new()
    }
}

pin_project_lite::pin_project! {
    /// A future with a deadline; created by [`timeout`] and [`timeout_at`].
    ///
    /// Resolves to `Ok(output)` if the inner future completes first, or
    /// `Err(Elapsed)` once the deadline has passed.
    #[must_use = "futures do nothing unless polled"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The deadline (as [`Sleep::deadline`](crate::Sleep::deadline) reads
    /// it: one ≈292 years or more away reads back as that limit).
    pub fn deadline(&self) -> Instant {
        self.sleep.deadline()
    }

    /// The inner future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The inner future, mutably.
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.future
    }

    /// The inner future; its timer is cancelled.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        this.sleep.poll_sleep(cx).map(|()| Err(Elapsed(())))
    }
}

impl<F: fmt::Debug> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("future", &self.future)
            .field("sleep", &self.sleep)
            .finish()
    }
}
