//! [`Builder`] and [`Driver`]: configuring and starting a driver, and
//! [`DriverError`], why that can fail.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread;
use std::time::Duration;

use super::shard::Shard;
use super::thread::ThreadSlot;
use super::wakeup::Wakeup;
use super::{EnterGuard, Handle, History, Inner};
use crate::clock::{nanos_since, saturating_add, Clock, CoarseNanos, SystemClock, TimeListener};
use crate::queue::wheel::TickMath;
use crate::queue::Wheel;

/// Why a driver could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum DriverError {
    /// The operating system refused to start the timer thread.
    SpawnThread(io::Error),
    /// [`Builder::build_global`]: the process-wide driver is already in use
    /// (started by a first timer, or installed before). It cannot be replaced
    /// while timers may be pending on it.
    GlobalInUse,
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverError::SpawnThread(e) => write!(f, "cannot start the tickless timer thread: {e}"),
            DriverError::GlobalInUse => f.write_str(
                "the process-wide tickless driver is already in use (build_global must come before the first timer)",
            ),
        }
    }
}

impl std::error::Error for DriverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DriverError::SpawnThread(e) => Some(e),
            DriverError::GlobalInUse => None,
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
/// futures::executor::block_on(driver.handle().sleep(Duration::from_millis(1)));
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
    coarse_min: Duration,
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
            coarse_min: Driver::DEFAULT_COARSE_CLOCK_MIN,
        }
    }
}

impl Builder {
    /// The clock timers are measured against. Default: [`SystemClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// The wheel's tick: the timer thread wakes at most once per tick, and a
    /// timer fires at most one resolution late. Default 100 µs; zero means 1 ns.
    ///
    /// Within a tick timers still fire at their exact deadlines where they
    /// can: the thread parks until the latest exact deadline among the next
    /// tick's timers (the boundary if their wheel slot holds more than 64), so the
    /// resolution bounds how late a timer may be, not how late it usually is.
    /// Finer lets the timer thread wake more often when many timers fire at
    /// nearby instants; pair a fine resolution with [`slack`](Builder::slack)
    /// to coalesce them.
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

    /// Timers at least this long compute their deadline from the clock's
    /// cheap coarse reading ([`Clock::now_coarse`]) instead of `now()`.
    /// Default: 1 s.
    ///
    /// The coarse reading is never before the true time, so such a timer is
    /// never early; it may fire up to [`Clock::coarse_error`] later (about
    /// two kernel jiffies on Linux — 8 ms at `HZ=250`, under 1% of a 1 s
    /// timer). Creating a timer costs ~25 ns less. `Duration::MAX` turns
    /// the coarse reading off; `Duration::ZERO` uses it for every timer.
    pub fn coarse_clock_min(mut self, min: Duration) -> Self {
        self.coarse_min = min;
        self
    }

    /// Name of the timer thread. Default `tickless-timer`.
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// Starts the driver and makes it the **process-wide** one: the driver
    /// of [`Handle::current`] and the free functions on every thread that has
    /// not [entered](Driver::enter) another. It lives until the process exits.
    ///
    /// Meant for test binaries whose code runs on threads the test does not
    /// control (a multi-thread executor's workers, a thread pool), where
    /// [`Driver::enter`] cannot reach: call it first thing, before any timer.
    /// Every test of the binary then shares the driver (and its clock), so
    /// keep such tests in a binary of their own (an integration-test file).
    ///
    /// # Errors
    ///
    /// [`DriverError::GlobalInUse`] once the process-wide driver exists —
    /// because a timer already used the default one, or after an earlier
    /// `build_global` — and [`DriverError::SpawnThread`] as [`build`](Builder::build).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tickless::clock::ManualClock;
    /// use tickless::{Driver, DriverError};
    ///
    /// let clock = ManualClock::new();
    /// let handle = Driver::builder().clock(clock.clone()).build_global()?;
    /// let worker = std::thread::spawn(|| tickless::blocking::Timer::new(Duration::from_secs(60)));
    /// let timer = worker.join().unwrap(); // created on another thread, on the manual clock
    /// assert_eq!(handle.pending_timers(), 1);
    /// clock.advance(Duration::from_secs(60));
    /// assert!(timer.receiver().try_recv().is_ok());
    /// // Only once per process:
    /// assert!(matches!(Driver::builder().build_global(), Err(DriverError::GlobalInUse)));
    /// # Ok::<(), DriverError>(())
    /// ```
    pub fn build_global(self) -> Result<Handle, DriverError> {
        super::current::install(self)
    }

    /// Starts the driver (and its timer thread, unless the clock is manual).
    pub fn build(self) -> Result<Driver, DriverError> {
        let system_clock = self.clock.is_none();
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let origin = clock.now();
        // The wheels re-file deadlines beyond their range, which counts from
        // their current tick; only tick arithmetic, which counts from the
        // origin, has a limit.
        let never = saturating_add(origin, Duration::from_nanos(u64::MAX));
        let ticks = TickMath::new(self.resolution);
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let manual = clock.subscribe(weak.clone() as Weak<dyn TimeListener>);
            Inner {
                me: weak.clone(),
                shards: (0..self.shards)
                    .map(|_| Shard::new(Wheel::with_tick(origin, self.resolution)))
                    .collect(),
                never_nanos: nanos_since(origin, never),
                coarse_nanos: system_clock.then(|| CoarseNanos::new(origin)).flatten(),
                clock,
                system_clock,
                origin,
                ticks,
                exact: super::exact::Exact::new(ticks.tick_nanos),
                slack: self.slack,
                slack_ticks: ticks.ceil(self.slack),
                slack_percent: self.slack_percent,
                coarse_min: self.coarse_min,
                manual,
                wakeup: Wakeup::new(),
                thread: Mutex::new(ThreadSlot::default()),
                thread_alive: AtomicBool::new(false),
                shut_down: AtomicBool::new(false),
                thread_name: self.thread_name,
                wake_panics: AtomicU64::new(0),
                wakeups: AtomicU64::new(0),
                callbacks: OnceLock::new(),
                history: Mutex::new(History::default()),
                collections: Default::default(),
                #[cfg(test)]
                crash: AtomicBool::new(false),
            }
        });
        if !inner.manual {
            inner.start_thread().map_err(DriverError::SpawnThread)?;
        }
        Ok(Driver {
            handle: Handle::explicit(inner),
        })
    }
}

/// An explicitly built timer driver; dropping it shuts it down.
///
/// Most programs never build one: the free functions ([`sleep`](super::super::sleep),
/// [`timeout`](super::super::timeout), [`interval`](super::super::interval)) use a global
/// driver started on first use. Build one to choose the clock (tests use
/// [`ManualClock`](crate::clock::ManualClock)), resolution, slack or shard
/// count; [`handle`](Driver::handle) gives the [`Handle`] timers are created from.
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
/// let mut sleep = std::pin::pin!(driver.handle().sleep(Duration::from_secs(3600)));
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
    /// A timer fires at most this late (plus slack and scheduling), and
    /// usually at its exact deadline (see [`Builder::resolution`]). Finer costs more timer-thread wakeups when
    /// many deadlines are near each other (at most one per tick: 10k/s here);
    /// coarser coalesces more. The wheel's range at this tick is 13.9 years.
    /// The README has the lateness measured at other resolutions.
    pub const DEFAULT_RESOLUTION: Duration = Duration::from_micros(100);

    /// Default for [`Builder::coarse_clock_min`]: timers of 1 s or more read
    /// the coarse clock.
    pub const DEFAULT_COARSE_CLOCK_MIN: Duration = Duration::from_secs(1);

    /// A builder with the defaults.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A handle timers can be created from; cheap to clone.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Makes this driver the current one **on this thread** until the guard
    /// drops: [`Handle::current`] and the free functions ([`sleep`](crate::sleep),
    /// [`timeout`](crate::timeout), [`interval`](crate::interval),
    /// [`Timer::new`](crate::blocking::Timer::new), [`after_func`](crate::blocking::after_func),
    /// [`Context::background`](crate::Context::background), the cache and
    /// scheduler builders) then use it. tokio's `Runtime::enter` shape: the
    /// way to test code that calls the free functions with a
    /// [`ManualClock`](crate::clock::ManualClock).
    ///
    /// The guard covers the thread it was created on. An async test on a
    /// current-thread executor (`futures::executor::block_on`, tokio's
    /// `current_thread` runtime, `#[tokio::test]`) runs every poll there, so
    /// entering at the top of the test is enough. On a multi-thread
    /// executor, tasks run on its workers: enter on each worker (tokio's
    /// `Builder::on_thread_start(move || std::mem::forget(handle.enter()))`)
    /// or make the driver process-wide with
    /// [`Builder::build_global`]. [`blocking::after`](crate::blocking::after),
    /// [`at`](crate::blocking::at) and [`tick`](crate::blocking::tick) are
    /// crossbeam's own timers and always follow the real clock.
    ///
    /// # Examples
    ///
    /// Code under test that calls `tickless::sleep`, run to completion
    /// instantly:
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::executor::LocalPool;
    /// use futures::task::LocalSpawnExt;
    /// use tickless::clock::ManualClock;
    /// use tickless::Driver;
    ///
    /// async fn retry_three_times() -> u32 {
    ///     let mut tries = 0;
    ///     for backoff in [1, 10, 100] {
    ///         tries += 1;
    ///         tickless::sleep(Duration::from_secs(backoff)).await;
    ///     }
    ///     tries
    /// }
    ///
    /// let clock = ManualClock::new();
    /// let driver = Driver::builder().clock(clock.clone()).build().unwrap();
    /// let _guard = driver.enter();
    ///
    /// let mut pool = LocalPool::new();
    /// let done = pool.spawner().spawn_local_with_handle(retry_three_times()).unwrap();
    /// pool.run_until_stalled();
    /// while clock.advance_to_next().is_some() {
    ///     pool.run_until_stalled(); // the task wakes, sleeps again
    /// }
    /// assert_eq!(pool.run_until(done), 3);
    /// assert_eq!(clock.elapsed(), Duration::from_secs(111)); // no real time passed
    /// ```
    ///
    /// tokio's paused clock (`tokio::time::pause`/`advance`) moves tokio's
    /// timers only; tickless timers follow their own driver's clock. To test
    /// code that mixes the two, drive both: advance the `ManualClock` and
    /// `tokio::time::advance` by the same amount.
    pub fn enter(&self) -> EnterGuard {
        self.handle.enter()
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
