//! Where time comes from.
//!
//! Every tickless component reads time through a [`Clock`], never through
//! [`Instant::now`] directly, so tests can drive time by hand with
//! [`ManualClock`] and never sleep. The public API speaks
//! [`std::time::Instant`] and [`Duration`], like std and tokio.
//!
//! | clock | source | cost of `now()` here |
//! |---|---|---|
//! | [`SystemClock`] | `clock_gettime(CLOCK_MONOTONIC)` via `Instant::now` | see `cargo bench -p tickless --bench clock` |
//! | [`SystemClock::now_coarse`](Clock::now_coarse) | `clock_gettime(CLOCK_MONOTONIC_COARSE)`, rounded up | ~11–17 ns here against ~33 ns (same bench) |
//! | [`ManualClock`] | an atomic offset from a fixed start, moved by the test | one atomic load |
//!
//! All clocks are monotonic: time never goes backwards.
//!
//! A clock may also offer a cheaper, coarser reading,
//! [`now_coarse`](Clock::now_coarse): never before the true time, at most
//! [`coarse_error`](Clock::coarse_error) after it. The driver computes the
//! deadlines of long timers from it (a deadline from it is late by at most
//! that error, never early). [`SystemClock`]'s comes from
//! `CLOCK_MONOTONIC_COARSE` on Linux (~11 ns in C on this VM, ~17 ns as an
//! `Instant`; within two jiffies).
//!
//! There is no TSC clock: measured on the project's machines (2-core VMs), a
//! TSC read through `quanta` costs ~20 ns and ~31 ns once turned into an
//! `Instant`, against ~32 ns for `Instant::now` — no gain worth a dependency.
//! The driver instead reads the clock at most once per timer.

use std::fmt::Debug;
use std::sync::Weak;
use std::time::{Duration, Instant};

mod coarse;
mod manual;

pub(crate) use coarse::CoarseNanos;
pub use manual::ManualClock;

/// A source of monotonic time.
///
/// Implementations must be cheap to call and must never go backwards.
///
/// # Examples
///
/// ```
/// use tickless::clock::{Clock, SystemClock};
///
/// let clock = SystemClock;
/// let a = clock.now();
/// let b = clock.now();
/// assert!(b >= a);
/// ```
pub trait Clock: Send + Sync + Debug + 'static {
    /// The current time.
    fn now(&self) -> Instant;

    /// A cheaper reading that is **never before** [`now`](Clock::now) and at
    /// most [`coarse_error`](Clock::coarse_error) after it: `coarse + d` is
    /// a deadline that cannot be early. Default: `now()`, with no error.
    #[inline]
    fn now_coarse(&self) -> Instant {
        self.now()
    }

    /// How far [`now_coarse`](Clock::now_coarse) may run ahead of the true
    /// time. Default: zero.
    fn coarse_error(&self) -> Duration {
        Duration::ZERO
    }

    /// Asks to be told whenever time moves by hand.
    ///
    /// A clock that moves on its own (the system clock) ignores this and returns
    /// `false`; the driver then sleeps on a real timer. A clock moved by hand
    /// ([`ManualClock`]) keeps the listener and returns `true`: the driver
    /// then starts no thread, and fires due timers on the thread that moves
    /// the clock, before `advance`/`set` returns — so a test knows that every
    /// timer due by the new time has been woken. A listener is dropped once
    /// its `Weak` no longer upgrades.
    fn subscribe(&self, listener: Weak<dyn TimeListener>) -> bool {
        let _ = listener;
        false
    }
}

/// Told by a manual clock that time moved; see [`Clock::subscribe`].
pub trait TimeListener: Send + Sync {
    /// Time is now `now`. Runs on the thread that moved the clock.
    fn time_moved(&self, now: Instant);

    /// The earliest instant at which something waits for this clock (a
    /// driver's earliest pending deadline), for
    /// [`ManualClock::advance_to_next`]. `None`: nothing waits.
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
}

/// The operating system's monotonic clock, read with [`Instant::now`].
///
/// This is the default clock of every tickless component.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// `CLOCK_MONOTONIC_COARSE`, rounded up past the true time (Linux; elsewhere `now()`).
    #[inline]
    fn now_coarse(&self) -> Instant {
        coarse::now_upper()
    }

    fn coarse_error(&self) -> Duration {
        coarse::error()
    }
}

impl SystemClock {
    /// `now_coarse() + d` (saturating), fused: what a driver on the system
    /// clock computes a long timer's deadline with (see
    /// `Handle::deadline_after`).
    #[inline]
    pub(crate) fn coarse_deadline(d: Duration) -> Instant {
        coarse::upper_after(d)
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    #[inline]
    fn now(&self) -> Instant {
        (**self).now()
    }
    #[inline]
    fn now_coarse(&self) -> Instant {
        (**self).now_coarse()
    }
    fn coarse_error(&self) -> Duration {
        (**self).coarse_error()
    }
    fn subscribe(&self, listener: Weak<dyn TimeListener>) -> bool {
        (**self).subscribe(listener)
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    #[inline]
    fn now(&self) -> Instant {
        (**self).now()
    }
    #[inline]
    fn now_coarse(&self) -> Instant {
        (**self).now_coarse()
    }
    fn coarse_error(&self) -> Duration {
        (**self).coarse_error()
    }
    fn subscribe(&self, listener: Weak<dyn TimeListener>) -> bool {
        (**self).subscribe(listener)
    }
}

/// `base + d`, or the latest representable instant at or below it when the
/// sum overflows the platform's `Instant`. Never panics.
///
/// The overflow path halves the addend until it fits (at most ~64 steps); it
/// runs only for deadlines centuries away.
#[inline]
pub(crate) fn saturating_add(base: Instant, d: Duration) -> Instant {
    match base.checked_add(d) {
        Some(t) => t,
        None => saturating_add_slow(base, d),
    }
}

#[cold]
fn saturating_add_slow(base: Instant, d: Duration) -> Instant {
    saturating_steps(base, d, |t, d| t.checked_add(d))
}

/// `base − d`, or the earliest representable instant at or above it.
fn saturating_sub(base: Instant, d: Duration) -> Instant {
    match base.checked_sub(d) {
        Some(t) => t,
        None => saturating_steps(base, d, |t, d| t.checked_sub(d)),
    }
}

/// Moves `base` by `d` in steps, halving a step that does not fit.
fn saturating_steps(
    base: Instant,
    d: Duration,
    step_by: fn(Instant, Duration) -> Option<Instant>,
) -> Instant {
    let mut result = base;
    let mut step = d;
    while !step.is_zero() {
        match step_by(result, step) {
            Some(t) => result = t,
            None => step /= 2,
        }
    }
    result
}

/// `t` in nanoseconds after `origin`, signed (negative before it),
/// saturating at `i64::MIN` / `i64::MAX` (≈292 years either side): how a
/// timer keeps its deadline, 8 bytes where an `Instant` takes 16.
#[inline]
pub(crate) fn offset_since(origin: Instant, t: Instant) -> i64 {
    match t.checked_duration_since(origin) {
        Some(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        None => i64::try_from((origin - t).as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

/// A deadline counted as [`offset_since`] counts it, as nanoseconds after
/// `origin` (an offset of the same count): 0 for one before it, and
/// `u64::MAX` for `i64::MAX`, which is never — a saturated count must not
/// turn into a finite, earlier deadline.
#[inline]
pub(crate) fn nanos_after(at: i64, origin: i64) -> u64 {
    match at {
        i64::MAX => u64::MAX,
        at => at.saturating_sub(origin).max(0) as u64,
    }
}

/// Whether a clock reading `now` has reached the deadline `at`, both counted
/// as [`offset_since`] counts them. Never for `i64::MAX`, which is never —
/// also when the reading itself saturates there (a `ManualClock` moved
/// ≈292 years past the origin).
#[inline]
pub(crate) fn reached(now: i64, at: i64) -> bool {
    at != i64::MAX && now >= at
}

/// The instant `offset` nanoseconds after `origin` (before it when
/// negative); saturates like [`saturating_add`]. The inverse of
/// [`offset_since`] within its range.
pub(crate) fn at_offset(origin: Instant, offset: i64) -> Instant {
    let d = Duration::from_nanos(offset.unsigned_abs());
    if offset >= 0 {
        saturating_add(origin, d)
    } else {
        saturating_sub(origin, d)
    }
}

/// Nanoseconds from `origin` to `t`: 0 when `t` is before `origin`,
/// `u64::MAX` (≈584 years) when the distance does not fit.
#[inline]
pub(crate) fn nanos_since(origin: Instant, t: Instant) -> u64 {
    duration_nanos(t.saturating_duration_since(origin))
}

/// `d` in nanoseconds, `u64::MAX` (≈584 years) when it does not fit.
#[inline]
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The first instant of the grid `start + k·period` (k ≥ 1) that lies after
/// `now`: where a periodic timer that fell behind resumes without bursting.
/// `start + period` when `now` is before it; a zero period counts as 1 ns.
pub(crate) fn next_on_grid(start: Instant, period: Duration, now: Instant) -> Instant {
    let period = period.max(Duration::from_nanos(1));
    let first = saturating_add(start, period);
    if now < first {
        return first;
    }
    let behind = now.saturating_duration_since(start).as_nanos();
    let into = u64::try_from(behind % period.as_nanos()).unwrap_or(0);
    saturating_add(now, period.saturating_sub(Duration::from_nanos(into)))
}

/// [`next_on_grid`] in nanoseconds on one timeline, for a `now` at or past
/// `start + period` (the scheduler's periodic jobs, under its lock: no
/// `Instant` arithmetic). Saturates; a zero period counts as 1 ns.
pub(crate) fn next_on_grid_nanos(start: u64, period: u64, now: u64) -> u64 {
    let period = period.max(1);
    let into = now.saturating_sub(start) % period;
    now.saturating_add(period - into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_on_grid_in_nanos_agrees_with_instants() {
        let t0 = Instant::now();
        let at = |n: u64| t0 + Duration::from_nanos(n);
        for (start, period, now) in [
            (0, 10, 10),
            (0, 10, 47),
            (5, 10, 15),
            (3, 7, 1_000_003),
            (1_000, 1, 5_000),
            (0, 0, 9),
            (123, 1_000_000, 123_456_789),
        ] {
            let want = next_on_grid(at(start), Duration::from_nanos(period), at(now));
            assert_eq!(
                at(next_on_grid_nanos(start, period, now)),
                want,
                "start {start}, period {period}, now {now}"
            );
        }
    }

    #[test]
    fn next_on_grid_skips_to_the_first_point_after_now() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(next_on_grid(t0, ms(10), t0), t0 + ms(10), "on time");
        assert_eq!(next_on_grid(t0, ms(10), t0 + ms(9)), t0 + ms(10));
        assert_eq!(
            next_on_grid(t0, ms(10), t0 + ms(10)),
            t0 + ms(20),
            "never now itself"
        );
        assert_eq!(next_on_grid(t0, ms(10), t0 + ms(47)), t0 + ms(50));
        assert_eq!(
            next_on_grid(t0 + ms(5), ms(10), t0),
            t0 + ms(15),
            "now before start"
        );
        assert_eq!(
            next_on_grid(t0, Duration::ZERO, t0 + ms(1)),
            t0 + ms(1) + Duration::from_nanos(1)
        );
    }

    #[test]
    fn saturating_add_never_panics() {
        let base = Instant::now();
        assert_eq!(
            saturating_add(base, Duration::from_secs(1)),
            base + Duration::from_secs(1)
        );
        let far = saturating_add(base, Duration::MAX);
        assert!(far > base + Duration::from_secs(86_400 * 365 * 100));
    }

    #[test]
    fn nanos_since_saturates_both_ways() {
        let base = Instant::now();
        let later = base + Duration::from_nanos(1500);
        assert_eq!(nanos_since(base, later), 1500);
        assert_eq!(nanos_since(later, base), 0);
        let far = saturating_add(base, Duration::MAX);
        assert_eq!(nanos_since(base, far), u64::MAX);
    }

    #[test]
    fn never_stays_never_and_earlier_is_due() {
        assert_eq!(nanos_after(i64::MAX, 5), u64::MAX);
        assert_eq!(nanos_after(3, 5), 0);
        assert_eq!(nanos_after(8, 5), 3);
        assert_eq!(nanos_after(-7, 0), 0);
        assert_eq!(nanos_after(i64::MAX - 1, -3), i64::MAX as u64);
        assert!(!reached(i64::MAX, i64::MAX), "a saturated reading");
        assert!(reached(i64::MAX, i64::MAX - 1));
        assert!(reached(5, 5) && !reached(4, 5));
    }

    #[test]
    fn offsets_round_trip_and_saturate() {
        let base = Instant::now();
        for nanos in [0, 1, 1500, -1, -1500, 86_400_000_000_000, i64::MAX / 2] {
            let t = at_offset(base, nanos);
            assert_eq!(offset_since(base, t), nanos, "{nanos}");
        }
        let far = saturating_add(base, Duration::MAX);
        assert_eq!(offset_since(base, far), i64::MAX);
        assert!(at_offset(base, i64::MAX) > base + Duration::from_secs(86_400 * 365 * 290));
        // Before the platform's earliest instant: the earliest, no panic.
        let early = at_offset(base, i64::MIN);
        assert!(early <= base);
        assert!(offset_since(base, early) < 0);
    }

    #[test]
    fn system_clock_is_monotonic() {
        let c = SystemClock;
        let mut last = c.now();
        for _ in 0..1000 {
            let t = c.now();
            assert!(t >= last);
            last = t;
        }
    }
}
