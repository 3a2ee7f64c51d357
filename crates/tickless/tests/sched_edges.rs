//! `tickless::sched` at the edges of its public surface: extreme arguments,
//! shutdown after shutdown, and user code that misbehaves where the pool
//! drops it. Each test here once failed (a panic or a hang).

mod support;

use std::time::Duration;

use crossbeam_channel::{bounded, unbounded};
use tickless::sched::{BuildError, Builder, RejectPolicy, Rejected, Scheduler};

const WAIT: Duration = Duration::from_secs(10);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

use support::sched;

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

/// After `shutdown_timeout` gave up on a stuck job, dropping the last
/// `Scheduler` must not wait for that job after all (it used to wait for it
/// for ever): the straggler is left to exit when its job ends, as documented.
#[test]
fn dropping_after_a_timed_out_shutdown_leaves_the_straggler() {
    let (gate_tx, gate) = bounded::<()>(0);
    let (ended_tx, ended) = bounded(1);
    within(WAIT, move || {
        let (_clock, driver) = support::manual_driver();
        let s = sched(&driver, 1);
        let (started_tx, started) = bounded(1);
        s.execute(move || {
            started_tx.send(()).unwrap();
            let _ = gate.recv();
            let _ = ended_tx.send(());
        })
        .unwrap();
        started.recv_timeout(WAIT).unwrap();
        assert!(!s.shutdown_timeout(ms(10)), "the job is stuck");
        drop(s);
    });
    drop(gate_tx); // the straggler's job ends; its worker exits on its own
    ended.recv_timeout(WAIT).unwrap();
}

/// A periodic job's closure is dropped on its worker when the job ends
/// there (here: it panicked under `cancel_periodic_on_panic`). A panic in
/// that drop is the job's own: caught like its run's, and the worker lives
/// on (it used to unwind the worker thread, leaving the pool one worker
/// short and every later shutdown waiting for it for ever).
#[test]
fn a_panic_dropping_a_periodic_job_does_not_kill_its_worker() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("dropping the job's state");
        }
    }
    within(WAIT, || {
        let (_clock, driver) = support::manual_driver();
        let s = Scheduler::builder()
            .workers(1)
            .cancel_periodic_on_panic(true)
            .handle(driver.handle().clone())
            .build()
            .unwrap();
        let state = PanicOnDrop;
        s.at_fixed_rate(Duration::ZERO, ms(1), move || {
            let _state = &state;
            panic!("the run fails");
        })
        .unwrap()
        .detach();
        let (tx, rx) = unbounded();
        s.execute(move || tx.send(()).unwrap()).unwrap();
        rx.recv_timeout(WAIT).expect("the worker still runs jobs");
        s.shutdown();
    });
}

/// Under `CallerRuns`, a `schedule*` that finds `max_pending` full waits on
/// the calling thread for the job's deadline, then runs it there. A shutdown
/// meanwhile cancels it like every pending job: the call answers
/// `Rejected::Shutdown` and the job never runs (it used to run after
/// `shutdown` had returned; Java's `CallerRunsPolicy` discards too).
#[test]
fn a_caller_run_job_waiting_for_its_deadline_is_cancelled_by_shutdown() {
    within(WAIT, || {
        let (clock, driver) = support::manual_driver();
        let s = Scheduler::builder()
            .workers(1)
            .max_pending(1)
            .reject(RejectPolicy::CallerRuns)
            .handle(driver.handle().clone())
            .build()
            .unwrap();
        let _first = s.schedule(Duration::from_secs(3600), || {}).unwrap();
        let (tx, rx) = unbounded();
        let caller = {
            let s = s.clone();
            std::thread::spawn(move || {
                s.schedule(ms(10), move || tx.send(()).unwrap())
                    .map(|job| job.detach())
            })
        };
        support::wait_until("the caller to wait", || s.metrics().caller_runs == 1);
        s.shutdown();
        clock.advance(ms(10));
        assert_eq!(caller.join().unwrap(), Err(Rejected::Shutdown));
        assert!(rx.try_recv().is_err(), "the job ran after shutdown");
    });
}

/// `workers(usize::MAX)` once panicked ("capacity overflow") preparing the
/// thread list; the bound is now checked like zero is.
#[test]
fn too_many_workers_is_a_build_error() {
    let driver = support::manual_driver().1;
    for n in [Builder::MAX_WORKERS + 1, usize::MAX] {
        let built = Scheduler::builder()
            .workers(n)
            .handle(driver.handle().clone())
            .build();
        let err = built.expect_err("refused");
        assert!(matches!(err, BuildError::TooManyWorkers), "{err:?}");
        assert!(err.to_string().contains("32767"), "{err}");
    }
}

/// A scheduler built after its driver has run a while: `schedule(delay)`
/// counts from the call, not from the driver's start or the pool's.
#[test]
fn delays_count_from_the_call_on_an_older_driver() {
    let (clock, driver) = support::manual_driver();
    clock.advance(Duration::from_secs(5));
    let sched = sched(&driver, 1);
    let (tx, ran) = unbounded();
    let _job = sched
        .schedule(Duration::from_secs(2), move || tx.send(()).unwrap())
        .unwrap();
    clock.advance(Duration::from_secs(2) - Duration::from_nanos(1));
    assert!(ran.recv_timeout(ms(50)).is_err(), "ran early");
    clock.advance(Duration::from_nanos(1));
    assert!(
        ran.recv_timeout(WAIT).is_ok(),
        "did not run at its deadline"
    );
}
