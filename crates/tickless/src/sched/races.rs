//! Interleavings inside `Core` that the public API cannot pause in, set up
//! by hand on real threads (the loom models in `models.rs` explore them all,
//! but run only under `--cfg tickless_loom`).

use std::thread;
use std::time::Duration;

use crossbeam_channel::bounded;

use super::state::Phase;
use super::Scheduler;
use crate::clock::ManualClock;
use crate::sync::lock;
use crate::Driver;

/// A re-arm that has read the wheel (under `arm_lock`) and not yet reset
/// the alarm when `shutdown` closes the scheduler: the shutdown's stop
/// waits for the reset, so no driver timer is left armed. Before the stop
/// took `arm_lock`, the reset landed after it and kept the alarm — and the
/// scheduler's state — alive until the cancelled job's deadline.
#[test]
fn shutdown_waits_for_a_rearm_in_progress() {
    let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
    let sched = Scheduler::builder()
        .workers(1)
        .handle(driver.handle().clone())
        .build()
        .unwrap();
    let job = sched.schedule(Duration::from_secs(3600), || {}).unwrap();
    assert_eq!(driver.handle().pending_timers(), 1, "armed for the job");
    let core = sched.core().clone();

    // `Core::arm`, paused between its read and its reset.
    let serial = lock(&core.arm_lock);
    let target = lock(&core.shared.state)
        .next_deadline()
        .expect("a pending job");
    let stopping = {
        let sched = sched.clone();
        thread::spawn(move || sched.shutdown())
    };
    while lock(&core.shared.state).phase == Phase::Open {
        thread::yield_now(); // the shutdown has not closed yet
    }
    // Let it reach the alarm (without the fix it stops it now; with it, it
    // waits for `arm_lock`). No bound is asserted on this sleep.
    thread::sleep(Duration::from_millis(20));
    core.alarm.reset(target);
    drop(serial);
    stopping.join().unwrap();

    assert_eq!(
        driver.handle().pending_timers(),
        0,
        "the driver timer was left armed after shutdown"
    );
    assert!(!job.is_pending(), "the shutdown cancelled the job");
}

/// Short runs are drained by the one awake worker (`state/wake.rs`); a run
/// whose history says short but which blocks — here A, until B (queued
/// behind it) has run — must not keep B from the other, waiting worker:
/// the stall check wakes it. Without the check B would wait for A, which
/// gives up after 10 s and reports it. On the system clock (the rule's
/// only home); no bound is asserted on how soon B runs.
#[test]
fn a_blocked_short_run_does_not_hold_up_the_queue() {
    let sched = Scheduler::builder().workers(2).build().unwrap();
    assert!(fork_join(&sched), "B waited behind the blocked run A");
}

/// The same twice on a driver that has shut down: its timers no longer
/// fire, so the stall check cannot be armed and the short-run rule must
/// not be used (it was, and a check's one inline fire left it disarmed for
/// good: the second fork-join waited the full 10 s).
#[test]
fn a_shut_down_driver_wakes_a_worker_per_run() {
    let driver = Driver::builder().build().unwrap();
    let sched = Scheduler::builder()
        .workers(2)
        .handle(driver.handle().clone())
        .build()
        .unwrap();
    drop(driver);
    assert!(fork_join(&sched), "first round");
    assert!(fork_join(&sched), "second round");
}

/// Waits for both workers to wait, marks recent runs short, then queues A
/// (which waits up to 10 s for B) and B: `true` if A saw B run.
fn fork_join(sched: &Scheduler) -> bool {
    // Both workers waiting (a worker not yet waiting would take B itself).
    while lock(&sched.core().shared.state).idle < 2 {
        thread::yield_now();
    }
    // Every run lately was short (the estimate a stream of trivial runs
    // leaves; a hundred of them outweigh an earlier long one).
    let mut st = lock(&sched.core().shared.state);
    (0..100).for_each(|_| st.ran_for(0));
    drop(st);
    let (tx, rx) = bounded(1);
    let (done_tx, done_rx) = bounded(1);
    sched
        .execute(move || {
            let _ = done_tx.send(rx.recv_timeout(Duration::from_secs(10)).is_ok());
        })
        .unwrap();
    sched
        .execute(move || {
            let _ = tx.send(());
        })
        .unwrap();
    done_rx.recv().unwrap()
}
