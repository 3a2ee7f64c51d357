//! `tickless::sched` at the edges of its public surface: extreme arguments,
//! shutdown after shutdown, and user code that misbehaves where the pool
//! drops it. Each test here once failed (a panic or a hang).

mod support;

use std::time::Duration;

use crossbeam_channel::{bounded, unbounded};
use tickless::sched::Scheduler;
use tickless::Driver;

const WAIT: Duration = Duration::from_secs(10);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn sched(driver: &Driver, workers: usize) -> Scheduler {
    Scheduler::builder()
        .workers(workers)
        .handle(driver.handle().clone())
        .build()
        .unwrap()
}

/// Runs `f` on its own thread; fails if it has not returned within `limit`
/// (a hang is a failure, not a stuck test run). A panic in `f` fails too.
fn within(limit: Duration, f: impl FnOnce() + Send + 'static) {
    let (done_tx, done) = bounded(1);
    std::thread::spawn(move || {
        f();
        let _ = done_tx.send(());
    });
    match done.recv_timeout(limit) {
        Ok(()) => {}
        Err(crossbeam_channel::RecvTimeoutError::Timeout) => panic!("hung for {limit:?}"),
        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => panic!("panicked"),
    }
}

/// `Duration::MAX` means "wait as long as it takes" (it used to overflow
/// `Instant + Duration` and panic).
#[test]
fn shutdown_timeout_of_duration_max_waits_without_panicking() {
    within(WAIT, || {
        let (_clock, driver) = support::manual_driver();
        let s = sched(&driver, 1);
        let (tx, rx) = unbounded();
        s.execute(move || tx.send(1).unwrap()).unwrap();
        assert!(s.shutdown_timeout(Duration::MAX), "every worker exited");
        assert_eq!(rx.try_recv(), Ok(1), "the queued run ran first");
    });
}
