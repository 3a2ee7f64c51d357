//! A clock that moves only when told to: the foundation of every deterministic test.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use super::{nanos_since, saturating_add, Clock, TimeListener};

/// A clock whose time moves only when [`advance`](ManualClock::advance) or
/// [`set`](ManualClock::set) is called.
///
/// Clones share one time, so a test can hand a clone to a component and move
/// time from the outside, from any thread. A driver built on a manual clock
/// fires due timers inside `advance`/`set`, on the calling thread, before they
/// return (see [`Clock::subscribe`]). Time never goes backwards: `set` to
/// an earlier instant is ignored, and advancing past the ≈584 years a `u64`
/// of nanoseconds holds saturates instead of overflowing. A driver counts
/// timer deadlines up to ≈292 years after it started: on a clock moved that
/// far, new timers never fire (and none fires early).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tickless::clock::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// let shared = clock.clone();
/// shared.advance(Duration::from_millis(250));
/// assert_eq!(clock.now() - start, Duration::from_millis(250));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<Inner>,
}

struct Inner {
    start: Instant,
    /// Nanoseconds since `start`. Only ever grows.
    offset: AtomicU64,
    /// Granularity of the modelled coarse reading, in nanoseconds (0: exact).
    coarse: u64,
    listeners: Mutex<Vec<Weak<dyn TimeListener>>>,
}

impl ManualClock {
    /// A manual clock that starts at the current real time and then stands still.
    pub fn new() -> Self {
        Self::starting_at(Instant::now())
    }

    /// A manual clock that starts at `start` and then stands still.
    pub fn starting_at(start: Instant) -> Self {
        Self::build(start, 0)
    }

    /// A manual clock whose [`now_coarse`](Clock::now_coarse) models a
    /// coarse system clock: the time rounded *up* to a multiple of
    /// `granularity` since the start (so it is never before `now`, and at
    /// most `granularity` after it). For testing code that uses the coarse
    /// reading; a zero granularity is exact.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tickless::clock::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::with_coarse_granularity(Duration::from_millis(4));
    /// clock.advance(Duration::from_millis(5));
    /// assert_eq!(clock.now_coarse() - clock.start(), Duration::from_millis(8));
    /// assert_eq!(clock.coarse_error(), Duration::from_millis(4));
    /// ```
    pub fn with_coarse_granularity(granularity: Duration) -> Self {
        Self::build(
            Instant::now(),
            u64::try_from(granularity.as_nanos()).unwrap_or(u64::MAX),
        )
    }

    fn build(start: Instant, coarse: u64) -> Self {
        ManualClock {
            inner: Arc::new(Inner {
                start,
                offset: AtomicU64::new(0),
                coarse,
                listeners: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The instant this clock started at.
    pub fn start(&self) -> Instant {
        self.inner.start
    }

    /// How far time has been moved since the clock started.
    pub fn elapsed(&self) -> Duration {
        // Acquire: pairs with the Release in `advance`/`set`, so whatever a
        // test wrote before moving time is visible to whoever sees the new time.
        Duration::from_nanos(self.inner.offset.load(Ordering::Acquire))
    }

    /// Moves time forward by `d`, saturating far in the future.
    pub fn advance(&self, d: Duration) {
        let add = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        // Release: see `elapsed`. fetch_update retries on a concurrent move so
        // two advances from two threads both count.
        let _ = self
            .inner
            .offset
            .fetch_update(Ordering::Release, Ordering::Relaxed, |n| {
                Some(n.saturating_add(add))
            });
        self.notify();
    }

    /// Moves time forward to `t`. Returns `false`, leaving time unchanged,
    /// when `t` is earlier than the current time (clocks are monotonic).
    pub fn set(&self, t: Instant) -> bool {
        let target = nanos_since(self.inner.start, t);
        // Release: see `elapsed`. fetch_max keeps time monotonic under races.
        let prev = self.inner.offset.fetch_max(target, Ordering::Release);
        if prev < target {
            self.notify();
        }
        prev <= target
    }

    /// Moves time forward to the earliest deadline pending on the drivers
    /// built on this clock, firing what is due then; returns the new time.
    ///
    /// `None`, leaving time unchanged, when no timer is pending (a program
    /// of sleeps has run to completion). A deadline already due does not
    /// move time back: the clock stays, and the timer fires. Tokio's
    /// auto-advance, by hand: a test alternates "run the tasks until they
    /// all wait" and `advance_to_next` (see [`Driver::enter`](crate::Driver::enter)
    /// for a complete example).
    ///
    /// An instant may come where nothing visible happens: a timer whose
    /// deadline was moved later wakes its owner to re-register at the new
    /// deadline. The next call moves on to that one.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tickless::clock::ManualClock;
    /// use tickless::Driver;
    ///
    /// let clock = ManualClock::new();
    /// let driver = Driver::builder().clock(clock.clone()).build().unwrap();
    /// let t1 = driver.handle().timer(Duration::from_millis(1500));
    /// let t2 = driver.handle().timer(Duration::from_secs(5));
    ///
    /// assert_eq!(clock.advance_to_next(), Some(clock.start() + Duration::from_millis(1500)));
    /// assert!(t1.receiver().try_recv().is_ok() && t2.receiver().try_recv().is_err());
    /// assert_eq!(clock.advance_to_next(), Some(clock.start() + Duration::from_secs(5)));
    /// assert!(t2.receiver().try_recv().is_ok());
    /// assert_eq!(clock.advance_to_next(), None); // nothing left
    /// ```
    pub fn advance_to_next(&self) -> Option<Instant> {
        let next = self
            .live_listeners()
            .iter()
            .filter_map(|l| l.next_deadline())
            .min()?;
        if next > self.now() {
            self.set(next);
        } else {
            // Already due (time moved concurrently): time stays; let the
            // listeners fire what is due.
            self.notify();
        }
        Some(self.now())
    }

    /// Every listener still alive, collected outside the listener lock.
    fn live_listeners(&self) -> Vec<Arc<dyn TimeListener>> {
        let mut listeners = self
            .inner
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        listeners.retain(|l| l.strong_count() > 0);
        listeners.iter().filter_map(Weak::upgrade).collect()
    }

    /// Tells every live listener the new time, outside the listener lock (a
    /// listener may move the clock again or subscribe).
    fn notify(&self) {
        let live = self.live_listeners();
        let now = self.now();
        for listener in live {
            listener.time_moved(now);
        }
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now(&self) -> Instant {
        saturating_add(self.inner.start, self.elapsed())
    }

    fn now_coarse(&self) -> Instant {
        let g = self.inner.coarse;
        let elapsed = u64::try_from(self.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if g == 0 {
            return self.now();
        }
        let up = elapsed.div_ceil(g).saturating_mul(g);
        saturating_add(self.inner.start, Duration::from_nanos(up))
    }

    fn coarse_error(&self) -> Duration {
        Duration::from_nanos(self.inner.coarse)
    }

    fn subscribe(&self, listener: Weak<dyn TimeListener>) -> bool {
        self.inner
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(listener);
        true
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stands_still_until_moved() {
        let c = ManualClock::new();
        let t0 = c.now();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(c.now(), t0);
        c.advance(Duration::from_secs(3));
        assert_eq!(c.now(), t0 + Duration::from_secs(3));
    }

    #[test]
    fn set_is_monotonic() {
        let c = ManualClock::new();
        let t0 = c.now();
        assert!(c.set(t0 + Duration::from_secs(10)));
        assert!(!c.set(t0 + Duration::from_secs(5)));
        assert_eq!(c.now(), t0 + Duration::from_secs(10));
        assert!(c.set(t0 + Duration::from_secs(10)));
    }

    #[test]
    fn advance_saturates() {
        let c = ManualClock::new();
        c.advance(Duration::MAX);
        c.advance(Duration::MAX);
        assert_eq!(c.elapsed(), Duration::from_nanos(u64::MAX));
        let _ = c.now(); // must not panic
    }

    #[test]
    fn listeners_hear_every_move_until_dropped() {
        struct Count(Mutex<Vec<Instant>>);
        impl TimeListener for Count {
            fn time_moved(&self, now: Instant) {
                self.0.lock().unwrap().push(now);
            }
        }
        let c = ManualClock::new();
        let t0 = c.now();
        let listener = Arc::new(Count(Mutex::new(Vec::new())));
        let weak: Weak<dyn TimeListener> = Arc::downgrade(&listener) as Weak<dyn TimeListener>;
        assert!(c.subscribe(weak));
        c.advance(Duration::from_secs(1));
        assert!(!c.set(t0), "backwards is ignored");
        c.set(t0 + Duration::from_secs(5));
        assert_eq!(
            *listener.0.lock().unwrap(),
            vec![t0 + Duration::from_secs(1), t0 + Duration::from_secs(5)]
        );
        drop(listener);
        c.advance(Duration::from_secs(1)); // must not touch the dropped listener
        assert!(c.inner.listeners.lock().unwrap().is_empty());
    }

    #[test]
    fn clones_share_time_across_threads() {
        let c = ManualClock::new();
        let t0 = c.now();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        c.advance(Duration::from_nanos(1));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(c.now() - t0, Duration::from_nanos(4000));
    }
}
