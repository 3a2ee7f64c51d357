//! The driver's thread: idle without wakeups, robust to panicking wakers and
//! to its own death, correct under concurrent churn.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use support::{poll_once, threads_named, wait_until, CountingWaker};
use tickless::Driver;

#[test]
fn idle_driver_makes_no_wakeups() {
    let driver = Driver::builder().build().unwrap();
    let (_, waker) = CountingWaker::new();
    let mut sleep = driver.handle().sleep(Duration::from_millis(5));
    assert!(poll_once(&mut sleep, &waker).is_pending());
    wait_until("the sleep to fire", || {
        driver.handle().pending_timers() == 0
    });
    std::thread::sleep(Duration::from_millis(20));
    let before = driver.handle().timer_thread_wakeups();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        driver.handle().timer_thread_wakeups(),
        before,
        "an idle driver woke up"
    );

    // A far timer: the thread sleeps until it, it does not tick.
    let mut far = driver.handle().sleep(Duration::from_secs(3600));
    assert!(poll_once(&mut far, &waker).is_pending());
    std::thread::sleep(Duration::from_millis(20));
    let before = driver.handle().timer_thread_wakeups();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        driver.handle().timer_thread_wakeups() <= before + 1,
        "ticking while waiting for a far timer"
    );
}

struct Panicking;
impl Wake for Panicking {
    fn wake(self: Arc<Self>) {
        panic!("this waker panics on purpose");
    }
}

#[test]
fn panicking_waker_does_not_kill_the_thread() {
    let driver = Driver::builder().build().unwrap();
    let bad = Waker::from(Arc::new(Panicking));
    let (good_count, good) = CountingWaker::new();
    let mut a = driver.handle().sleep(Duration::from_millis(2));
    let mut b = driver.handle().sleep(Duration::from_millis(2));
    assert!(poll_once(&mut a, &bad).is_pending());
    assert!(poll_once(&mut b, &good).is_pending());
    wait_until("the healthy waker", || good_count.count() == 1);
    wait_until("the panic to be counted", || {
        driver.handle().waker_panics() == 1
    });
    // The thread still serves new timers.
    let mut c = driver.handle().sleep(Duration::from_millis(2));
    assert!(poll_once(&mut c, &good).is_pending());
    wait_until("a timer after the panic", || good_count.count() == 2);
}

// The restart after a crashed timer thread is tested beside the thread's
// code (`src/driver/thread.rs`): crashing it needs a test-only hook.

/// Threads churn timers (most cancelled, some awaited) for a bounded time:
/// nothing fires early, nothing is lost, nothing is left behind.
#[test]
fn concurrent_churn_stress() {
    let driver = Arc::new(Driver::builder().shards(2).build().unwrap());
    let fired = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (driver, fired) = (driver.clone(), fired.clone());
            std::thread::spawn(move || {
                let mut x: u64 = 0x9E37_79B9 + t;
                let mut waited = Vec::new();
                for i in 0..20_000u64 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let (count, waker) = CountingWaker::new();
                    let d = Duration::from_micros(x % 3000);
                    let deadline = Instant::now() + d;
                    let mut sleep = driver.handle().sleep_until(deadline);
                    if poll_once(&mut sleep, &waker).is_ready() {
                        assert!(Instant::now() >= deadline, "completed early");
                        continue;
                    }
                    if i % 64 == 0 {
                        waited.push((sleep, count, waker, deadline)); // awaited below
                    } else if i % 3 == 0 {
                        // Dropped on another thread (a migrating task).
                        std::thread::spawn(move || drop(sleep)).join().unwrap();
                    } // else dropped here: cancelled
                }
                for (mut sleep, count, waker, deadline) in waited {
                    wait_until("an awaited timer", || count.count() > 0);
                    assert!(Instant::now() >= deadline);
                    assert!(poll_once(&mut sleep, &waker).is_ready());
                    fired.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(fired.load(Ordering::Relaxed) > 0);
    assert_eq!(
        driver.handle().pending_timers(),
        0,
        "live timers left behind"
    );
}

struct Stamp(std::sync::Mutex<Option<Instant>>);
impl Wake for Stamp {
    fn wake(self: Arc<Self>) {
        self.0.lock().unwrap().get_or_insert_with(Instant::now);
    }
}

#[test]
fn slack_coalesces_nearby_deadlines_into_one_wakeup() {
    let driver = Driver::builder()
        .slack(Duration::from_millis(20))
        .build()
        .unwrap();
    let start = Instant::now();
    let (a_at, b_at) = (
        start + Duration::from_millis(30),
        start + Duration::from_millis(40),
    );
    let stamps: Vec<Arc<Stamp>> = (0..2)
        .map(|_| Arc::new(Stamp(std::sync::Mutex::new(None))))
        .collect();
    let mut a = driver.handle().sleep_until(a_at);
    let mut b = driver.handle().sleep_until(b_at);
    assert!(poll_once(&mut a, &Waker::from(stamps[0].clone())).is_pending());
    assert!(poll_once(&mut b, &Waker::from(stamps[1].clone())).is_pending());
    wait_until("both timers", || {
        stamps.iter().all(|s| s.0.lock().unwrap().is_some())
    });
    let (ta, tb) = (
        stamps[0].0.lock().unwrap().unwrap(),
        stamps[1].0.lock().unwrap().unwrap(),
    );
    assert!(ta >= a_at && tb >= b_at, "never early, even with slack");
    assert!(
        ta.max(tb) - ta.min(tb) < Duration::from_millis(5),
        "fired {:?} apart: not coalesced",
        ta.max(tb) - ta.min(tb)
    );
}

#[test]
fn dropping_a_driver_lets_its_callback_threads_go_at_once() {
    let Some(_) = threads_named("") else {
        eprintln!("skipped: needs /proc to count threads");
        return;
    };
    let driver = Driver::builder().thread_name("cbx").build().unwrap();
    // Four slow callbacks at once: four callback threads, visible in observe.
    let (tx, rx) = crossbeam_channel::unbounded();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let tx = tx.clone();
            driver
                .handle()
                .after_func(Duration::from_millis(1), move || {
                    std::thread::sleep(Duration::from_millis(50));
                    tx.send(()).unwrap();
                })
        })
        .collect();
    for _ in 0..4 {
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }
    assert!(driver.handle().callback_threads() >= 1);
    assert_eq!(
        driver.handle().snapshot().counters.callback_threads,
        driver.handle().callback_threads() as u64
    );
    assert_eq!(driver.handle().callbacks_waiting(), 0);
    // A detached one-hour callback runs when the driver is dropped (as every
    // pending timer completes), and then the pool's threads exit — well
    // before the 5 s an idle pool waits.
    let late = tx.clone();
    driver
        .handle()
        .after_func(Duration::from_secs(3600), move || late.send(()).unwrap())
        .detach();
    drop(handles);
    let handle = driver.handle().clone();
    let start = Instant::now();
    drop(driver);
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the detached callback ran at the drop");
    wait_until("callback threads exit after the driver's drop", || {
        threads_named("cbx-callback") == Some(0)
    });
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "took {:?}: waited for the idle timeout",
        start.elapsed()
    );
    assert_eq!(handle.callback_threads(), 0);
}
