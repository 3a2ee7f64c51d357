//! The driver: sharded timing wheels and one timer thread that sleeps until
//! the earliest deadline.
//!
//! # Shape
//!
//! A driver owns `N` shards — each a [`Wheel`] behind its own mutex —
//! and one timer thread. A timer registers in the calling thread's shard (no
//! global lock) and remembers the shard, so it can be cancelled from any
//! thread in O(1). The timer thread scans the shards, fires what is due,
//! publishes when it next needs to look (`driver/wakeup.rs`), wakes the fired tasks
//! (outside every lock) and parks until that time. It is **tickless**: with no
//! timer pending it parks without a timeout and makes no wakeups at all.
//!
//! # Hot path: create, then cancel
//!
//! Registering takes the calling thread's shard lock (uncontended unless two
//! threads share a shard), inserts into the wheel (O(1), no allocation once
//! the slab is warm), releases the lock and reads one atomic. Only if the new
//! timer is due earlier than the timer thread's planned wake-up minus the
//! slack does it unpark the thread (one futex wake). Cancelling is the same
//! lock and an O(1) unlink. No clock is read on either path.
//!
//! # Precision
//!
//! A timer never fires before its deadline. It fires at most one resolution
//! tick plus the configured slack after it, plus the operating system's
//! scheduling latency. The timer thread sets its own kernel timer slack to
//! 1 ns (`PR_SET_TIMERSLACK`) so its `park_timeout` is not rounded up by the
//! default 50 µs.
//!
//! # Manual clocks
//!
//! A driver built on a clock moved by hand ([`ManualClock`](crate::clock::ManualClock))
//! starts no thread: due timers fire inside `advance`/`set`, on the calling
//! thread, before it returns. Tests therefore never sleep.
//!
//! # Shutdown
//!
//! Dropping a [`Driver`] stops and joins its thread, then completes every
//! timer still pending on it: their futures resolve at once (a [`Sleep`]
//! completes, a [`Timeout`](crate::Timeout) returns `Err(Elapsed)`), and
//! timers created afterwards complete on first poll. Nothing hangs and
//! nothing panics. This is the one case where a timer completes before its
//! deadline. The global driver behind [`sleep`](crate::sleep) lives for the
//! whole process.

#[cfg(all(test, tickless_loom))]
mod models;
mod shard;
pub(crate) mod stats;
mod wakeup;

use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
// (The thread slot is a std Mutex even under loom: only the shards and the
// wake-up word are modelled.)
use std::task::Waker;
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use crate::clock::{saturating_add, Clock, SystemClock, TimeListener};
use crate::queue::wheel::TickMath;
use crate::queue::{Key, Wheel};
use crate::sync::lock_std as lock;
use crate::Sleep;
use shard::{Registration, Shard};
use wakeup::{Wakeup, IDLE};

/// Why a driver could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum DriverError {
    /// The operating system refused to start the timer thread.
    SpawnThread(io::Error),
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverError::SpawnThread(e) => write!(f, "cannot start the tickless timer thread: {e}"),
        }
    }
}

impl std::error::Error for DriverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DriverError::SpawnThread(e) => Some(e),
        }
    }
}

/// Configures and starts a [`Driver`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tickless::Driver;
///
/// let driver = Driver::builder()
///     .resolution(Duration::from_micros(100))
///     .slack(Duration::from_micros(50))
///     .shards(4)
///     .thread_name("my-timers")
///     .build()?;
/// futures::executor::block_on(driver.sleep(Duration::from_millis(1)));
/// # Ok::<(), tickless::DriverError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    clock: Option<Arc<dyn Clock>>,
    resolution: Duration,
    slack: Duration,
    slack_percent: u32,
    shards: usize,
    thread_name: String,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            clock: None,
            resolution: Driver::DEFAULT_RESOLUTION,
            slack: Duration::ZERO,
            slack_percent: 0,
            shards: thread::available_parallelism().map_or(1, |n| n.get()),
            thread_name: "tickless-timer".into(),
        }
    }
}

impl Builder {
    /// The clock timers are measured against. Default: [`SystemClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// The wheel's tick: deadlines round up to it, so a timer fires up to one
    /// resolution late. Default 100 µs; zero means 1 ns.
    ///
    /// Finer means more precise but lets the timer thread wake more often
    /// (at most once per tick) when many timers fire at nearby instants; pair
    /// a fine resolution with [`slack`](Builder::slack) to coalesce them.
    pub fn resolution(mut self, resolution: Duration) -> Self {
        self.resolution = resolution;
        self
    }

    /// How much later than its deadline a timer may fire so that nearby
    /// deadlines share one wakeup. Default: none.
    pub fn slack(mut self, slack: Duration) -> Self {
        self.slack = slack;
        self
    }

    /// Slack as a percentage of how far away the earliest deadline is when the
    /// timer thread goes to sleep (like Linux's timer slack, which grows with
    /// the sleep). The larger of this and [`slack`](Builder::slack) applies.
    /// Capped at 100.
    pub fn slack_percent(mut self, percent: u32) -> Self {
        self.slack_percent = percent.min(100);
        self
    }

    /// Number of shards (each a wheel and a lock). Default: the number of
    /// CPUs. Zero means one.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards.max(1);
        self
    }

    /// Name of the timer thread. Default `tickless-timer`.
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// Starts the driver (and its timer thread, unless the clock is manual).
    pub fn build(self) -> Result<Driver, DriverError> {
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let origin = clock.now();
        let ticks = TickMath::new(self.resolution);
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let manual = clock.subscribe(weak.clone() as Weak<dyn TimeListener>);
            Inner {
                me: weak.clone(),
                shards: (0..self.shards)
                    .map(|_| Shard::new(Wheel::with_tick(origin, self.resolution)))
                    .collect(),
                never: saturating_add(origin, ticks.span()),
                clock,
                origin,
                ticks,
                slack: self.slack,
                slack_ticks: ticks.ceil(self.slack),
                slack_percent: self.slack_percent,
                manual,
                wakeup: Wakeup::new(),
                thread: Mutex::new(ThreadSlot {
                    thread: None,
                    join: None,
                }),
                thread_alive: AtomicBool::new(false),
                shut_down: AtomicBool::new(false),
                thread_name: self.thread_name,
                wake_panics: AtomicU64::new(0),
                crash: AtomicBool::new(false),
                wakeups: AtomicU64::new(0),
                callbacks: OnceLock::new(),
                history: Mutex::new(crate::observe::History::default()),
            }
        });
        if !inner.manual {
            inner.start_thread().map_err(DriverError::SpawnThread)?;
        }
        Ok(Driver {
            handle: Handle { inner: Some(inner) },
        })
    }
}

/// An explicitly built timer driver; dropping it shuts it down.
///
/// Most programs never build one: the free functions ([`sleep`](crate::sleep),
/// [`timeout`](crate::timeout), [`interval`](crate::interval)) use a global
/// driver started on first use. Build one to choose the clock (tests use
/// [`ManualClock`](crate::clock::ManualClock)), resolution, slack or shard
/// count. It dereferences to its [`Handle`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tickless::clock::ManualClock;
/// use tickless::Driver;
///
/// let clock = ManualClock::new();
/// let driver = Driver::builder().clock(clock.clone()).build().unwrap();
/// let mut sleep = std::pin::pin!(driver.sleep(Duration::from_secs(3600)));
/// let waker = futures::task::noop_waker();
/// let mut cx = std::task::Context::from_waker(&waker);
///
/// assert!(sleep.as_mut().poll(&mut cx).is_pending());
/// clock.advance(Duration::from_secs(3600)); // fires here, on this thread
/// assert!(sleep.as_mut().poll(&mut cx).is_ready());
/// # use std::future::Future;
/// ```
pub struct Driver {
    handle: Handle,
}

impl Driver {
    /// Default resolution (wheel tick): 100 µs.
    ///
    /// Measured here (1000 sequential `sleep(1ms)`): p50 lateness 1.0 ms at a
    /// 1 ms tick (each sleep starts just after a tick and rounds up a whole
    /// one — tokio, also at 1 ms, shows the same), 250 µs at 250 µs, 100 µs at
    /// 100 µs, 57 µs at 50 µs. 100 µs keeps lateness an order of magnitude
    /// below tokio's while capping timer-thread wakeups at 10k/s; the wheel's
    /// range is still 13.9 years.
    pub const DEFAULT_RESOLUTION: Duration = Duration::from_micros(100);

    /// A builder with the defaults.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A handle timers can be created from; cheap to clone.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl std::ops::Deref for Driver {
    type Target = Handle;
    fn deref(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.handle.inner().shut_down();
    }
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("handle", &self.handle)
            .finish()
    }
}

/// A reference to a driver, from which timers are created.
///
/// [`Handle::current`] is the global driver; [`Driver::handle`] an explicit
/// one. Timers keep their driver's state alive, never its thread.
#[derive(Clone)]
pub struct Handle {
    /// `None` is the global driver: no reference count to touch per timer.
    inner: Option<Arc<Inner>>,
}

impl Handle {
    /// The global driver, started on first use with the defaults.
    pub fn current() -> Handle {
        Handle { inner: None }
    }

    #[inline]
    pub(crate) fn inner(&self) -> &Inner {
        match &self.inner {
            Some(inner) => inner,
            None => global(),
        }
    }

    /// The driver's clock reading.
    pub fn now(&self) -> Instant {
        self.inner().clock.now()
    }

    /// A [`Sleep`] on this driver that completes `duration` from now.
    #[track_caller]
    pub fn sleep(&self, duration: Duration) -> Sleep {
        Sleep::new(self.clone(), None, duration, Location::caller())
    }

    /// A [`Sleep`] on this driver that completes at `deadline`.
    #[track_caller]
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep::new(
            self.clone(),
            Some(deadline),
            Duration::ZERO,
            Location::caller(),
        )
    }

    /// [`timeout`](crate::timeout) on this driver.
    #[track_caller]
    pub fn timeout<F: std::future::Future>(
        &self,
        duration: Duration,
        future: F,
    ) -> crate::Timeout<F> {
        crate::Timeout::new(future, self.sleep(duration))
    }

    /// [`timeout_at`](crate::timeout_at) on this driver.
    #[track_caller]
    pub fn timeout_at<F: std::future::Future>(
        &self,
        deadline: Instant,
        future: F,
    ) -> crate::Timeout<F> {
        crate::Timeout::new(future, self.sleep_until(deadline))
    }

    /// [`interval`](crate::interval) on this driver.
    #[track_caller]
    pub fn interval(&self, period: Duration) -> crate::Interval {
        crate::Interval::new(self.clone(), self.now(), period, Location::caller())
    }

    /// [`interval_at`](crate::interval_at) on this driver.
    #[track_caller]
    pub fn interval_at(&self, start: Instant, period: Duration) -> crate::Interval {
        crate::Interval::new(self.clone(), start, period, Location::caller())
    }

    /// A [`Timer`](crate::blocking::Timer) on this driver, firing `duration` from now.
    #[track_caller]
    pub fn timer(&self, duration: Duration) -> crate::blocking::Timer {
        let now = self.now();
        if duration.is_zero() {
            return crate::blocking::Timer::fired(self.clone(), now, Location::caller());
        }
        crate::blocking::Timer::armed(
            self.clone(),
            saturating_add(now, duration),
            Location::caller(),
        )
    }

    /// A [`Timer`](crate::blocking::Timer) on this driver, firing at `deadline`.
    #[track_caller]
    pub fn timer_at(&self, deadline: Instant) -> crate::blocking::Timer {
        crate::blocking::Timer::armed(self.clone(), deadline, Location::caller())
    }

    /// A [`Ticker`](crate::blocking::Ticker) on this driver.
    #[track_caller]
    pub fn ticker(
        &self,
        period: Duration,
    ) -> Result<crate::blocking::Ticker, crate::blocking::TimerError> {
        crate::blocking::Ticker::armed(self.clone(), period, Location::caller())
    }

    /// [`after_func`](crate::blocking::after_func) on this driver.
    #[track_caller]
    pub fn after_func<F: FnOnce() + Send + 'static>(
        &self,
        duration: Duration,
        callback: F,
    ) -> crate::blocking::TimerHandle {
        let now = self.now();
        let site = Location::caller();
        if duration.is_zero() {
            return crate::blocking::TimerHandle::run_now(self.clone(), Box::new(callback), site);
        }
        crate::blocking::TimerHandle::armed(
            self.clone(),
            saturating_add(now, duration),
            Box::new(callback),
            site,
        )
    }

    /// Number of timers pending on this driver (locks every shard).
    pub fn pending_timers(&self) -> usize {
        self.inner().shards.iter().map(Shard::len).sum()
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
    /// let mut sleeps: Vec<_> = (0..3).map(|_| driver.sleep(Duration::from_secs(60))).collect();
    /// for s in &mut sleeps {
    ///     assert!(s.poll_sleep(&mut cx).is_pending()); // registers
    /// }
    /// let sites = driver.pending_call_sites();
    /// assert_eq!(sites.len(), 1);
    /// assert_eq!((sites[0].0.line(), sites[0].1), (line, 3));
    /// drop(sleeps);
    /// assert!(driver.pending_call_sites().is_empty());
    /// ```
    pub fn pending_call_sites(&self) -> Vec<(&'static Location<'static>, usize)> {
        let mut counts: std::collections::HashMap<&'static Location<'static>, usize> =
            Default::default();
        for shard in self.inner().shards.iter() {
            shard.for_each(|_, r| *counts.entry(r.site).or_default() += 1);
        }
        let mut sites: Vec<_> = counts.into_iter().collect();
        sites.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| a.0.to_string().cmp(&b.0.to_string()))
        });
        sites
    }

    /// [`after_func`](crate::blocking::after_func) callbacks that panicked (caught and counted).
    pub fn callback_panics(&self) -> u64 {
        self.inner()
            .callbacks
            .get()
            .map_or(0, crate::blocking::Executor::panics)
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

    /// Makes the timer thread panic on its next cycle, to test that the next
    /// timer operation restarts it. Not part of the API.
    #[doc(hidden)]
    pub fn debug_crash_timer_thread(&self) {
        self.inner().crash_requested();
    }

    /// `true` while the driver's timer thread runs (always `false` on a manual clock).
    #[doc(hidden)]
    pub fn debug_timer_thread_alive(&self) -> bool {
        self.inner().thread_alive.load(Ordering::Acquire)
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

fn global() -> &'static Inner {
    static GLOBAL: OnceLock<Driver> = OnceLock::new();
    let driver = GLOBAL.get_or_init(|| {
        Driver::builder()
            .build()
            .unwrap_or_else(|e| panic!("tickless: cannot start the global timer driver: {e}"))
    });
    match &driver.handle.inner {
        Some(inner) => inner,
        None => unreachable!("the global driver is built explicitly"),
    }
}

/// Where a registration ended up.
pub(crate) enum Registered {
    /// Pending in `shard` under `key`.
    Pending { shard: u32, key: Key },
    /// Already due (or the driver is shut down): complete now.
    Due,
    /// Too far away to ever fire: stay pending without registering.
    Never,
}

struct ThreadSlot {
    thread: Option<Thread>,
    join: Option<JoinHandle<()>>,
}

pub(crate) struct Inner {
    /// Itself, to restart the timer thread from `&self`.
    me: Weak<Inner>,
    clock: Arc<dyn Clock>,
    origin: Instant,
    /// Deadlines at or past this never fire (beyond the wheel's range).
    never: Instant,
    /// The wheels' tick arithmetic, for converting instants outside a lock.
    ticks: TickMath,
    slack: Duration,
    /// `slack` in ticks, rounded up.
    slack_ticks: u64,
    slack_percent: u32,
    shards: Box<[Shard]>,
    /// The clock is moved by hand and tells us: no timer thread.
    manual: bool,
    wakeup: Wakeup,
    thread: Mutex<ThreadSlot>,
    thread_alive: AtomicBool,
    shut_down: AtomicBool,
    thread_name: String,
    wake_panics: AtomicU64,
    /// Test hook: the timer thread panics on its next cycle.
    crash: AtomicBool,
    /// Timer-thread cycles (wakeups), including the first.
    wakeups: AtomicU64,
    callbacks: OnceLock<crate::blocking::Executor>,
    /// Live counts per call site of recent snapshots, for leak suspects.
    history: Mutex<crate::observe::History>,
}

impl Inner {
    fn crash_requested(&self) {
        // Relaxed: a test hook; the unpark below delivers it.
        self.crash.store(true, Ordering::Relaxed);
        self.unpark_thread();
    }

    /// Milliseconds on a cheap clock, for timer ages: the kernel's coarse
    /// monotonic clock (~5 ns to read here, 1–4 ms resolution), or the
    /// driver's own clock when it is moved by hand.
    #[inline]
    pub(crate) fn coarse_ms(&self) -> u64 {
        if self.manual {
            return crate::clock::nanos_since(self.origin, self.clock.now()) / 1_000_000;
        }
        coarse_clock_ms()
    }

    pub(crate) fn shards(&self) -> &[Shard] {
        &self.shards
    }

    pub(crate) fn origin(&self) -> Instant {
        self.origin
    }

    pub(crate) fn clock_now(&self) -> Instant {
        self.clock.now()
    }

    pub(crate) fn wakeups(&self) -> u64 {
        // Relaxed: a statistic.
        self.wakeups.load(Ordering::Relaxed)
    }

    pub(crate) fn waker_panics(&self) -> u64 {
        // Relaxed: a statistic.
        self.wake_panics.load(Ordering::Relaxed)
    }

    pub(crate) fn callback_panics(&self) -> u64 {
        self.callbacks
            .get()
            .map_or(0, crate::blocking::Executor::panics)
    }

    pub(crate) fn resolution(&self) -> Duration {
        Duration::from_nanos(self.ticks.tick_nanos)
    }

    pub(crate) fn history(&self) -> &Mutex<crate::observe::History> {
        &self.history
    }

    /// The wheel tick `t` falls in, rounded up (every shard shares origin and tick).
    #[inline]
    fn tick_for(&self, t: Instant) -> u64 {
        self.ticks.ceil_since(self.origin, t)
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        // Acquire: pairs with the Release in `shut_down`, so a timer that sees
        // the flag also sees the drained shards.
        self.shut_down.load(Ordering::Acquire)
    }

    /// Registers a timer for `deadline` in the calling thread's shard,
    /// cloning `waker` only if it is actually registered.
    #[inline]
    pub(crate) fn register(
        &self,
        deadline: Instant,
        waker: &Waker,
        site: &'static Location<'static>,
    ) -> Registered {
        self.register_with(deadline, || waker.clone(), site)
    }

    /// [`register`](Inner::register) for a caller that builds a waker just
    /// to register it (an alarm, a context): it is moved in, not cloned.
    #[inline]
    pub(crate) fn register_owned(
        &self,
        deadline: Instant,
        waker: Waker,
        site: &'static Location<'static>,
    ) -> Registered {
        self.register_with(deadline, || waker, site)
    }

    #[inline]
    fn register_with(
        &self,
        deadline: Instant,
        waker: impl FnOnce() -> Waker,
        site: &'static Location<'static>,
    ) -> Registered {
        if deadline >= self.never {
            return Registered::Never;
        }
        if self.is_shut_down() {
            return Registered::Due;
        }
        let shard = shard::current(self.shards.len());
        let registration = Registration {
            created_ms: self.coarse_ms(),
            waker: Some(waker()),
            site,
        };
        let Some((key, tick)) = self.shards[shard].insert(deadline, registration) else {
            return Registered::Due;
        };
        let shard = shard as u32;
        if self.manual {
            // Time only moves by hand: a deadline already reached by the clock
            // would otherwise wait for the next move.
            if deadline <= self.clock.now() {
                self.cancel(shard, key);
                return Registered::Due;
            }
        } else {
            self.after_insert(tick);
        }
        if self.is_shut_down() {
            // Shut down while we inserted: the drain may have missed us.
            self.cancel(shard, key);
            return Registered::Due;
        }
        Registered::Pending { shard, key }
    }

    /// Wakes the timer thread if it sleeps past `tick` + slack; restarts it if it died.
    #[inline]
    fn after_insert(&self, tick: u64) {
        if !self.thread_alive.load(Ordering::Acquire) {
            // Acquire: pairs with the Release when the thread dies, so the
            // restart sees the old thread's last state.
            self.restart_thread();
            return;
        }
        if self.wakeup.must_wake(tick.saturating_add(self.slack_ticks)) {
            self.unpark_thread();
        }
    }

    /// Keeps the waker current; `false` once the timer fired (or the driver shut down).
    #[inline]
    pub(crate) fn refresh(&self, shard: u32, key: Key, waker: &Waker) -> bool {
        self.shards[shard as usize].refresh(key, waker)
    }

    /// `true` while the timer is still in its wheel (not fired, not cancelled).
    pub(crate) fn is_registered(&self, shard: u32, key: Key) -> bool {
        self.shards[shard as usize].contains(key)
    }

    /// Cancels a pending timer; `false` if it had already fired.
    #[inline]
    pub(crate) fn cancel(&self, shard: u32, key: Key) -> bool {
        let registration = self.shards[shard as usize].cancel(key);
        let was_pending = registration.is_some();
        drop(registration); // after the lock: see `Shard::refresh`
        was_pending
    }

    /// The executor `after_func` callbacks run on (started on first use).
    pub(crate) fn callbacks(&self) -> &crate::blocking::Executor {
        self.callbacks.get_or_init(|| {
            crate::blocking::Executor::new(format!("{}-callback", self.thread_name))
        })
    }

    /// Moves a pending timer; `false` once it fired.
    pub(crate) fn reset(&self, shard: u32, key: Key, deadline: Instant) -> bool {
        let Some(tick) = self.shards[shard as usize].reset(key, deadline) else {
            return false;
        };
        if self.manual {
            if deadline <= self.clock.now() {
                self.time_moved(self.clock.now());
            }
        } else {
            self.after_insert(tick);
        }
        true
    }

    /// Fires everything due at `now` across shards; returns the earliest
    /// remaining deadline. Wakers are called after every lock is released.
    fn fire_due(&self, now: Instant, wakers: &mut Vec<Waker>) -> Option<Instant> {
        let next = self.expire_all(now, wakers);
        self.wake_all(wakers);
        next
    }

    /// Collects the wakers of every timer due at `now`; the earliest remaining deadline.
    fn expire_all(&self, now: Instant, wakers: &mut Vec<Waker>) -> Option<Instant> {
        self.shards
            .iter()
            .filter_map(|s| s.expire(now, wakers))
            .min()
    }

    fn wake_all(&self, wakers: &mut Vec<Waker>) {
        for waker in wakers.drain(..) {
            if catch_unwind(AssertUnwindSafe(|| waker.wake())).is_err() {
                // Relaxed: a statistic.
                self.wake_panics.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn start_thread(self: &Arc<Self>) -> io::Result<()> {
        let mut slot = lock(&self.thread);
        self.spawn_locked(&mut slot)
    }

    fn spawn_locked(self: &Arc<Self>, slot: &mut ThreadSlot) -> io::Result<()> {
        if self.thread_alive.load(Ordering::Acquire) || self.is_shut_down() {
            return Ok(());
        }
        if let Some(old) = slot.join.take() {
            let _ = old.join(); // it has died; reap it
        }
        let weak = Arc::downgrade(self);
        // Mark alive before it runs so concurrent registrations do not spawn twice.
        self.thread_alive.store(true, Ordering::Release);
        let join = thread::Builder::new()
            .name(self.thread_name.clone())
            .spawn(move || {
                if let Some(inner) = weak.upgrade() {
                    inner.run_timer_thread();
                }
            });
        match join {
            Ok(join) => {
                slot.thread = Some(join.thread().clone());
                slot.join = Some(join);
                Ok(())
            }
            Err(e) => {
                self.thread_alive.store(false, Ordering::Release);
                Err(e)
            }
        }
    }

    #[cold]
    fn restart_thread(&self) {
        let Some(this) = self.me.upgrade() else {
            return;
        };
        let mut slot = lock(&this.thread);
        // A failed restart is retried by the next registration.
        let _ = this.spawn_locked(&mut slot);
    }

    fn unpark_thread(&self) {
        let slot = lock(&self.thread);
        if let Some(thread) = &slot.thread {
            thread.unpark();
        }
    }

    /// The timer thread's loop; see the module docs and `wakeup.rs`.
    fn run_timer_thread(self: Arc<Self>) {
        struct Alive<'a>(&'a AtomicBool);
        impl Drop for Alive<'_> {
            fn drop(&mut self) {
                // Release: pairs with the Acquire in `after_insert`.
                self.0.store(false, Ordering::Release);
            }
        }
        let _alive = Alive(&self.thread_alive);
        set_precise_timer_slack();
        let mut wakers = Vec::new();
        loop {
            if self.is_shut_down() {
                return;
            }
            // Relaxed: see `crash_requested`.
            if self.crash.swap(false, Ordering::Relaxed) {
                panic!("tickless: timer thread crashed on request (debug_crash_timer_thread)");
            }
            // Relaxed: a statistic.
            self.wakeups.fetch_add(1, Ordering::Relaxed);
            self.wakeup.begin_scan();
            let now = self.clock.now();
            let next = self.expire_all(now, &mut wakers);
            let wake_at = next.map(|next| {
                let distance = next.saturating_duration_since(now);
                let pct = distance * self.slack_percent / 100;
                saturating_add(next, self.slack.max(pct))
            });
            self.wakeup
                .publish(wake_at.map_or(IDLE, |t| self.tick_for(t)));
            self.wake_all(&mut wakers);
            match wake_at {
                None => thread::park(),
                Some(t) => {
                    let now = self.clock.now();
                    if t > now {
                        thread::park_timeout(t - now);
                    }
                }
            }
        }
    }

    /// Stops the thread, then completes every pending timer.
    fn shut_down(&self) {
        // Release: pairs with the Acquire in `is_shut_down`.
        self.shut_down.store(true, Ordering::Release);
        let join = {
            let mut slot = lock(&self.thread);
            if let Some(thread) = &slot.thread {
                thread.unpark();
            }
            slot.thread = None;
            slot.join.take()
        };
        if let Some(join) = join {
            if join.thread().id() != thread::current().id() {
                let _ = join.join();
            }
        }
        let mut wakers = Vec::new();
        let end_of_time = saturating_add(self.origin, Duration::MAX);
        // Every registered deadline lies within the wheel's range (`never`),
        // so polling at the end of time empties every shard.
        self.fire_due(end_of_time, &mut wakers);
    }
}

impl TimeListener for Inner {
    fn time_moved(&self, now: Instant) {
        let mut wakers = Vec::new();
        self.fire_due(now, &mut wakers);
    }
}

/// The switch for per-call-site counting (see `observe::set_call_sites`).
pub(crate) fn shard_call_sites() -> &'static std::sync::atomic::AtomicBool {
    &shard::CALL_SITES
}

/// Milliseconds of `CLOCK_MONOTONIC_COARSE` (Linux), else of `Instant`.
fn coarse_clock_ms() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
        (t.tv_sec as u64).saturating_mul(1000) + (t.tv_nsec as u64) / 1_000_000
    }
    #[cfg(not(target_os = "linux"))]
    {
        static BASE: OnceLock<Instant> = OnceLock::new();
        BASE.get_or_init(Instant::now).elapsed().as_millis() as u64
    }
}

/// Sets the calling thread's kernel timer slack to 1 ns so `park_timeout`
/// wakes when asked rather than up to 50 µs later (Linux only).
fn set_precise_timer_slack() {
    #[cfg(target_os = "linux")]
    {
        let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
    }
}
