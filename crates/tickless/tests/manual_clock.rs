//! The async API on a driver whose time moves only by hand: every behaviour
//! deterministic, no test sleeps.

mod support;

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use futures::StreamExt;
use support::{poll_once, CountingWaker};
use tickless::clock::{Clock, ManualClock};
use tickless::{Driver, Elapsed, MissedTickBehavior};

const MS: Duration = Duration::from_millis(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

use support::manual_driver as driver;

#[test]
fn sleep_fires_at_its_deadline_never_before() {
    let (clock, driver) = driver();
    let (count, waker) = CountingWaker::new();
    let mut sleep = driver.handle().sleep(ms(100));
    assert_eq!(poll_once(&mut sleep, &waker), Poll::Pending);
    assert_eq!(driver.handle().pending_timers(), 1);

    clock.advance(ms(100) - Duration::from_nanos(1));
    assert_eq!(count.count(), 0, "woken early");
    assert_eq!(poll_once(&mut sleep, &waker), Poll::Pending);
    assert!(!sleep.is_elapsed());

    clock.advance(Duration::from_nanos(1));
    assert_eq!(count.count(), 1, "woken exactly once, inside advance");
    assert!(sleep.is_elapsed());
    assert_eq!(poll_once(&mut sleep, &waker), Poll::Ready(()));
    assert_eq!(
        poll_once(&mut sleep, &waker),
        Poll::Ready(()),
        "stays complete"
    );
    assert_eq!(driver.handle().pending_timers(), 0);
}

/// The wheel files 12 ms at its 20 ms tick, but the registration keeps the
/// exact deadline: a clock move past it fires the timer between ticks
/// (before exact wake-ups, it waited for the tick's boundary).
#[test]
fn deadline_between_ticks_fires_at_the_exact_deadline() {
    let clock = ManualClock::new();
    let driver = Driver::builder()
        .clock(clock.clone())
        .resolution(ms(10))
        .build()
        .unwrap();
    let (count, waker) = CountingWaker::new();
    let mut sleep = driver.handle().sleep(ms(12));
    assert!(poll_once(&mut sleep, &waker).is_pending());
    clock.advance(ms(11));
    assert_eq!(count.count(), 0, "never early");
    clock.advance(Duration::from_micros(999));
    assert_eq!(count.count(), 0, "never early, by a microsecond");
    clock.advance(Duration::from_micros(1));
    assert_eq!(count.count(), 1, "fired at 12 ms, not at the 20 ms tick");
    assert_eq!(poll_once(&mut sleep, &waker), Poll::Ready(()));
    clock.advance(ms(8));
    assert_eq!(count.count(), 1, "once");
}

#[test]
fn drop_before_poll_registers_nothing() {
    let (_clock, driver) = driver();
    let sleep = driver.handle().sleep(ms(5));
    assert_eq!(driver.handle().pending_timers(), 0);
    drop(sleep);
    assert_eq!(driver.handle().pending_timers(), 0);
}

#[test]
fn drop_after_register_frees_at_once() {
    let (clock, driver) = driver();
    let (count, waker) = CountingWaker::new();
    let mut sleeps: Vec<_> = (0..100)
        .map(|i| driver.handle().sleep(ms(10 + i)))
        .collect();
    for s in &mut sleeps {
        assert!(poll_once(s, &waker).is_pending());
    }
    assert_eq!(driver.handle().pending_timers(), 100);
    sleeps.truncate(40);
    assert_eq!(driver.handle().pending_timers(), 40);
    clock.advance(ms(500));
    assert_eq!(count.count(), 40, "dropped sleeps never wake anyone");
}

#[test]
fn drop_on_another_thread() {
    let (clock, driver) = driver();
    let (count, waker) = CountingWaker::new();
    let mut sleep = driver.handle().sleep(ms(10));
    assert!(poll_once(&mut sleep, &waker).is_pending());
    std::thread::spawn(move || drop(sleep)).join().unwrap();
    assert_eq!(driver.handle().pending_timers(), 0);
    clock.advance(ms(10));
    assert_eq!(count.count(), 0);
}

#[test]
fn reset_earlier_and_later() {
    let (clock, driver) = driver();
    let (count, waker) = CountingWaker::new();
    let t0 = clock.now();
    let mut sleep = driver.handle().sleep(ms(100));
    assert!(poll_once(&mut sleep, &waker).is_pending());

    sleep.reset(t0 + ms(20)); // earlier
    assert_eq!(sleep.deadline(), t0 + ms(20));
    clock.advance(ms(20));
    assert_eq!(
        count.count(),
        1,
        "the registered waker fires at the new deadline"
    );
    assert!(poll_once(&mut sleep, &waker).is_ready());

    sleep.reset(t0 + ms(50)); // a completed sleep re-arms
    assert!(poll_once(&mut sleep, &waker).is_pending());
    sleep.reset(t0 + ms(80)); // later, while pending
    clock.advance(ms(30)); // t0 + 50
                           // A later reset is lazy: the old registration may wake the task at the
                           // old deadline (a spurious wake-up), but the sleep is not complete.
    assert!(
        poll_once(&mut sleep, &waker).is_pending(),
        "not at the old deadline"
    );
    let woken = count.count();
    clock.advance(ms(30)); // t0 + 80
    assert_eq!(count.count(), woken + 1, "woken at the new deadline");
    assert!(poll_once(&mut sleep, &waker).is_ready());
    assert_eq!(driver.handle().pending_timers(), 0);
}

/// Later, earlier, later again: the sleep completes at the last deadline,
/// exactly once, never before; the registrations left behind by the lazy
/// moves are gone by then.
#[test]
fn lazy_reset_later_earlier_later_fires_once_at_the_last_deadline() {
    let (clock, driver) = driver();
    let (count, waker) = CountingWaker::new();
    let t0 = clock.now();
    let mut sleep = driver.handle().sleep(ms(100));
    assert!(poll_once(&mut sleep, &waker).is_pending());
    sleep.reset(t0 + ms(300)); // later: lazy, still registered at 100
    sleep.reset(t0 + ms(200)); // earlier than 300, later than 100
    sleep.reset(t0 + ms(250)); // later again: lazy
    assert_eq!(sleep.deadline(), t0 + ms(250));
    assert_eq!(
        driver.handle().pending_timers(),
        1,
        "one registration throughout"
    );
    let mut completions = 0;
    for step in 1..=40 {
        clock.advance(ms(10));
        if poll_once(&mut sleep, &waker).is_ready() {
            completions += 1;
            assert_eq!(clock.now(), t0 + ms(250), "completed at step {step}");
            break;
        }
        assert!(clock.now() < t0 + ms(250), "still pending at its deadline");
    }
    assert_eq!(completions, 1);
    assert!(poll_once(&mut sleep, &waker).is_ready(), "stays complete");
    assert_eq!(driver.handle().pending_timers(), 0);
    let wakes = count.count();
    clock.advance(ms(1000));
    assert_eq!(count.count(), wakes, "no stale fire afterwards");
}

/// A lazily moved sleep whose old registration fires while nobody polls:
/// the stale fire completes nothing, and the next poll registers the new
/// deadline.
#[test]
fn a_stale_fire_after_a_lazy_reset_is_inert() {
    let (clock, driver) = driver();
    let (_count, waker) = CountingWaker::new();
    let t0 = clock.now();
    let mut sleep = driver.handle().sleep(ms(10));
    assert!(poll_once(&mut sleep, &waker).is_pending());
    sleep.reset(t0 + ms(1000));
    clock.advance(ms(500)); // the old registration fires, unobserved
    assert!(!sleep.is_elapsed());
    assert!(poll_once(&mut sleep, &waker).is_pending());
    assert_eq!(
        driver.handle().pending_timers(),
        1,
        "re-registered for the new deadline"
    );
    clock.advance(ms(499));
    assert!(poll_once(&mut sleep, &waker).is_pending(), "never early");
    clock.advance(ms(1));
    assert!(poll_once(&mut sleep, &waker).is_ready());
}

#[test]
fn past_zero_and_max_deadlines() {
    let (clock, driver) = driver();
    let (_, waker) = CountingWaker::new();
    clock.advance(ms(1000));
    let mut past = driver.handle().sleep_until(clock.now() - ms(500));
    assert_eq!(
        poll_once(&mut past, &waker),
        Poll::Ready(()),
        "a past deadline completes on first poll"
    );
    let mut zero = driver.handle().sleep(Duration::ZERO);
    assert!(zero.is_elapsed());
    assert_eq!(poll_once(&mut zero, &waker), Poll::Ready(()));
    let mut forever = driver.handle().sleep(Duration::MAX);
    assert_eq!(poll_once(&mut forever, &waker), Poll::Pending);
    assert_eq!(
        driver.handle().pending_timers(),
        0,
        "Duration::MAX registers no timer"
    );
    clock.advance(Duration::from_secs(86_400 * 365 * 100));
    assert_eq!(poll_once(&mut forever, &waker), Poll::Pending);
}

/// A sleep keeps its deadline as nanoseconds after the driver's start, but
/// reads back exactly the instant it was given — also one from before the
/// driver started — and a deadline beyond its range is never.
#[test]
fn deadlines_read_back_exactly_either_side_of_the_driver_start() {
    let (clock, driver) = driver();
    let (_, waker) = CountingWaker::new();
    let start = clock.now();
    for at in [
        start - ms(1500),
        start + Duration::from_nanos(1),
        start + ms(7),
    ] {
        assert_eq!(driver.handle().sleep_until(at).deadline(), at);
    }
    let mut before = driver.handle().sleep_until(start - ms(1500));
    assert_eq!(poll_once(&mut before, &waker), Poll::Ready(()));
    // ≈317 years: beyond the range of a timer's deadline, so never.
    let far = start + Duration::from_secs(10_000_000_000);
    let mut never = driver.handle().sleep_until(far);
    assert!(
        never.deadline() < far && never.deadline() > start + Duration::from_secs(9_000_000_000)
    );
    assert_eq!(poll_once(&mut never, &waker), Poll::Pending);
    assert_eq!(driver.handle().pending_timers(), 0);
    // `reset_after` counts from the clock's reading, as `sleep` does.
    clock.advance(ms(3));
    never.reset_after(ms(5));
    assert_eq!(never.deadline(), start + ms(8));
    assert_eq!(poll_once(&mut never, &waker), Poll::Pending);
    clock.advance(ms(5));
    assert_eq!(poll_once(&mut never, &waker), Poll::Ready(()));
}

#[test]
fn timeout_ok_on_first_poll_registers_nothing() {
    let (_clock, driver) = driver();
    let (_, waker) = CountingWaker::new();
    let mut t = pin!(driver.handle().timeout(ms(10), async { 7 }));
    assert_eq!(
        t.as_mut().poll(&mut std::task::Context::from_waker(&waker)),
        Poll::Ready(Ok(7))
    );
    assert_eq!(driver.handle().pending_timers(), 0);
}

#[test]
fn timeout_ok_after_pending_cancels_its_timer() {
    let (_clock, driver) = driver();
    let (_, waker) = CountingWaker::new();
    let (tx, rx) = futures::channel::oneshot::channel::<u8>();
    let mut t = Box::pin(driver.handle().timeout(ms(10), rx));
    assert!(poll_once(&mut t, &waker).is_pending());
    assert_eq!(driver.handle().pending_timers(), 1);
    tx.send(3).unwrap();
    assert_eq!(poll_once(&mut t, &waker), Poll::Ready(Ok(Ok(3))));
    drop(t);
    assert_eq!(driver.handle().pending_timers(), 0);
}

#[test]
fn timeout_elapses() {
    let (clock, driver) = driver();
    let (count, waker) = CountingWaker::new();
    let mut t = Box::pin(
        driver
            .handle()
            .timeout(ms(10), std::future::pending::<()>()),
    );
    assert!(poll_once(&mut t, &waker).is_pending());
    clock.advance(ms(9));
    assert!(poll_once(&mut t, &waker).is_pending());
    clock.advance(MS);
    assert_eq!(count.count(), 1);
    assert_eq!(poll_once(&mut t, &waker), Poll::Ready(Err(Elapsed::new())));
    assert_eq!(Elapsed::new().to_string(), "deadline has elapsed");
}

/// Drives an interval through a stall and returns the tick instants (as ms offsets).
fn ticks_through_stall(behavior: MissedTickBehavior) -> Vec<u64> {
    let (clock, driver) = driver();
    let (_, waker) = CountingWaker::new();
    let t0 = clock.now();
    let mut interval = driver.handle().interval(ms(10));
    interval.set_missed_tick_behavior(behavior);
    let mut ticks = Vec::new();
    let take = |interval: &mut tickless::Interval, ticks: &mut Vec<u64>| {
        while let Poll::Ready(t) = interval.poll_tick(&mut std::task::Context::from_waker(&waker)) {
            ticks.push((t - t0).as_millis() as u64);
        }
    };
    take(&mut interval, &mut ticks); // 0
    clock.advance(ms(10));
    take(&mut interval, &mut ticks); // 10
    clock.advance(ms(10));
    take(&mut interval, &mut ticks); // 20
    clock.advance(ms(27)); // stall: now 47
    take(&mut interval, &mut ticks);
    for _ in 0..3 {
        clock.advance(ms(10));
        take(&mut interval, &mut ticks);
    }
    ticks
}

#[test]
fn missed_tick_burst() {
    // At 47: the ticks of 30 and 40 at once; then 50 (at 57), 60 (at 67), 70 (at 77).
    assert_eq!(
        ticks_through_stall(MissedTickBehavior::Burst),
        vec![0, 10, 20, 30, 40, 50, 60, 70]
    );
}

#[test]
fn missed_tick_delay() {
    // At 47: the tick of 30; then every 10 ms from 47.
    assert_eq!(
        ticks_through_stall(MissedTickBehavior::Delay),
        vec![0, 10, 20, 30, 57, 67, 77]
    );
}

#[test]
fn missed_tick_skip() {
    // At 47: the tick of 30; then back on the 10 ms grid: 50, 60, 70.
    assert_eq!(
        ticks_through_stall(MissedTickBehavior::Skip),
        vec![0, 10, 20, 30, 50, 60, 70]
    );
}

#[test]
fn interval_reset_and_stream() {
    let (clock, driver) = driver();
    let (_, waker) = CountingWaker::new();
    let mut cx = std::task::Context::from_waker(&waker);
    let t0 = clock.now();
    let mut interval = driver.handle().interval_at(t0 + ms(5), ms(10));
    assert!(interval.poll_tick(&mut cx).is_pending());
    clock.advance(ms(5));
    assert_eq!(
        interval.poll_next_unpin(&mut cx),
        Poll::Ready(Some(t0 + ms(5)))
    );
    interval.reset(); // next tick one period from now (t0+5)
    clock.advance(ms(9));
    assert!(interval.poll_tick(&mut cx).is_pending());
    clock.advance(MS);
    assert_eq!(interval.poll_tick(&mut cx), Poll::Ready(t0 + ms(15)));
    interval.reset_immediately();
    assert_eq!(interval.poll_tick(&mut cx), Poll::Ready(t0 + ms(15)));
    interval.reset_at(t0 + ms(100));
    clock.advance(ms(84));
    assert!(interval.poll_tick(&mut cx).is_pending());
    clock.advance(MS);
    assert_eq!(interval.poll_tick(&mut cx), Poll::Ready(t0 + ms(100)));
    assert_eq!(interval.period(), ms(10));
}

#[test]
fn zero_period_interval_does_not_panic() {
    let (_clock, driver) = driver();
    let (_, waker) = CountingWaker::new();
    let mut interval = driver.handle().interval(Duration::ZERO);
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(interval.poll_tick(&mut cx).is_ready());
    assert_eq!(interval.period(), Duration::from_nanos(1));
}

#[test]
fn dropping_the_driver_completes_pending_timers() {
    let (_clock, driver) = driver();
    let handle = driver.handle().clone();
    let (count, waker) = CountingWaker::new();
    let mut sleep = handle.sleep(Duration::from_secs(3600));
    let mut t = Box::pin(handle.timeout(Duration::from_secs(3600), std::future::pending::<()>()));
    assert!(poll_once(&mut sleep, &waker).is_pending());
    assert!(poll_once(&mut t, &waker).is_pending());
    drop(driver);
    assert_eq!(
        count.count(),
        2,
        "pending tasks are woken, not left hanging"
    );
    assert_eq!(poll_once(&mut sleep, &waker), Poll::Ready(()));
    assert_eq!(poll_once(&mut t, &waker), Poll::Ready(Err(Elapsed::new())));
    let mut late = handle.sleep(Duration::from_secs(3600));
    assert_eq!(
        poll_once(&mut late, &waker),
        Poll::Ready(()),
        "timers of a dropped driver complete at once"
    );
    assert_eq!(handle.pending_timers(), 0);
}

#[test]
fn system_clock_driver_shuts_down_cleanly() {
    let driver = Driver::builder()
        .thread_name("tickless-test")
        .build()
        .unwrap();
    let handle = driver.handle().clone();
    let (count, waker) = CountingWaker::new();
    let mut sleep = handle.sleep(Duration::from_secs(3600));
    assert!(poll_once(&mut sleep, &waker).is_pending());
    drop(driver); // joins the thread; must not hang
    assert_eq!(count.count(), 1);
    assert!(poll_once(&mut sleep, &waker).is_ready());
}

#[test]
fn call_sites_are_recorded() {
    let (_clock, driver) = driver();
    let (_, waker) = CountingWaker::new();
    let line = line!() + 1;
    let mut a = driver.handle().sleep(ms(5));
    let mut b = Box::pin(driver.handle().timeout(ms(5), std::future::pending::<()>()));
    assert!(poll_once(&mut a, &waker).is_pending());
    assert!(poll_once(&mut b, &waker).is_pending());
    assert_eq!(a.call_site().line(), line);
    let sites = driver.handle().pending_call_sites();
    let lines: Vec<u32> = sites.iter().map(|(l, _)| l.line()).collect();
    assert!(
        lines.contains(&line) && lines.contains(&(line + 1)),
        "{sites:?}"
    );
    assert!(sites
        .iter()
        .all(|(l, n)| l.file().ends_with("manual_clock.rs") && *n == 1));
}

#[test]
fn waker_update_between_polls() {
    let (clock, driver) = driver();
    let (first, w1) = CountingWaker::new();
    let (second, w2) = CountingWaker::new();
    let mut sleep = driver.handle().sleep(ms(10));
    assert!(poll_once(&mut sleep, &w1).is_pending());
    assert!(poll_once(&mut sleep, &w2).is_pending()); // moved to another task
    clock.advance(ms(10));
    assert_eq!((first.count(), second.count()), (0, 1));
}

#[test]
fn interval_reset_after_moves_the_next_tick() {
    let (clock, driver) = driver();
    let t0 = clock.now();
    let mut interval = driver.handle().interval(ms(10));
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert_eq!(interval.poll_tick(&mut cx), std::task::Poll::Ready(t0));
    interval.reset_after(ms(25));
    clock.advance(ms(24));
    assert!(interval.poll_tick(&mut cx).is_pending(), "not before 25 ms");
    clock.advance(ms(1));
    assert_eq!(
        interval.poll_tick(&mut cx),
        std::task::Poll::Ready(t0 + ms(25))
    );
}

/// Spawns a task that only takes items from `stream` (far behind), then a
/// second task, on one tokio current-thread runtime, and returns how many
/// items the taker had taken when the second task ran; panics if it never
/// runs.
fn taken_before_another_task_runs<S>(stream: S) -> usize
where
    S: futures::Stream + Unpin + Send + 'static,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async move {
            let taken = std::sync::Arc::new(AtomicUsize::new(0));
            let counter = taken.clone();
            let taker = tokio::spawn(async move {
                let mut stream = stream;
                while stream.next().await.is_some() {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
            let other = tokio::spawn(async move { taken.load(Ordering::Relaxed) });
            let _ = tx.send(other.await.unwrap());
            taker.abort();
        });
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the task taking from a stream that is behind never let another task run")
}

/// A task that only ticks an interval that is far behind (or drains a long
/// backlog of a `DelayQueue`) still lets the other tasks of its executor run:
/// the stream yields once after 32 ready answers in a row, as tokio's own
/// timers do through tokio's cooperative budget. Without that, the second task
/// here would wait for 10⁹ ticks.
#[test]
fn a_stream_far_behind_lets_other_tasks_run() {
    let (clock, driver) = driver();
    let interval = driver.handle().interval(Duration::from_micros(1));
    clock.advance(Duration::from_secs(1000)); // 10⁹ ticks behind, all due
    let taken = taken_before_another_task_runs(interval);
    assert_eq!(taken, 32, "ticks before a yield");

    let mut queue = driver.handle().delay_queue();
    for i in 0..100_000u32 {
        queue.insert(i, ms(1));
    }
    clock.advance(ms(1));
    let taken = taken_before_another_task_runs(queue);
    // The first value had only just come due (a fresh clock reading); the
    // next 32 came from the backlog.
    assert_eq!(taken, 33, "values before a yield");
}

/// The yield takes nothing: a burst handed out by hand, polling again after
/// each wake-up, has every tick in order.
#[test]
fn the_yield_loses_no_tick() {
    let (clock, driver) = driver();
    let t0 = clock.now();
    let mut interval = driver.handle().interval(ms(1));
    clock.advance(ms(99));
    let (woken, waker) = CountingWaker::new();
    let mut cx = std::task::Context::from_waker(&waker);
    let (mut ticks, mut yields) = (Vec::new(), 0);
    while ticks.len() < 100 {
        let before = woken.count();
        match interval.poll_tick(&mut cx) {
            Poll::Ready(t) => ticks.push((t - t0).as_millis() as u64),
            Poll::Pending => {
                assert_eq!(woken.count(), before + 1, "a yield wakes the task");
                yields += 1;
            }
        }
    }
    assert_eq!(ticks, (0..100).collect::<Vec<_>>());
    assert_eq!(yields, 3, "one yield per 32 ticks in a row");
    assert!(interval.poll_tick(&mut cx).is_pending(), "caught up");
}

/// A consumer that keeps up never sees the yield, however many items it
/// takes: a test stepping the clock one period (or one value) at a time and
/// polling once per step with a waker that does nothing.
#[test]
fn a_consumer_that_keeps_up_is_never_yielded_to() {
    let (clock, driver) = driver();
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut interval = driver.handle().interval(ms(10));
    let t0 = clock.now();
    for k in 0..200u64 {
        let tick = interval.poll_tick(&mut cx);
        assert_eq!(
            tick,
            Poll::Ready(t0 + ms(10 * k)),
            "tick {k}, due exactly now"
        );
        assert!(interval.poll_tick(&mut cx).is_pending());
        clock.advance(ms(10));
    }

    let mut queue = driver.handle().delay_queue();
    for i in 1..=200u64 {
        queue.insert(i, ms(i));
    }
    for i in 1..=200u64 {
        clock.advance(ms(1));
        match queue.poll_expired(&mut cx) {
            Poll::Ready(Some(e)) => assert_eq!(e.into_inner(), i),
            other => panic!("step {i}: the value due now was not handed out: {other:?}"),
        }
    }
}

/// A clock moved past the ≈292 years a timer's deadline counts saturates
/// at the same count as "never": never must still be never.
#[test]
fn never_stays_never_on_a_clock_moved_to_its_limit() {
    let (clock, driver) = driver();
    let (_, waker) = CountingWaker::new();
    let mut moved = driver.handle().sleep(ms(10));
    assert_eq!(poll_once(&mut moved, &waker), Poll::Pending);
    moved.reset_after(Duration::MAX); // lazily: still registered for 10 ms
    let never = driver.handle().sleep(Duration::MAX);
    clock.advance(Duration::MAX);
    assert_eq!(poll_once(&mut moved, &waker), Poll::Pending, "fired early");
    assert!(!moved.is_elapsed());
    assert!(!never.is_elapsed());
}
