//! The system clock's cheap reading: `CLOCK_MONOTONIC_COARSE` turned into an
//! [`Instant`] that is never before the true time.
//!
//! A coarse read costs ~5 ns here against ~30 ns for `Instant::now`, but it
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

use super::saturating_add;

/// One calibration of the coarse clock against `Instant` (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Calibration {
    /// `a`: an `Instant` read just before `base_raw`.
    pub(crate) base: Instant,
    /// `m`: raw monotonic nanoseconds read between `a` and `b`.
    pub(crate) base_raw: u64,
    /// `b − a` in nanoseconds, plus the lag allowance (two jiffies).
    pub(crate) margin: u64,
}

impl Calibration {
    /// The upper bound of the true time for a coarse reading `coarse_raw`.
    #[inline]
    pub(crate) fn upper(&self, coarse_raw: u64) -> Instant {
        // `coarse_raw < base_raw` (the coarse clock trails the calibration)
        // saturates to 0, which only makes the bound larger: still an upper bound.
        let ahead = coarse_raw
            .saturating_sub(self.base_raw)
            .saturating_add(self.margin);
        saturating_add(self.base, Duration::from_nanos(ahead))
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
        let slop = u64::try_from((b - a).as_nanos()).unwrap_or(u64::MAX);
        Calibration {
            base: a,
            base_raw: m,
            margin: slop.saturating_add(jiffy.saturating_mul(2)),
        }
    })
}

/// An instant at or after the true current time, at most [`error`] after it.
#[inline]
pub(crate) fn now_upper() -> Instant {
    if !raw::AVAILABLE {
        return Instant::now();
    }
    calibration().upper(raw::coarse())
}

/// How far [`now_upper`] may run ahead of the true time.
pub(crate) fn error() -> Duration {
    if !raw::AVAILABLE {
        return Duration::ZERO;
    }
    Duration::from_nanos(calibration().margin)
}

#[cfg(target_os = "linux")]
mod raw {
    use rustix::time::{clock_getres, clock_gettime, ClockId, Timespec};

    pub(super) const AVAILABLE: bool = true;

    fn nanos(t: Timespec) -> u64 {
        (t.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(t.tv_nsec as u64)
    }

    #[inline]
    pub(super) fn coarse() -> u64 {
        nanos(clock_gettime(ClockId::MonotonicCoarse))
    }

    pub(super) fn monotonic() -> u64 {
        nanos(clock_gettime(ClockId::Monotonic))
    }

    /// The coarse clock's granularity (one jiffy).
    pub(super) fn resolution() -> u64 {
        nanos(clock_getres(ClockId::MonotonicCoarse)).max(1)
    }
}

#[cfg(not(target_os = "linux"))]
mod raw {
    pub(super) const AVAILABLE: bool = false;
    pub(super) fn coarse() -> u64 {
        0
    }
    pub(super) fn monotonic() -> u64 {
        0
    }
    pub(super) fn resolution() -> u64 {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound holds for any calibration consistent with its readings:
    /// the raw value of `a` anywhere in `[m − slop, m]`, the coarse reading
    /// anywhere in `[r − lag, r]`.
    #[test]
    fn upper_is_never_before_the_true_time() {
        let base = Instant::now();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n.max(1)
        };
        for _ in 0..100_000 {
            let jiffy = 1 + next(10_000_000);
            let slop = next(100_000);
            let raw_a = 1_000_000_000 + next(1_000_000_000); // raw value of `base`
            let m = raw_a + next(slop + 1); // read after `a`, within the slop
            let cal = Calibration {
                base,
                base_raw: m,
                margin: slop + 2 * jiffy,
            };
            let r = raw_a + next(10_000_000_000); // true time, after calibration
            let lag = next(2 * jiffy + 1); // how far the coarse clock trails
            let c = r.saturating_sub(lag);
            let truth = base + Duration::from_nanos(r - raw_a);
            let upper = cal.upper(c);
            assert!(upper >= truth, "early by {:?}", truth - upper);
            assert!(
                upper - truth <= Duration::from_nanos(cal.margin),
                "late by {:?} with margin {}",
                upper - truth,
                cal.margin
            );
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
