//! Model-based property tests: both timer queues against a `BTreeMap` oracle.
//!
//! Random sequences of insert / cancel / reset / advance / poll are applied to
//! a queue and to a plain map of live deadlines. After every step the queue
//! must agree with the oracle: same live set, nothing fired early, nothing
//! more than the queue's tolerance late (one tick for the wheel, zero for the
//! heap), stale keys inert.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tickless::queue::{Key, QuadHeap, TimerQueue, Wheel};

#[derive(Debug, Clone)]
enum Op {
    Insert(Offset),
    Cancel(usize),
    Reset(usize, Offset),
    Advance(u64),
    /// Poll exactly at `next_deadline`, as a driver does.
    PollNext,
}

/// A deadline relative to the model's current time.
#[derive(Debug, Clone)]
enum Offset {
    Past(u64),
    Near(u64),
    Far(u64),
    Max,
}

fn offset() -> impl Strategy<Value = Offset> {
    prop_oneof![
        1 => (0..2_000_000_000u64).prop_map(Offset::Past),
        6 => (0..300_000_000u64).prop_map(Offset::Near),
        3 => (0..86_400_000_000_000_000u64).prop_map(Offset::Far), // up to ~2.7 years
        1 => Just(Offset::Max),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => offset().prop_map(Op::Insert),
        2 => any::<usize>().prop_map(Op::Cancel),
        2 => (any::<usize>(), offset()).prop_map(|(i, o)| Op::Reset(i, o)),
        3 => prop_oneof![0..5_000_000u64, 0..10_000_000_000u64, 0..40_000_000_000_000_000u64].prop_map(Op::Advance),
        2 => Just(Op::PollNext),
    ]
}

const YEAR: u64 = 365 * 86_400;

/// The model does not move time beyond this (Max deadlines lie beyond it).
const HORIZON: Duration = Duration::from_secs(250 * YEAR);

struct Model {
    t0: Instant,
    now: Instant,
    /// Every key ever issued, by insertion order.
    keys: Vec<Key>,
    /// Live timers: insertion id → deadline.
    live: BTreeMap<usize, Instant>,
    /// How late a timer may fire relative to `now` at poll time.
    tolerance: Duration,
}

impl Model {
    fn deadline(&self, o: &Offset) -> Instant {
        match *o {
            Offset::Past(n) => self
                .now
                .checked_sub(Duration::from_nanos(n))
                .unwrap_or(self.t0)
                .max(self.t0),
            Offset::Near(n) | Offset::Far(n) => self.now + Duration::from_nanos(n),
            // Far beyond every horizon the model reaches, but representable.
            // (The model never advances past HORIZON, so this stays below the
            // ≈584 years where tick arithmetic saturates.)
            Offset::Max => self.now + Duration::from_secs(300 * YEAR),
        }
    }

    fn poll<Q: TimerQueue<usize>>(&mut self, q: &mut Q, at: Instant) -> Result<(), TestCaseError> {
        if at > self.t0 + HORIZON {
            return Ok(());
        }
        self.now = self.now.max(at);
        let mut fired = Vec::new();
        let n = q.poll_expired(self.now, |k, id| fired.push((k, id)));
        prop_assert_eq!(n, fired.len());
        for (k, id) in fired {
            let deadline = self.live.remove(&id);
            prop_assert!(deadline.is_some(), "fired {} which is not live", id);
            prop_assert_eq!(k, self.keys[id], "fired value {} with another key", id);
            let deadline = deadline.unwrap();
            prop_assert!(
                deadline <= self.now,
                "timer {} fired {:?} early",
                id,
                deadline - self.now
            );
        }
        for (id, &deadline) in &self.live {
            prop_assert!(
                deadline + self.tolerance > self.now,
                "timer {} is {:?} overdue, tolerance {:?}",
                id,
                self.now - deadline,
                self.tolerance
            );
        }
        Ok(())
    }

    fn check<Q: TimerQueue<usize>>(&self, q: &Q) -> Result<(), TestCaseError> {
        prop_assert_eq!(q.len(), self.live.len());
        prop_assert_eq!(q.is_empty(), self.live.is_empty());
        for (id, key) in self.keys.iter().enumerate() {
            prop_assert_eq!(
                q.get(*key).copied(),
                self.live.get(&id).map(|_| id),
                "key of {}",
                id
            );
        }
        match (q.next_deadline(), self.live.values().min()) {
            (None, None) => {}
            (Some(next), Some(&earliest)) => {
                // Overdue timers are reported as due by the last poll's time.
                let bound = (earliest + self.tolerance).max(self.now);
                prop_assert!(
                    next <= bound,
                    "next_deadline {:?} after earliest {:?} (now {:?})",
                    next,
                    earliest,
                    self.now
                );
            }
            (next, earliest) => prop_assert!(
                false,
                "next_deadline {:?} but earliest live {:?}",
                next,
                earliest
            ),
        }
        Ok(())
    }
}

fn run<Q: TimerQueue<usize>>(
    mut q: Q,
    t0: Instant,
    tolerance: Duration,
    ops: &[Op],
    verify: impl Fn(&Q),
) -> Result<(), TestCaseError> {
    let mut m = Model {
        t0,
        now: t0,
        keys: Vec::new(),
        live: BTreeMap::new(),
        tolerance,
    };
    for op in ops {
        match op {
            Op::Insert(o) => {
                let id = m.keys.len();
                let d = m.deadline(o);
                m.keys.push(q.insert(d, id));
                m.live.insert(id, d);
            }
            Op::Cancel(i) if !m.keys.is_empty() => {
                let id = i % m.keys.len();
                prop_assert_eq!(q.cancel(m.keys[id]), m.live.remove(&id).map(|_| id));
            }
            Op::Reset(i, o) if !m.keys.is_empty() => {
                let id = i % m.keys.len();
                let d = m.deadline(o);
                let live = m.live.contains_key(&id);
                prop_assert_eq!(q.reset(m.keys[id], d), live);
                if live {
                    m.live.insert(id, d);
                }
            }
            Op::Advance(n) => {
                let at = m.now + Duration::from_nanos(*n);
                m.poll(&mut q, at)?;
            }
            Op::PollNext => {
                if let Some(at) = q.next_deadline() {
                    m.poll(&mut q, at)?;
                }
            }
            Op::Cancel(_) | Op::Reset(..) => {}
        }
        verify(&q);
        m.check(&q)?;
    }
    // Drain by polling at next_deadline: everything fires, each within tolerance.
    let mut polls = 0;
    while let Some(at) = q.next_deadline() {
        if at > m.t0 + HORIZON {
            break; // only `Offset::Max` timers remain
        }
        m.poll(&mut q, at)?;
        verify(&q);
        polls += 1;
        prop_assert!(polls < 100_000, "drain does not converge");
    }
    m.check(&q)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn wheel_matches_oracle(ops in prop::collection::vec(op(), 1..200), tick_us in prop_oneof![Just(1u64), Just(1000), Just(10_000), 1..50_000u64]) {
        let t0 = Instant::now();
        let tick = Duration::from_micros(tick_us);
        run(Wheel::with_tick(t0, tick), t0, tick, &ops, Wheel::verify)?;
    }

    #[test]
    fn heap_matches_oracle(ops in prop::collection::vec(op(), 1..200)) {
        let t0 = Instant::now();
        run(QuadHeap::new(t0), t0, Duration::from_nanos(1), &ops, QuadHeap::verify)?;
    }
}

#[test]
fn shrink_to_fit_keeps_behaviour() {
    let t0 = Instant::now();
    for q in [
        &mut Wheel::new(t0) as &mut dyn Shrinkable,
        &mut QuadHeap::new(t0),
    ] {
        q.exercise(t0);
    }
}

/// Object-safe slice of the behaviour, so both queues share one test body.
trait Shrinkable {
    fn exercise(&mut self, t0: Instant);
}

impl<Q: TimerQueue<usize>> Shrinkable for Q {
    fn exercise(&mut self, t0: Instant) {
        let keys: Vec<_> = (0..1000)
            .map(|i| self.insert(t0 + Duration::from_millis(i as u64), i))
            .collect();
        let before = self.allocated_bytes();
        for k in &keys[10..] {
            self.cancel(*k);
        }
        self.shrink_to_fit();
        assert!(self.allocated_bytes() < before / 10);
        for k in &keys[10..] {
            assert!(self.cancel(*k).is_none());
        }
        let mut fired = Vec::new();
        self.poll_expired(t0 + Duration::from_secs(1), |_, v| fired.push(v));
        fired.sort();
        assert_eq!(fired, (0..10).collect::<Vec<_>>());
    }
}
