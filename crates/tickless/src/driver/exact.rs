//! Exact deadlines on a wheel of ticks: what lets the timer thread wake at a
//! timer's deadline instead of its tick's boundary, without waking more often.
//!
//! # What is kept
//!
//! The wheel files a timer by its deadline rounded *up* to a tick. Beside
//! that tick, each [`Registration`] keeps how much earlier than the tick's
//! boundary the exact deadline lies (`early`, in [`Stamp`]): exact deadline
//! = tick × resolution − early, with 0 ≤ early < resolution. It shares one
//! word with the creation time, so the slab slot does not grow (64 bytes,
//! checked by a test).
//!
//! # The plan: one wake-up per tick, at its last exact deadline
//!
//! After a scan the timer thread looks at each shard's earliest list (the
//! wheel's `earliest_list`): its timers of the lowest tick `m` all lie in it.
//! If the list is short (at most [`WALK`] timers) and not on the top level,
//! the shard's [`Plan`] is the **latest** exact deadline among its timers of
//! tick `m`; otherwise the list's boundary, as before. Across shards the
//! lowest tick wins, and among equal ticks the latest deadline. Waking at
//! the latest, not the earliest, keeps one wake-up per occupied tick, as
//! with boundaries (no extra wake-ups), and fires every timer of that tick no
//! later than its boundary (never later than before).
//!
//! # Waking before the boundary
//!
//! The thread then polls as usual (that fires nothing of tick `m` yet: `now`
//! rounded down is `m − 1`) and takes from the earliest list exactly the
//! timers whose exact deadline has passed (`expire_earliest_where`, visiting
//! at most [`WALK`]). It never moves the wheel's `elapsed` to `m` before `m`
//! has begun: a timer inserted afterwards for tick `m` with a later exact
//! deadline stays pending, and the next plan covers it. **Never early**:
//! a timer fires either when `now` rounded down reaches its tick (its
//! boundary, at or after its deadline) or when `now` reached its exact
//! deadline.
//!
//! The plan is published in ticks (`wakeup.rs`), rounded up: a registration
//! whose tick (plus slack) is below it wakes the thread, as before. One that
//! is not below it shares the planned tick or a later one, and the thread
//! looks again at the latest at that tick's boundary; if it wakes before
//! that timer's exact deadline, it plans again. A racing registration may
//! therefore add a wake-up; nothing is missed.
//!
//! # Manual clocks
//!
//! [`earliest`] gives the exact earliest deadline of a shard (its earliest
//! list's boundary when that list is long), which `ManualClock::advance_to_next`
//! moves to; the poll at that instant fires it by the same partial expiry.

use super::shard::Registration;
use crate::queue::Wheel;

/// Timers of the earliest list looked at per plan or partial expiry: more
/// and the thread keeps the list's boundary (as before exact wake-ups).
pub(crate) const WALK: usize = 64;

/// Bits of a [`Stamp`] holding `early`; the creation time keeps the rest.
const EARLY_BITS: u32 = 24;
const EARLY_MASK: u64 = (1 << EARLY_BITS) - 1;
/// Creation times beyond this (34.8 years of the coarse clock) are clamped.
const CREATED_MAX: u64 = u64::MAX >> EARLY_BITS;

/// A registration's creation time (milliseconds on the driver's coarse
/// clock, up to 34.8 years; later ones read as that) and its `early`, in
/// [`Exact`]'s units, in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp(u64);

impl Stamp {
    pub(crate) fn new(created_ms: u64, early: u32) -> Stamp {
        Stamp(created_ms.min(CREATED_MAX) << EARLY_BITS | (u64::from(early) & EARLY_MASK))
    }

    pub(crate) fn created_ms(self) -> u64 {
        self.0 >> EARLY_BITS
    }

    fn early(self) -> u64 {
        self.0 & EARLY_MASK
    }

    /// The same creation time with another `early`.
    pub(crate) fn with_early(self, early: u32) -> Stamp {
        Stamp::new(self.created_ms(), early)
    }
}

/// Deadline ↔ (tick, early) for one resolution. `early` is kept in units of
/// `2^shift` ns so it fits [`EARLY_BITS`] at any resolution (1 ns units up
/// to a 16.7 ms tick), rounded down: the exact deadline read back is then
/// at or after the true one, never before.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exact {
    tick_nanos: u64,
    shift: u32,
}

impl Exact {
    pub(crate) fn new(tick_nanos: u64) -> Exact {
        let bits = 64 - tick_nanos.saturating_sub(1).leading_zeros();
        Exact {
            tick_nanos,
            shift: bits.saturating_sub(EARLY_BITS),
        }
    }

    /// `early` of a deadline at tick `tick`, whose boundary lies `rest` ns
    /// after it (`TickMath::ceil_with_rest`); 0 when the boundary is not
    /// representable (the deadline then reads back as the boundary).
    pub(crate) fn early(&self, tick: u64, rest: u64) -> u32 {
        if tick.checked_mul(self.tick_nanos).is_none() {
            return 0;
        }
        (rest >> self.shift) as u32 // < 2^EARLY_BITS: rest < tick_nanos
    }

    /// The exact deadline, in nanoseconds after the origin, of a timer at
    /// tick `tick` stamped `stamp` (at or after the one it was registered for).
    #[inline]
    pub(crate) fn deadline_nanos(&self, tick: u64, stamp: Stamp) -> u64 {
        tick.saturating_mul(self.tick_nanos)
            .saturating_sub(stamp.early() << self.shift)
    }

    fn boundary_nanos(&self, tick: u64) -> u64 {
        tick.saturating_mul(self.tick_nanos)
    }
}

/// When a shard next needs the timer thread: the tick of its earliest
/// timers and the instant (ns after the origin) to wake for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) tick: u64,
    pub(crate) wake_nanos: u64,
}

impl Plan {
    /// Two shards' plans as one: the lower tick, else the later instant
    /// (one wake-up per tick; see the module docs).
    pub(crate) fn merge(self, other: Plan) -> Plan {
        match self.tick.cmp(&other.tick) {
            std::cmp::Ordering::Less => self,
            std::cmp::Ordering::Greater => other,
            std::cmp::Ordering::Equal => Plan {
                tick: self.tick,
                wake_nanos: self.wake_nanos.max(other.wake_nanos),
            },
        }
    }
}

/// Folds `f` over the `(tick, exact deadline)` of the earliest list's
/// timers: the list's first tick, and the fold — `None` when the list keeps
/// its boundary (on the top level, or longer than [`WALK`]). `None` when the
/// wheel is empty.
fn fold_earliest<B>(
    wheel: &Wheel<Registration>,
    exact: &Exact,
    mut f: impl FnMut(Option<B>, u64, u64) -> B,
) -> Option<(u64, Option<B>)> {
    let list = wheel.earliest_list()?;
    Some(list.fold(WALK, |acc, tick, r| {
        f(acc, tick, exact.deadline_nanos(tick, r.stamp))
    }))
}

/// The shard's plan (see the module docs); `None` when it is empty.
pub(crate) fn plan(wheel: &Wheel<Registration>, exact: &Exact) -> Option<Plan> {
    let (first, best) = fold_earliest(wheel, exact, |best: Option<Plan>, tick, wake_nanos| {
        let at = Plan { tick, wake_nanos };
        best.map_or(at, |b| b.merge(at))
    })?;
    Some(best.unwrap_or(Plan {
        tick: first,
        wake_nanos: exact.boundary_nanos(first),
    }))
}

/// The shard's earliest exact deadline (ns after the origin), or its earliest
/// list's boundary when that list is long; `None` when it is empty.
pub(crate) fn earliest(wheel: &Wheel<Registration>, exact: &Exact) -> Option<u64> {
    let (first, best) = fold_earliest(wheel, exact, |best: Option<u64>, _, at| {
        best.map_or(at, |b| b.min(at))
    })?;
    Some(best.unwrap_or_else(|| exact.boundary_nanos(first)))
}

/// Fires, from the earliest list, the timers whose exact deadline is at or
/// before `now_nanos` (see the module docs), calling `fired` with each one's
/// exact deadline and its waker. Called right after a poll at `now_nanos`
/// (so the wheel's elapsed tick is `now` rounded down), it only looks when
/// that list's first tick is the next one: nothing later can be due.
pub(crate) fn expire_early(
    wheel: &mut Wheel<Registration>,
    exact: &Exact,
    now_nanos: u64,
    mut fired: impl FnMut(u64, Registration),
) {
    wheel.expire_next_tick_where(
        WALK,
        |tick, r| exact.deadline_nanos(tick, r.stamp) <= now_nanos,
        |_, tick, r| fired(exact.deadline_nanos(tick, r.stamp), r),
    );
}

#[cfg(all(test, not(tickless_loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_slab_slot_does_not_grow() {
        // 16 B waker, 8 B call site, 8 B stamp; 24 B of tick and links and
        // 8 B of slab bookkeeping: as before `early` was kept.
        assert_eq!(std::mem::size_of::<Registration>(), 32);
        assert_eq!(Wheel::<Registration>::BYTES_PER_TIMER, 64);
    }

    #[test]
    fn stamp_keeps_both_halves() {
        let s = Stamp::new(123_456_789, 99_999);
        assert_eq!((s.created_ms(), s.early()), (123_456_789, 99_999));
        assert_eq!(s.with_early(7).created_ms(), 123_456_789);
        assert_eq!(Stamp::new(u64::MAX, 1).created_ms(), CREATED_MAX);
    }

    #[test]
    fn deadlines_read_back_at_or_after_the_true_one() {
        for tick_nanos in [
            1,
            1_000,
            100_000,
            16_777_216,
            16_777_217,
            1_000_000_000,
            u64::MAX,
        ] {
            let e = Exact::new(tick_nanos);
            for since in [0u64, 1, 99_999, 100_001, 123_456_789_012, u64::MAX / 2] {
                let tick = since.div_ceil(tick_nanos);
                let rest = tick.checked_mul(tick_nanos).map_or(0, |b| b - since);
                let early = e.early(tick, rest);
                assert!(u64::from(early) <= EARLY_MASK);
                let back = e.deadline_nanos(tick, Stamp::new(5, early));
                assert!(back >= since, "tick {tick_nanos}: {back} before {since}");
                assert!(
                    back - since < (1 << e.shift) || tick.checked_mul(tick_nanos).is_none(),
                    "tick {tick_nanos}: {back} is {} after {since}",
                    back - since
                );
            }
        }
    }

    #[test]
    fn merge_takes_the_lower_tick_then_the_later_instant() {
        let p = |tick, wake_nanos| Plan { tick, wake_nanos };
        assert_eq!(p(3, 250).merge(p(4, 310)), p(3, 250));
        assert_eq!(p(4, 310).merge(p(3, 250)), p(3, 250));
        assert_eq!(p(3, 250).merge(p(3, 290)), p(3, 290));
    }
}
