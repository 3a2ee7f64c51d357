//! Ghosts of recently evicted keys, which size the window (replacing
//! Caffeine's hill climber): the adaptation idea of ARC (Megiddo and Modha,
//! "ARC: A Self-Tuning, Low Overhead Replacement Cache", USENIX FAST 2003),
//! applied to W-TinyLFU's two spaces.
//!
//! Each key the [policy](super::policy) evicts leaves a ghost — a 16-bit
//! fingerprint of its hash, the side it left from (a window candidate that
//! lost at the door, or a main victim) and that side's eviction clock — in
//! a direct-mapped table (a newer ghost overwrites an older one in its
//! slot). A miss on a key whose ghost is young (fewer than capacity /
//! [`REACH`] evictions from its side since) would have been a hit had that
//! side been that much larger (each side's age is counted in its own
//! evictions: on P3 at 25k entries nearly all evictions are window
//! candidates, and a global clock made main's ghosts look old): a window ghost grows the window, a main ghost shrinks
//! it. The two sides are judged at the same margin and at the same time,
//! so a workload that changes phase moves both alike — where the hill
//! climber, comparing one sample's hit ratio with the last, mistook such
//! changes for the effect of its own steps and wandered.
//!
//! Cost: O(1) per miss and per eviction; 4 bytes per slot, one slot per two
//! units of capacity (rounded up to a power of two).

/// Ghosts older than `capacity / REACH` evictions are ignored.
const REACH: u64 = 8;
/// The age field's width in the slot (bits 1..16).
const AGE_BITS: u32 = 15;
const AGE_MASK: u32 = (1 << AGE_BITS) - 1;

/// Which side a ghost was evicted from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    /// A candidate just out of the window that lost at the door.
    Window,
    /// Main's victim, which lost to a candidate.
    Main,
}

pub(super) struct Ghosts {
    /// Fingerprint (high 16 bits, never 0), clock (bits 1..16, in `unit`s)
    /// and side (bit 0: main); 0 is an empty slot.
    slots: Box<[u32]>,
    /// Ghosts put so far per side, in `unit`s (each side's age is counted
    /// in its own evictions: a side larger by `n` keeps its keys `n` of
    /// them longer), and the evictions since the last whole unit.
    clock: [u64; 2],
    partial: [u64; 2],
    /// Evictions per clock step, so that 15 bits span 8 × the capacity.
    unit: u64,
    /// Ghosts older than this many evictions are ignored.
    reach: u64,
}

impl Ghosts {
    pub(super) fn new(capacity: u64) -> Self {
        let slots = ((capacity / 2).clamp(16, 1 << 24) as usize).next_power_of_two();
        Ghosts {
            slots: vec![0; slots].into_boxed_slice(),
            clock: [0; 2],
            partial: [0; 2],
            unit: (capacity >> (AGE_BITS - 3)).max(1),
            reach: capacity / REACH,
        }
    }

    /// Slot and fingerprint (shifted into place) of `hash`.
    #[inline]
    fn slot(&self, hash: u64) -> (usize, u32) {
        let h = hash.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = (h >> 32) as usize & (self.slots.len() - 1);
        (slot, u32::from(h as u16 | 1) << 16)
    }

    fn now(&self, side: Side) -> u32 {
        (self.clock[side as usize] as u32) & AGE_MASK
    }

    /// Counts one eviction from `side` (no division on this path).
    fn tick(&mut self, side: Side) {
        let s = side as usize;
        self.partial[s] += 1;
        if self.partial[s] == self.unit {
            self.partial[s] = 0;
            self.clock[s] += 1;
        }
    }

    /// Leaves a ghost of the key with `hash`, evicted from `side`.
    pub(super) fn put(&mut self, hash: u64, side: Side) {
        self.tick(side);
        let (slot, fingerprint) = self.slot(hash);
        self.slots[slot] = fingerprint | (self.now(side) << 1) | u32::from(side == Side::Main);
    }

    /// On a miss: the side of the key's ghost if it is young enough,
    /// consuming the ghost (a key counts once per eviction).
    pub(super) fn take(&mut self, hash: u64) -> Option<Side> {
        let (slot, fingerprint) = self.slot(hash);
        let ghost = self.slots[slot];
        if ghost & 0xffff_0000 != fingerprint {
            return None;
        }
        self.slots[slot] = 0;
        let side = if ghost & 1 == 1 {
            Side::Main
        } else {
            Side::Window
        };
        let age = u64::from(self.now(side).wrapping_sub(ghost >> 1) & AGE_MASK);
        (age.saturating_mul(self.unit) <= self.reach).then_some(side)
    }

    /// Heap bytes held.
    pub(super) fn bytes(&self) -> usize {
        self.slots.len() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_young_ghost_is_found_once_with_its_side() {
        let mut g = Ghosts::new(1000);
        g.put(11, Side::Window);
        g.put(22, Side::Main);
        assert_eq!(g.take(11), Some(Side::Window));
        assert_eq!(g.take(11), None, "consumed");
        assert_eq!(g.take(22), Some(Side::Main));
        assert_eq!(g.take(33), None, "never evicted");
    }

    #[test]
    fn an_old_ghost_is_ignored() {
        let mut g = Ghosts::new(1000); // reach: 125 evictions
        g.put(7, Side::Window);
        for k in 0..200u64 {
            // Other keys, most in other slots; re-put 7's only if they collide.
            let h = 1_000 + k;
            if g.slot(h).0 != g.slot(7).0 {
                g.put(h, Side::Window);
            } else {
                g.tick(Side::Window);
            }
        }
        assert_eq!(g.take(7), None);
    }

    #[test]
    fn any_capacity_sizes_a_bounded_table() {
        for capacity in [0, 1, 1000, u64::MAX / 2, u64::MAX] {
            let mut g = Ghosts::new(capacity);
            assert!(g.slots.len().is_power_of_two() && g.slots.len() <= 1 << 24);
            g.put(1, Side::Main);
            assert_eq!(g.take(1), Some(Side::Main));
        }
    }
}
