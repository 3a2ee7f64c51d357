//! Live counts of collections that hold many deadlines behind one driver
//! timer (a `DelayQueue`, later a cache or a scheduler), so `observe` can
//! show their entries under the line that created the collection.
//!
//! A collection registers once and gets a [`CollectionCount`]; it stores its
//! length as entries come and go (one relaxed store — no driver lock, no
//! read-modify-write). The driver keeps a `Weak`
//! per collection and prunes dead ones when it registers the next, so the
//! list is bounded by live collections (amortised O(1) per registration).

use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use super::Handle;
use crate::sync::lock_std;

/// One collection's live entry count.
#[derive(Debug)]
pub(crate) struct CollectionCount {
    site: &'static Location<'static>,
    live: AtomicU64,
}

impl CollectionCount {
    /// Records that the collection now holds `n` entries. The collection's
    /// owner is the only writer, so a store (not a read-modify-write) does.
    #[inline]
    pub(crate) fn set(&self, n: usize) {
        // Relaxed: a statistic read by snapshots, which order nothing by it.
        self.live.store(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn site(&self) -> &'static Location<'static> {
        self.site
    }

    pub(crate) fn live(&self) -> u64 {
        // Relaxed: see `set`.
        self.live.load(Ordering::Relaxed)
    }
}

/// The driver's list of registered collections.
#[derive(Default)]
pub(crate) struct Collections {
    list: std::sync::Mutex<Vec<Weak<CollectionCount>>>,
}

impl Handle {
    /// Registers a collection created at `site`; its count shows in
    /// snapshots while the returned `Arc` lives.
    pub(crate) fn register_collection(
        &self,
        site: &'static Location<'static>,
    ) -> Arc<CollectionCount> {
        let count = Arc::new(CollectionCount {
            site,
            live: AtomicU64::new(0),
        });
        let mut list = lock_std(&self.inner().collections.list);
        if list.len() >= 16 && list.len().is_power_of_two() {
            list.retain(|w| w.strong_count() > 0);
        }
        list.push(Arc::downgrade(&count));
        count
    }
}

impl Collections {
    /// Calls `f` for every live collection (under the list's lock; `f` must
    /// not register a collection).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&CollectionCount)) {
        let mut list = lock_std(&self.list);
        list.retain(|w| match w.upgrade() {
            Some(c) => {
                f(&c);
                true
            }
            None => false,
        });
    }
}
