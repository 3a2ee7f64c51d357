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
use super::{Handle, History, Inner};
use crate::clock::{saturating_add, Clock, SystemClock, TimeListener};
use crate::queue::wheel::TickMath;
use crate::queue::Wheel;

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
                // The wheels re-file deadlines beyond their range, which
                // counts from their current tick; only tick arithmetic,
                // which counts from the origin, has a limit.
                never: saturating_add(origin, Duration::from_nanos(u64::MAX)),
                clock,
                origin,
                ticks,
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
    /// Deadlines round up to a tick, so a timer fires at most this late (plus
    /// slack and scheduling). Finer costs more timer-thread wakeups when
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
