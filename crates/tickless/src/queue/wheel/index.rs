//! Reaching timers by slab index: for a collection that keeps its values in
//! the wheel and links them into lists of its own by `u32` index (the cache's
//! eviction lists), so a value is stored once and its deadline beside it.
//!
//! Crate-private: an index is meaningful only while its timer is pending, and
//! only the collection that linked it knows that. Indices of pending timers
//! never move ([`trim`](Wheel::trim) frees only trailing vacant slots).
//!
//! Such a collection may also *shelve* values that never expire (tick
//! `u64::MAX`): stored like any timer (counted in `len`, reached by index,
//! removed by `cancel`, visited by `for_each`) but on no slot list, so
//! filing them, cascades and polls never touch them, and `next_deadline`
//! and `peek` do not see them. The cache's entries without a deadline are
//! shelved: each insert and eviction then skips a list link and unlink
//! (−6.6 % of the instructions of a trace replay without a TTL).

use std::time::{Duration, Instant};

use super::{list_tag, Wheel, SHELVED};
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

    /// [`floor_tick`](Wheel::floor_tick) of the instant `since` after the
    /// origin.
    #[inline]
    pub(crate) fn floor_tick_after_origin(&self, since: Duration) -> u64 {
        self.ticks.floor(since)
    }

    /// Moves the pending timer at `index` to tick `when` (panics if vacant).
    #[inline]
    pub(crate) fn reset_at_tick(&mut self, index: u32, when: u64) {
        self.unlink(index);
        self.link(index, when);
    }

    /// Removes the pending timer at `index` (panics if vacant) and returns
    /// its value: [`cancel`](crate::queue::TimerQueue::cancel) for a caller
    /// that holds the index, not the key (no generation to check).
    #[inline]
    pub(crate) fn remove_at(&mut self, index: u32) -> T {
        self.unlink(index);
        self.slab.remove_at(index).1.value
    }

    /// [`insert_at_tick`](Wheel::insert_at_tick), except that a timer that
    /// never fires (`tick == u64::MAX`) is shelved (see the module docs).
    #[inline]
    pub(crate) fn insert_or_shelve(&mut self, tick: u64, value: T) -> Key {
        if tick != u64::MAX {
            return self.insert_at_tick(tick, value);
        }
        self.store(tick, SHELVED, value)
    }

    /// [`reset_at_tick`](Wheel::reset_at_tick), shelving the timer if `when`
    /// is `u64::MAX` (and filing a shelved one that gets a deadline).
    #[inline]
    pub(crate) fn reset_or_shelve(&mut self, index: u32, when: u64) {
        self.unlink(index);
        if when == u64::MAX {
            let entry = self.slab.at_mut(index);
            entry.when = when;
            entry.list = list_tag(SHELVED);
        } else {
            self.link(index, when);
        }
    }

    /// `true` if the pending timer at `index` is shelved (panics if vacant).
    #[inline]
    pub(crate) fn is_shelved(&self, index: u32) -> bool {
        usize::from(self.slab.at(index).list.get()) - 1 == SHELVED
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::queue::{TimerQueue, Wheel};

    #[test]
    fn shelved_timers_are_stored_but_never_filed_polled_or_seen() {
        let t0 = Instant::now();
        let mut w = Wheel::with_tick(t0, Duration::from_millis(1));
        // Enough timers that a far poll walks the slab (the bulk path).
        let shelved: Vec<_> = (0..1500u64)
            .map(|v| w.insert_or_shelve(u64::MAX, v))
            .collect();
        assert!(shelved.iter().all(|k| w.is_shelved(k.index)));
        assert_eq!(w.len(), 1500);
        assert_eq!((w.next_deadline(), w.peek()), (None, None));
        w.verify();
        let filed = w.insert_or_shelve(5, 9_999);
        assert!(!w.is_shelved(filed.index));
        assert_eq!(w.peek(), Some(filed));
        let far = t0 + Duration::from_secs(86_400 * 365 * 100);
        let mut fired = Vec::new();
        assert_eq!(w.poll_expired(far, |_, v| fired.push(v)), 1);
        assert_eq!(fired, [9_999]);
        assert_eq!(w.len(), 1500);
        w.verify();
        // A shelved timer gets a deadline, and a filed one is shelved.
        w.reset_or_shelve(shelved[7].index, w.elapsed_ticks() + 3);
        assert!(!w.is_shelved(shelved[7].index));
        assert_eq!(w.peek(), Some(shelved[7]));
        w.reset_or_shelve(shelved[7].index, u64::MAX);
        assert!(w.is_shelved(shelved[7].index));
        assert_eq!(w.peek(), None);
        w.verify();
        assert_eq!(w.cancel(shelved[3]), Some(3));
        assert_eq!(w.remove_at(shelved[4].index), 4);
        assert_eq!(w.cancel(shelved[4]), None, "its key is stale");
        assert_eq!(w.pop_expired(far + Duration::from_secs(1)), None);
        assert_eq!(w.len(), 1498);
        w.verify();
    }
}
