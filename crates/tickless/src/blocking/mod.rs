//! Go-style timers for threads and `select!`: [`Timer`], [`Ticker`],
//! [`after`], [`at`], [`tick`], [`after_func`].
//!
//! Receivers are [`crossbeam_channel::Receiver<Instant>`], so they work in
//! `crossbeam_channel::select!` the way Go's timers work in `select`. Go's
//! documented semantics, in their Go 1.23 form, are the specification, with
//! Rust ownership on top:
//!
//! - After [`Timer::stop`] or [`Timer::reset`] returns, no value from the old
//!   deadline can ever be received — no drain dance.
//! - Dropping a [`Timer`], [`Ticker`] or [`TimerHandle`] stops it and frees it
//!   at once. Nothing waits in a heap for its deadline after its owner is gone.
//!
//! # Which one
//!
//! | you want | use | registers a driver timer? |
//! |---|---|---|
//! | a timeout branch in a `select!` loop | [`after`] / [`at`] | **no**: a deadline checked by the receive itself |
//! | a periodic branch | [`tick`] | no |
//! | a timeout you stop or reset | [`Timer`] | yes, until fired, stopped or dropped |
//! | a periodic timer you stop or reset | [`Ticker`] | yes |
//! | a callback | [`after_func`] | yes; it runs on a callback thread |
//!
//! `after`, `at` and `tick` are crossbeam-channel's own `at`/`tick` flavours:
//! the deadline is materialised when the channel is received from or
//! selected on, so they cost one small allocation, no registration, no thread
//! and no wakeup — and cannot leak, because there is nothing to leak. They
//! measured cheaper than a driver timer for the select-loop case (see the
//! README), so tickless uses them rather than re-implementing them. They have
//! no call site to account (nothing is live); they follow the real clock,
//! not a driver's [`ManualClock`](crate::clock::ManualClock).
//!
//! # Bad input
//!
//! A zero or past deadline fires immediately. `Duration::MAX` (anything past
//! the driver's range) means never: no timer is registered and nothing
//! overflows. A zero [`Ticker`] period is an error ([`TimerError::ZeroPeriod`]).
//!
//! # Examples
//!
//! The seed's loop — a busy channel or a one-hour timeout — with memory flat
//! however many times it turns:
//!
//! ```
//! use std::time::Duration;
//! use crossbeam_channel::{select, unbounded};
//!
//! let (tx, work) = unbounded();
//! for i in 0..1000 {
//!     tx.send(i).unwrap();
//!     select! {
//!         recv(work) -> msg => assert_eq!(msg, Ok(i)),
//!         recv(tickless::blocking::after(Duration::from_secs(3600))) -> _ => unreachable!(),
//!     }
//! }
//! ```

mod alarm;
mod executor;

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::clock::saturating_add;
use crate::driver::Handle;
use crate::sync::lock_std as lock;
use alarm::{Action, Alarm};
pub(crate) use executor::Executor;

/// A receiver that yields one `Instant` once `duration` has passed.
///
/// crossbeam-channel's `after`: no timer is registered; the receive (or
/// `select!`) itself waits until the deadline. Dropping it costs nothing.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let fired = tickless::blocking::after(Duration::from_millis(5)).recv().unwrap();
/// assert!(fired >= start + Duration::from_millis(5));
/// ```
pub fn after(duration: Duration) -> Receiver<Instant> {
    if duration >= NEVER {
        return crossbeam_channel::never();
    }
    crossbeam_channel::after(duration)
}

/// A receiver that yields one `Instant` at `deadline` (at once if it is past).
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let deadline = Instant::now() + Duration::from_millis(2);
/// assert!(tickless::blocking::at(deadline).recv().unwrap() >= deadline);
/// ```
pub fn at(deadline: Instant) -> Receiver<Instant> {
    crossbeam_channel::at(deadline)
}

/// A receiver that yields an `Instant` every `period`, the first one period
/// from now; a slow receiver gets the next tick, not a backlog.
///
/// Leak-free, unlike Go's `time.Tick` before 1.23: there is no registration,
/// and dropping the receiver is all it takes to end it. A zero period ticks
/// on every receive (crossbeam's semantics); `Duration::MAX` never ticks.
///
/// ```
/// use std::time::Duration;
///
/// let ticks = tickless::blocking::tick(Duration::from_millis(2));
/// let a = ticks.recv().unwrap();
/// let b = ticks.recv().unwrap();
/// assert!(b - a >= Duration::from_millis(2));
/// ```
pub fn tick(period: Duration) -> Receiver<Instant> {
    if period >= NEVER {
        return crossbeam_channel::never();
    }
    crossbeam_channel::tick(period)
}

/// Durations this long mean "never" for the receiver-only functions (crossbeam
/// would overflow `Instant` on `Duration::MAX`).
const NEVER: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Bad input for a timer that cannot be honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimerError {
    /// A [`Ticker`] period of zero would tick in a busy loop.
    ZeroPeriod,
}

impl fmt::Display for TimerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerError::ZeroPeriod => f.write_str("a ticker period must be greater than zero"),
        }
    }
}

impl std::error::Error for TimerError {}

/// One value into a capacity-1 channel; `drain` takes back an unreceived one.
///
/// The channel is created on first use (by `receiver()` or by the fire):
/// a crossbeam channel costs ~200 ns to create and drop here, and a timer
/// that is stopped before anyone asks for its receiver never needs one.
struct SendOnce {
    channel: OnceLock<(Sender<Instant>, Receiver<Instant>)>,
}

impl SendOnce {
    fn new() -> Self {
        SendOnce {
            channel: OnceLock::new(),
        }
    }

    fn channel(&self) -> &(Sender<Instant>, Receiver<Instant>) {
        self.channel.get_or_init(|| crossbeam_channel::bounded(1))
    }

    fn receiver(&self) -> &Receiver<Instant> {
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
pub struct Timer {
    alarm: Arc<Alarm<SendOnce>>,
}

impl Timer {
    /// Fires `duration` from now, on the global driver. Zero fires at once;
    /// `Duration::MAX` never (and registers nothing).
    #[track_caller]
    pub fn new(duration: Duration) -> Timer {
        Handle::current().timer(duration)
    }

    /// Fires at `deadline`, on the global driver.
    #[track_caller]
    pub fn at(deadline: Instant) -> Timer {
        Handle::current().timer_at(deadline)
    }

    pub(crate) fn armed(
        handle: Handle,
        deadline: Instant,
        site: &'static Location<'static>,
    ) -> Timer {
        let alarm = Alarm::new(handle, site, SendOnce::new());
        alarm.reset(deadline);
        Timer { alarm }
    }

    /// A timer that has already fired at `now` (zero duration): no registration.
    pub(crate) fn fired(handle: Handle, now: Instant, site: &'static Location<'static>) -> Timer {
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
    pub fn reset(&self, duration: Duration) -> bool {
        let deadline = saturating_add(self.alarm.handle().now(), duration);
        self.alarm.reset(deadline)
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

/// Sends the tick time into a capacity-1 channel and re-arms one period on.
struct Periodic {
    once: SendOnce,
    period_nanos: AtomicU64,
}

impl Periodic {
    fn period(&self) -> Duration {
        // Relaxed: written by `reset` under the alarm lock, read under it too.
        Duration::from_nanos(self.period_nanos.load(Ordering::Relaxed))
    }
}

impl Action for Periodic {
    fn fire(&self, deadline: Instant, now: Instant) -> Option<Instant> {
        self.once.fire(deadline, now); // a full channel drops the tick
        let period = self.period();
        let next = saturating_add(deadline, period);
        if next > now {
            return Some(next);
        }
        // Late by more than a period: skip to the next tick on the grid.
        let behind = now.saturating_duration_since(deadline).as_nanos();
        let into = u64::try_from(behind % period.as_nanos().max(1)).unwrap_or(0);
        Some(saturating_add(
            now,
            period.saturating_sub(Duration::from_nanos(into)),
        ))
    }

    fn drain(&self) -> bool {
        self.once.drain()
    }
}

/// A periodic timer: its [`receiver`](Ticker::receiver) yields each tick's
/// scheduled time, every period.
///
/// Go's `time.Ticker`: the channel holds one tick, so a slow receiver misses
/// ticks rather than queueing them, and the schedule stays on its grid.
/// Dropping the ticker stops it.
///
/// ```
/// use std::time::Duration;
/// use tickless::blocking::Ticker;
///
/// let ticker = Ticker::new(Duration::from_millis(2))?;
/// let a = ticker.receiver().recv().unwrap();
/// let b = ticker.receiver().recv().unwrap();
/// assert!(b > a);
/// ticker.stop();
/// # Ok::<(), tickless::blocking::TimerError>(())
/// ```
pub struct Ticker {
    alarm: Arc<Alarm<Periodic>>,
}

impl Ticker {
    /// Ticks every `period`, the first one period from now, on the global
    /// driver. A zero period is [`TimerError::ZeroPeriod`].
    #[track_caller]
    pub fn new(period: Duration) -> Result<Ticker, TimerError> {
        Handle::current().ticker(period)
    }

    pub(crate) fn armed(
        handle: Handle,
        period: Duration,
        site: &'static Location<'static>,
    ) -> Result<Ticker, TimerError> {
        if period.is_zero() {
            return Err(TimerError::ZeroPeriod);
        }
        let action = Periodic {
            once: SendOnce::new(),
            period_nanos: AtomicU64::new(nanos(period)),
        };
        let first = saturating_add(handle.now(), period);
        let alarm = Alarm::new(handle, site, action);
        alarm.reset(first);
        Ok(Ticker { alarm })
    }

    /// The channel ticks arrive on.
    pub fn receiver(&self) -> &Receiver<Instant> {
        self.alarm.action.once.receiver()
    }

    /// Stops ticking; an unreceived tick is taken back.
    pub fn stop(&self) {
        self.alarm.stop();
    }

    /// Restarts with a new period, the next tick one period from now. An
    /// unreceived tick is taken back. A zero period is an error and leaves the
    /// ticker unchanged.
    pub fn reset(&self, period: Duration) -> Result<(), TimerError> {
        if period.is_zero() {
            return Err(TimerError::ZeroPeriod);
        }
        self.alarm
            .action
            .period_nanos
            .store(nanos(period), Ordering::Relaxed);
        self.alarm
            .reset(saturating_add(self.alarm.handle().now(), period));
        Ok(())
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.alarm.stop();
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticker")
            .field("period", &self.alarm.action.period())
            .finish()
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

type Callback = Box<dyn FnOnce() + Send + 'static>;

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
            self.handle.inner().callbacks().submit(callback);
        }
        None
    }
}

/// Runs `callback` on a callback thread once `duration` has passed.
///
/// Go's `time.AfterFunc`. The callback never runs on the timer thread, so a
/// slow one cannot delay other timers, nor waits behind another slow
/// callback. A panic in it is caught and counted
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
    pub(crate) fn armed(
        handle: Handle,
        deadline: Instant,
        callback: Callback,
        site: &'static Location<'static>,
    ) -> TimerHandle {
        let alarm = Alarm::new(handle.clone(), site, RunOnce::new(&handle, callback));
        alarm.reset(deadline);
        TimerHandle {
            alarm,
            detached: false,
        }
    }

    /// A zero-duration callback: submitted at once, no registration.
    pub(crate) fn run_now(
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
        let deadline = saturating_add(self.alarm.handle().now(), duration);
        self.alarm.reset(deadline)
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
