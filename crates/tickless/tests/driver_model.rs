//! A model of the driver: random mixes of the public API (sleeps, Go-style
//! timers, contexts, delay queues) on a `ManualClock`, checked after every
//! step against a simple oracle of what must have completed and what must
//! not: never early, never lost (late by at most one resolution), nothing
//! after stop, every context ended exactly once.

mod support;

use std::time::Duration;

use proptest::prelude::*;
use support::{manual_driver, poll_noop};
use tickless::blocking::Timer;
use tickless::clock::{Clock, ManualClock};
use tickless::{CancelGuard, Context, ContextError, DelayQueue, Driver, Sleep};

#[derive(Debug, Clone)]
enum Op {
    Sleep(u64),
    ResetSleep(usize, u64),
    DropSleep(usize),
    Timer(u64),
    ResetTimer(usize, u64),
    StopTimer(usize),
    Context(u64),
    Cancel(usize),
    Queue(u64),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let d = 0u64..3_000; // ms
    prop_oneof![
        1 => d.clone().prop_map(Op::Sleep),
        1 => (any::<usize>(), d.clone()).prop_map(|(i, d)| Op::ResetSleep(i, d)),
        1 => any::<usize>().prop_map(Op::DropSleep),
        1 => d.clone().prop_map(Op::Timer),
        1 => (any::<usize>(), d.clone()).prop_map(|(i, d)| Op::ResetTimer(i, d)),
        1 => any::<usize>().prop_map(Op::StopTimer),
        1 => d.clone().prop_map(Op::Context),
        1 => any::<usize>().prop_map(Op::Cancel),
        1 => d.clone().prop_map(Op::Queue),
        3 => (0u64..1_500).prop_map(Op::Advance),
    ]
}

/// Deadlines are in milliseconds since the clock's start.
struct Model {
    clock: ManualClock,
    driver: Driver,
    root: Context,
    sleeps: Vec<(Sleep, u64, bool)>, // sleep, deadline, completed
    timers: Vec<(Timer, Option<u64>, bool)>, // timer, armed deadline, value received
    contexts: Vec<(Context, Option<CancelGuard>, u64, bool)>, // ctx, guard, deadline, cancelled
    queue: DelayQueue<u64>,
    queued: Vec<u64>, // deadlines of values still in the queue
}

impl Model {
    fn now(&self) -> u64 {
        (self.clock.now() - self.clock.start()).as_millis() as u64
    }

    fn slack(&self) -> u64 {
        // One resolution, rounded up to whole milliseconds.
        self.driver.handle().resolution().as_millis() as u64 + 1
    }

    fn apply(&mut self, op: Op) {
        let now = self.now();
        let ms = Duration::from_millis;
        match op {
            Op::Sleep(d) => self
                .sleeps
                .push((self.driver.handle().sleep(ms(d)), now + d, d == 0)),
            Op::ResetSleep(i, d) if !self.sleeps.is_empty() => {
                let i = i % self.sleeps.len();
                let s = &mut self.sleeps[i];
                s.0.reset(self.clock.now() + ms(d));
                s.1 = now + d;
                s.2 = false;
            }
            Op::DropSleep(i) if !self.sleeps.is_empty() => {
                let i = i % self.sleeps.len();
                drop(self.sleeps.swap_remove(i)); // cancels it
            }
            Op::Timer(d) => {
                self.timers
                    .push((self.driver.handle().timer(ms(d)), Some(now + d), false))
            }
            Op::ResetTimer(i, d) if !self.timers.is_empty() => {
                let i = i % self.timers.len();
                let t = &mut self.timers[i];
                t.0.reset(ms(d));
                t.1 = Some(now + d);
                t.2 = false;
            }
            Op::StopTimer(i) if !self.timers.is_empty() => {
                let i = i % self.timers.len();
                let t = &mut self.timers[i];
                t.0.stop();
                t.1 = None;
            }
            Op::Context(d) => {
                let (ctx, guard) = self.root.with_timeout(ms(d));
                self.contexts.push((ctx, Some(guard), now + d, false));
            }
            Op::Cancel(i) if !self.contexts.is_empty() => {
                let i = i % self.contexts.len();
                let c = &mut self.contexts[i];
                if c.0.err().is_none() {
                    c.3 = true;
                }
                c.1.take();
            }
            Op::Queue(d) => {
                self.queue.insert(now + d, ms(d));
                self.queued.push(now + d);
            }
            Op::Advance(d) => self.clock.advance(ms(d)),
            _ => {}
        }
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        let now = self.now();
        let slack = self.slack();
        for (sleep, due, done) in &mut self.sleeps {
            let ready = *done || poll_noop(sleep).is_ready();
            *done = ready;
            prop_assert!(!ready || now >= *due, "sleep ready at {now}, due {due}");
            prop_assert!(
                ready || now < *due + slack,
                "sleep pending at {now}, due {due}"
            );
        }
        for (timer, armed, received) in &mut self.timers {
            let got = timer.receiver().try_recv().is_ok();
            match *armed {
                None => prop_assert!(!got, "a value after stop"),
                Some(due) => {
                    prop_assert!(!got || now >= due, "timer fired at {now}, due {due}");
                    prop_assert!(!(got && *received), "a timer fired twice");
                    *received |= got;
                    prop_assert!(
                        *received || now < due + slack,
                        "timer silent at {now}, due {due}"
                    );
                }
            }
        }
        for (ctx, _, due, cancelled) in &self.contexts {
            match ctx.err() {
                Some(ContextError::Cancelled) => prop_assert!(*cancelled, "ended without a cancel"),
                Some(ContextError::DeadlineExceeded) => {
                    prop_assert!(now >= *due, "deadline exceeded at {now}, due {due}")
                }
                Some(_) => {}
                None => {
                    prop_assert!(!cancelled, "cancelled but not ended");
                    prop_assert!(now < *due + slack, "context alive at {now}, due {due}");
                }
            }
        }
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        while let std::task::Poll::Ready(Some(e)) = self.queue.poll_expired(&mut cx) {
            let due = e.into_inner();
            prop_assert!(now >= due, "queue value at {now}, due {due}");
            let at = self.queued.iter().position(|d| *d == due);
            prop_assert!(at.is_some(), "a queue value came back twice");
            self.queued.swap_remove(at.unwrap());
        }
        prop_assert!(
            self.queued.iter().all(|due| now < due + slack),
            "a queue value held back at {now}: {:?}",
            self.queued
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_driver_matches_its_model(ops in proptest::collection::vec(op(), 1..80)) {
        let (clock, driver) = manual_driver();
        let root = Context::background_on(driver.handle().clone());
        let queue = driver.handle().delay_queue();
        let mut model = Model {
            clock,
            driver,
            root,
            sleeps: Vec::new(),
            timers: Vec::new(),
            contexts: Vec::new(),
            queue,
            queued: Vec::new(),
        };
        for op in ops {
            model.apply(op);
            model.check()?;
        }
        // Everything still armed completes once time runs on.
        model.clock.advance(Duration::from_secs(10));
        model.check()?;
        prop_assert!(model.queued.is_empty());
    }
}
