use super::*;

const MS: Duration = Duration::from_millis(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Polls at `next_deadline` until empty, recording when each value fired.
fn run_to_empty<T: Copy>(w: &mut Wheel<T>, limit: usize) -> Vec<(Instant, T)> {
    let mut out = Vec::new();
    for _ in 0..limit {
        let Some(at) = w.next_deadline() else { break };
        w.poll_expired(at, |_, v| out.push((at, v)));
        w.verify();
    }
    assert!(w.is_empty(), "wheel not drained within {limit} polls");
    out
}

#[test]
fn level_table_in_docs_matches_constants() {
    // The driver's default resolution (`Driver::DEFAULT_RESOLUTION`).
    let table = Wheel::<()>::level_table(Duration::from_micros(100));
    let docs: String = include_str!("mod.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("//! "))
        .filter(|l| l.starts_with('|'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        docs, table,
        "regenerate the module docs' table with Wheel::level_table"
    );
}

#[test]
fn entry_is_compact() {
    // 24 bytes of deadline and links + 8 of slab bookkeeping beyond a u64 value.
    assert_eq!(Wheel::<u64>::BYTES_PER_TIMER, 40);
    assert_eq!(Wheel::<()>::BYTES_PER_TIMER, 32);
}

#[test]
fn deadline_rounds_up_now_rounds_down() {
    let t0 = Instant::now();
    let w = Wheel::<()>::new(t0);
    assert_eq!(w.deadline_tick(t0), 0);
    assert_eq!(w.deadline_tick(t0 + Duration::from_nanos(1)), 1);
    assert_eq!(w.deadline_tick(t0 + MS), 1);
    assert_eq!(w.deadline_tick(t0 + MS + Duration::from_nanos(1)), 2);
    assert_eq!(w.now_tick(t0 + ms(2) - Duration::from_nanos(1)), 1);
    assert_eq!(w.now_tick(t0 + ms(2)), 2);
    assert_eq!(
        w.deadline_tick(t0 - ms(5)),
        0,
        "before the origin counts as the origin"
    );
}

#[test]
fn zero_and_past_deadlines_fire_on_next_poll() {
    let t0 = Instant::now();
    let mut w = Wheel::new(t0);
    w.poll_expired(t0 + ms(100), |_, _: u8| {});
    let a = w.insert(t0 + ms(100), 1);
    let b = w.insert(t0, 2);
    let c = w.insert(t0 - ms(1), 3);
    w.verify();
    assert_eq!(w.next_deadline(), Some(t0 + ms(100)));
    let mut fired = Vec::new();
    w.poll_expired(t0 + ms(100), |k, v| fired.push((k, v)));
    fired.sort();
    assert_eq!(fired, vec![(a, 1), (b, 2), (c, 3)]);
    assert!(w.is_empty());
}

#[test]
fn past_deadline_after_unpolled_gap_fires_on_next_poll() {
    let t0 = Instant::now();
    let mut w = Wheel::new(t0);
    // Never polled: elapsed is still 0 but the deadline is long past by `now`.
    w.insert(t0 + ms(5000), ());
    assert_eq!(w.poll_expired(t0 + ms(9000), |_, _| {}), 1);
}

#[test]
fn never_early_at_most_one_tick_late() {
    let t0 = Instant::now();
    let tick = ms(10);
    let mut w = Wheel::with_tick(t0, tick);
    let mut x: u64 = 7;
    let mut deadlines = Vec::new();
    for i in 0..5000usize {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        let d = t0 + Duration::from_nanos((x >> 20) % 3_000_000_000_000);
        deadlines.push(d);
        w.insert(d, i);
    }
    w.verify();
    for (at, i) in run_to_empty(&mut w, 100_000) {
        let d = deadlines[i];
        assert!(at >= d, "timer {i} fired {:?} early", d - at);
        assert!(at - d < tick, "timer {i} fired {:?} late", at - d);
    }
}

#[test]
fn cascades_through_every_level() {
    let t0 = Instant::now();
    let mut w = Wheel::new(t0);
    let mut expected = Vec::new();
    for level in 0..LEVELS {
        let ticks = level_range(level) - 1; // last tick of each level's first rotation
        let d = t0 + Duration::from_millis(ticks);
        w.insert(d, level);
        expected.push((d, level));
    }
    w.verify();
    let fired = run_to_empty(&mut w, 10_000);
    assert_eq!(fired, expected, "fires exactly on its tick, in order");
}

#[test]
fn far_future_is_parked_and_never_fires_early() {
    let t0 = Instant::now();
    let tick = Duration::from_micros(1); // range 2^42 µs ≈ 50.9 days
    let mut w = Wheel::with_tick(t0, tick);
    let beyond = w.range() * 3 + Duration::from_secs(7);
    let k = w.insert(t0 + beyond, "far");
    w.verify();
    let mut fired = Vec::new();
    // Poll just short of the deadline at many points: nothing may fire.
    let mut at = t0;
    while let Some(next) = w.next_deadline() {
        if next >= t0 + beyond {
            break;
        }
        at = next;
        w.poll_expired(at, |k, v| fired.push((k, v)));
        w.verify();
        assert!(
            fired.is_empty(),
            "fired at {:?} before deadline {:?}",
            at - t0,
            beyond
        );
    }
    assert!(at > t0 + w.range() * 2, "was re-filed across spans");
    w.poll_expired(t0 + beyond, |k, v| fired.push((k, v)));
    assert_eq!(fired, vec![(k, "far")]);
}

#[test]
fn duration_max_and_saturation_never_panic() {
    let t0 = Instant::now();
    let mut w = Wheel::with_tick(t0, Duration::ZERO);
    assert_eq!(w.tick(), Duration::from_nanos(1));
    let far = crate::clock::saturating_add(t0, Duration::MAX);
    let k = w.insert(far, ());
    assert!(w.next_deadline().is_some());
    assert_eq!(w.poll_expired(t0 + Duration::from_secs(3600), |_, _| {}), 0);
    assert!(w.reset(k, far));
    assert_eq!(w.cancel(k), Some(()));
    // A 584-year tick: a deadline one second out rounds up to the first tick
    // and nothing fires before it; arithmetic near the limits must not panic.
    let mut huge = Wheel::with_tick(t0, Duration::MAX);
    let k = huge.insert(t0 + Duration::from_secs(1), ());
    assert_eq!(huge.poll_expired(t0 + Duration::from_secs(2), |_, _| {}), 0);
    assert!(huge.next_deadline().is_some());
    let f = huge.insert(far, ());
    let mut fired = Vec::new();
    huge.poll_expired(far, |key, _| fired.push(key));
    assert_eq!(
        fired,
        vec![k],
        "`far` is not on a tick boundary, so only the first timer is due"
    );
    assert_eq!(huge.cancel(f), Some(()));
}

#[test]
fn top_level_wraparound() {
    // Move the wheel to just before a top-level rotation boundary, then file a
    // timer across it: its top-level slot index is behind the current one.
    let t0 = Instant::now();
    let tick = Duration::from_nanos(1);
    let mut w = Wheel::with_tick(t0, tick);
    let boundary = SPAN; // in ticks = ns
    let start = boundary - level::slot_range(LEVELS - 1) / 2; // inside the last top slot
    w.poll_expired(t0 + Duration::from_nanos(start), |_, _: u64| {});
    assert_eq!(slot_for(w.elapsed, LEVELS - 1), SLOTS - 1);
    let targets = [
        start + 10,          // level 0
        boundary + 5,        // just across: differs above the top level
        boundary + SPAN / 2, // top slot 32 of the next rotation
        start + SPAN - 1,    // the farthest in range: same top slot, next rotation
    ];
    for &t in &targets {
        w.insert(t0 + Duration::from_nanos(t), t);
    }
    w.verify();
    let fired = run_to_empty(&mut w, 100_000);
    let got: Vec<u64> = fired.iter().map(|&(_, v)| v).collect();
    assert_eq!(got, targets.to_vec());
    for (at, v) in fired {
        assert_eq!(at, t0 + Duration::from_nanos(v));
    }
}

#[test]
fn stale_keys_are_inert() {
    let t0 = Instant::now();
    let mut w = Wheel::new(t0);
    let fired = w.insert(t0 + ms(1), 1);
    let cancelled = w.insert(t0 + ms(50), 2);
    assert_eq!(w.cancel(cancelled), Some(2));
    w.poll_expired(t0 + ms(1), |_, _| {});
    // Reuse both slots.
    let a = w.insert(t0 + ms(70), 3);
    let b = w.insert(t0 + ms(80), 4);
    for stale in [fired, cancelled] {
        assert_eq!(w.cancel(stale), None);
        assert!(!w.reset(stale, t0));
        assert!(w.get(stale).is_none());
    }
    assert_eq!(w.get(a), Some(&3));
    assert_eq!(w.get(b), Some(&4));
    assert_eq!(w.len(), 2);
}

#[test]
fn reset_moves_between_levels() {
    let t0 = Instant::now();
    let mut w = Wheel::new(t0);
    let k = w.insert(t0 + Duration::from_secs(3600), "x");
    assert!(w.reset(k, t0 + ms(3)));
    w.verify();
    assert_eq!(w.next_deadline(), Some(t0 + ms(3)));
    assert!(w.reset(k, t0 + Duration::from_secs(86_400)));
    w.verify();
    assert_eq!(w.poll_expired(t0 + ms(3), |_, _| {}), 0);
    assert!(w.reset(k, t0)); // already past: due
    assert_eq!(w.poll_expired(t0 + ms(3), |_, _| {}), 1);
}

#[test]
fn cancel_from_every_position_in_a_list() {
    let t0 = Instant::now();
    let mut w = Wheel::new(t0);
    let keys: Vec<_> = (0..6).map(|i| w.insert(t0 + ms(20), i)).collect();
    for i in [0, 5, 2] {
        assert_eq!(w.cancel(keys[i]), Some(i));
        w.verify();
    }
    let mut left = Vec::new();
    w.poll_expired(t0 + ms(20), |_, v| left.push(v));
    left.sort();
    assert_eq!(left, vec![1, 3, 4]);
}

#[test]
fn empty_wheel_has_no_deadline() {
    let w = Wheel::<()>::new(Instant::now());
    assert_eq!(w.next_deadline(), None);
    assert!(w.is_empty());
}

#[test]
fn shrink_returns_memory() {
    let t0 = Instant::now();
    let mut w = Wheel::new(t0);
    let keys: Vec<_> = (0..10_000u64).map(|i| w.insert(t0 + ms(i), i)).collect();
    let full = w.allocated_bytes();
    for k in &keys[100..] {
        w.cancel(*k);
    }
    w.shrink_to_fit();
    assert!(
        w.allocated_bytes() * 10 < full,
        "{} of {full}",
        w.allocated_bytes()
    );
    w.verify();
    assert_eq!(w.poll_expired(t0 + ms(10_000), |_, _| {}), 100);
}

#[test]
fn ten_million_entries() {
    let t0 = Instant::now();
    let mut w = Wheel::new(t0);
    const N: u64 = 10_000_000;
    for i in 0..N {
        // Spread over ~2.8 hours so every level up to 3 is used.
        w.insert(t0 + ms(i.wrapping_mul(2654435761) % 10_000_000), ());
    }
    assert_eq!(w.len(), N as usize);
    let mut fired = 0;
    let mut polls = 0;
    while let Some(at) = w.next_deadline() {
        fired += w.poll_expired(at, |_, _| {});
        polls += 1;
    }
    assert_eq!(fired, N as usize);
    assert!(polls <= 10_000_000 + 64 * LEVELS * 64, "{polls} polls");
}

/// Polls that find every slot due take the linear slab walk: the fired set
/// and what stays pending match an oracle, and the rebuilt lists verify.
#[test]
fn bulk_expiry_matches_the_oracle() {
    let t0 = Instant::now();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for round in 0..20 {
        let mut w = Wheel::with_tick(t0, MS);
        let n = 1500 + next(3000) as usize;
        let horizon = 1 + next(10_000_000); // ms
        let mut oracle = std::collections::BTreeMap::new();
        for i in 0..n {
            let at = next(horizon);
            let key = w.insert(t0 + Duration::from_millis(at), i);
            oracle.insert(key, at);
        }
        // Cancel some so the slab has holes.
        let victims: Vec<_> = oracle.keys().copied().filter(|_| next(4) == 0).collect();
        for k in victims {
            assert!(w.cancel(k).is_some());
            oracle.remove(&k);
        }
        // Even rounds: one poll past everything (every slot due: the linear
        // walk, which fires in slab order). Odd rounds: a poll near the end.
        let all_due = round % 2 == 0;
        let now = if all_due {
            horizon + next(horizon)
        } else {
            horizon.saturating_sub(next(horizon / 10 + 1))
        };
        let mut fired = Vec::new();
        w.poll_expired(t0 + Duration::from_millis(now), |k, _| fired.push(k));
        w.verify();
        if all_due {
            assert!(
                fired.windows(2).all(|p| p[0].index < p[1].index),
                "round {round}: not fired in slab order, so not the linear walk"
            );
        }
        let mut expected: Vec<_> = oracle
            .iter()
            .filter(|(_, &at)| at <= now)
            .map(|(k, _)| *k)
            .collect();
        fired.sort();
        expected.sort();
        assert_eq!(
            fired, expected,
            "round {round}: n {n}, horizon {horizon}, now {now}"
        );
        assert_eq!(w.len(), oracle.len() - expected.len());
        // The rest fire later, never early.
        let mut rest = Vec::new();
        w.poll_expired(t0 + Duration::from_millis(horizon), |k, _| rest.push(k));
        assert_eq!(rest.len() + fired.len(), oracle.len());
        assert!(w.is_empty());
    }
}

/// `trim` gives back the free tail of a mostly empty slab, keeps every
/// remaining key valid, and does not keep shrinking under steady churn.
#[test]
fn trim_shrinks_after_a_burst_and_not_under_churn() {
    let t0 = Instant::now();
    let mut w = Wheel::with_tick(t0, MS);
    let keys: Vec<_> = (0..10_000u64)
        .map(|i| w.insert(t0 + Duration::from_millis(1 + i), i))
        .collect();
    let full = w.allocated_bytes();
    // Keep the first 100 (the lowest slots); cancel the rest from the end.
    let mut trims = 0;
    for k in keys[100..].iter().rev() {
        w.cancel(*k).unwrap();
        trims += usize::from(w.trim());
    }
    assert!(trims >= 1, "never shrank");
    assert!(trims <= 8, "shrank {trims} times: no hysteresis");
    // Down to a quarter at most; below TRIM_MIN_SLOTS slots it stops.
    assert!(
        w.allocated_bytes() * 4 <= full,
        "{} of {full} bytes kept",
        w.allocated_bytes()
    );
    for (i, k) in keys[..100].iter().enumerate() {
        assert_eq!(w.get(*k), Some(&(i as u64)), "a surviving key went stale");
    }
    for k in &keys[100..] {
        assert!(w.get(*k).is_none(), "a cancelled key came back");
    }
    w.verify();
    // Steady churn at 100 live in a small slab: no more shrinking.
    let before = trims;
    for i in 0..10_000u64 {
        let k = w.insert(t0 + Duration::from_millis(1 + i), i);
        w.cancel(k).unwrap();
        trims += usize::from(w.trim());
    }
    assert_eq!(trims, before, "churn kept shrinking");
}

/// Scanning in pieces visits every timer exactly once and ends.
#[test]
fn for_each_in_pieces_visits_each_timer_once() {
    let t0 = Instant::now();
    let mut w = Wheel::with_tick(t0, MS);
    let keys: Vec<_> = (0..1000u64)
        .map(|i| w.insert(t0 + Duration::from_millis(1 + i), i))
        .collect();
    for k in keys.iter().step_by(3) {
        w.cancel(*k).unwrap(); // holes
    }
    let mut seen = Vec::new();
    let mut start = Some(0);
    let mut pieces = 0;
    while let Some(from) = start {
        start = w.for_each_in(from, 7, |k, _, v| seen.push((k, *v)));
        pieces += 1;
    }
    assert!(pieces > 100, "{pieces} pieces of 7 slots");
    let mut all = Vec::new();
    w.for_each(|k, v| all.push((k, *v)));
    assert_eq!(seen, all);
}

/// `peek` names an earliest timer wherever it is filed; `clear` empties the
/// wheel and makes every key stale.
#[test]
fn peek_and_clear() {
    let t0 = Instant::now();
    let mut w = Wheel::with_tick(t0, MS);
    assert_eq!(w.peek(), None);
    let mut keys = Vec::new();
    for (i, at) in [5_000u64, 70, 3_000_000, 69, 71, 4_096].iter().enumerate() {
        keys.push((w.insert(t0 + Duration::from_millis(*at), i), *at));
    }
    let mut now = 0;
    while !w.is_empty() {
        let earliest = keys
            .iter()
            .filter(|(k, _)| w.get(*k).is_some())
            .map(|(_, at)| *at)
            .min()
            .unwrap();
        let peeked = w.peek().unwrap();
        let at = keys.iter().find(|(k, _)| *k == peeked).unwrap().1;
        assert_eq!(at, earliest, "peek at {now} ms");
        now = earliest;
        w.poll_expired(t0 + Duration::from_millis(now), |_, _| {});
    }
    let k = w.insert(t0 + Duration::from_secs(10_000), 9);
    w.insert(t0 + Duration::from_secs(1), 8);
    w.clear();
    assert!(w.is_empty() && w.peek().is_none() && w.get(k).is_none());
    assert!(w.capacity() >= 2);
    w.verify();
    let k2 = w.insert(t0 + Duration::from_secs(2), 7);
    assert_ne!(k, k2);
    assert_eq!(w.get(k), None, "old keys stay stale after clear");
}
