//! What a scheduler counts: per job name (the line that submitted it,
//! capped like call sites), runs completed and panicked, uses of the reject
//! policy, and two log₂ histograms — dispatch lateness (deadline → start)
//! and run time. Kept under the scheduler's lock, which every counted event
//! takes anyway: no atomics.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::panic::Location;
use std::time::Duration;

use super::builder::RejectPolicy;
use crate::driver::stats::AddressHasher;

/// Buckets of a [`Histogram`]: bucket `i` counts values below `2^i` ns
/// (bucket 0: exactly 0), the last one everything from `2^38` ns (≈ 4.6 min).
pub const BUCKETS: usize = 40;

/// A log₂ histogram of durations.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Histogram {
    /// Bucket `i` counts durations below `2^i` ns and at least `2^(i-1)` ns.
    pub buckets: [u64; BUCKETS],
    /// Sum of all recorded durations, in nanoseconds (saturating).
    pub sum_nanos: u64,
    /// Number of recorded durations.
    pub count: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: [0; BUCKETS],
            sum_nanos: 0,
            count: 0,
        }
    }
}

impl Histogram {
    pub(super) fn record(&mut self, d: Duration) {
        self.record_nanos(crate::clock::duration_nanos(d));
    }

    pub(super) fn record_nanos(&mut self, nanos: u64) {
        let bucket = (64 - nanos.leading_zeros() as usize).min(BUCKETS - 1);
        self.buckets[bucket] += 1;
        self.sum_nanos = self.sum_nanos.saturating_add(nanos);
        self.count += 1;
    }

    /// The upper bound of bucket `i` (`Duration::MAX` for the last, and for
    /// any `i` past it).
    pub fn bucket_bound(i: usize) -> Duration {
        if i >= BUCKETS - 1 {
            Duration::MAX
        } else {
            Duration::from_nanos(1 << i)
        }
    }

    /// The `q`-quantile (`0.0..=1.0`), as the upper bound of the bucket it
    /// falls in (so at most 2× the true value); `None` when empty. `q` out
    /// of range is clamped.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(Self::bucket_bound(i));
            }
        }
        Some(Duration::MAX)
    }

    /// Mean of the recorded durations; `None` when empty.
    pub fn mean(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_nanos(self.sum_nanos / self.count))
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
        self.sum_nanos = self.sum_nanos.saturating_add(other.sum_nanos);
        self.count += other.count;
    }
}

/// What one job name (a submitting line) has done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobStats {
    /// Runs that ended normally.
    pub completed: u64,
    /// Runs that panicked (caught).
    pub panicked: u64,
    /// Uses of the reject policy, indexed like [`RejectPolicy::ALL`].
    pub rejected: [u64; 5],
    /// Due → started.
    pub lateness: Histogram,
    /// Started → ended.
    pub run_time: Histogram,
}

impl JobStats {
    fn merge(&mut self, other: &JobStats) {
        self.completed += other.completed;
        self.panicked += other.panicked;
        for (a, b) in self.rejected.iter_mut().zip(other.rejected) {
            *a += b;
        }
        self.lateness.merge(&other.lateness);
        self.run_time.merge(&other.run_time);
    }
}

/// Job names tracked one by one; later ones are summed under "other".
pub const MAX_JOB_NAMES: usize = 64;

type Site = &'static Location<'static>;

#[derive(Default)]
pub(super) struct Stats {
    /// Keyed by the `Location`'s address, hashed as the driver's call sites
    /// are (SipHash was a tenth of a worker's time on a burst of trivial jobs).
    sites: HashMap<usize, (Site, JobStats), BuildHasherDefault<AddressHasher>>,
    other: JobStats,
    pub(super) caller_runs: u64,
    /// Workers woken by the stall check (`state/wake.rs`).
    pub(super) stall_wakes: u64,
}

impl Stats {
    pub(super) fn of(&mut self, site: Site) -> &mut JobStats {
        let key = site as *const Location<'static> as usize;
        if self.sites.len() < MAX_JOB_NAMES || self.sites.contains_key(&key) {
            &mut self
                .sites
                .entry(key)
                .or_insert_with(|| (site, JobStats::default()))
                .1
        } else {
            &mut self.other
        }
    }

    pub(super) fn rejected(&mut self, site: Site, policy: RejectPolicy) {
        self.of(site).rejected[policy.index()] += 1;
    }

    /// Per name (sorted by file and line), plus the sum over all names.
    pub(super) fn view(&self) -> (Vec<(Site, JobStats)>, JobStats) {
        let mut names: Vec<_> = self.sites.values().cloned().collect();
        names.sort_by_key(|(site, _)| (site.file(), site.line(), site.column()));
        let mut total = self.other.clone();
        for (_, s) in &names {
            total.merge(s);
        }
        (names, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_bucket_bounds() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        for us in [1u64, 2, 3, 100, 1000] {
            h.record(Duration::from_micros(us));
        }
        h.record(Duration::ZERO);
        assert_eq!(h.count, 6);
        assert_eq!(h.buckets[0], 1, "zero has its own bucket");
        // 100 µs = 100_000 ns < 2^17.
        assert_eq!(h.quantile(0.8), Some(Duration::from_nanos(1 << 17)));
        assert_eq!(h.quantile(0.0), Some(Duration::from_nanos(1)));
        assert_eq!(h.quantile(7.0), h.quantile(1.0), "clamped");
        h.record(Duration::MAX);
        assert_eq!(h.quantile(1.0), Some(Duration::MAX));
    }

    /// Any index past the last bucket is the last's bound (`usize::MAX`
    /// used to overflow `i + 1`).
    #[test]
    fn bounds_past_the_last_bucket_are_the_last() {
        assert_eq!(Histogram::bucket_bound(0), Duration::from_nanos(1));
        assert_eq!(
            Histogram::bucket_bound(BUCKETS - 2),
            Duration::from_nanos(1 << 38)
        );
        for i in [BUCKETS - 1, BUCKETS, 64, usize::MAX] {
            assert_eq!(Histogram::bucket_bound(i), Duration::MAX, "bucket {i}");
        }
    }

    #[test]
    fn names_are_capped() {
        let mut stats = Stats::default();
        stats.of(Location::caller()).completed += 1;
        stats.of(Location::caller()).completed += 1;
        let (names, total) = stats.view();
        assert_eq!(names.len(), 2, "two lines, two names");
        assert_eq!(total.completed, 2);
    }
}
