//! The earliest list, looked at and taken from without advancing the wheel:
//! for a caller that keeps exact deadlines beside the ticks (the driver) and
//! fires a timer before its tick's boundary once its exact deadline passed.
//!
//! The wheel knows only ticks, and a poll hands out a timer only once `now`,
//! rounded down, reached its tick: never early, up to a tick late. Moving
//! `elapsed` to a tick before it has begun would be wrong (a timer inserted
//! afterwards for that tick would land on the due list and fire early), so
//! these operations leave `elapsed` alone: [`Wheel::earliest_list`] walks the
//! list the next timers come from, and [`Wheel::expire_earliest_where`] takes
//! out of it exactly the timers the caller's predicate says are due. The
//! others stay where they are, and every invariant of `verify` still holds
//! (only unlinks happen).
//!
//! Cost: O(timers visited), and the caller bounds how many.

use super::level::LEVELS;
use super::{Wheel, DUE, NIL, SLOTS};
use crate::queue::Key;

/// The list the next timers come from: its first tick and its timers.
pub(crate) struct EarliestList<'a, T> {
    wheel: &'a Wheel<T>,
    /// The list's first tick: no timer on it is due before this tick.
    pub(crate) tick: u64,
    /// The list is a slot of the top level, which may hold timers parked
    /// beyond the wheel's range (their ticks lie far past the slot).
    pub(crate) top: bool,
    index: u32,
}

impl<'a, T> Iterator for EarliestList<'a, T> {
    /// A timer's tick and value, in list order (most recently filed first).
    type Item = (u64, &'a T);

    fn next(&mut self) -> Option<Self::Item> {
        if self.index == NIL {
            return None;
        }
        let entry = self.wheel.slab.at(self.index);
        self.index = entry.next;
        Some((entry.when, &entry.value))
    }
}

impl<'a, T> EarliestList<'a, T> {
    /// Folds `f` over the `(tick, value)` of the list's timers, when there
    /// are at most `limit` of them and the list is not on the top level:
    /// the list's first tick, and the fold — `None` when the list is too
    /// long or on the top level (its caller then keeps the boundary), or
    /// empty.
    pub(crate) fn fold<B>(
        self,
        limit: usize,
        mut f: impl FnMut(Option<B>, u64, &'a T) -> B,
    ) -> (u64, Option<B>) {
        let first = self.tick;
        if self.top {
            return (first, None);
        }
        let mut acc = None;
        for (i, (tick, value)) in self.enumerate() {
            if i == limit {
                return (first, None);
            }
            acc = Some(f(acc, tick, value));
        }
        (first, acc)
    }
}

impl<T> Wheel<T> {
    /// After a poll (the wheel's elapsed tick is `now` rounded down):
    /// [`expire_earliest_where`](Wheel::expire_earliest_where), but only
    /// when the earliest list's first tick is the next one — nothing on a
    /// later list can be due before its tick has begun. The driver and the
    /// scheduler fire timers at their exact deadline this way.
    pub(crate) fn expire_next_tick_where<P, F>(&mut self, limit: usize, due: P, on_expired: F)
    where
        P: FnMut(u64, &T) -> bool,
        F: FnMut(Key, u64, T),
    {
        let next = self.elapsed.saturating_add(1);
        if self.earliest().is_some_and(|(_, tick)| tick <= next) {
            self.expire_earliest_where(limit, due, on_expired);
        }
    }

    /// The list the next timers come from: the due list when it holds any
    /// (its tick is `elapsed`), else the earliest occupied slot. `None` when
    /// the wheel is empty. Every timer due before any other sits on it: the
    /// earliest tick of all is on this list (lower levels come due first).
    pub(crate) fn earliest_list(&self) -> Option<EarliestList<'_, T>> {
        let (list, tick) = self.earliest()?;
        Some(EarliestList {
            wheel: self,
            tick,
            top: list != DUE && list / SLOTS == LEVELS - 1,
            index: self.heads[list],
        })
    }

    /// Hands out the timers of the [earliest list](Wheel::earliest_list) for
    /// which `due(tick, &value)` holds, visiting at most `limit` of them
    /// (in list order); the rest, and `elapsed`, stay as they are. Returns
    /// how many were handed out.
    ///
    /// The wheel does not check `due` against the clock: the caller must
    /// accept only timers it knows to be due (never early is its promise).
    pub(crate) fn expire_earliest_where<P, F>(
        &mut self,
        limit: usize,
        mut due: P,
        mut on_expired: F,
    ) -> usize
    where
        P: FnMut(u64, &T) -> bool,
        F: FnMut(Key, u64, T),
    {
        let Some((list, _)) = self.earliest() else {
            return 0;
        };
        let mut index = self.heads[list];
        let (mut visited, mut fired) = (0, 0);
        while index != NIL && visited < limit {
            let entry = self.slab.at(index);
            let (next, when) = (entry.next, entry.when);
            if due(when, &entry.value) {
                self.unlink(index);
                let (key, entry) = self.slab.remove_at(index);
                on_expired(key, when, entry.value);
                fired += 1;
            }
            visited += 1;
            index = next;
        }
        fired
    }

    /// The earliest non-empty list and its first tick.
    fn earliest(&self) -> Option<(usize, u64)> {
        if self.heads[DUE] != NIL {
            return Some((DUE, self.elapsed));
        }
        let (level, slot, tick) = self.next_expiration()?;
        Some((level * SLOTS + slot, tick))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::queue::{TimerQueue, Wheel};

    fn wheel() -> (Instant, Wheel<u64>) {
        let t0 = Instant::now();
        (t0, Wheel::with_tick(t0, Duration::from_millis(1)))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn takes_only_what_the_predicate_accepts_and_keeps_elapsed() {
        let (t0, mut w) = wheel();
        for v in 0..10 {
            w.insert(t0 + ms(5), v);
        }
        w.insert(t0 + ms(9), 100);
        let list = w.earliest_list().unwrap();
        assert_eq!((list.tick, list.top), (5, false));
        let mut seen: Vec<u64> = list
            .map(|(tick, v)| {
                assert_eq!(tick, 5);
                *v
            })
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>(), "only the earliest slot");

        let mut fired = Vec::new();
        let n = w.expire_earliest_where(64, |_, v| v % 2 == 0, |_, tick, v| fired.push((tick, v)));
        fired.sort_unstable();
        assert_eq!(n, 5);
        assert_eq!(fired, [(5, 0), (5, 2), (5, 4), (5, 6), (5, 8)]);
        assert_eq!(w.elapsed_ticks(), 0, "the wheel did not advance");
        w.verify();

        // A timer inserted for the same tick now still waits for its tick.
        w.insert(t0 + ms(5), 11);
        assert!(w.poll_expired(t0 + ms(4), |_, _| {}) == 0);
        let mut rest = Vec::new();
        w.poll_expired(t0 + ms(5), |_, v| rest.push(v));
        rest.sort_unstable();
        assert_eq!(rest, [1, 3, 5, 7, 9, 11]);
        w.verify();
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn visits_at_most_the_limit() {
        let (t0, mut w) = wheel();
        for v in 0..100 {
            w.insert(t0 + ms(3), v);
        }
        assert_eq!(w.expire_earliest_where(10, |_, _| true, |_, _, _| {}), 10);
        assert_eq!(
            w.expire_earliest_where(10, |_, v| *v == 1000, |_, _, _| {}),
            0
        );
        assert_eq!(w.len(), 90);
        w.verify();
        assert_eq!(w.expire_earliest_where(1000, |_, _| true, |_, _, _| {}), 90);
        assert!(w.is_empty() && w.earliest_list().is_none());
        w.verify();
    }

    #[test]
    fn works_on_a_coarse_slot_and_the_due_list() {
        let (t0, mut w) = wheel();
        // 64..128 ms is one level-1 slot while the wheel is at 0.
        w.insert(t0 + ms(64), 1);
        w.insert(t0 + ms(70), 2);
        w.insert(t0 + ms(500), 3);
        let list = w.earliest_list().unwrap();
        assert_eq!(list.tick, 64);
        let mut ticks: Vec<u64> = list.map(|(t, _)| t).collect();
        ticks.sort_unstable();
        assert_eq!(ticks, [64, 70]);
        let mut fired = Vec::new();
        w.expire_earliest_where(64, |tick, _| tick == 64, |_, _, v| fired.push(v));
        assert_eq!(fired, [1]);
        w.verify();
        // The rest cascades and fires as usual.
        let mut out = Vec::new();
        w.poll_expired(t0 + ms(69), |_, v| out.push(v));
        assert!(out.is_empty());
        w.poll_expired(t0 + ms(70), |_, v| out.push(v));
        assert_eq!(out, [2]);
        w.verify();

        // Already due when inserted: the due list comes first, at `elapsed`.
        w.insert(t0, 4);
        let list = w.earliest_list().unwrap();
        assert_eq!(list.tick, w.elapsed_ticks());
        assert_eq!(list.map(|(_, v)| *v).collect::<Vec<_>>(), [4]);
        assert_eq!(w.expire_earliest_where(64, |_, _| true, |_, _, _| {}), 1);
        w.verify();
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn random_partial_expiry_keeps_the_wheel_sound() {
        let (t0, mut w) = wheel();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut live = std::collections::BTreeMap::new();
        let mut now = 0u64;
        for round in 0..3000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 4 {
                0 | 1 => {
                    let at = now + 1 + x % [5, 200, 9000][(x >> 8) as usize % 3];
                    let key = w.insert(t0 + ms(at), at);
                    live.insert(key, at);
                }
                2 => {
                    let cut = x >> 1;
                    w.expire_earliest_where(
                        (x % 7) as usize,
                        |_, v| (v ^ cut).is_multiple_of(3),
                        |k, tick, v| {
                            assert_eq!(live.remove(&k), Some(v), "round {round}");
                            assert_eq!(tick, v);
                        },
                    );
                }
                _ => {
                    now += x % 50;
                    w.poll_expired(t0 + ms(now), |k, v| {
                        assert!(v <= now, "round {round}: {v} fired at {now}");
                        assert_eq!(live.remove(&k), Some(v), "round {round}");
                    });
                    assert!(live.values().all(|&at| at > now), "round {round}");
                }
            }
            w.verify();
            assert_eq!(w.len(), live.len());
        }
    }

    #[test]
    fn fold_keeps_to_its_limit_and_next_tick_expiry_waits_for_its_tick() {
        let (t0, mut w) = wheel();
        for v in 0..3 {
            w.insert(t0 + ms(5), v);
        }
        w.insert(t0 + ms(6), 9);
        let sum = |limit| {
            w.earliest_list()
                .unwrap()
                .fold(limit, |acc: Option<u64>, _, v| acc.unwrap_or(0) + v)
        };
        assert_eq!(sum(3), (5, Some(3)), "the earliest list only");
        assert_eq!(sum(2), (5, None), "longer than the limit");

        // Elapsed is 0 and the list's tick is 5: not the next tick, nothing
        // taken whatever the predicate says.
        w.expire_next_tick_where(64, |_, _| true, |_, _, _| panic!("taken early"));
        assert_eq!(w.len(), 4);
        w.poll_expired(t0 + ms(4), |_, _| {});
        let mut taken = Vec::new();
        w.expire_next_tick_where(64, |_, v| *v < 2, |_, _, v| taken.push(v));
        taken.sort_unstable();
        assert_eq!(taken, [0, 1]);
        w.verify();
    }
}
