//! [`after_func`] and [`TimerHandle`]: Go's `time.AfterFunc`, with a handle
//! whose drop cancels. Callbacks run on the driver's callback executor.

use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::alarm::{Action, Alarm};
use crate::driver::{Handle, Job};
use crate::sync::lock_std as lock;

type Callback = Job;

/// Hands the callback to the driver's callback executor when it fires.
struct RunOnce {
    callback: Mutex<Option<Callback>>,
    handle: Handle,
}

impl RunOnce {
    fn new(handle: &Handle, callback: Callback) -> Self {
        RunOnce {
            callback: Mutex::new(Some(callback)),
            handle: handle.clone(),
        }
    }
}

impl Action for RunOnce {
    fn fire(&self, _deadline: Instant, _now: Instant) -> Option<Instant> {
        if let Some(callback) = lock(&self.callback).take() {
            self.handle.run_callback(callback);
        }
        None
    }
}

/// Runs `callback` on a callback thread once `duration` has passed.
///
/// Go's `time.AfterFunc`. The callback never runs on the timer thread, so a
/// slow one cannot delay other timers. Callbacks run on a per-driver pool
/// that starts a thread whenever every worker is busy, up to **256 threads**
/// per driver: up to 256 slow callbacks never delay another, and past that
/// cap a callback waits for the first worker to finish (Go, with no cap,
/// starts a goroutine each; [`Handle::callback_threads`] and
/// [`Handle::callbacks_waiting`] show where a driver stands). Idle workers
/// exit after 5 s. Dropping an explicit [`Driver`](crate::Driver) runs its
/// pending callbacks at once (as it completes every pending timer) and its
/// callback threads exit as soon as they have run them; the drop does not
/// wait for them (a slow callback would hold it up).
/// A panic in a callback is caught and counted
/// ([`Handle::callback_panics`]) and harms nothing else. Dropping the returned
/// [`TimerHandle`] cancels it (leak-free by default); call
/// [`detach`](TimerHandle::detach) to let it run with no handle.
///
/// ```
/// use std::time::Duration;
///
/// let (tx, rx) = crossbeam_channel::bounded(1);
/// let handle = tickless::blocking::after_func(Duration::from_millis(2), move || tx.send("ran").unwrap());
/// assert_eq!(rx.recv(), Ok("ran"));
/// assert!(!handle.stop(), "already ran");
/// ```
#[track_caller]
pub fn after_func<F: FnOnce() + Send + 'static>(duration: Duration, callback: F) -> TimerHandle {
    Handle::current().after_func(duration, callback)
}

/// Owns an [`after_func`] timer; dropping it cancels the callback.
#[must_use = "dropping a TimerHandle cancels its callback; call .detach() to let it run"]
pub struct TimerHandle {
    alarm: Arc<Alarm<RunOnce>>,
    detached: bool,
}

impl TimerHandle {
    fn armed(
        handle: Handle,
        duration: Duration,
        callback: Callback,
        site: &'static Location<'static>,
    ) -> TimerHandle {
        let alarm = Alarm::new(handle.clone(), site, RunOnce::new(&handle, callback));
        alarm.reset_after(duration);
        TimerHandle {
            alarm,
            detached: false,
        }
    }

    /// A zero-duration callback: submitted at once, no registration.
    fn run_now(
        handle: Handle,
        callback: Callback,
        site: &'static Location<'static>,
    ) -> TimerHandle {
        let action = RunOnce::new(&handle, callback);
        let now = handle.now();
        action.fire(now, now);
        TimerHandle {
            alarm: Alarm::new(handle, site, action),
            detached: false,
        }
    }

    /// Cancels the callback. `true` if that prevented it from running;
    /// `false` if it had already started (or been stopped).
    pub fn stop(&self) -> bool {
        self.alarm.stop()
    }

    /// Moves the callback to `duration` from now, if it has not run yet.
    /// Returns `true` if it was pending. The callback is `FnOnce`: once it has
    /// run, `reset` returns `false` and schedules nothing.
    pub fn reset(&self, duration: Duration) -> bool {
        if lock(&self.alarm.action.callback).is_none() {
            return false;
        }
        self.alarm.reset_after(duration)
    }

    /// Lets the callback run at its deadline with no handle. The timer stays
    /// registered (and visible to the driver's accounting) until it runs.
    pub fn detach(mut self) {
        self.alarm.detach();
        self.detached = true;
    }

    /// `true` while the callback is scheduled and has not started.
    pub fn is_pending(&self) -> bool {
        self.alarm.is_pending()
    }
}

impl Drop for TimerHandle {
    fn drop(&mut self) {
        if !self.detached {
            self.alarm.stop();
        }
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHandle")
            .field("pending", &self.is_pending())
            .finish()
    }
}

impl Handle {
    /// [`after_func`] on this driver.
    #[track_caller]
    pub fn after_func<F: FnOnce() + Send + 'static>(
        &self,
        duration: Duration,
        callback: F,
    ) -> TimerHandle {
        let site = Location::caller();
        if duration.is_zero() {
            return TimerHandle::run_now(self.clone(), Box::new(callback), site);
        }
        TimerHandle::armed(self.clone(), duration, Box::new(callback), site)
    }
}
