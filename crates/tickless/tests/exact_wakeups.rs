//! Exact deadlines between ticks (issue 11, target 7): on a `ManualClock`,
//! random sleeps, resets (earlier and later) and drops at nanosecond
//! offsets, and clock moves by random sub-tick steps or to the next
//! deadline. Checked after every step: no registration fires before its
//! deadline, no sleep completes before its deadline, every sleep whose
//! deadline has passed has completed (exactly then, not at its tick's
//! boundary: fewer timers than the driver's walk limit are pending), each
//! completes once, and `advance_to_next` lands on the earliest deadline.

mod support;

use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use support::{poll_once, CountingWaker};
use tickless::clock::{Clock, ManualClock};
use tickless::{Driver, Sleep};

#[derive(Debug, Clone)]
enum Op {
    /// A sleep until now + this many ns.
    Sleep(u64),
    /// Reset sleep `i % len` to now + this many ns.
    Reset(usize, u64),
    Drop(usize),
    /// Move the clock by this many ns.
    Advance(u64),
    AdvanceToNext,
}

/// Offsets in ns: mostly within a few ticks, some across coarser levels.
fn offset() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => 0u64..700_000,
        1 => 0u64..50_000_000,
        1 => 0u64..3_000_000_000,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => offset().prop_map(Op::Sleep),
        2 => (any::<usize>(), offset()).prop_map(|(i, d)| Op::Reset(i, d)),
        1 => any::<usize>().prop_map(Op::Drop),
        3 => (0u64..250_000).prop_map(Op::Advance),
        2 => Just(Op::AdvanceToNext),
    ]
}

struct Tracked {
    sleep: Sleep,
    waker: Arc<CountingWaker>,
    std_waker: std::task::Waker,
    /// The deadline the sleep completes at.
    deadline: Instant,
    /// The deadline its driver registration holds: a reset later leaves the
    /// registration where it was (it re-registers when that fires).
    registered: Option<Instant>,
    wakes_seen: usize,
    done: bool,
}

struct Model {
    clock: ManualClock,
    _driver: Driver,
    sleeps: Vec<Tracked>,
}

impl Model {
    fn new(resolution: Duration) -> Model {
        let clock = ManualClock::new();
        // Off the tick grid, so deadlines fall between ticks.
        clock.advance(Duration::from_nanos(12_345));
        let driver = Driver::builder()
            .clock(clock.clone())
            .resolution(resolution)
            .build()
            .unwrap();
        Model {
            clock,
            _driver: driver,
            sleeps: Vec::new(),
        }
    }

    /// Accounts for a wake of `i` since last looked: it must be one fire of
    /// its registration, at or after the registered deadline.
    fn absorb_wake(&mut self, i: usize) -> bool {
        let now = self.clock.now();
        let t = &mut self.sleeps[i];
        let wakes = t.waker.count();
        if wakes == t.wakes_seen {
            return false;
        }
        assert!(!t.done, "woken again after completing");
        assert_eq!(wakes, t.wakes_seen + 1, "one fire per registration");
        t.wakes_seen = wakes;
        let registered = t.registered.take().expect("woken without a registration");
        assert!(
            registered <= now,
            "fired {:?} before its registered deadline",
            registered - now
        );
        true
    }

    /// Polls `i` as an executor would; tracks what its registration holds.
    fn poll(&mut self, i: usize) {
        self.absorb_wake(i);
        let now = self.clock.now();
        let t = &mut self.sleeps[i];
        if t.done {
            return;
        }
        match poll_once(&mut t.sleep, &t.std_waker) {
            Poll::Ready(()) => {
                assert!(
                    now >= t.deadline,
                    "completed {:?} before its deadline",
                    t.deadline - now
                );
                t.done = true;
                t.registered = None;
            }
            Poll::Pending => {
                if t.registered.is_none() {
                    t.registered = Some(t.deadline);
                }
            }
        }
    }

    /// After a clock move: every wake is a fire at or after the registered
    /// deadline; woken sleeps are polled; nothing due stays pending.
    fn check(&mut self) {
        let now = self.clock.now();
        for i in 0..self.sleeps.len() {
            if self.absorb_wake(i) {
                self.poll(i); // completes, or registers again at a later deadline
            }
        }
        for t in &self.sleeps {
            assert!(
                t.done || t.deadline > now,
                "due {:?} ago and not complete",
                now - t.deadline
            );
        }
    }

    fn apply(&mut self, op: Op) {
        let now = self.clock.now();
        match op {
            Op::Sleep(d) => {
                let deadline = now + Duration::from_nanos(d);
                let (waker, std_waker) = CountingWaker::new();
                self.sleeps.push(Tracked {
                    sleep: self._driver.handle().sleep_until(deadline),
                    waker,
                    std_waker,
                    deadline,
                    registered: None,
                    wakes_seen: 0,
                    done: false,
                });
                self.poll(self.sleeps.len() - 1);
            }
            Op::Reset(i, d) if !self.sleeps.is_empty() => {
                let i = i % self.sleeps.len();
                let deadline = now + Duration::from_nanos(d);
                let t = &mut self.sleeps[i];
                let earlier = deadline < t.deadline;
                t.sleep.reset(deadline);
                t.deadline = deadline;
                if t.done {
                    t.done = false; // a completed sleep reset registers again
                } else if earlier && t.registered.is_some() {
                    t.registered = Some(deadline); // moved at once
                }
                self.poll(i);
            }
            Op::Drop(i) if !self.sleeps.is_empty() => {
                let i = i % self.sleeps.len();
                self.sleeps.swap_remove(i);
            }
            Op::Advance(d) => self.clock.advance(Duration::from_nanos(d)),
            Op::AdvanceToNext => {
                let earliest = self.sleeps.iter().filter_map(|t| t.registered).min();
                let to = self.clock.advance_to_next();
                match earliest {
                    Some(e) => assert_eq!(
                        to,
                        Some(e.max(now)),
                        "advance_to_next moves to the earliest registered deadline"
                    ),
                    None => assert_eq!(to, None, "nothing registered"),
                }
            }
            Op::Reset(..) | Op::Drop(_) => {}
        }
        self.check();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn never_early_never_lost_exact_between_ticks(
        ops in prop::collection::vec(op(), 1..100),
        coarse in any::<bool>(),
    ) {
        // The default 100 µs tick, or a 1 ms one.
        let resolution = Duration::from_micros(if coarse { 1000 } else { 100 });
        let mut model = Model::new(resolution);
        for op in ops {
            model.apply(op);
        }
        // Run everything out: each pending sleep completes, once.
        while model.clock.advance_to_next().is_some() {
            model.check();
        }
        model.check();
        prop_assert!(model.sleeps.iter().all(|t| t.done));
    }
}

/// Timers sharing one tick fire one by one at their own deadlines, and a
/// timer inserted into that tick after some fired waits for its own.
#[test]
fn one_tick_fires_in_deadline_order() {
    let mut model = Model::new(Duration::from_millis(1));
    let start = model.clock.now();
    for ns in [900_000, 300_000, 600_000] {
        model.apply(Op::Sleep(ns));
    }
    model.apply(Op::AdvanceToNext);
    assert_eq!(model.clock.now() - start, Duration::from_nanos(300_000));
    assert_eq!(model.sleeps.iter().filter(|t| t.done).count(), 1);
    model.apply(Op::Sleep(500_000)); // 800 µs after start: the same tick as 900
    model.apply(Op::AdvanceToNext);
    assert_eq!(model.clock.now() - start, Duration::from_nanos(600_000));
    model.apply(Op::AdvanceToNext);
    assert_eq!(model.clock.now() - start, Duration::from_nanos(800_000));
    model.apply(Op::AdvanceToNext);
    assert_eq!(model.clock.now() - start, Duration::from_nanos(900_000));
    assert!(model.sleeps.iter().all(|t| t.done));
    assert_eq!(model.clock.advance_to_next(), None);
}

/// Fire lateness counts from the exact deadline, not from its tick's
/// boundary: a 12 ms timer on a 10 ms tick, taken when the clock jumps to
/// 15 ms, is 3 ms late (from the boundary at 20 ms it would read 0).
#[test]
fn lateness_counts_from_the_exact_deadline() {
    let clock = ManualClock::new();
    let driver = Driver::builder()
        .clock(clock.clone())
        .resolution(Duration::from_millis(10))
        .build()
        .unwrap();
    let timer = driver.handle().timer(Duration::from_millis(12));
    clock.advance(Duration::from_millis(15));
    assert!(timer.receiver().try_recv().is_ok(), "fired before its tick");
    let s = driver.handle().snapshot();
    assert_eq!(s.counters.fired, 1);
    assert_eq!(s.lateness_sum, Duration::from_millis(3));
}
