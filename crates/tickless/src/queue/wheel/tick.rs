//! Duration → tick conversion without a 64-bit division on the hot path.
//!
//! Every insert turns a deadline into a tick. When the tick divides one
//! second evenly (1 ms, 10 µs, ... — every tick anyone configures), the
//! conversion is `secs * ticks_per_sec + subsec_nanos / tick`, and the 32-bit
//! division is a multiply by a precomputed reciprocal (Lemire, Kaser & Kurz,
//! "Faster remainder by direct computation", 2019: exact for all 32-bit
//! numerators). Other ticks fall back to a plain 128-bit division.

use std::time::Duration;

const NANOS_PER_SEC: u64 = 1_000_000_000;

#[derive(Clone, Copy, Debug)]
pub(crate) struct TickMath {
    pub(crate) tick_nanos: u64,
    /// Ticks per second when the tick divides a second evenly, else 0.
    per_sec: u64,
    /// ⌈2⁶⁴ / tick_nanos⌉ when `per_sec != 0` and tick > 1 ns.
    reciprocal: u64,
}

impl TickMath {
    /// The wheel's whole range at this tick: 2⁴² ticks, saturating.
    pub(crate) fn span(&self) -> Duration {
        Duration::from_nanos(super::level::SPAN.saturating_mul(self.tick_nanos))
    }

    /// Ticks from `origin` to `t`, rounded up (0 before the origin).
    #[inline]
    pub(crate) fn ceil_since(&self, origin: std::time::Instant, t: std::time::Instant) -> u64 {
        self.ceil(t.saturating_duration_since(origin))
    }

    /// A zero tick means 1 ns; ticks beyond `u64::MAX` ns are capped there.
    pub(crate) fn new(tick: Duration) -> Self {
        let tick_nanos = u64::try_from(tick.as_nanos()).unwrap_or(u64::MAX).max(1);
        let divides_second =
            tick_nanos <= NANOS_PER_SEC && NANOS_PER_SEC.is_multiple_of(tick_nanos);
        TickMath {
            tick_nanos,
            per_sec: if divides_second {
                NANOS_PER_SEC / tick_nanos
            } else {
                0
            },
            reciprocal: if divides_second && tick_nanos > 1 {
                u64::MAX / tick_nanos + 1
            } else {
                0
            },
        }
    }

    /// `(subsec / tick, subsec % tick)` for `subsec < 10⁹` on the fast path.
    #[inline]
    fn split_subsec(&self, subsec: u32) -> (u64, u64) {
        if self.reciprocal == 0 {
            return (u64::from(subsec), 0); // 1 ns tick
        }
        let q = ((u128::from(self.reciprocal) * u128::from(subsec)) >> 64) as u64;
        (q, u64::from(subsec) - q * self.tick_nanos)
    }

    /// Whole ticks in `d`, rounded down; saturates at `u64::MAX`.
    #[inline]
    pub(crate) fn floor(&self, d: Duration) -> u64 {
        if self.per_sec == 0 {
            return u64::try_from(d.as_nanos() / u128::from(self.tick_nanos)).unwrap_or(u64::MAX);
        }
        let (q, _) = self.split_subsec(d.subsec_nanos());
        d.as_secs().saturating_mul(self.per_sec).saturating_add(q)
    }

    /// [`ceil`](TickMath::ceil), and how many nanoseconds the rounded-up
    /// tick's start lies after `d` (less than a tick; 0 when `d` is a whole
    /// number of ticks, and when the tick saturates, since the saturated
    /// tick no longer stands for an instant `d` can be measured against).
    #[inline]
    pub(crate) fn ceil_with_rest(&self, d: Duration) -> (u64, u64) {
        if self.per_sec == 0 {
            let t = u128::from(self.tick_nanos);
            let n = d.as_nanos();
            let (q, r) = (n / t, n % t);
            return match u64::try_from(q + u128::from(r != 0)) {
                Ok(tick) if r != 0 => (tick, self.tick_nanos - r as u64),
                Ok(tick) => (tick, 0),
                Err(_) => (u64::MAX, 0),
            };
        }
        let (q, r) = self.split_subsec(d.subsec_nanos());
        let tick = d
            .as_secs()
            .checked_mul(self.per_sec)
            .and_then(|t| t.checked_add(q + u64::from(r != 0)));
        match tick {
            Some(tick) if r != 0 => (tick, self.tick_nanos - r),
            Some(tick) => (tick, 0),
            None => (u64::MAX, 0),
        }
    }

    /// Ticks in `d`, rounded up; saturates at `u64::MAX`.
    #[inline]
    pub(crate) fn ceil(&self, d: Duration) -> u64 {
        // Inlined, the unused rest costs nothing.
        self.ceil_with_rest(d).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(d: Duration, tick: u64) -> (u64, u64) {
        let n = d.as_nanos();
        let t = u128::from(tick);
        let sat = |v: u128| u64::try_from(v).unwrap_or(u64::MAX);
        (sat(n / t), sat(n.div_ceil(t)))
    }

    #[test]
    fn matches_division_for_every_kind_of_tick() {
        let ticks = [
            1,
            2,
            3,
            7,
            1000,
            1024,
            999_999,
            1_000_000,
            3_000_000,
            10_000_000,
            1_000_000_000,
            3_000_000_000,
        ];
        let mut x: u64 = 99;
        for &tick in &ticks {
            let m = TickMath::new(Duration::from_nanos(tick));
            let check = |d: Duration| {
                assert_eq!(
                    (m.floor(d), m.ceil(d)),
                    reference(d, tick),
                    "{d:?} / {tick} ns"
                );
                let (ceil, rest) = m.ceil_with_rest(d);
                assert_eq!(ceil, m.ceil(d), "{d:?} / {tick} ns");
                if ceil < u64::MAX {
                    let start = u128::from(ceil) * u128::from(tick);
                    assert_eq!(
                        u128::from(rest),
                        start - d.as_nanos(),
                        "{d:?} / {tick} ns: the rest is the rounding"
                    );
                }
                assert!(rest < tick, "{d:?} / {tick} ns: rest {rest}");
            };
            for sub in [0, 1, tick.saturating_sub(1), tick, tick + 1, 999_999_999] {
                for secs in [0, 1, 59, 1 << 40] {
                    check(Duration::new(secs, (sub % NANOS_PER_SEC) as u32));
                }
            }
            for _ in 0..10_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                check(Duration::new(x >> 34, (x % NANOS_PER_SEC) as u32));
            }
            check(Duration::MAX);
        }
    }

    #[test]
    fn degenerate_ticks() {
        assert_eq!(TickMath::new(Duration::ZERO).tick_nanos, 1);
        let huge = TickMath::new(Duration::MAX);
        assert_eq!(huge.tick_nanos, u64::MAX);
        assert_eq!(huge.ceil(Duration::from_secs(1)), 1);
        assert_eq!(huge.floor(Duration::from_secs(1)), 0);
    }
}
