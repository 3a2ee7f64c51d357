//! Cache counters: hits, misses and removals by cause, per shard under its
//! lock (plain integers: no atomics on the hot path), summed on demand; and
//! the registry through which [`observe`](crate::observe) snapshots find the
//! caches of their driver.
//!
//! The registry holds a `Weak` per cache (a dropped cache leaves it at the
//! next registration or snapshot); it is locked when a cache is built and
//! when a snapshot is taken, never on a cache operation.

use std::hash::Hash;
use std::sync::{Arc, Mutex, Weak};

use super::{Inner, RemovalCause};
use crate::driver::Handle;
use crate::sync::lock_std;

/// One cache's counters at one moment ([`Cache::stats`](super::Cache::stats)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// The builder's [`name`](super::CacheBuilder::name), else the line that built it.
    pub name: String,
    /// Reads that found a live entry (`get`, `get_with`).
    pub hits: u64,
    /// Reads that did not.
    pub misses: u64,
    /// Entries removed because their time to live or idle passed.
    pub expired: u64,
    /// Entries evicted for the capacity.
    pub size: u64,
    /// Entries removed by `remove` or `invalidate_all`.
    pub explicit: u64,
    /// Values replaced by an insert under the same key.
    pub replaced: u64,
    /// Entries held.
    pub entries: u64,
    /// Their total weight.
    pub weighted_size: u64,
}

impl CacheStats {
    /// Hits ÷ reads (0 before the first read).
    pub fn hit_ratio(&self) -> f64 {
        let reads = self.hits + self.misses;
        if reads == 0 {
            0.0
        } else {
            self.hits as f64 / reads as f64
        }
    }
}

/// One shard's counters (under its lock).
#[derive(Clone, Copy, Default)]
pub(super) struct Counts {
    pub(super) hits: u64,
    pub(super) misses: u64,
    pub(super) removed: [u64; 4],
}

impl Counts {
    #[inline]
    pub(super) fn removed(&mut self, cause: RemovalCause) {
        self.removed[cause as usize] += 1;
    }

    pub(super) fn add_to(&self, stats: &mut CacheStats) {
        stats.hits += self.hits;
        stats.misses += self.misses;
        stats.expired += self.removed[RemovalCause::Expired as usize];
        stats.explicit += self.removed[RemovalCause::Explicit as usize];
        stats.replaced += self.removed[RemovalCause::Replaced as usize];
        stats.size += self.removed[RemovalCause::Size as usize];
    }
}

/// What the registry needs of a cache, whatever its key and value types.
pub(super) trait Source: Send + Sync {
    fn handle(&self) -> &Handle;
    fn stats(&self) -> CacheStats;
}

type Registry = Mutex<Vec<Weak<dyn Source>>>;

static CACHES: Registry = Mutex::new(Vec::new());

/// Lists a new cache.
pub(super) fn register(cache: Weak<dyn Source>) {
    let mut caches = lock_std(&CACHES);
    caches.retain(|c| c.strong_count() > 0);
    caches.push(cache);
}

/// The counters of every live cache on `handle`'s driver (for `observe`).
pub(crate) fn on_driver(handle: &Handle) -> Vec<CacheStats> {
    let caches: Vec<Arc<dyn Source>> = {
        let mut caches = lock_std(&CACHES);
        caches.retain(|c| c.strong_count() > 0);
        caches.iter().filter_map(Weak::upgrade).collect()
    };
    // Read with the registry unlocked (each read locks the cache's shards);
    // the upgraded references are dropped here, outside it too.
    caches
        .iter()
        .filter(|c| c.handle().same_driver_as(handle))
        .map(|c| c.stats())
        .collect()
}

impl<K, V> Source for Inner<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn handle(&self) -> &Handle {
        &self.handle
    }

    fn stats(&self) -> CacheStats {
        let mut stats = CacheStats {
            name: self
                .name
                .clone()
                .unwrap_or_else(|| format!("{}:{}", self.site.file(), self.site.line())),
            ..CacheStats::default()
        };
        for shard in self.shards.iter() {
            let st = lock_std(&shard.state);
            st.counts.add_to(&mut stats);
            stats.entries += st.len() as u64;
            stats.weighted_size += st.weight();
        }
        stats
    }
}
