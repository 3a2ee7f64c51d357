//! `Driver::enter`: the free functions follow the entered driver on this
//! thread only, guards nest, timers keep their driver; and
//! `ManualClock::advance_to_next` runs a program of sleeps to completion.

mod support;

use std::task::Poll;
use std::time::{Duration, Instant};

use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use tickless::clock::{Clock, ManualClock};
use tickless::{Context, Driver, Handle};

use support::{manual_driver, poll_noop};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn free_functions_use_the_entered_driver() {
    let (clock, driver) = manual_driver();
    let guard = driver.enter();
    assert!(Handle::current().same_driver_as(driver.handle()));

    let mut sleep = Box::pin(tickless::sleep(secs(10)));
    assert!(poll_noop(&mut sleep).is_pending());
    let timer = tickless::blocking::Timer::new(secs(20));
    let (ctx, _g) = Context::background().with_timeout(secs(30));
    let ctx_done = ctx.done(); // a wait: registers the deadline
    let (tx, rx) = crossbeam_channel::bounded(1);
    let _f = tickless::blocking::after_func(secs(40), move || tx.send(()).unwrap());
    let mut timeout = Box::pin(tickless::timeout(secs(50), std::future::pending::<()>()));
    assert!(poll_noop(&mut timeout).is_pending());
    assert_eq!(driver.handle().pending_timers(), 5);

    clock.advance(secs(10));
    assert!(poll_noop(&mut sleep).is_ready());
    clock.advance(secs(10));
    assert!(timer.receiver().try_recv().is_ok());
    clock.advance(secs(10));
    assert!(ctx.is_done());
    assert_eq!(
        ctx_done.try_recv(),
        Err(crossbeam_channel::TryRecvError::Disconnected),
        "disconnected by the timer"
    );
    clock.advance(secs(10));
    assert_eq!(rx.recv_timeout(secs(10)), Ok(()));
    clock.advance(secs(10));
    assert!(matches!(poll_noop(&mut timeout), Poll::Ready(Err(_))));
    drop(guard);
    assert!(
        !Handle::current().same_driver_as(driver.handle()),
        "restored"
    );
}

#[test]
fn guards_nest_and_stay_on_their_thread() {
    let (_ca, a) = manual_driver();
    let (_cb, b) = manual_driver();
    let ga = a.enter();
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(
                !Handle::current().same_driver_as(a.handle()),
                "another thread still uses the global driver"
            );
        });
    });
    {
        let _gb = b.enter();
        assert!(Handle::current().same_driver_as(b.handle()));
    }
    assert!(
        Handle::current().same_driver_as(a.handle()),
        "inner guard restored a"
    );
    drop(ga);
    assert!(!Handle::current().same_driver_as(a.handle()));
}

#[test]
fn timers_keep_the_driver_they_were_created_on() {
    let (clock, driver) = manual_driver();
    let mut sleep = {
        let _g = driver.enter();
        Box::pin(tickless::sleep(secs(1)))
    };
    assert!(
        poll_noop(&mut sleep).is_pending(),
        "registers after the guard dropped"
    );
    assert_eq!(driver.handle().pending_timers(), 1);
    clock.advance(secs(1));
    assert!(poll_noop(&mut sleep).is_ready());
}

async fn backoff_program(log: std::rc::Rc<std::cell::RefCell<Vec<Duration>>>, start: Instant) {
    for ms in [1500, 10, 250, 3_600_000] {
        tickless::sleep(Duration::from_millis(ms)).await;
        log.borrow_mut().push(Handle::current().now() - start);
    }
}

#[test]
fn advance_to_next_runs_a_program_of_sleeps_to_completion() {
    let clock = ManualClock::new();
    let driver = Driver::builder().clock(clock.clone()).build().unwrap();
    let _g = driver.enter();
    let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut pool = LocalPool::new();
    let done = pool
        .spawner()
        .spawn_local_with_handle(backoff_program(log.clone(), clock.now()))
        .unwrap();
    pool.run_until_stalled();
    let mut steps = 0;
    while clock.advance_to_next().is_some() {
        pool.run_until_stalled();
        steps += 1;
    }
    pool.run_until(done);
    let ms = |n: u64| Duration::from_millis(n);
    assert_eq!(
        *log.borrow(),
        vec![ms(1500), ms(1510), ms(1760), ms(3_601_760)],
        "each sleep ended exactly at its deadline"
    );
    assert_eq!(steps, 4, "one step per sleep");
    assert_eq!(clock.advance_to_next(), None, "nothing pending: time stays");
    assert_eq!(clock.elapsed(), ms(3_601_760));
}

#[test]
fn advance_to_next_follows_a_deadline_moved_later_and_earlier() {
    let (clock, driver) = manual_driver();
    let t0 = clock.now();
    let mut sleep = Box::pin(driver.handle().sleep(secs(10)));
    assert!(poll_noop(&mut sleep).is_pending());
    sleep.as_mut().reset(t0 + secs(30)); // later: lazily, the old slot stays
    let mut steps = Vec::new();
    while let Some(now) = clock.advance_to_next() {
        steps.push(now - t0);
        if poll_noop(&mut sleep).is_ready() {
            break;
        }
    }
    assert_eq!(steps.last(), Some(&secs(30)), "fired at the moved deadline");
    assert!(steps.iter().all(|s| *s <= secs(30)), "{steps:?}");
    assert_eq!(clock.advance_to_next(), None);

    // Earlier: the registration moves, and advance_to_next finds it.
    let mut early = Box::pin(driver.handle().sleep(secs(100)));
    assert!(poll_noop(&mut early).is_pending());
    early.as_mut().reset(clock.now() + secs(2));
    let at = clock.advance_to_next().unwrap();
    assert_eq!(at - t0, secs(32));
    assert!(poll_noop(&mut early).is_ready());
}

#[test]
fn advance_to_next_without_timers_or_on_a_shut_down_driver() {
    let (clock, driver) = manual_driver();
    assert_eq!(clock.advance_to_next(), None);
    let _t = driver.handle().timer(secs(5));
    drop(driver);
    assert_eq!(
        clock.advance_to_next(),
        None,
        "a dropped driver waits for nothing"
    );
    assert_eq!(clock.elapsed(), Duration::ZERO);
}

/// The shape an async test takes: `#[tokio::test]` runs on one thread, so a
/// guard at the top covers every task of the test.
#[tokio::test]
async fn a_tokio_current_thread_test_enters_once() {
    let (clock, driver) = manual_driver();
    let _guard = driver.enter();
    let task = tokio::spawn(async {
        tickless::sleep(secs(3600)).await;
        tickless::timeout(secs(60), std::future::pending::<()>()).await
    });
    let mut jumps = 0;
    while !task.is_finished() {
        tokio::task::yield_now().await; // let the task run until it waits
        if clock.advance_to_next().is_some() {
            jumps += 1;
        }
    }
    assert!(task.await.unwrap().is_err(), "the timeout elapsed");
    assert_eq!((jumps, clock.elapsed()), (2, secs(3660)));
}
