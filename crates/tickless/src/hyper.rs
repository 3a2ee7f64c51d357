//! hyper's timers on tickless (feature `hyper`): [`TicklessTimer`] implements
//! [`hyper::rt::Timer`], so a server's header-read timeout and a client's
//! pool idle timeout run on a tickless driver instead of tokio's.
//!
//! It is an adaptor over [`Sleep`]: each `sleep`/`sleep_until` boxes one
//! [`Sleep`] (hyper's trait returns `Pin<Box<dyn Sleep>>`, so one allocation
//! per timer is hyper's cost, not ours), and `reset` moves that same `Sleep`
//! with [`Sleep::reset`] — no new box, no new registration when the deadline
//! moves later. The timers' call site, as the debug page shows it, is this
//! file: every timer hyper creates is attributed to one line here.
//!
//! What it cannot do: hyper reads the time through [`Timer::now`], which this
//! timer answers from its driver's clock, so a driver on a
//! [`ManualClock`](crate::clock::ManualClock) moves hyper's deadlines too —
//! but hyper's own I/O still runs in real time.

use std::pin::Pin;
use std::time::{Duration, Instant};

use ::hyper::rt::{self, Timer};

use crate::driver::Handle;
use crate::sleep::Sleep;

/// A [`hyper::rt::Timer`] whose sleeps are tickless [`Sleep`]s.
///
/// [`TicklessTimer::new`] uses the global driver; [`TicklessTimer::with_handle`]
/// an explicit one (a [`Driver`](crate::Driver) on a
/// [`ManualClock`](crate::clock::ManualClock) in tests). Cloning is cheap.
///
/// # Examples
///
/// A server whose header-read timeout runs on tickless:
///
/// ```
/// use std::time::Duration;
/// use hyper::server::conn::http1;
/// use tickless::hyper::TicklessTimer;
///
/// let mut server = http1::Builder::new();
/// server
///     .timer(TicklessTimer::new())
///     .header_read_timeout(Duration::from_secs(10));
/// // `server.serve_connection(io, service)` for each accepted connection.
/// ```
///
/// The trait's methods, used directly:
///
/// ```
/// use std::time::{Duration, Instant};
/// use hyper::rt::Timer;
/// use tickless::hyper::TicklessTimer;
///
/// let timer = TicklessTimer::new();
/// let start = Instant::now();
/// let mut sleep = timer.sleep(Duration::from_secs(3600));
/// timer.reset(&mut sleep, start + Duration::from_millis(2)); // same box, moved
/// futures::executor::block_on(sleep);
/// assert!(start.elapsed() >= Duration::from_millis(2)); // never early
/// ```
///
/// Edge cases are [`Sleep`]'s: a zero duration or a deadline in the past
/// completes at once; `Duration::MAX` (or anything beyond the driver's
/// range) never completes. Nothing here panics.
#[derive(Clone, Debug)]
pub struct TicklessTimer {
    handle: Handle,
}

impl TicklessTimer {
    /// A timer on the global driver.
    pub fn new() -> TicklessTimer {
        TicklessTimer::with_handle(Handle::current())
    }

    /// A timer on the driver of `handle`.
    pub fn with_handle(handle: Handle) -> TicklessTimer {
        TicklessTimer { handle }
    }

    /// The driver this timer's sleeps run on.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Default for TicklessTimer {
    fn default() -> TicklessTimer {
        TicklessTimer::new()
    }
}

impl From<Handle> for TicklessTimer {
    fn from(handle: Handle) -> TicklessTimer {
        TicklessTimer::with_handle(handle)
    }
}

impl Timer for TicklessTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn rt::Sleep>> {
        Box::pin(self.handle.sleep(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn rt::Sleep>> {
        Box::pin(self.handle.sleep_until(deadline))
    }

    /// The driver's clock: hyper computes its deadlines from it.
    fn now(&self) -> Instant {
        self.handle.now()
    }

    /// Moves a sleep this timer made in place ([`Sleep::reset`]: nearly free
    /// when the deadline moves later); any other kind of sleep is replaced by
    /// a new one. A tickless sleep stays on the driver it was created on.
    fn reset(&self, sleep: &mut Pin<Box<dyn rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<Sleep>() {
            // `Sleep` is `Unpin`: a `Pin<&mut Sleep>` derefs mutably.
            Some(mut ours) => ours.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// hyper's sleeps must be `Send + Sync` futures; tickless's are.
impl rt::Sleep for Sleep {}
