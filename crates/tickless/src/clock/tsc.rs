//! A clock read from the CPU's time-stamp counter (via `quanta`), anchored to a std `Instant`.

use std::fmt;
use std::time::Instant;

use super::{saturating_add, Clock};

/// A monotonic clock read from the CPU's invariant time-stamp counter.
///
/// It returns std [`Instant`]s so it can replace [`SystemClock`](super::SystemClock)
/// anywhere: each reading is the anchor `Instant` taken at construction plus
/// the TSC time elapsed since. Where the CPU has no usable TSC, `quanta` falls
/// back to the OS clock. Whether it pays is measured by
/// `cargo bench -p tickless --features tsc --bench clock`.
///
/// # Examples
///
/// ```
/// use tickless::clock::{Clock, TscClock};
///
/// let clock = TscClock::new();
/// let a = clock.now();
/// assert!(clock.now() >= a);
/// ```
#[derive(Clone)]
pub struct TscClock {
    clock: quanta::Clock,
    anchor: Instant,
    anchor_tsc: quanta::Instant,
}

impl TscClock {
    /// Calibrates the TSC (quanta does this once per process) and anchors it to now.
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let anchor_tsc = clock.now();
        TscClock {
            clock,
            anchor: Instant::now(),
            anchor_tsc,
        }
    }
}

impl Default for TscClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TscClock {
    #[inline]
    fn now(&self) -> Instant {
        let since = self.clock.now().saturating_duration_since(self.anchor_tsc);
        saturating_add(self.anchor, since)
    }
}

impl fmt::Debug for TscClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TscClock")
            .field("anchor", &self.anchor)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tracks_the_system_clock() {
        let c = TscClock::new();
        let sys0 = Instant::now();
        let tsc0 = c.now();
        std::thread::sleep(Duration::from_millis(20));
        let tsc_elapsed = c.now() - tsc0;
        let sys_elapsed = sys0.elapsed();
        // Generous: both measured the same ~20 ms; allow 10 ms disagreement on noisy machines.
        let diff = tsc_elapsed.abs_diff(sys_elapsed);
        assert!(
            diff < Duration::from_millis(10),
            "tsc {tsc_elapsed:?} vs system {sys_elapsed:?}"
        );
    }
}
