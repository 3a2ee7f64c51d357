//! The system clock's cheap reading: `CLOCK_MONOTONIC_COARSE` turned into an
//! [`Instant`] that is never before the true time.
//!
//! A coarse read costs ~11 ns here (C, vDSO) against ~33 ns for `Instant::now`, but it
//! returns the monotonic time of the kernel's last tick, up to one jiffy
//! (`clock_getres`, 4 ms at `HZ=250`) behind. tickless uses it only to
//! compute deadlines of long timers (see `Builder::coarse_clock_min`), and
//! rounds it *up* so a deadline can be late, never early.
//!
//! # The bound
//!
//! `Instant` is `CLOCK_MONOTONIC` on Linux, the coarse clock the same
//! timeline at tick granularity, but std cannot build an `Instant` from raw
//! nanoseconds. So calibrate once: read `a = Instant::now()`, then the raw
//! monotonic clock `m`, then `b = Instant::now()`. The raw value of `a` lies
//! in `[m − (b − a), m]`. Later, a coarse read `c` means the true time `r`
//! lies in `[c, c + lag]`, where `lag` is how far the coarse clock may trail.
//! So `r − raw(a) ≤ c + lag − m + (b − a)`, and
//!
//! > `upper = a + (c − m) + lag + (b − a)` is never before the true time,
//! > and at most `lag + (b − a)` after it.
//!
//! `lag` is taken as **two** jiffies: the kernel updates the coarse clock on
//! every tick of a busy CPU, and the margin covers a tick that arrives late.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{duration_nanos, saturating_add};

/// A raw clock reading: whole seconds and nanoseconds, as the kernel gives it
/// (kept apart so no hot-path step divides by 10⁹).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Raw {
    pub(crate) secs: u64,
    pub(crate) nanos: u32,
}

impl Raw {
    /// Nanoseconds since the clock's zero (saturating).
    #[inline]
    fn nanos(self) -> u64 {
        self.secs
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(self.nanos))
    }

    /// `self − earlier`, or zero when `self` is earlier.
    #[inline]
    fn since(self, earlier: Raw) -> Duration {
        if self <= earlier {
            return Duration::ZERO;
        }
        let (secs, nanos) = if self.nanos >= earlier.nanos {
            (self.secs - earlier.secs, self.nanos - earlier.nanos)
        } else {
            (
                self.secs - earlier.secs - 1,
                self.nanos + 1_000_000_000 - earlier.nanos,
            )
        };
        // nanos < 10⁹ here, so `Duration::new` takes its no-division path.
        Duration::new(secs, nanos)
    }
}

/// One calibration of the coarse clock against `Instant` (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Calibration {
    /// `a + margin`: the upper bound for a coarse reading equal to `base_raw`.
    pub(crate) base: Instant,
    /// `m`: the raw monotonic clock read between `a` and `b`.
    pub(crate) base_raw: Raw,
    /// `(b − a)` plus the lag allowance (two jiffies).
    pub(crate) margin: Duration,
}

impl Calibration {
    /// The upper bound of the true time for a coarse reading `coarse`.
    #[inline]
    #[cfg(test)]
    fn upper(&self, coarse: Raw) -> Instant {
        self.upper_after(coarse, Duration::ZERO)
    }

    /// [`upper`](Calibration::upper) `+ d`, with one `Instant` addition.
    #[inline]
    fn upper_after(&self, coarse: Raw, d: Duration) -> Instant {
        // A reading before `base_raw` (the coarse clock trails the
        // calibration) counts as zero, which only raises the bound.
        saturating_add(self.base, coarse.since(self.base_raw).saturating_add(d))
    }
}

/// The process-wide calibration, made on first use.
fn calibration() -> &'static Calibration {
    static CALIBRATION: OnceLock<Calibration> = OnceLock::new();
    CALIBRATION.get_or_init(|| {
        let jiffy = raw::resolution();
        let a = Instant::now();
        let m = raw::monotonic();
        let b = Instant::now();
        let margin = (b - a).saturating_add(jiffy.saturating_mul(2));
        Calibration {
            base: saturating_add(a, margin),
            base_raw: m,
            margin,
        }
    })
}

/// An instant at or after the true current time, at most [`error`] after it.
#[inline]
pub(crate) fn now_upper() -> Instant {
    upper_after(Duration::ZERO)
}

/// `now_upper() + d` in one step (saturating): a deadline `d` from now that
/// cannot be early. One `Instant` addition instead of two — this is the
/// whole cost of a lazy reset besides the clock read.
#[inline]
pub(crate) fn upper_after(d: Duration) -> Instant {
    if !raw::AVAILABLE {
        return saturating_add(Instant::now(), d);
    }
    calibration().upper_after(raw::coarse(), d)
}

/// [`upper_after`] counted in nanoseconds after a fixed `origin` (a
/// driver's tick 0): the same bound with no `Instant` arithmetic, for
/// deadlines kept as integers (a `Sleep`'s). An `Instant` addition costs
/// more than the coarse read it follows (perf, `reset_after` in a loop:
/// `Instant::checked_add` 15 % of the time, the clock 24 %).
///
/// With `z = raw(m) − (base − origin)`, the bound for a coarse reading `c`
/// is `origin + (max(c, m) − z)` — [`Calibration::upper_after`]'s
/// `base + (max(c, m) − m)` rewritten; the test below checks the two agree.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CoarseNanos {
    /// `m`, the calibration's raw reading, in nanoseconds.
    base_raw: u64,
    /// `z` (signed: the origin may lie after `base`).
    zero: i128,
}

impl CoarseNanos {
    /// For deadlines counted from `origin`; `None` where there is no coarse
    /// clock (not Linux).
    pub(crate) fn new(origin: Instant) -> Option<Self> {
        raw::AVAILABLE.then(|| Self::with(calibration(), origin))
    }

    fn with(cal: &Calibration, origin: Instant) -> Self {
        let ahead = if cal.base >= origin {
            (cal.base - origin).as_nanos() as i128
        } else {
            -((origin - cal.base).as_nanos() as i128)
        };
        let base_raw = cal.base_raw.nanos();
        CoarseNanos {
            base_raw,
            zero: i128::from(base_raw) - ahead,
        }
    }

    /// `now_upper() + d` in nanoseconds after the origin (saturating at
    /// `u64::MAX`): never before the true time plus `d`.
    #[inline]
    pub(crate) fn upper_after(&self, d: Duration) -> u64 {
        self.upper_at(raw::coarse(), d)
    }

    #[inline]
    fn upper_at(&self, coarse: Raw, d: Duration) -> u64 {
        // A reading before `m` counts as `m`, as in `Calibration::upper_after`.
        let since = i128::from(coarse.nanos().max(self.base_raw)) - self.zero;
        // The bound is never before the origin (a past reading of the same
        // clock); were it, counting it as the origin would only raise it.
        let since = u64::try_from(since.max(0)).unwrap_or(u64::MAX);
        since.saturating_add(duration_nanos(d))
    }
}

/// How far [`now_upper`] may run ahead of the true time.
pub(crate) fn error() -> Duration {
    if !raw::AVAILABLE {
        return Duration::ZERO;
    }
    calibration().margin
}

#[cfg(target_os = "linux")]
mod raw {
    use std::time::Duration;

    use rustix::time::{clock_getres, clock_gettime, ClockId, Timespec};

    use super::Raw;

    pub(super) const AVAILABLE: bool = true;

    #[inline]
    fn raw(t: Timespec) -> Raw {
        Raw {
            secs: t.tv_sec as u64,
            nanos: t.tv_nsec as u32,
        }
    }

    #[inline]
    pub(super) fn coarse() -> Raw {
        raw(clock_gettime(ClockId::MonotonicCoarse))
    }

    pub(super) fn monotonic() -> Raw {
        raw(clock_gettime(ClockId::Monotonic))
    }

    /// The coarse clock's granularity (one jiffy).
    pub(super) fn resolution() -> Duration {
        let t = clock_getres(ClockId::MonotonicCoarse);
        Duration::new(t.tv_sec as u64, t.tv_nsec as u32).max(Duration::from_nanos(1))
    }
}

#[cfg(not(target_os = "linux"))]
mod raw {
    use std::time::Duration;

    use super::Raw;

    pub(super) const AVAILABLE: bool = false;
    pub(super) fn coarse() -> Raw {
        Raw { secs: 0, nanos: 0 }
    }
    pub(super) fn monotonic() -> Raw {
        Raw { secs: 0, nanos: 0 }
    }
    pub(super) fn resolution() -> Duration {
        Duration::from_nanos(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound holds for any calibration consistent with its readings:
    /// the raw value of `a` anywhere in `[m − slop, m]`, the coarse reading
    /// anywhere in `[r − lag, r]`.
    fn to_raw(nanos: u64) -> Raw {
        Raw {
            secs: nanos / 1_000_000_000,
            nanos: (nanos % 1_000_000_000) as u32,
        }
    }

    /// Pseudo-random numbers below `n` (xorshift), reproducible from `seed`.
    fn numbers(mut seed: u64) -> impl FnMut(u64) -> u64 {
        move |n| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n.max(1)
        }
    }

    #[test]
    fn raw_differences_borrow_and_clamp() {
        let a = Raw {
            secs: 5,
            nanos: 900,
        };
        let b = Raw {
            secs: 7,
            nanos: 100,
        };
        assert_eq!(b.since(a), Duration::new(1, 999_999_200));
        assert_eq!(a.since(b), Duration::ZERO);
        assert_eq!(a.since(a), Duration::ZERO);
    }

    #[test]
    fn upper_is_never_before_the_true_time() {
        let base = Instant::now();
        let mut next = numbers(0x9E37_79B9_7F4A_7C15);
        for _ in 0..100_000 {
            let jiffy = 1 + next(10_000_000);
            let slop = next(100_000);
            let raw_a = 1_000_000_000 + next(1_000_000_000); // raw value of `base`
            let m = raw_a + next(slop + 1); // read after `a`, within the slop
            let margin = Duration::from_nanos(slop + 2 * jiffy);
            let cal = Calibration {
                base: base + margin,
                base_raw: to_raw(m),
                margin,
            };
            let r = raw_a + next(10_000_000_000); // true time, after calibration
            let lag = next(2 * jiffy + 1); // how far the coarse clock trails
            let c = r.saturating_sub(lag);
            let truth = base + Duration::from_nanos(r - raw_a);
            let upper = cal.upper(to_raw(c));
            assert!(upper >= truth, "early by {:?}", truth - upper);
            assert!(
                upper - truth <= cal.margin,
                "late by {:?} with margin {:?}",
                upper - truth,
                cal.margin
            );
        }
    }

    /// The integer bound is the `Instant` bound, counted from any origin
    /// before or after the calibration.
    #[test]
    fn the_nanosecond_bound_is_the_instant_bound() {
        let base = Instant::now() + Duration::from_secs(3600);
        let mut next = numbers(0x2545_F491_4F6C_DD1D);
        for _ in 0..100_000 {
            let cal = Calibration {
                base,
                base_raw: to_raw(1_000_000_000 + next(1 << 50)),
                margin: Duration::from_nanos(next(10_000_000)),
            };
            // An origin up to an hour either side of the calibration.
            let shift = Duration::from_nanos(next(3_600_000_000_000));
            let origin = if next(2) == 0 {
                base - shift
            } else {
                base + shift
            };
            let nanos = CoarseNanos::with(&cal, origin);
            // Readings from before the calibration to ten years after it.
            let raw_m = cal.base_raw.nanos();
            let c = to_raw((raw_m + next(315_360_000_000_000_000)).saturating_sub(next(1 << 40)));
            let d = Duration::from_nanos(next(u64::MAX / 4));
            let got = nanos.upper_at(c, d);
            if cal.upper(c) < origin {
                // Only for an origin after the bound (a reading from before
                // it), which counts as the origin.
                assert_eq!(got, duration_nanos(d), "{cal:?} {origin:?} {c:?}");
                continue;
            }
            let want = cal.upper_after(c, d);
            let got = origin + Duration::from_nanos(got);
            assert_eq!(got, want, "{cal:?} origin {origin:?} c {c:?} d {d:?}");
        }
    }

    #[test]
    fn the_nanosecond_bound_saturates() {
        let origin = Instant::now();
        let nanos = CoarseNanos::new(origin);
        if let Some(nanos) = nanos {
            assert_eq!(nanos.upper_after(Duration::MAX), u64::MAX);
            let now = nanos.upper_after(Duration::ZERO);
            let truth = super::super::nanos_since(origin, Instant::now());
            assert!(now >= truth, "{now} before {truth}");
        }
    }

    #[test]
    fn upper_after_is_the_bound_plus_the_duration() {
        for d in [Duration::ZERO, Duration::from_secs(30), Duration::MAX] {
            let before = saturating_add(Instant::now(), d);
            let deadline = upper_after(d);
            let after = saturating_add(now_upper(), d);
            assert!(deadline >= before, "early for {d:?}");
            assert!(deadline <= after, "later than a separate read for {d:?}");
        }
    }

    #[test]
    fn the_system_bound_is_ahead_of_instant_now() {
        for _ in 0..1000 {
            let before = Instant::now();
            let upper = now_upper();
            assert!(upper >= before);
            assert!(upper - before <= error() + Duration::from_millis(50));
        }
    }
}
