//! What a driver counts, and the read-only view `observe` reads it through.
//!
//! Every counter is a plain integer updated while the shard lock is already
//! held for the timer operation itself, so accounting adds no atomic, no
//! lock and no clock read of its own; `observe` sums the shards.
//! Per-call-site counters add one hash-map update per event; they can be
//! switched off at run time (`observe::set_call_sites`).
//!
//! [`StatsView`] (from `Handle::stats`) is all `observe` sees of a driver:
//! clock readings, a copy of each shard's counters, a scan of its pending
//! timers, and the leak-trend history. It never exposes a lock or a key.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::{Handle, Inner};
use crate::sync::lock_std;

/// Per-call-site counters on (default) or off, for every driver.
static CALL_SITES: AtomicBool = AtomicBool::new(true);

/// Switches per-call-site counting (see `observe::set_call_sites`).
pub(crate) fn set_call_sites(on: bool) {
    // Relaxed: a switch read once per operation; a stale value only means one
    // more or one fewer event counted per site around the switch.
    CALL_SITES.store(on, Ordering::Relaxed);
}

/// Whether per-call-site counting is on.
#[inline]
pub(crate) fn call_sites() -> bool {
    // Relaxed: see `set_call_sites`.
    CALL_SITES.load(Ordering::Relaxed)
}

/// One pending timer, as a snapshot sees it.
pub(crate) struct PendingTimer {
    pub(crate) site: Site,
    /// Creation time, milliseconds on the coarse clock of [`StatsView::now_ms`].
    pub(crate) created_ms: u64,
    /// How far its (tick-rounded) deadline lies past the scan's `now`.
    pub(crate) due_in_nanos: u64,
}

/// One shard of a [`StatsView`].
pub(crate) struct ShardView<'a> {
    shard: &'a super::shard::Shard,
    inner: &'a Inner,
}

impl ShardView<'_> {
    /// A copy of the shard's counters (one lock round trip).
    pub(crate) fn counters(&self) -> ShardStats {
        self.shard.stats()
    }

    /// Visits the shard's pending timers as seen at `now`, under its lock
    /// (O(pending in this shard); `f` must not touch the driver).
    pub(crate) fn for_each_pending(&self, now: Instant, mut f: impl FnMut(PendingTimer)) {
        let now_nanos = crate::clock::nanos_since(self.inner.origin, now);
        let tick_nanos = self.inner.ticks.tick_nanos;
        self.shard.for_each(|tick, site, created_ms| {
            f(PendingTimer {
                site,
                created_ms,
                due_in_nanos: tick.saturating_mul(tick_nanos).saturating_sub(now_nanos),
            })
        });
    }
}

/// A read-only view of one driver's counters and pending timers.
pub(crate) struct StatsView<'a> {
    inner: &'a Inner,
}

impl Handle {
    /// What `observe` may read of this driver.
    pub(crate) fn stats(&self) -> StatsView<'_> {
        StatsView {
            inner: self.inner(),
        }
    }
}

impl StatsView<'_> {
    /// The driver's clock.
    pub(crate) fn now(&self) -> Instant {
        self.inner.clock.now()
    }

    /// Milliseconds on the coarse clock timer ages are measured on.
    pub(crate) fn now_ms(&self) -> u64 {
        self.inner.coarse_ms()
    }

    /// The driver's shards, each to be read in turn.
    pub(crate) fn shards(&self) -> impl Iterator<Item = ShardView<'_>> {
        self.inner.shards.iter().map(|shard| ShardView {
            shard,
            inner: self.inner,
        })
    }

    /// Visits every live collection (delay queue…): its creation site and
    /// how many entries it holds.
    pub(crate) fn for_each_collection(&self, mut f: impl FnMut(Site, u64)) {
        self.inner.collections.for_each(|c| f(c.site(), c.live()));
    }

    /// Records this snapshot's live counts per call site (keyed by address)
    /// in the leak-trend history; returns the samples to report, oldest first.
    pub(crate) fn record_history(
        &self,
        now_ms: u64,
        live: HashMap<usize, u64>,
    ) -> Vec<HashMap<usize, u64>> {
        lock_std(&self.inner.history).record(now_ms, live)
    }
}

/// Lateness histogram buckets: bucket `i` counts fires `[2^i, 2^(i+1))` ns
/// late (bucket 0 also takes 0 ns); the last bucket is open-ended.
pub(crate) const LATENESS_BUCKETS: usize = 40;

#[derive(Default, Clone)]
pub(crate) struct ShardStats {
    pub(crate) created: u64,
    pub(crate) fired: u64,
    pub(crate) cancelled: u64,
    pub(crate) reset: u64,
    pub(crate) lateness: Lateness,
    pub(crate) sites: SiteMap,
}

#[derive(Clone)]
pub(crate) struct Lateness {
    pub(crate) buckets: [u64; LATENESS_BUCKETS],
    pub(crate) sum_nanos: u64,
}

impl Default for Lateness {
    fn default() -> Self {
        Lateness {
            buckets: [0; LATENESS_BUCKETS],
            sum_nanos: 0,
        }
    }
}

impl Lateness {
    #[inline]
    pub(crate) fn record(&mut self, nanos: u64) {
        let bucket = (63 - nanos.max(1).leading_zeros()) as usize;
        self.buckets[bucket.min(LATENESS_BUCKETS - 1)] += 1;
        self.sum_nanos = self.sum_nanos.saturating_add(nanos);
    }
}

/// Event counts of one call site, while call-site accounting was on.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SiteCounts {
    pub(crate) created: u64,
    pub(crate) fired: u64,
    pub(crate) cancelled: u64,
}

pub(crate) type Site = &'static Location<'static>;

/// Call sites are `&'static` and unique per source location: hash the address.
#[derive(Default)]
pub(crate) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        // Fibonacci hashing of the address: spreads aligned pointers.
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Keyed by the `Location`'s address (the pointer, not its contents).
#[derive(Default, Clone)]
pub(crate) struct SiteMap(HashMap<usize, (Site, SiteCounts), BuildHasherDefault<AddressHasher>>);

impl SiteMap {
    #[inline]
    pub(crate) fn counts(&mut self, site: Site) -> &mut SiteCounts {
        let key = site as *const Location<'static> as usize;
        &mut self.0.entry(key).or_insert((site, SiteCounts::default())).1
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &(Site, SiteCounts)> {
        self.0.values()
    }
}

#[cfg(all(test, not(tickless_loom)))]
mod tests {
    use super::*;

    #[test]
    fn lateness_buckets_are_powers_of_two() {
        let mut l = Lateness::default();
        for n in [0, 1, 2, 3, 4, 1023, 1024, u64::MAX] {
            l.record(n);
        }
        assert_eq!(l.buckets[0], 2, "0 and 1 ns");
        assert_eq!(l.buckets[1], 2, "2 and 3 ns");
        assert_eq!(l.buckets[2], 1);
        assert_eq!(l.buckets[9], 1, "1023 ns");
        assert_eq!(l.buckets[10], 1, "1024 ns");
        assert_eq!(l.buckets[LATENESS_BUCKETS - 1], 1, "open-ended last bucket");
        assert_eq!(l.sum_nanos, u64::MAX, "the sum saturates");
    }

    #[test]
    fn sites_are_keyed_by_address() {
        let mut m = SiteMap::default();
        let a = Location::caller();
        let b = Location::caller();
        m.counts(a).created += 1;
        m.counts(a).created += 1;
        m.counts(b).fired += 1;
        assert_eq!(m.iter().count(), 2);
        assert_eq!(m.counts(a).created, 2);
    }
}
