//! loom models of the alarm protocol (`alarm.rs`): `reset` and `stop`
//! racing a fire that the driver has already taken off its wheel. The
//! alarm's lock and the shard locks come from loom under `--cfg tickless_loom`.
//!
//! `RUSTFLAGS="--cfg tickless_loom" cargo test -p tickless --lib --release models`

use std::time::Duration;

use loom::thread;

use crate::clock::{Clock, ManualClock};
use crate::Driver;

/// Go 1.23's rule: once `reset` returns, nothing from the old arming can be
/// received. Here the old arming fires (the clock reaches it, so the driver
/// takes it off the wheel and wakes the alarm) while another thread resets
/// the timer to an hour later. Whatever the interleaving, after both the
/// channel is empty and the timer is pending for the new deadline.
///
/// The reset is later than the arming, so it is the lazy move: the old
/// registration stays, and its wake must register for the new deadline
/// rather than fire. Advancing to the new deadline then delivers exactly
/// one value.
///
/// Without the "is the registration still current" check in
/// `Alarm::wake_by_ref`, a wake of the old arming that lands after the reset
/// fires the *new* arming at once, an hour early: this model fails.
#[test]
fn reset_vs_fire_no_stale_value() {
    loom::model(|| {
        let clock = ManualClock::new();
        let driver = Driver::builder().clock(clock.clone()).build().unwrap();
        let timer = std::sync::Arc::new(driver.handle().timer(Duration::from_secs(1)));
        let later = clock.now() + Duration::from_secs(3600);

        let resetting = {
            let timer = timer.clone();
            thread::spawn(move || {
                timer.reset_at(later);
            })
        };
        clock.advance(Duration::from_secs(1)); // the old arming fires
        resetting.join().unwrap();

        assert!(
            timer.receiver().try_recv().is_err(),
            "a value arrived after reset returned"
        );
        assert!(timer.is_pending(), "the new arming was lost or fired early");
        assert_eq!(driver.handle().pending_timers(), 1);
        clock.advance(Duration::from_secs(3599));
        assert!(timer.receiver().try_recv().is_ok(), "the new arming fired");
        assert!(timer.receiver().try_recv().is_err(), "exactly once");
        assert!(!timer.is_pending());
    });
}

/// `stop` racing a fire: exactly one of them wins. Either `stop` prevented
/// the value (true, channel empty) or the value had been received-ready
/// before and `stop` drained it (also true) — and nothing can be received
/// afterwards; the alarm holds no registration.
#[test]
fn stop_vs_fire_nothing_after_stop() {
    loom::model(|| {
        let clock = ManualClock::new();
        let driver = Driver::builder().clock(clock.clone()).build().unwrap();
        let timer = std::sync::Arc::new(driver.handle().timer(Duration::from_secs(1)));

        let stopping = {
            let timer = timer.clone();
            thread::spawn(move || timer.stop())
        };
        clock.advance(Duration::from_secs(1));
        let prevented = stopping.join().unwrap();

        assert!(prevented, "the fire was unreceived, so stop prevented it");
        assert!(timer.receiver().try_recv().is_err(), "a value after stop");
        assert!(!timer.is_pending());
        assert_eq!(driver.handle().pending_timers(), 0);
    });
}
