//! Taking due timers out one at a time, in deadline order: what a collection
//! that hands values back (a `DelayQueue`) needs, where
//! [`poll_expired`](crate::queue::TimerQueue::poll_expired) hands out a whole batch.
//!
//! [`Wheel::pop_expired`] advances the wheel one occupied slot at a time —
//! `elapsed` moves to the slot's first tick, never past it — so the timers
//! due at that tick land on the due list and the rest cascade into finer
//! slots. It hands out the due list's head, and looks at the next slot only
//! once the due list is empty. Hence:
//!
//! - **Order.** Timers come out by tick: all of tick `t` before any of tick
//!   `t + 1`, however late the caller polls and wherever the timers were
//!   filed. (Within one tick, and among timers inserted already due, the
//!   order is unspecified.)
//! - **Due timers stay in the wheel** until handed out: their keys stay live,
//!   so [`cancel`](crate::queue::TimerQueue::cancel) and [`reset`](crate::queue::TimerQueue::reset)
//!   still work on them in O(1), and no buffer outside the slab holds them.
//!
//! Cost: O(1) per timer handed out, plus at most one cascade per level per
//! timer (as for `poll_expired`) and one O([`LEVELS`](super::LEVELS)) bitmap search per
//! occupied slot reached. A call that finds nothing due is O(`LEVELS`).

use std::time::Instant;

use super::{Wheel, DUE, NIL, SLOTS};
use crate::queue::Key;

impl<T> Wheel<T> {
    /// Removes and returns one timer due at `now` — one with the earliest
    /// tick — as `(key, tick, value)`; `None` when nothing is due at `now`.
    ///
    /// Calling it until `None` hands out what one
    /// [`poll_expired(now)`](crate::queue::TimerQueue::poll_expired) would,
    /// but in tick order (within a tick, and among timers inserted already
    /// due, in no particular order). Timers due but not handed out yet stay
    /// in the wheel, so `cancel` and `reset` still reach them in O(1). Never
    /// early: a timer comes out only once `now`, rounded down to a tick, has
    /// reached its deadline's tick.
    ///
    /// Cost: O(1) per timer, plus at most one cascade per level per timer and
    /// one O(levels) bitmap search per occupied slot reached.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use tickless::queue::{TimerQueue, Wheel};
    ///
    /// let t0 = Instant::now();
    /// let mut wheel = Wheel::new(t0);
    /// for (v, ms) in [("c", 9_000), ("a", 5), ("b", 700)] {
    ///     wheel.insert(t0 + Duration::from_millis(ms), v);
    /// }
    /// let late = t0 + Duration::from_secs(10);
    /// let mut out = Vec::new();
    /// while let Some((_, _, v)) = wheel.pop_expired(late) {
    ///     out.push(v);
    /// }
    /// assert_eq!(out, ["a", "b", "c"]);
    /// ```
    pub fn pop_expired(&mut self, now: Instant) -> Option<(Key, u64, T)> {
        let now_tick = self.now_tick(now);
        loop {
            let index = self.heads[DUE];
            if index != NIL {
                let when = self.slab.at(index).when;
                self.unlink(index);
                if when > self.elapsed {
                    // Not due after all (its deadline moved without being
                    // re-filed): file it where it belongs.
                    self.link(index, when);
                    continue;
                }
                let (key, entry) = self.slab.remove_at(index);
                return Some((key, when, entry.value));
            }
            let Some((level, slot, tick)) = self.next_expiration() else {
                self.elapsed = self.elapsed.max(now_tick);
                return None;
            };
            if tick > now_tick {
                self.elapsed = self.elapsed.max(now_tick);
                return None;
            }
            debug_assert!(
                tick >= self.elapsed,
                "slot tick {tick} behind elapsed {}",
                self.elapsed
            );
            // Advance to the slot's first tick only: what is due then goes to
            // the due list, the rest into finer slots.
            self.elapsed = tick;
            self.refile_list(level * SLOTS + slot);
        }
    }

    /// Files every entry of slot list `list` afresh relative to `elapsed`.
    fn refile_list(&mut self, list: usize) {
        let mut index = std::mem::replace(&mut self.heads[list], NIL);
        self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
        while index != NIL {
            let entry = self.slab.at(index);
            let (next, when) = (entry.next, entry.when);
            self.link(index, when);
            index = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::queue::TimerQueue;

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    /// Random inserts, cancels and resets; then pops at random later times
    /// against a `BTreeMap` oracle: what comes out is exactly what is due, in
    /// tick order, and the structure stays sound.
    #[test]
    fn pops_what_is_due_in_tick_order() {
        let t0 = Instant::now();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for round in 0..200 {
            let mut w = Wheel::with_tick(t0, Duration::from_millis(1));
            let mut oracle: BTreeMap<Key, u64> = BTreeMap::new();
            let mut now = 0u64;
            for _ in 0..300 {
                match xorshift(&mut x) % 8 {
                    0..=3 => {
                        // Spread over every level, some beyond the range.
                        let span = [10, 5_000, 300_000, 40_000_000, u64::MAX / 4][(x % 5) as usize];
                        let at = now + xorshift(&mut x) % span;
                        let key = w.insert(t0 + Duration::from_millis(at), at);
                        oracle.insert(key, at);
                    }
                    4 if !oracle.is_empty() => {
                        let k = *oracle.keys().nth((x as usize) % oracle.len()).unwrap();
                        assert_eq!(w.cancel(k), oracle.remove(&k));
                    }
                    5 if !oracle.is_empty() => {
                        let k = *oracle.keys().nth((x as usize) % oracle.len()).unwrap();
                        let at = now + xorshift(&mut x) % 100_000;
                        assert!(w.reset(k, t0 + Duration::from_millis(at)));
                        *w.get_mut(k).unwrap() = at;
                        oracle.insert(k, at);
                    }
                    _ => {
                        now += xorshift(&mut x) % [3, 700, 90_000][(x % 3) as usize];
                        let mut last = 0;
                        while let Some((k, tick, v)) =
                            w.pop_expired(t0 + Duration::from_millis(now))
                        {
                            assert_eq!(oracle.remove(&k), Some(v), "round {round}: popped twice");
                            assert_eq!(tick, v, "the tick handed out is the deadline's");
                            assert!(v <= now, "round {round}: {v} popped early at {now}");
                            assert!(tick >= last, "round {round}: {tick} after {last}");
                            last = tick;
                        }
                        assert!(
                            oracle.values().all(|&at| at > now),
                            "round {round}: a due timer stayed behind at {now}"
                        );
                        w.verify();
                    }
                }
            }
            assert_eq!(w.len(), oracle.len());
        }
    }

    /// A due timer not yet handed out keeps its key: cancel and reset reach
    /// it, and it is not handed out afterwards.
    #[test]
    fn due_timers_stay_addressable() {
        let t0 = Instant::now();
        let mut w = Wheel::with_tick(t0, Duration::from_millis(1));
        let keys: Vec<Key> = (0..10u64)
            .map(|i| w.insert(t0 + Duration::from_millis(100), i))
            .collect();
        let late = t0 + Duration::from_millis(5_000);
        let (first, _, _) = w.pop_expired(late).unwrap();
        let rest: Vec<Key> = keys.iter().copied().filter(|k| *k != first).collect();
        assert!(w.cancel(rest[0]).is_some());
        assert!(w.reset(rest[1], t0 + Duration::from_millis(9_000)));
        let mut out = Vec::new();
        while let Some((k, _, _)) = w.pop_expired(late) {
            out.push(k);
        }
        assert_eq!(out.len(), 7);
        assert!(!out.contains(&rest[0]) && !out.contains(&rest[1]));
        w.verify();
        assert_eq!(w.len(), 1, "the reset one waits for its new deadline");
        assert!(w.pop_expired(t0 + Duration::from_millis(8_999)).is_none());
        assert_eq!(
            w.pop_expired(t0 + Duration::from_millis(9_000))
                .map(|p| p.0),
            Some(rest[1])
        );
    }

    /// Timers handed out in the order they were created free the slab's end
    /// last: `trim` must not reallocate the whole storage for a few free
    /// tail slots on the way, yet give it all back at the end.
    #[test]
    fn draining_in_creation_order_trims_once_at_the_end() {
        let t0 = Instant::now();
        let mut w = Wheel::with_tick(t0, Duration::from_millis(1));
        let n = 100_000u64;
        for i in 0..n {
            // 100 per tick, created in deadline order.
            w.insert(t0 + Duration::from_millis(1 + i / 100), i);
        }
        let mut trims = 0;
        while w.pop_expired(t0 + Duration::from_secs(10)).is_some() {
            trims += usize::from(w.trim());
        }
        assert!(w.is_empty());
        assert!(trims <= 2, "trimmed {trims} times");
        assert_eq!(w.capacity(), 0, "the storage went back");
    }

    /// Popping agrees with `poll_expired`: the same timers, given the same `now`.
    #[test]
    fn agrees_with_poll_expired() {
        let t0 = Instant::now();
        let mut x = 7u64;
        let mut a = Wheel::with_tick(t0, Duration::from_micros(100));
        let mut b = Wheel::with_tick(t0, Duration::from_micros(100));
        for i in 0..20_000u64 {
            let at = t0 + Duration::from_micros(xorshift(&mut x) % 50_000_000);
            a.insert(at, i);
            b.insert(at, i);
        }
        let mut now = t0;
        while !a.is_empty() {
            now += Duration::from_micros(xorshift(&mut x) % 3_000_000);
            let mut from_poll = Vec::new();
            a.poll_expired(now, |_, v| from_poll.push(v));
            let mut from_pop = Vec::new();
            while let Some((_, _, v)) = b.pop_expired(now) {
                from_pop.push(v);
            }
            from_poll.sort_unstable();
            from_pop.sort_unstable();
            assert_eq!(from_poll, from_pop);
            b.verify();
        }
        assert!(b.is_empty());
    }
}
