//! Regression tests for defects found by an adversarial pass (issue 17,
//! items 1, 2, 4 and 5). Each failed before its fix.

mod support;

use std::sync::mpsc;
use std::time::Duration;

use support::{poll_once, CountingWaker};
use tickless::clock::{Clock, ManualClock};
use tickless::{Context, ContextError, Driver};

/// Runs `f` on a thread and fails (instead of hanging the suite) if it does
/// not return within a generous bound.
fn returns_within(what: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(30)).is_ok(),
        "{what} did not return (spinning?)"
    );
}

/// Item 1: dropping a driver with a live `Ticker` spun forever: after
/// shutdown every registration is answered at once, and the ticker re-armed
/// in a loop.
#[test]
fn dropping_a_driver_with_a_live_ticker_returns() {
    returns_within("drop(driver) with a ticker", || {
        let driver = Driver::builder().build().unwrap();
        let ticker = driver.handle().ticker(Duration::from_millis(10)).unwrap();
        drop(driver);
        // The shutdown completed it once; it ticks no more.
        let _ = ticker.receiver().try_recv();
        assert!(ticker.receiver().try_recv().is_err());
    });
    returns_within("drop(manual driver) with a ticker", || {
        let clock = ManualClock::new();
        let driver = Driver::builder().clock(clock).build().unwrap();
        let _ticker = driver.handle().ticker(Duration::from_millis(10)).unwrap();
        drop(driver);
    });
    returns_within("a ticker on a dropped driver", || {
        let driver = Driver::builder().build().unwrap();
        let handle = driver.handle().clone();
        drop(driver);
        let ticker = handle.ticker(Duration::from_millis(10)).unwrap();
        ticker.stop();
    });
}

/// Item 2: a driver stopped registering timers 2⁴² ticks after it started
/// (75 minutes at a 1 ns resolution): the range counted from the start, not
/// from now.
#[test]
fn a_driver_keeps_firing_past_its_wheel_range() {
    let clock = ManualClock::new();
    let driver = Driver::builder()
        .clock(clock.clone())
        .resolution(Duration::from_nanos(1))
        .build()
        .unwrap();
    clock.advance(Duration::from_secs(75 * 60)); // past 2⁴² ns
    let (count, waker) = CountingWaker::new();
    let mut sleep = driver.handle().sleep(Duration::from_millis(1));
    assert!(poll_once(&mut sleep, &waker).is_pending());
    assert_eq!(driver.handle().pending_timers(), 1, "registered");
    let timer = driver.handle().timer(Duration::from_millis(1));
    let root = Context::background_on(driver.handle().clone());
    let (ctx, _guard) = root.with_timeout(Duration::from_millis(1));
    clock.advance(Duration::from_millis(1));
    assert_eq!(count.count(), 1);
    assert!(poll_once(&mut sleep, &waker).is_ready());
    assert!(timer.receiver().try_recv().is_ok(), "the Timer fired");
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));

    // And far beyond: 20 years at the default resolution (range 13.9 years).
    let clock = ManualClock::new();
    let driver = Driver::builder().clock(clock.clone()).build().unwrap();
    clock.advance(Duration::from_secs(20 * 365 * 86_400));
    let mut sleep = driver.handle().sleep(Duration::from_secs(1));
    assert!(poll_once(&mut sleep, &waker).is_pending());
    clock.advance(Duration::from_secs(1));
    assert!(poll_once(&mut sleep, &waker).is_ready());
}

/// Item 4: `with_timeout(ZERO)` was done only after the timer thread's next
/// turn; `with_deadline(past)` likewise when the wheel had not moved lately.
#[test]
fn zero_timeouts_and_past_deadlines_end_contexts_at_once() {
    let (ctx, _guard) = Context::background().with_timeout(Duration::ZERO);
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    let (parent, _parent_guard) = Context::background().with_cancel();
    let (child, _child_guard) = parent.with_timeout(Duration::ZERO);
    assert!(child.is_done());
    assert_eq!(parent.children(), 0, "an ended child is not kept");

    let clock = ManualClock::new();
    let driver = Driver::builder().clock(clock.clone()).build().unwrap();
    let root = Context::background_on(driver.handle().clone());
    clock.advance(Duration::from_secs(1));
    let (ctx, _guard) = root.with_deadline(clock.now() - Duration::from_nanos(1));
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    let (ctx, _guard) = root.with_deadline(clock.now());
    assert_eq!(
        ctx.err(),
        Some(ContextError::DeadlineExceeded),
        "a deadline of now has passed"
    );
    assert_eq!(driver.handle().pending_timers(), 0);
}

/// Item 5: a timer too far away to register is still a pending timer to its
/// owner: `stop` reports that it prevented a fire, as Go's does.
#[test]
fn a_timer_beyond_the_range_is_still_pending() {
    let driver = Driver::builder().build().unwrap();
    let timer = driver.handle().timer(Duration::MAX);
    assert!(timer.is_pending());
    assert!(timer.stop(), "Go returns true: the timer was active");
    assert!(!timer.is_pending());
    assert!(!timer.stop());
    assert!(
        !timer.reset(Duration::MAX),
        "stopped: reset reports not active"
    );
    assert!(
        timer.reset(Duration::from_secs(1)),
        "re-armed beyond range: active"
    );
    let handle = driver.handle().after_func(Duration::MAX, || unreachable!());
    assert!(handle.is_pending());
    assert!(handle.stop());
}
