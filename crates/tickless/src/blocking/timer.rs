//! [`Timer`]: Go's one-shot `time.Timer`, and the capacity-1 channel
//! action (`SendOnce`) that [`Ticker`](super::Ticker) reuses.

use std::fmt;
use std::panic::Location;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::alarm::{Action, Alarm};
use crate::driver::Handle;

/// One value into a capacity-1 channel; `drain` takes back an unreceived one.
///
/// The channel is created on first use (by `receiver()` or by the fire):
/// a crossbeam channel costs ~200 ns to create and drop here, and a timer
/// that is stopped before anyone asks for its receiver never needs one.
pub(super) struct SendOnce {
    channel: OnceLock<(Sender<Instant>, Receiver<Instant>)>,
}

impl SendOnce {
    pub(super) fn new() -> Self {
        SendOnce {
            channel: OnceLock::new(),
        }
    }

    fn channel(&self) -> &(Sender<Instant>, Receiver<Instant>) {
        self.channel.get_or_init(|| crossbeam_channel::bounded(1))
    }

    pub(super) fn receiver(&self) -> &Receiver<Instant> {
        &self.channel().1
    }
}

impl Action for SendOnce {
    /// Sends the time the fire was due (as Go does: a late fire still
    /// reports its scheduled time, so ticks stay on their grid).
    fn fire(&self, deadline: Instant, _now: Instant) -> Option<Instant> {
        let _ = self.channel().0.try_send(deadline); // full only if unreceived: keep the first
        None
    }

    fn drain(&self) -> bool {
        self.channel
            .get()
            .is_some_and(|(_, rx)| rx.try_recv().is_ok())
    }
}

/// A one-shot timer: its [`receiver`](Timer::receiver) yields its deadline once, when it fires.
///
/// Go's `time.Timer` with Go 1.23 semantics. Dropping it stops it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tickless::blocking::Timer;
///
/// let timer = Timer::new(Duration::from_millis(5));
/// timer.receiver().recv().unwrap(); // fires once
///
/// let timer = Timer::new(Duration::from_secs(3600));
/// assert!(timer.stop()); // prevented the fire
/// assert!(timer.receiver().try_recv().is_err());
/// ```
#[must_use = "dropping a Timer stops it at once"]
pub struct Timer {
    alarm: Arc<Alarm<SendOnce>>,
}

impl Timer {
    /// Fires `duration` from now, on the global driver. Zero fires at once;
    /// `Duration::MAX` never (and registers nothing) — though, as in Go, the
    /// timer is pending until stopped (`stop` returns `true`).
    #[track_caller]
    pub fn new(duration: Duration) -> Timer {
        Handle::current().timer(duration)
    }

    /// Fires at `deadline`, on the global driver.
    #[track_caller]
    pub fn at(deadline: Instant) -> Timer {
        Handle::current().timer_at(deadline)
    }

    fn idle(handle: Handle, site: &'static Location<'static>) -> Timer {
        Timer {
            alarm: Alarm::new(handle, site, SendOnce::new()),
        }
    }

    /// A timer that has already fired at `now` (zero duration): no registration.
    fn fired(handle: Handle, now: Instant, site: &'static Location<'static>) -> Timer {
        let alarm = Alarm::new(handle, site, SendOnce::new());
        alarm.action.fire(now, now);
        Timer { alarm }
    }

    /// The channel the fire time arrives on; clone it into a `select!`.
    pub fn receiver(&self) -> &Receiver<Instant> {
        self.alarm.action.receiver()
    }

    /// Stops the timer. Returns `true` if that prevented a fire: the timer was
    /// pending, or it had fired but its value was not received yet (the value
    /// is then taken back). After `stop` returns, nothing from this timer can
    /// be received until it is [`reset`](Timer::reset).
    pub fn stop(&self) -> bool {
        self.alarm.stop()
    }

    /// Re-arms the timer for `duration` from now, whatever its state (a fired
    /// timer fires again). Returns what [`stop`](Timer::stop) would have. No
    /// value from the old deadline can be received afterwards.
    ///
    /// Moving a pending timer *later* — an idle timeout pushed out on every
    /// read — does no driver work: the new deadline is stored and the old
    /// registration, when it comes due, re-registers for it instead of
    /// firing (`tickless bench --only blocking` measures the reset).
    pub fn reset(&self, duration: Duration) -> bool {
        self.alarm.reset_after(duration)
    }

    /// [`reset`](Timer::reset) to an instant.
    pub fn reset_at(&self, deadline: Instant) -> bool {
        self.alarm.reset(deadline)
    }

    /// `true` while the timer is armed and has not fired.
    pub fn is_pending(&self) -> bool {
        self.alarm.is_pending()
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.alarm.stop(); // frees the registration, and with it the alarm
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("pending", &self.is_pending())
            .finish()
    }
}

impl Handle {
    /// A [`Timer`] on this driver, firing `duration` from now.
    #[track_caller]
    pub fn timer(&self, duration: Duration) -> Timer {
        if duration.is_zero() {
            return Timer::fired(self.clone(), self.now(), Location::caller());
        }
        let timer = Timer::idle(self.clone(), Location::caller());
        timer.alarm.reset_after(duration);
        timer
    }

    /// A [`Timer`] on this driver, firing at `deadline`.
    #[track_caller]
    pub fn timer_at(&self, deadline: Instant) -> Timer {
        let timer = Timer::idle(self.clone(), Location::caller());
        timer.alarm.reset(deadline);
        timer
    }
}
