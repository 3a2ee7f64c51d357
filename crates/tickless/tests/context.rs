//! Context: trees, deadlines, propagation, drop orders, threads, memory.

mod support;

use std::task::Poll;
use std::time::Duration;

use tickless::clock::Clock;
use tickless::{Context, ContextError};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

use support::manual_context as manual;

use support::poll_noop as poll;

#[test]
fn deadline_is_the_earlier_of_own_and_parent() {
    let (clock, driver, root) = manual();
    let t0 = clock.now();
    assert_eq!(root.deadline(), None);
    let (a, _ga) = root.with_timeout(secs(10));
    let (b, _gb) = a.with_timeout(secs(60)); // later than the parent's: no timer of its own
    let (c, _gc) = b.with_deadline(t0 + secs(3)); // earlier: its own timer
    assert_eq!(a.deadline(), Some(t0 + secs(10)));
    assert_eq!(b.deadline(), Some(t0 + secs(10)));
    assert_eq!(c.deadline(), Some(t0 + secs(3)));
    assert_eq!(
        driver.handle().pending_timers(),
        1,
        "a's timer, registered for its child; c's waits for a first question"
    );
    assert!(!c.is_done());
    assert_eq!(
        driver.handle().pending_timers(),
        2,
        "one timer per context with its own, earlier deadline"
    );
    clock.advance(secs(1));
    assert_eq!(c.remaining(), Some(secs(2)));
    clock.advance(secs(2));
    assert_eq!(c.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(
        (a.err(), b.err()),
        (None, None),
        "a child's deadline does not end its parent"
    );
    clock.advance(secs(7));
    assert_eq!(a.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(
        b.err(),
        Some(ContextError::DeadlineExceeded),
        "propagated from the parent"
    );
    assert_eq!(driver.handle().pending_timers(), 0);
}

#[test]
fn guard_drop_cancels_and_unlinks() {
    let (_clock, driver, root) = manual();
    let (parent, _pg) = root.with_cancel();
    let (child, guard) = parent.with_timeout(secs(5));
    assert_eq!(parent.children(), 1);
    assert!(!child.is_done()); // registers the deadline
    assert_eq!(driver.handle().pending_timers(), 1);
    drop(guard);
    assert_eq!(child.err(), Some(ContextError::Cancelled));
    assert_eq!(parent.children(), 0, "a finished child is unlinked");
    assert_eq!(
        driver.handle().pending_timers(),
        0,
        "its deadline timer is cancelled"
    );
    assert_eq!(parent.err(), None);
}

#[test]
fn done_receivers_disconnect_and_futures_complete() {
    let (clock, _driver, root) = manual();
    let (ctx, _g) = root.with_timeout(secs(1));
    let before = ctx.done();
    let mut cancelled = ctx.cancelled();
    let mut run = Box::pin(ctx.run(std::future::pending::<()>()));
    let mut sleep = Box::pin(ctx.sleep(secs(60)));
    assert!(before.try_recv().is_err() && !ctx.is_done());
    assert!(poll(&mut cancelled).is_pending());
    assert!(poll(&mut run).is_pending());
    assert!(poll(&mut sleep).is_pending());
    clock.advance(secs(1));
    assert_eq!(
        before.try_recv(),
        Err(crossbeam_channel::TryRecvError::Disconnected)
    );
    assert_eq!(
        ctx.done().try_recv(),
        Err(crossbeam_channel::TryRecvError::Disconnected),
        "after, too"
    );
    assert_eq!(
        poll(&mut cancelled),
        Poll::Ready(ContextError::DeadlineExceeded)
    );
    assert_eq!(
        poll(&mut run),
        Poll::Ready(Err(ContextError::DeadlineExceeded))
    );
    assert_eq!(
        poll(&mut sleep),
        Poll::Ready(Err(ContextError::DeadlineExceeded))
    );
    let (live, _g2) = root.with_cancel();
    let mut quick = Box::pin(live.run(async { 5 }));
    assert_eq!(
        poll(&mut quick),
        Poll::Ready(Ok(5)),
        "the future is polled first"
    );
}

#[derive(Debug)]
struct ClientGone;
impl std::fmt::Display for ClientGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("client went away")
    }
}
impl std::error::Error for ClientGone {}

#[test]
fn cancel_with_cause_reaches_descendants() {
    let (_clock, _driver, root) = manual();
    let (parent, guard) = root.with_cancel();
    let (child, _cg) = parent.with_cancel();
    guard.cancel_with(ClientGone);
    assert_eq!(child.err(), Some(ContextError::Cancelled));
    assert_eq!(child.cause().unwrap().to_string(), "client went away");
    assert_eq!(
        ContextError::DeadlineExceeded.to_string(),
        "context deadline exceeded"
    );
    let (late, _lg) = parent.with_timeout(secs(5));
    assert_eq!(
        late.err(),
        Some(ContextError::Cancelled),
        "a child of an ended context starts ended"
    );
    assert!(late.cause().is_some());
}

#[test]
fn deep_and_wide_trees() {
    let (_clock, driver, root) = manual();
    let (top, top_guard) = root.with_cancel();
    // 100k deep: cancellation is iterative, not recursive.
    let mut chain = Vec::new();
    let mut ctx = top.clone();
    for _ in 0..100_000 {
        let (c, g) = ctx.with_cancel();
        chain.push(g);
        ctx = c;
    }
    let deepest = ctx;
    // 10k wide, each with a deadline.
    let wide: Vec<_> = (0..10_000)
        .map(|i| top.with_timeout(secs(100 + i)))
        .collect();
    assert_eq!(driver.handle().pending_timers(), 0, "nobody waits yet");
    let waiting: Vec<_> = wide.iter().map(|(c, _)| c.done()).collect();
    assert_eq!(driver.handle().pending_timers(), 10_000);
    drop(top_guard);
    assert_eq!(deepest.err(), Some(ContextError::Cancelled));
    assert!(wide
        .iter()
        .all(|(c, _)| c.err() == Some(ContextError::Cancelled)));
    assert_eq!(driver.handle().pending_timers(), 0);
    assert!(waiting.iter().all(|rx| rx.recv().is_err()));
    drop(chain); // child guards after the parent's: harmless
}

#[test]
fn drop_orders() {
    let (_clock, _driver, root) = manual();
    // Parent guard first, then child guard.
    let (p, pg) = root.with_cancel();
    let (c, cg) = p.with_cancel();
    drop(pg);
    assert!(c.is_done());
    drop(cg);
    // Child guard first, then parent guard; contexts outlive their guards.
    let (p, pg) = root.with_cancel();
    let (c, cg) = p.with_cancel();
    drop(cg);
    assert_eq!(p.children(), 0);
    drop(pg);
    assert!(p.is_done() && c.is_done());
    // Contexts dropped before their guards.
    let (p, pg) = root.with_cancel();
    let (c, cg) = p.with_cancel();
    drop((p, c));
    drop(pg);
    drop(cg);
}

#[test]
fn cancel_from_many_threads_at_once() {
    let (_clock, _driver, root) = manual();
    for _ in 0..50 {
        let (top, top_guard) = root.with_cancel();
        let mut guards = Vec::new();
        let mut leaves = Vec::new();
        for _ in 0..8 {
            let (mid, mg) = top.with_cancel();
            let (leaf, lg) = mid.with_timeout(secs(30));
            guards.push((mg, lg));
            leaves.push(leaf);
        }
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(guards.len() + 1));
        let threads: Vec<_> = guards
            .into_iter()
            .map(|(mg, lg)| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    drop(lg);
                    drop(mg);
                })
            })
            .collect();
        barrier.wait();
        drop(top_guard);
        for t in threads {
            t.join().unwrap();
        }
        assert!(leaves.iter().all(Context::is_done));
        assert_eq!(top.children(), 0);
    }
}

#[test]
fn thread_waits_on_done_in_select() {
    let (_clock, _driver, root) = manual();
    let (ctx, guard) = root.with_cancel();
    let worker = std::thread::spawn(move || {
        let (_tx, work) = crossbeam_channel::unbounded::<u32>();
        crossbeam_channel::select! {
            recv(work) -> _ => unreachable!(),
            recv(ctx.done()) -> _ => ctx.err(),
        }
    });
    std::thread::sleep(Duration::from_millis(5));
    drop(guard);
    assert_eq!(worker.join().unwrap(), Some(ContextError::Cancelled));
}

#[test]
fn sleep_blocking_wakes_early_on_cancel() {
    let (_clock, _driver, root) = manual();
    let (ctx, guard) = root.with_cancel();
    let sleeper = std::thread::spawn(move || ctx.sleep_blocking(secs(3600)));
    std::thread::sleep(Duration::from_millis(5));
    drop(guard);
    assert_eq!(sleeper.join().unwrap(), Err(ContextError::Cancelled));
    let (ctx, _g) = Context::background().with_cancel();
    assert_eq!(ctx.sleep_blocking(Duration::from_millis(2)), Ok(()));
}

/// The deadline timer registers on the first wait or question, never
/// before; until then nothing observable differs from an eager timer.
#[test]
fn deadline_registers_on_first_wait() {
    let (clock, driver, root) = manual();
    let pending = || driver.handle().pending_timers();

    // Derived and cancelled with nobody waiting: no driver work at all.
    let (ctx, guard) = root.with_timeout(secs(5));
    assert_eq!(pending(), 0);
    drop(guard);
    assert_eq!(ctx.err(), Some(ContextError::Cancelled));
    assert_eq!(pending(), 0);

    // Each way of waiting, or asking, registers it exactly once.
    let (a, _ga) = root.with_timeout(secs(5));
    let rx = a.done();
    let _rx2 = a.done();
    assert_eq!(pending(), 1, "done()");
    let (b, _gb) = root.with_timeout(secs(5));
    let mut fut = b.cancelled();
    assert!(poll(&mut fut).is_pending());
    assert_eq!(pending(), 2, "a cancelled() poll");
    let (c, _gc) = root.with_timeout(secs(5));
    let (tx, fired) = crossbeam_channel::bounded(1);
    c.after_func(move || tx.send(()).unwrap()).detach();
    assert_eq!(pending(), 3, "after_func");
    let (d, _gd) = root.with_timeout(secs(5));
    assert_eq!(d.err(), None);
    assert_eq!(pending(), 4, "err()");
    let (e, _ge) = root.with_timeout(secs(5));
    let (e_child, _gec) = e.with_cancel();
    assert_eq!(pending(), 5, "a child, whose deadline is its parent's");
    let (f, _gf) = root.with_timeout(secs(5));
    let _run = f.run(std::future::ready(()));
    assert_eq!(pending(), 5, "run() of a ready future never waits");

    clock.advance(secs(5));
    assert!(rx.recv().is_err());
    assert_eq!(poll(&mut fut), Poll::Ready(ContextError::DeadlineExceeded));
    fired.recv_timeout(secs(10)).unwrap();
    assert_eq!(d.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(e_child.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(pending(), 0);
    assert!(f.is_done(), "the first question after the deadline ends it");
    assert_eq!(f.err(), Some(ContextError::DeadlineExceeded));
}

/// A deadline that passed while nobody waited still ended the context
/// first: the guard dropped later does not turn it into a cancel.
#[test]
fn unregistered_deadline_that_passed_wins_over_a_later_cancel() {
    #[derive(Debug)]
    struct Slow;
    impl std::fmt::Display for Slow {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("slow")
        }
    }
    impl std::error::Error for Slow {}

    let (clock, driver, root) = manual();
    let (parent, _pg) = root.with_cancel();
    let (ctx, guard) = parent.with_timeout_cause(secs(5), Slow);
    let (early, early_guard) = parent.with_timeout(secs(5));
    clock.advance(secs(4));
    drop(early_guard);
    assert_eq!(early.err(), Some(ContextError::Cancelled), "before it");
    clock.advance(secs(1));
    assert_eq!(driver.handle().pending_timers(), 0);
    drop(guard);
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(ctx.cause().unwrap().to_string(), "slow");
    assert_eq!(parent.children(), 0);
    assert_eq!(parent.err(), None);
}

/// A child derived under an ended parent takes the parent's error and
/// cause, even with a deadline of its own that has passed (Go's
/// `propagateCancel` runs before the deadline check).
#[test]
fn a_child_born_under_an_ended_parent_takes_its_error() {
    #[derive(Debug)]
    struct Why;
    impl std::fmt::Display for Why {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("parent's cause")
        }
    }
    impl std::error::Error for Why {}
    let (clock, _driver, root) = manual();
    let (parent, pg) = root.with_cancel();
    pg.cancel_with(Why);
    let (a, _ga) = parent.with_timeout(Duration::ZERO);
    let (b, _gb) = parent.with_deadline(clock.now());
    let (c, _gc) = parent.with_timeout(secs(5));
    for ctx in [&a, &b, &c] {
        assert_eq!(ctx.err(), Some(ContextError::Cancelled));
        assert_eq!(ctx.cause().unwrap().to_string(), "parent's cause");
    }
}

/// A child whose deadline passed while nobody waited no longer counts.
#[test]
fn children_do_not_count_a_child_past_an_unregistered_deadline() {
    let (clock, _driver, root) = manual();
    let (parent, _pg) = root.with_cancel();
    let (_late, _gl) = parent.with_timeout(secs(1));
    let (_live, _gv) = parent.with_timeout(secs(5));
    assert_eq!(parent.children(), 2);
    clock.advance(secs(2));
    assert_eq!(
        parent.children(),
        1,
        "the child past its deadline has ended"
    );
}

/// A disarmed guard never cancels, so the deadline must be registered to
/// end the child and unlink it from its parent.
#[test]
fn a_disarmed_child_with_a_deadline_ends_and_unlinks() {
    let (clock, driver, root) = manual();
    let (parent, _pg) = root.with_cancel();
    let kept: Vec<_> = (0..1000)
        .map(|_| parent.with_timeout(secs(1)).1.disarm())
        .collect();
    assert_eq!(
        driver.handle().pending_timers(),
        1000,
        "registered by disarm"
    );
    clock.advance(secs(2));
    assert_eq!(driver.handle().pending_timers(), 0);
    assert_eq!(parent.children(), 0);
    assert!(kept
        .iter()
        .all(|c| c.err() == Some(ContextError::DeadlineExceeded)));
}

/// A driver that shut down ends its contexts' deadlines (it fires every
/// registered timer); an unregistered one answers the same.
#[test]
fn a_shut_down_driver_ends_registered_and_unregistered_deadlines_alike() {
    let (_clock, driver, root) = manual();
    let (registered, _gr) = root.with_timeout(secs(5));
    assert!(!registered.is_done());
    let (dropped, guard) = root.with_timeout(secs(5));
    let (asked, _ga) = root.with_timeout(secs(5));
    drop(driver);
    drop(guard);
    for ctx in [&registered, &dropped, &asked] {
        assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    }
}

/// `cause()` is a question about the end: it registers the deadline, and
/// formatting (`Debug`) is not one.
#[test]
fn cause_registers_and_debug_does_not() {
    let (_clock, driver, root) = manual();
    let (ctx, _g) = root.with_timeout(secs(5));
    let _ = format!("{ctx:?}");
    assert_eq!(
        driver.handle().pending_timers(),
        0,
        "Debug registers nothing"
    );
    assert!(ctx.cause().is_none());
    assert_eq!(driver.handle().pending_timers(), 1);
}

/// `sleep` registers the context's deadline only once the sleep is pending.
#[test]
fn sleep_registers_the_deadline_once_pending() {
    let (clock, driver, root) = manual();
    let (ctx, _g) = root.with_timeout(secs(5));
    let mut nap = Box::pin(ctx.sleep(secs(60)));
    assert_eq!(driver.handle().pending_timers(), 0);
    assert!(poll(&mut nap).is_pending());
    assert_eq!(
        driver.handle().pending_timers(),
        2,
        "the sleep and the deadline"
    );
    clock.advance(secs(5));
    assert_eq!(
        poll(&mut nap),
        Poll::Ready(Err(ContextError::DeadlineExceeded))
    );
}

/// The coarse-clock path of "has the unregistered deadline passed": a
/// manual clock whose coarse reading runs ahead by up to its granularity
/// must not make a cancel just before the deadline a `DeadlineExceeded`.
#[test]
fn an_unregistered_deadline_is_judged_by_the_exact_clock() {
    use tickless::clock::ManualClock;
    let clock = ManualClock::with_coarse_granularity(Duration::from_millis(10));
    let driver = tickless::Driver::builder()
        .clock(clock.clone())
        .build()
        .unwrap();
    let root = Context::background_on(driver.handle().clone());
    let (early, early_guard) = root.with_deadline(clock.now() + secs(1));
    let (late, late_guard) = root.with_deadline(clock.now() + secs(1));
    clock.advance(secs(1) - Duration::from_millis(1)); // the coarse reading may be past
    drop(early_guard);
    assert_eq!(early.err(), Some(ContextError::Cancelled));
    clock.advance(Duration::from_millis(1));
    drop(late_guard);
    assert_eq!(late.err(), Some(ContextError::DeadlineExceeded));
}

/// The same on the system clock, with real time (a generous margin).
#[test]
fn an_unregistered_deadline_that_passed_on_the_system_clock() {
    let (ctx, guard) = Context::background().with_timeout(Duration::from_millis(1));
    std::thread::sleep(Duration::from_millis(5));
    drop(guard);
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
}

/// Child creation (which registers a lazy parent) racing the parent's
/// cancel and a first wait, many times: no timer left, every child ended.
#[test]
fn lazy_registration_races_leave_nothing_behind() {
    let (_clock, driver, root) = manual();
    for _ in 0..500 {
        let (p, pg) = root.with_timeout(secs(5));
        let deriving = {
            let p = p.clone();
            std::thread::spawn(move || p.with_timeout(secs(1)))
        };
        let waiting = {
            let p = p.clone();
            std::thread::spawn(move || p.done())
        };
        drop(pg);
        let (c, cg) = deriving.join().unwrap();
        assert!(waiting.join().unwrap().recv().is_err());
        assert!(c.is_done());
        assert_eq!(p.children(), 0);
        drop(cg);
        assert_eq!(driver.handle().pending_timers(), 0);
    }
}

/// An unregistered deadline of never, on a clock moved to the limit of the
/// deadline count (≈292 years): a cancel is a cancel, not an expiry.
#[test]
fn never_stays_never_on_a_clock_moved_to_its_limit() {
    let (clock, _driver, root) = manual();
    let (ctx, guard) = root.with_timeout(Duration::MAX);
    clock.advance(Duration::MAX);
    drop(guard);
    assert_eq!(ctx.err(), Some(ContextError::Cancelled));
}
