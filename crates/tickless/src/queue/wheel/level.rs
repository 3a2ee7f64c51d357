//! The arithmetic of one wheel level: which level and slot a tick belongs to,
//! and how many ticks a slot and a whole level span.
//!
//! Level `l` has [`SLOTS`] slots of `64^l` ticks each, so it spans `64^(l+1)`
//! ticks. A tick `when` is filed at the level of the highest bit in which it
//! differs from the wheel's current tick `elapsed`: every timer sits in the
//! finest level that can tell it apart from now.

/// log₂ of the number of slots per level.
pub(crate) const SLOT_BITS: u32 = 6;

/// Slots per level: one `u64` occupancy bitmap covers a level.
pub const SLOTS: usize = 1 << SLOT_BITS;

/// Number of levels: 64⁷ = 2⁴² ticks, 139 years at the default 1 ms tick.
pub const LEVELS: usize = 7;

/// Ticks covered by all levels together.
pub(crate) const SPAN: u64 = 1 << (SLOT_BITS as usize * LEVELS);

/// Ticks covered by one slot of `level`.
#[inline]
pub(crate) const fn slot_range(level: usize) -> u64 {
    1 << (SLOT_BITS as usize * level)
}

/// Ticks covered by the whole of `level`.
#[inline]
pub(crate) const fn level_range(level: usize) -> u64 {
    slot_range(level + 1)
}

/// The slot of `level` that `tick` falls into.
#[inline]
pub(crate) const fn slot_for(tick: u64, level: usize) -> usize {
    ((tick >> (SLOT_BITS as usize * level)) as usize) & (SLOTS - 1)
}

/// The level a timer due at `when` is filed at while the wheel is at `elapsed`.
///
/// Callers guarantee `elapsed < when` and `when - elapsed < SPAN`. The two may
/// still differ above the top level's bits (the top level wraps around), in
/// which case the timer goes to the top level.
#[inline]
pub(crate) fn level_for(elapsed: u64, when: u64) -> usize {
    // `| (SLOTS - 1)` makes ticks within one level-0 rotation land at level 0.
    let masked = (elapsed ^ when) | (SLOTS as u64 - 1);
    let significant = 63 - masked.leading_zeros() as usize;
    (significant / SLOT_BITS as usize).min(LEVELS - 1)
}

/// The first occupied slot after `current` in rotation order, and whether the
/// search wrapped around past slot 63 to reach it. `None` when `occupied == 0`.
///
/// Only the top level can legitimately wrap: a timer there may lie in the
/// next rotation of the top level.
#[inline]
pub(crate) fn next_occupied(occupied: u64, current: usize) -> Option<(usize, bool)> {
    if occupied == 0 {
        return None;
    }
    // Bits strictly above `current`; `checked_shl` yields 0 when current == 63.
    let after = occupied & u64::MAX.checked_shl(current as u32 + 1).unwrap_or(0);
    if after != 0 {
        Some((after.trailing_zeros() as usize, false))
    } else {
        Some((occupied.trailing_zeros() as usize, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(slot_range(0), 1);
        assert_eq!(slot_range(1), 64);
        assert_eq!(level_range(0), 64);
        assert_eq!(level_range(1), 4096);
        assert_eq!(level_range(LEVELS - 1), SPAN);
        assert_eq!(SPAN, 1 << 42);
    }

    #[test]
    fn slot_for_picks_the_level_digit() {
        let tick = (5 << 12) | (7 << 6) | 3;
        assert_eq!(slot_for(tick, 0), 3);
        assert_eq!(slot_for(tick, 1), 7);
        assert_eq!(slot_for(tick, 2), 5);
        assert_eq!(slot_for(tick, 3), 0);
    }

    #[test]
    fn level_for_uses_the_highest_differing_digit() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(63, 64), 1, "crossing a level-0 rotation");
        assert_eq!(level_for(64, 127), 0);
        assert_eq!(level_for(0, 4095), 1);
        assert_eq!(level_for(0, 4096), 2);
        assert_eq!(level_for(0, SPAN - 1), LEVELS - 1);
        // Differs above the top level (top-level wraparound): still the top level.
        assert_eq!(level_for(SPAN - 1, SPAN + 5), LEVELS - 1);
        assert_eq!(level_for(0, u64::MAX), LEVELS - 1);
    }

    #[test]
    fn level_for_agrees_with_slot_ranges() {
        // A timer filed at level l lies in a later slot of the same level-l rotation.
        for (elapsed, when) in [
            (0, 1),
            (10, 700),
            (4000, 4100),
            (12345, 999_999),
            (1 << 30, (1 << 30) + 77),
        ] {
            let l = level_for(elapsed, when);
            assert_eq!(
                elapsed / level_range(l),
                when / level_range(l),
                "{elapsed} {when} level {l}"
            );
            assert!(
                slot_for(when, l) > slot_for(elapsed, l),
                "{elapsed} {when} level {l}"
            );
        }
    }

    #[test]
    fn next_occupied_rotates() {
        assert_eq!(next_occupied(0, 5), None);
        assert_eq!(next_occupied(1 << 9, 5), Some((9, false)));
        assert_eq!(next_occupied((1 << 9) | (1 << 2), 5), Some((9, false)));
        assert_eq!(next_occupied(1 << 2, 5), Some((2, true)));
        assert_eq!(
            next_occupied(1 << 5, 5),
            Some((5, true)),
            "the current slot means next rotation"
        );
        assert_eq!(next_occupied(1 << 63, 62), Some((63, false)));
        assert_eq!(next_occupied(1 << 0, 63), Some((0, true)));
    }
}
