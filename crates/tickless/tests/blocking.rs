//! Go's documented Timer / Ticker / AfterFunc behaviours (Go 1.23 form) as
//! test cases, on a ManualClock driver unless real threads are the point.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select, TryRecvError};
use tickless::blocking::{self, TimerError};
use tickless::clock::Clock;
use tickless::Driver;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

use support::manual_driver as driver;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn timer_fires_once_at_its_deadline() {
    let (clock, driver) = driver();
    let timer = driver.handle().timer(ms(50));
    assert!(timer.is_pending());
    clock.advance(ms(49));
    assert_eq!(timer.receiver().try_recv(), Err(TryRecvError::Empty));
    clock.advance(ms(1));
    assert_eq!(timer.receiver().try_recv(), Ok(clock.now()));
    clock.advance(ms(500));
    assert_eq!(
        timer.receiver().try_recv(),
        Err(TryRecvError::Empty),
        "fires once"
    );
    assert_eq!(driver.handle().pending_timers(), 0);
}

#[test]
fn stop_before_fire_prevents_it() {
    let (clock, driver) = driver();
    let timer = driver.handle().timer(ms(50));
    assert!(timer.stop());
    assert!(!timer.stop(), "already stopped");
    assert_eq!(driver.handle().pending_timers(), 0);
    clock.advance(ms(100));
    assert!(timer.receiver().try_recv().is_err());
}

#[test]
fn stop_after_fire_and_receive_returns_false() {
    let (clock, driver) = driver();
    let timer = driver.handle().timer(ms(5));
    clock.advance(ms(5));
    assert!(timer.receiver().try_recv().is_ok());
    assert!(!timer.stop());
}

#[test]
fn stop_after_unreceived_fire_takes_the_value_back() {
    // Go 1.23: Stop reports true and no stale value can be received after it.
    let (clock, driver) = driver();
    let timer = driver.handle().timer(ms(5));
    clock.advance(ms(5));
    assert!(timer.stop());
    assert_eq!(timer.receiver().try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn reset_of_a_fired_timer_rearms() {
    let (clock, driver) = driver();
    let timer = driver.handle().timer(ms(5));
    clock.advance(ms(5));
    assert!(timer.receiver().try_recv().is_ok());
    assert!(!timer.reset(ms(10)), "was not active");
    clock.advance(ms(9));
    assert!(timer.receiver().try_recv().is_err());
    clock.advance(ms(1));
    assert_eq!(timer.receiver().try_recv(), Ok(clock.now()));
}

#[test]
fn no_stale_value_after_reset() {
    let (clock, driver) = driver();
    let t0 = clock.now();
    let timer = driver.handle().timer(ms(5));
    clock.advance(ms(5)); // fired, value unreceived
    assert!(timer.reset(ms(20)), "an unreceived fire counts as active");
    assert_eq!(
        timer.receiver().try_recv(),
        Err(TryRecvError::Empty),
        "the old value is gone"
    );
    clock.advance(ms(20));
    let got: Vec<Instant> = timer.receiver().try_iter().collect();
    assert_eq!(got, vec![t0 + ms(25)], "exactly the new deadline's value");
}

#[test]
fn reset_while_pending_moves_it() {
    let (clock, driver) = driver();
    let timer = driver.handle().timer(ms(10));
    assert!(timer.reset(ms(30)));
    clock.advance(ms(10));
    assert!(
        timer.receiver().try_recv().is_err(),
        "not at the old deadline"
    );
    clock.advance(ms(20));
    assert!(timer.receiver().try_recv().is_ok());
    assert_eq!(driver.handle().pending_timers(), 0);
}

/// Resets later are lazy (the registration stays; its early wake
/// re-registers): later, then earlier, then later again fires once, at the
/// last deadline; the stale wakes deliver nothing.
#[test]
fn lazy_resets_fire_once_at_the_last_deadline() {
    let (clock, driver) = driver();
    let t0 = clock.now();
    let timer = driver.handle().timer(ms(10));
    let created = || driver.handle().snapshot().counters.created;
    let before = created();
    assert!(timer.reset_at(t0 + ms(40)), "later: lazy");
    assert_eq!(created(), before, "a later reset registers nothing");
    assert!(timer.reset_at(t0 + ms(20)), "earlier: re-registered");
    assert!(timer.reset_at(t0 + ms(50)), "later again: lazy");
    assert_eq!(
        driver.handle().pending_timers(),
        1,
        "one registration throughout"
    );
    for step in [10, 20, 40, 49] {
        assert!(clock.set(t0 + ms(step)));
        assert!(
            timer.receiver().try_recv().is_err(),
            "stale wake delivered at {step} ms"
        );
        assert!(timer.is_pending());
    }
    assert!(clock.set(t0 + ms(50)));
    assert_eq!(timer.receiver().try_recv(), Ok(t0 + ms(50)));
    clock.advance(ms(100));
    assert!(timer.receiver().try_recv().is_err(), "exactly once");
    assert!(!timer.is_pending());
    assert_eq!(driver.handle().pending_timers(), 0);

    // An idle timeout pushed out on every read never fires while reads come.
    let idle = driver.handle().timer(ms(30));
    for _ in 0..100 {
        clock.advance(ms(10));
        assert!(idle.reset(ms(30)));
    }
    assert!(idle.receiver().try_recv().is_err());
    clock.advance(ms(30));
    assert!(idle.receiver().try_recv().is_ok());

    // A ticker moved later takes back its unreceived tick and restarts.
    let ticker = driver.handle().ticker(ms(10)).unwrap();
    clock.advance(ms(10)); // a tick waits, the next one is registered
    let t = clock.now();
    ticker.reset(ms(25)).unwrap(); // later than the registered next tick
    assert!(ticker.receiver().try_recv().is_err(), "tick taken back");
    clock.advance(ms(10));
    assert!(ticker.receiver().try_recv().is_err(), "stale wake");
    clock.advance(ms(15));
    assert_eq!(ticker.receiver().try_recv(), Ok(t + ms(25)));

    // A callback moved later runs once, at the new deadline.
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let func = driver.handle().after_func(ms(10), move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    assert!(func.reset(ms(40)));
    clock.advance(ms(39));
    assert_eq!(runs.load(Ordering::SeqCst), 0, "ran at the stale deadline");
    clock.advance(ms(1));
    let start = Instant::now();
    while runs.load(Ordering::SeqCst) == 0 && start.elapsed() < WAIT {
        std::thread::sleep(ms(1));
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn dropping_a_timer_stops_and_frees_it() {
    let (clock, driver) = driver();
    let timers: Vec<_> = (0..100)
        .map(|i| driver.handle().timer(ms(10 + i)))
        .collect();
    let rx = timers[0].receiver().clone();
    assert_eq!(driver.handle().pending_timers(), 100);
    drop(timers);
    assert_eq!(driver.handle().pending_timers(), 0);
    clock.advance(ms(1000));
    assert!(rx.try_recv().is_err());
}

#[test]
fn zero_past_and_max_durations() {
    let (clock, driver) = driver();
    let zero = driver.handle().timer(Duration::ZERO);
    assert!(zero.receiver().try_recv().is_ok(), "zero fires at once");
    clock.advance(ms(100));
    let past = driver.handle().timer_at(clock.now() - ms(50));
    assert!(
        past.receiver().try_recv().is_ok(),
        "a past deadline fires at once"
    );
    let never = driver.handle().timer(Duration::MAX);
    assert_eq!(
        driver.handle().pending_timers(),
        0,
        "Duration::MAX registers nothing"
    );
    // Still a pending timer to its owner, as in Go (issue 17, item 5).
    assert!(never.is_pending());
    clock.advance(Duration::from_secs(86_400 * 365 * 50));
    assert!(never.receiver().try_recv().is_err());
    // The receiver-only forms.
    assert!(blocking::after(Duration::MAX).try_recv().is_err());
    assert!(blocking::tick(Duration::MAX).try_recv().is_err());
    assert!(blocking::after(Duration::ZERO).recv_timeout(WAIT).is_ok());
}

#[test]
fn ticker_ticks_on_its_grid() {
    let (clock, driver) = driver();
    let t0 = clock.now();
    let ticker = driver.handle().ticker(ms(10)).unwrap();
    for i in 1..=3 {
        clock.advance(ms(10));
        assert_eq!(ticker.receiver().try_recv(), Ok(t0 + ms(10 * i)));
    }
}

#[test]
fn ticker_drops_ticks_for_a_slow_receiver() {
    let (clock, driver) = driver();
    let t0 = clock.now();
    let ticker = driver.handle().ticker(ms(10)).unwrap();
    for _ in 0..5 {
        clock.advance(ms(10));
    }
    let queued: Vec<_> = ticker.receiver().try_iter().collect();
    assert_eq!(
        queued,
        vec![t0 + ms(10)],
        "capacity one: the first unreceived tick stays, the rest drop"
    );
    clock.advance(ms(10));
    assert_eq!(
        ticker.receiver().try_recv(),
        Ok(t0 + ms(60)),
        "still on the grid"
    );
    // A jump over several periods at once: one tick (reporting its scheduled
    // time, as Go does), then back on the grid.
    clock.advance(ms(35)); // t0 + 95
    assert_eq!(ticker.receiver().try_recv(), Ok(t0 + ms(70)));
    clock.advance(ms(5)); // t0 + 100
    assert_eq!(ticker.receiver().try_recv(), Ok(t0 + ms(100)));
}

#[test]
fn ticker_stop_reset_and_zero_period() {
    let (clock, driver) = driver();
    assert_eq!(
        driver.handle().ticker(Duration::ZERO).unwrap_err(),
        TimerError::ZeroPeriod
    );
    assert_eq!(
        TimerError::ZeroPeriod.to_string(),
        "a ticker period must be greater than zero"
    );
    let ticker = driver.handle().ticker(ms(10)).unwrap();
    clock.advance(ms(10)); // one tick waiting
    ticker.stop();
    assert!(
        ticker.receiver().try_recv().is_err(),
        "stop takes the unreceived tick back"
    );
    clock.advance(ms(100));
    assert!(ticker.receiver().try_recv().is_err());
    assert_eq!(ticker.reset(Duration::ZERO), Err(TimerError::ZeroPeriod));
    ticker.reset(ms(25)).unwrap();
    let t = clock.now();
    clock.advance(ms(25));
    assert_eq!(ticker.receiver().try_recv(), Ok(t + ms(25)));
    drop(ticker);
    assert_eq!(driver.handle().pending_timers(), 0);
}

#[test]
fn after_func_runs_stops_and_drops() {
    let (clock, driver) = driver();
    let (tx, rx) = bounded(10);
    let tx2 = tx.clone();
    let runs = driver
        .handle()
        .after_func(ms(10), move || tx.send("ran").unwrap());
    let stopped = driver
        .handle()
        .after_func(ms(10), move || tx2.send("stopped one ran").unwrap());
    assert!(stopped.stop());
    clock.advance(ms(10));
    assert_eq!(rx.recv_timeout(WAIT), Ok("ran"));
    assert!(!runs.stop(), "already started");
    assert!(!runs.reset(ms(5)), "an FnOnce callback runs once");
    let (tx, rx2) = bounded::<()>(1);
    let dropped = driver
        .handle()
        .after_func(ms(10), move || tx.send(()).unwrap());
    drop(dropped);
    assert_eq!(driver.handle().pending_timers(), 0);
    clock.advance(ms(10));
    assert!(
        rx2.recv_timeout(ms(100)).is_err(),
        "a dropped handle cancels the callback"
    );
    assert!(rx.try_recv().is_err());
}

#[test]
fn detached_callback_runs_without_its_handle_and_stays_visible() {
    let (clock, driver) = driver();
    let (tx, rx) = bounded(1);
    let line = line!() + 3;
    driver
        .handle()
        .after_func(ms(3_600_000), move || tx.send(()).unwrap())
        .detach();
    assert_eq!(driver.handle().pending_timers(), 1);
    let sites = driver.handle().pending_call_sites();
    assert_eq!(
        sites[0].0.line(),
        line,
        "detached timers are accounted to their call site"
    );
    clock.advance(ms(3_600_000));
    assert_eq!(rx.recv_timeout(WAIT), Ok(()));
    assert_eq!(driver.handle().pending_timers(), 0);
}

#[test]
fn panicking_callback_beside_a_healthy_one() {
    let (clock, driver) = driver();
    let (tx, rx) = bounded(1);
    let _bad = driver
        .handle()
        .after_func(ms(5), || panic!("callback panics on purpose"));
    let _good = driver
        .handle()
        .after_func(ms(5), move || tx.send(()).unwrap());
    clock.advance(ms(5));
    assert_eq!(rx.recv_timeout(WAIT), Ok(()));
    let start = Instant::now();
    while driver.handle().callback_panics() == 0 {
        assert!(start.elapsed() < WAIT, "panic not counted");
        std::thread::sleep(ms(1));
    }
    // The executor still runs callbacks.
    let (tx, rx) = bounded(1);
    let _again = driver
        .handle()
        .after_func(ms(5), move || tx.send(()).unwrap());
    clock.advance(ms(5));
    assert_eq!(rx.recv_timeout(WAIT), Ok(()));
}

#[test]
fn slow_callback_does_not_delay_another() {
    let (clock, driver) = driver();
    let (release, blocked) = bounded::<()>(0);
    let (done_tx, done) = bounded(1);
    let _slow = driver
        .handle()
        .after_func(ms(5), move || blocked.recv().unwrap());
    let _fast = driver
        .handle()
        .after_func(ms(6), move || done_tx.send(()).unwrap());
    clock.advance(ms(5)); // the slow one starts and blocks
    clock.advance(ms(1));
    assert_eq!(
        done.recv_timeout(WAIT),
        Ok(()),
        "the fast callback waited behind the slow one"
    );
    release.send(()).unwrap();
}

#[test]
fn real_clock_timer_and_select() {
    let timer = blocking::Timer::new(ms(5));
    let start = Instant::now();
    let (_tx, never) = bounded::<()>(1);
    select! {
        recv(never) -> _ => unreachable!(),
        recv(timer.receiver()) -> t => assert!(t.unwrap() >= start + ms(5) - ms(1)),
    }
    assert!(start.elapsed() < WAIT);
    let ticker = blocking::Ticker::new(ms(2)).unwrap();
    let a = ticker.receiver().recv_timeout(WAIT).unwrap();
    let b = ticker.receiver().recv_timeout(WAIT).unwrap();
    // Ticks report their scheduled times: on the 2 ms grid (a slow receive
    // on a busy machine may have dropped some in between).
    let gap = (b - a).as_nanos();
    assert!(
        gap > 0 && gap.is_multiple_of(ms(2).as_nanos()),
        "ticks {:?} apart",
        b - a
    );
}

/// Many timers stopped from other threads while the timer thread fires them:
/// a stop always reports the fire it prevented, and nothing arrives after it.
#[test]
fn stop_racing_fire_never_leaks_a_value() {
    let driver = Arc::new(Driver::builder().build().unwrap());
    let late_values = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (driver, late_values) = (driver.clone(), late_values.clone());
            std::thread::spawn(move || {
                let mut x = 12345u64 + t;
                let mut stopped = Vec::new();
                for _ in 0..2000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let timer = driver.handle().timer(Duration::from_micros(x % 300));
                    std::thread::sleep(Duration::from_micros(x % 200));
                    assert!(
                        timer.stop(),
                        "nobody received: stop must report the prevented or taken-back fire"
                    );
                    stopped.push(timer);
                }
                std::thread::sleep(ms(20));
                for timer in &stopped {
                    if timer.receiver().try_recv().is_ok() {
                        late_values.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        late_values.load(Ordering::Relaxed),
        0,
        "values arrived after stop returned"
    );
    assert_eq!(driver.handle().pending_timers(), 0);
}

/// A clock moved to the limit of a timer's deadline count (≈292 years)
/// reads the same count as "never": a timer moved to never must not fire.
#[test]
fn never_stays_never_on_a_clock_moved_to_its_limit() {
    let (clock, driver) = driver();
    let timer = driver.handle().timer(ms(10));
    timer.reset(Duration::MAX); // lazily: still registered for 10 ms
    clock.advance(Duration::MAX);
    assert!(timer.receiver().try_recv().is_err(), "fired early");
    assert!(timer.is_pending());
}
