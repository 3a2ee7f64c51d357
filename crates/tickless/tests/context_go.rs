//! Context parity with Go's `context`: `after_func`, `without_cancel`, causes
//! (with Go's fallback to the error), cancelling through `&CancelGuard`, and
//! `disarm`.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tickless::clock::Clock;
use tickless::ContextError;

use support::{manual_context as manual, wait_until};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[derive(Debug)]
struct Budget(&'static str);
impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}
impl std::error::Error for Budget {}

fn counter() -> (Arc<AtomicUsize>, impl Fn() -> usize) {
    let n = Arc::new(AtomicUsize::new(0));
    let read = n.clone();
    (n, move || read.load(Ordering::SeqCst))
}

#[test]
fn after_func_runs_once_when_the_context_ends() {
    let (clock, _driver, root) = manual();
    let (ctx, _guard) = root.with_timeout(secs(5));
    let (runs, count) = counter();
    let handle = ctx.after_func(move || {
        runs.fetch_add(1, Ordering::SeqCst);
    });
    clock.advance(secs(4));
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(count(), 0, "not before the context ends");
    clock.advance(secs(1)); // the deadline: ends the context
    wait_until("the callback ran", || count() == 1);
    assert!(!handle.stop(), "already started: stop reports false");
    drop(handle);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(count(), 1, "exactly once");
}

#[test]
fn after_func_stopped_or_dropped_never_runs() {
    let (_clock, _driver, root) = manual();
    let (ctx, guard) = root.with_cancel();
    let (runs, count) = counter();
    let r1 = runs.clone();
    let stopped = ctx.after_func(move || {
        r1.fetch_add(1, Ordering::SeqCst);
    });
    assert!(stopped.stop(), "stopped before the context ended");
    assert!(!stopped.stop(), "a second stop has nothing to stop");
    let r2 = runs.clone();
    drop(ctx.after_func(move || {
        r2.fetch_add(1, Ordering::SeqCst);
    }));
    // A detached one still runs: it proves callbacks do run on this context.
    ctx.after_func(move || {
        runs.fetch_add(100, Ordering::SeqCst);
    })
    .detach();
    guard.cancel();
    wait_until("the detached callback ran", || count() >= 100);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(count(), 100, "the stopped and dropped callbacks never ran");
}

#[test]
fn after_func_on_an_ended_context_runs_at_once_and_on_a_root_never() {
    let (_clock, _driver, root) = manual();
    let (ctx, guard) = root.with_cancel();
    drop(guard);
    let (runs, count) = counter();
    let r = runs.clone();
    let late = ctx.after_func(move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    wait_until("the callback ran at once", || count() == 1);
    assert!(!late.stop());

    let never = root.after_func(move || {
        runs.fetch_add(1, Ordering::SeqCst);
    });
    assert!(
        never.stop(),
        "a root never ends, so the callback was still waiting"
    );
}

#[test]
fn without_cancel_escapes_cancellation_and_deadline() {
    let (clock, driver, root) = manual();
    let (request, guard) = root.with_timeout(secs(1));
    let (audit, _audit_guard) = request.without_cancel().with_timeout(secs(60));
    assert_eq!(
        audit.deadline(),
        Some(clock.now() + secs(60)),
        "no inherited deadline"
    );
    clock.advance(secs(1));
    assert_eq!(request.err(), Some(ContextError::DeadlineExceeded));
    drop(guard);
    assert!(!audit.is_done());
    clock.advance(secs(59));
    assert_eq!(
        audit.err(),
        Some(ContextError::DeadlineExceeded),
        "on the same driver"
    );
    assert_eq!(driver.handle().pending_timers(), 0);
}

#[test]
fn deadline_causes_and_the_fallback_to_the_error() {
    let (clock, _driver, root) = manual();
    let (outer, _og) = root.with_timeout_cause(secs(10), Budget("request budget"));
    let (inner, _ig) = outer.with_deadline_cause(clock.now() + secs(3), Budget("db budget"));
    let (later, _lg) = outer.with_timeout_cause(secs(60), Budget("never mine"));
    let (plain, _pg) = root.with_timeout(secs(1));
    assert!(inner.cause().is_none(), "live: no cause");

    clock.advance(secs(1));
    assert_eq!(plain.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(
        plain.cause().unwrap().to_string(),
        ContextError::DeadlineExceeded.to_string(),
        "without a cause, the error is the cause (Go's fallback)"
    );
    clock.advance(secs(2));
    assert_eq!(inner.cause().unwrap().to_string(), "db budget");
    assert!(!outer.is_done());
    clock.advance(secs(7));
    assert_eq!(outer.cause().unwrap().to_string(), "request budget");
    assert_eq!(
        later.cause().unwrap().to_string(),
        "request budget",
        "the ancestor's deadline ended it: the ancestor's cause"
    );
    // Already past at creation: ended at once, with the cause.
    let (past, _g) = root.with_deadline_cause(clock.now(), Budget("too late"));
    assert_eq!(past.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(past.cause().unwrap().to_string(), "too late");
}

#[test]
fn cancel_through_a_shared_guard_and_disarm() {
    let (_clock, _driver, root) = manual();
    let (ctx, guard) = root.with_cancel();
    let guard = Arc::new(guard);
    let other = guard.clone();
    std::thread::spawn(move || other.cancel_with(Budget("first")))
        .join()
        .unwrap();
    guard.cancel_with(Budget("second"));
    guard.cancel();
    assert_eq!(ctx.err(), Some(ContextError::Cancelled));
    assert_eq!(
        ctx.cause().unwrap().to_string(),
        "first",
        "the first cancel wins"
    );

    let (parent, parent_guard) = root.with_cancel();
    let (child, child_guard) = parent.with_cancel();
    assert_eq!(parent.children(), 1);
    let same = child_guard.disarm();
    assert!(!child.is_done(), "a disarmed guard does not cancel on drop");
    assert_eq!(parent.children(), 1, "still linked: the parent can end it");
    drop(parent_guard);
    assert_eq!(same.err(), Some(ContextError::Cancelled));
}

/// `stop` racing the cancellation: each callback either runs or is stopped,
/// never both, never neither (the callback is taken exactly once).
#[test]
fn after_func_stop_races_cancel() {
    let (_clock, _driver, root) = manual();
    let (runs, count) = counter();
    let mut stopped = 0;
    const ROUNDS: usize = 2000;
    for _ in 0..ROUNDS {
        let (ctx, guard) = root.with_cancel();
        let r = runs.clone();
        let handle = ctx.after_func(move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        let canceller = std::thread::spawn(move || guard.cancel());
        stopped += usize::from(handle.stop());
        canceller.join().unwrap();
    }
    wait_until("every unstopped callback ran", || {
        count() + stopped >= ROUNDS
    });
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        count() + stopped,
        ROUNDS,
        "ran {} stopped {stopped}",
        count()
    );
}
