//! Whole-storage operations of the wheel: expiring everything due by walking
//! the slab in memory order, and trimming the slab after a burst.

use super::level::{level_range, slot_for, slot_range, LEVELS, SLOTS};
use super::{Wheel, LISTS, NIL};
use crate::queue::Key;

/// A poll that finds every slot list due walks the slab in memory order
/// instead of chasing list links, once the wheel holds at least this many
/// timers (below it, the lists fit in cache and chasing them is as fast).
const BULK_MIN: usize = 1024;

/// [`Wheel::trim`] leaves slabs of fewer slots alone.
const TRIM_MIN_SLOTS: usize = 4096;

impl<T> Wheel<T> {
    /// The tick at which the latest-due occupied slot comes due: a poll at
    /// or after it drains every slot list (each timer then fires or is filed
    /// afresh). `None` if no slot is occupied.
    fn all_slots_due_at(&self) -> Option<u64> {
        let mut latest = None;
        for level in 0..LEVELS {
            let occupied = self.occupied[level];
            if occupied == 0 {
                continue;
            }
            let current = slot_for(self.elapsed, level);
            let above = if current == SLOTS - 1 {
                0
            } else {
                occupied & (u64::MAX << (current + 1))
            };
            // Slots after the current one lie in this rotation; slots at or
            // before it (the top level only) in the next one.
            let (slots, wrapped) = if above != occupied {
                (occupied & !above, true)
            } else {
                (above, false)
            };
            let last = 63 - slots.leading_zeros() as u64;
            let rotation = self.elapsed & !(level_range(level) - 1);
            let mut due = rotation.saturating_add(last.saturating_mul(slot_range(level)));
            if wrapped {
                due = due.saturating_add(level_range(level));
            }
            latest = Some(latest.map_or(due, |l: u64| l.max(due)));
        }
        latest
    }

    /// When the wheel is large and every slot list comes due at `now_tick`,
    /// expires by [`expire_linear`](Wheel::expire_linear) and returns how
    /// many fired; otherwise `None` (the caller drains list by list).
    pub(super) fn expire_all_linear<F: FnMut(Key, u64, T)>(
        &mut self,
        now_tick: u64,
        on_expired: &mut F,
    ) -> Option<usize> {
        // `slab.len()` counts shelved entries too (`index.rs`), which the walk
        // skips: only the cache shelves, and it pops one entry at a time.
        let worth_it = self.slab.len() >= BULK_MIN
            && self.all_slots_due_at().is_some_and(|due| due <= now_tick);
        worth_it.then(|| self.expire_linear(now_tick, on_expired))
    }

    /// Every list comes due: walk the slab in memory order (sequential
    /// reads, no dependent cache misses), fire what is due and file the rest
    /// afresh — the same work as draining every list, without chasing links.
    /// Fires in slab order, not deadline order.
    fn expire_linear<F: FnMut(Key, u64, T)>(&mut self, now_tick: u64, on_expired: &mut F) -> usize {
        self.heads = [NIL; LISTS];
        self.occupied = [0; LEVELS];
        self.elapsed = self.elapsed.max(now_tick);
        let mut fired = 0;
        for index in 0..self.slab.slots() as u32 {
            if self.slab.is_occupied(index) && !self.is_shelved(index) {
                fired += usize::from(self.fire_or_refile(index, now_tick, on_expired));
            }
        }
        fired
    }

    /// Gives memory back after a burst: shrinks the storage when at most a
    /// quarter of its slots hold timers and at least half of them, at its
    /// end, are free (so a reallocation frees at least half). Returns
    /// whether it shrank.
    ///
    /// Cheap to call after every removal: O(1) when it does nothing, and it
    /// tries at most once per halving of [`len`](crate::queue::TimerQueue::len), and once
    /// more on reaching empty — steady churn never pays for it. A try counts
    /// the free slots at the end (at most half the slots) and, if there are
    /// enough, shrinks in O(slots). Only trailing free slots can be returned
    /// (keys stay valid), so a few long-lived timers created last hold the
    /// storage until they go. (Timers handed out in the order they were
    /// created free the end last: without the half rule, the end of such a
    /// drain reallocated the whole storage once per halving to free a
    /// handful of slots.)
    #[inline]
    pub fn trim(&mut self) -> bool {
        let (len, slots) = (self.slab.len(), self.slab.slots());
        // The common answer, inline at every removal: nothing to try.
        if slots < TRIM_MIN_SLOTS || len > slots / 4 || (len >= self.trim_below && len > 0) {
            return false;
        }
        self.try_trim(len, slots)
    }

    #[cold]
    fn try_trim(&mut self, len: usize, slots: usize) -> bool {
        if !self.slab.last_is_vacant() {
            return false;
        }
        self.trim_below = len / 2;
        let half = slots / 2;
        let free_tail = (1..=half)
            .take_while(|back| !self.slab.is_occupied((slots - back) as u32))
            .count();
        if free_tail < half {
            return false;
        }
        self.slab.shrink_to_fit();
        true
    }
}
