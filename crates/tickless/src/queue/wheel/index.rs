//! Reaching timers by slab index: for a collection that keeps its values in
//! the wheel and links them into lists of its own by `u32` index (the cache's
//! eviction lists), so a value is stored once and its deadline beside it.
//!
//! Crate-private: an index is meaningful only while its timer is pending, and
//! only the collection that linked it knows that. Indices of pending timers
//! never move ([`trim`](Wheel::trim) frees only trailing vacant slots).

use std::time::Instant;

use super::Wheel;
use crate::queue::Key;

impl<T> Wheel<T> {
    /// The key of the pending timer at `index`. Panics if the slot is
    /// vacant (a caller's link bug).
    #[inline]
    pub(crate) fn key_at(&self, index: u32) -> Key {
        debug_assert!(self.slab.is_occupied(index), "slot {index} is vacant");
        self.slab.key_at(index)
    }

    /// The value of the pending timer at `index` (panics if vacant).
    #[inline]
    pub(crate) fn value_at(&self, index: u32) -> &T {
        &self.slab.at(index).value
    }

    /// [`value_at`](Wheel::value_at), mutably.
    #[inline]
    pub(crate) fn value_at_mut(&mut self, index: u32) -> &mut T {
        &mut self.slab.at_mut(index).value
    }

    /// The deadline tick of the pending timer at `index` (panics if vacant).
    #[inline]
    pub(crate) fn tick_at(&self, index: u32) -> u64 {
        self.slab.at(index).when
    }

    /// `now` in ticks, rounded down: a timer of tick `t` is due once this reaches `t`.
    #[inline]
    pub(crate) fn floor_tick(&self, now: Instant) -> u64 {
        self.now_tick(now)
    }

    /// Moves the pending timer at `index` to tick `when` (panics if vacant).
    #[inline]
    pub(crate) fn reset_at_tick(&mut self, index: u32, when: u64) {
        self.unlink(index);
        self.link(index, when);
    }

    /// Slots in use or free: every index handed out is below it.
    #[inline]
    pub(crate) fn slots(&self) -> usize {
        self.slab.slots()
    }

    /// Every pending timer's index and value, in slab order. O(slots).
    pub(crate) fn for_each_indexed<F: FnMut(u32, &T)>(&self, mut f: F) {
        for (key, entry) in self.slab.iter() {
            f(key.index, &entry.value);
        }
    }
}
