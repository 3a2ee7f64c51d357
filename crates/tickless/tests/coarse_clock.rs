//! Deadlines from the coarse clock reading (`Builder::coarse_clock_min`) are
//! never early, and late by at most the coarse error plus one resolution:
//! property-tested on a `ManualClock` that models a coarse clock's
//! granularity.

mod support;

use std::time::Duration;

use proptest::prelude::*;
use support::{poll_once, CountingWaker};
use tickless::blocking::Timer;
use tickless::clock::{Clock, ManualClock};
use tickless::{Context, Driver};

fn coarse_driver(granularity: Duration) -> (ManualClock, Driver) {
    let clock = ManualClock::with_coarse_granularity(granularity);
    let driver = Driver::builder()
        .clock(clock.clone())
        .coarse_clock_min(Duration::ZERO) // every timer takes the coarse path
        .build()
        .unwrap();
    (clock, driver)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// A sleep created at a random moment, with a random duration, on a
    /// clock of random coarse granularity: pending at every step before
    /// `created + duration`, complete within granularity + resolution after.
    #[test]
    fn coarse_sleep_is_never_early(
        granularity_us in 1u64..10_000,
        start_ns in 0u64..50_000_000,
        duration_us in 0u64..2_000_000,
        step_us in 1u64..5_000,
    ) {
        let granularity = Duration::from_micros(granularity_us);
        let (clock, driver) = coarse_driver(granularity);
        clock.advance(Duration::from_nanos(start_ns));
        let created = clock.now();
        let duration = Duration::from_micros(duration_us);
        let mut sleep = driver.handle().sleep(duration);
        let due = created + duration;
        let late_bound = due + granularity + driver.handle().resolution();
        prop_assert!(sleep.deadline() >= due, "deadline before created + duration");
        prop_assert!(sleep.deadline() <= due + granularity);
        let (_count, waker) = CountingWaker::new();
        loop {
            let ready = poll_once(&mut sleep, &waker).is_ready();
            if clock.now() < due {
                prop_assert!(!ready, "ready {:?} early", due - clock.now());
            }
            if ready {
                prop_assert!(clock.now() <= late_bound + Duration::from_micros(step_us));
                break;
            }
            prop_assert!(clock.now() <= late_bound, "still pending past the bound");
            clock.advance(Duration::from_micros(step_us));
        }
    }

    /// The same for Go-style timers and context deadlines.
    #[test]
    fn coarse_timer_and_context_are_never_early(
        granularity_us in 1u64..10_000,
        start_ns in 0u64..50_000_000,
        duration_us in 1u64..2_000_000,
    ) {
        let granularity = Duration::from_micros(granularity_us);
        let (clock, driver) = coarse_driver(granularity);
        clock.advance(Duration::from_nanos(start_ns));
        let due = clock.now() + Duration::from_micros(duration_us);
        let timer = driver.handle().timer(Duration::from_micros(duration_us));
        let root = Context::background_on(driver.handle().clone());
        let (ctx, _guard) = root.with_timeout(Duration::from_micros(duration_us));
        prop_assert!(ctx.deadline().unwrap() >= due);
        let before = due - Duration::from_nanos(1);
        clock.set(before);
        prop_assert!(timer.receiver().try_recv().is_err(), "timer fired early");
        prop_assert!(!ctx.is_done(), "context ended early");
        clock.set(due + granularity + driver.handle().resolution());
        prop_assert!(timer.receiver().try_recv().is_ok(), "timer late past the bound");
        prop_assert!(ctx.is_done(), "context late past the bound");
    }
}

/// The system clock's coarse reading, used for real: never before
/// `Instant::now()` read just before it.
#[test]
fn system_coarse_deadlines_are_never_early() {
    let driver = Driver::builder()
        .coarse_clock_min(Duration::ZERO)
        .build()
        .unwrap();
    for _ in 0..10_000 {
        let before = std::time::Instant::now();
        let deadline = driver.handle().deadline_after(Duration::from_secs(5));
        assert!(deadline >= before + Duration::from_secs(5));
    }
    let d = Duration::from_secs(2);
    let t = Timer::new(d); // global driver: 2 s ≥ the default 1 s minimum
    assert!(t.stop());
}

/// Below `coarse_clock_min` the exact clock is read.
#[test]
fn short_timers_read_the_exact_clock() {
    let clock = ManualClock::with_coarse_granularity(Duration::from_millis(4));
    let driver = Driver::builder().clock(clock.clone()).build().unwrap();
    clock.advance(Duration::from_millis(1));
    let exact = clock.now() + Duration::from_millis(500);
    assert_eq!(
        driver.handle().sleep(Duration::from_millis(500)).deadline(),
        exact
    );
    let coarse = driver.handle().sleep(Duration::from_secs(2)).deadline();
    assert_eq!(
        coarse,
        clock.start() + Duration::from_millis(4) + Duration::from_secs(2)
    );
}
