//! Per-shard counters, kept under the shard's own lock.
//!
//! Every counter is a plain integer updated while the shard lock is already
//! held for the timer operation itself, so accounting adds no atomic, no
//! lock and no clock read of its own; [`crate::observe`] sums the shards.
//! Per-call-site counters add one hash-map update per event; they can be
//! switched off at run time ([`crate::observe::set_call_sites`]).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::Location;

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
