//! The driver's clock as one cache call reads it: at most once, and only as
//! exactly as the call needs. Deciding that an entry has *not* expired —
//! nearly every hit on an entry with a deadline — needs only the coarse
//! clock's bound (never before the true time), which costs a third of an
//! exact reading and no `Instant` arithmetic; the exact clock is read only
//! when that bound has reached the entry's tick.

use std::time::{Duration, Instant};

use crate::clock::{duration_nanos, nanos_after};
use crate::driver::Handle;

/// One call's readings of `handle`'s clock, in nanoseconds after the cache
/// wheels' origin where they are integers.
pub(super) struct Now<'a> {
    handle: &'a Handle,
    /// The wheels' origin in the driver's count (`Handle::offset_of`).
    origin: i64,
    exact: Option<Instant>,
    upper: Option<u64>,
}

impl<'a> Now<'a> {
    pub(super) fn new(handle: &'a Handle, origin: i64) -> Self {
        Now {
            handle,
            origin,
            exact: None,
            upper: None,
        }
    }

    /// The clock's exact reading.
    pub(super) fn exact(&mut self) -> Instant {
        *self.exact.get_or_insert_with(|| self.handle.now())
    }

    /// A time at or after the true time (the coarse clock's bound), in
    /// nanoseconds after the origin.
    pub(super) fn upper(&mut self) -> u64 {
        let (handle, origin) = (self.handle, self.origin);
        *self
            .upper
            .get_or_insert_with(|| nanos_after(handle.offset_upper(), origin))
    }

    /// A deadline `d` from now, in nanoseconds after the origin, read as
    /// [`Handle::deadline_after`] reads it (the coarse bound for durations
    /// of at least the driver's `coarse_clock_min`): never early.
    pub(super) fn after(&mut self, d: Duration) -> u64 {
        let now = if d >= self.handle.coarse_min() {
            self.upper()
        } else {
            let exact = self.exact();
            nanos_after(self.handle.offset_of(exact), self.origin)
        };
        now.saturating_add(duration_nanos(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the system clock: the bound is never before the exact clock read
    /// before it, and a deadline is never before the exact clock plus `d`
    /// (whichever clock the duration picks).
    #[test]
    fn the_bound_and_deadlines_are_never_early() {
        let handle = Handle::current();
        let origin = handle.offset_of(Instant::now());
        for d in [
            Duration::ZERO,
            Duration::from_millis(5),
            Duration::from_secs(2),
        ] {
            for _ in 0..1000 {
                let truth = nanos_after(handle.offset_of(Instant::now()), origin);
                let mut now = Now::new(&handle, origin);
                assert!(now.upper() >= truth, "bound early");
                assert!(now.after(d) >= truth + duration_nanos(d), "deadline early");
            }
        }
    }

    #[test]
    fn a_deadline_too_far_is_never() {
        let handle = Handle::current();
        let mut now = Now::new(&handle, 0);
        assert_eq!(now.after(Duration::MAX), u64::MAX);
    }
}
