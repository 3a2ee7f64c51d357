//! `DelayQueue`: the wake-up rules a waiting task relies on, and what a due
//! value costs before it is handed out — regressions found by review of the
//! first version (each failed there).
//!
//! - tokio-util's rule: the last task that polled is remembered, whatever the
//!   answer (`Pending` or the end of the stream), and an insert that brings
//!   an earlier deadline — or the first value after the end — wakes it. A
//!   queue shared behind a mutex, with one task draining it, relies on this.
//! - `clear` while a task waits must not strand it.
//! - Values due but not handed out yet stay in the queue's wheel: removing
//!   one is O(1), however many are due.
//! - A late poll hands out in deadline order across the wheel's levels.
//! - A shut-down driver does not make `poll_expired` spin.
//! - One driver timer per queue: inserts, removes and resets that do not
//!   bring an earlier deadline touch nothing of the driver.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use support::{manual_driver as driver, CountingWaker};
use tickless::{DelayQueue, Expired};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn poll<T>(q: &mut DelayQueue<T>, waker: &Waker) -> Poll<Option<Expired<T>>> {
    q.poll_expired(&mut Context::from_waker(waker))
}

#[test]
fn an_insert_after_the_end_of_the_stream_wakes_the_last_poller() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    let (woken, waker) = CountingWaker::new();
    assert!(matches!(poll(&mut q, &waker), Poll::Ready(None)));
    q.insert("x", ms(10));
    clock.advance(ms(10));
    assert!(
        woken.count() >= 1,
        "the task that saw the end of the stream was never woken"
    );
    assert!(matches!(poll(&mut q, &waker), Poll::Ready(Some(e)) if *e.get_ref() == "x"));
}

#[test]
fn clear_while_a_task_waits_does_not_strand_it() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    let (woken, waker) = CountingWaker::new();
    q.insert("old", ms(1000));
    assert!(poll(&mut q, &waker).is_pending());
    q.clear(); // by whoever else holds the queue
    assert!(
        woken.count() >= 1,
        "the waiting task must learn that the stream ended"
    );
    // Woken, it polls: the end of the stream, which it treats as "wait".
    assert!(matches!(poll(&mut q, &waker), Poll::Ready(None)));
    let before = woken.count();
    q.insert("new", ms(10));
    clock.advance(ms(10));
    assert!(
        woken.count() > before,
        "an insert after clear must wake the waiting task"
    );
    assert!(matches!(poll(&mut q, &waker), Poll::Ready(Some(e)) if *e.get_ref() == "new"));
}

#[test]
fn removing_the_last_value_ends_the_stream_at_once() {
    let (_clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    let (woken, waker) = CountingWaker::new();
    let k = q.insert("only", ms(1000));
    assert!(poll(&mut q, &waker).is_pending());
    assert_eq!(q.remove(&k), Some("only"));
    assert!(
        woken.count() >= 1,
        "the waiting task learns the stream ended"
    );
    assert!(matches!(poll(&mut q, &waker), Poll::Ready(None)));
}

#[test]
fn a_reset_to_an_earlier_deadline_wakes_the_task_on_time() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    let (woken, waker) = CountingWaker::new();
    let k = q.insert("v", ms(1000));
    assert!(poll(&mut q, &waker).is_pending());
    assert!(q.reset(&k, ms(5)));
    clock.advance(ms(5));
    assert!(woken.count() >= 1);
    assert!(matches!(poll(&mut q, &waker), Poll::Ready(Some(_))));
}

/// One task drains a queue shared behind a mutex, treating the end of the
/// stream as "wait" (the tokio-util pattern); threads insert with short
/// delays and pauses, so the queue runs empty again and again. Every value
/// must arrive: a lost wake-up strands the drainer, and the test times out.
#[test]
fn a_shared_queue_drained_by_one_task_loses_no_wakeup() {
    const THREADS: u64 = 2;
    const PER_THREAD: u64 = 300;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let queue = Arc::new(Mutex::new(DelayQueue::<u64>::new()));
    let received = Arc::new(AtomicU64::new(0));
    // Inserted last, due at once: tells the drainer to stop.
    const STOP: u64 = u64::MAX;

    let drainer = {
        let (queue, received) = (queue.clone(), received.clone());
        rt.spawn(async move {
            let mut seen = vec![false; (THREADS * PER_THREAD) as usize];
            loop {
                let next = std::future::poll_fn(|cx| {
                    let mut q = queue.lock().unwrap();
                    match q.poll_expired(cx) {
                        Poll::Ready(Some(e)) => Poll::Ready(e.into_inner()),
                        // Empty for now: wait for an insert to wake us.
                        Poll::Ready(None) | Poll::Pending => Poll::Pending,
                    }
                })
                .await;
                if next == STOP {
                    return seen;
                }
                let v = next;
                assert!(!seen[v as usize], "{v} handed out twice");
                seen[v as usize] = true;
                received.fetch_add(1, Ordering::SeqCst);
            }
        })
    };

    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let mut x = t * 7919 + 1;
                for i in 0..PER_THREAD {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let delay = Duration::from_micros(x % 1500);
                    queue.lock().unwrap().insert(t * PER_THREAD + i, delay);
                    if x % 4 == 0 {
                        // Let the queue run empty now and then.
                        std::thread::sleep(Duration::from_micros(500 + x % 2000));
                    }
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }

    let give_up = Instant::now() + Duration::from_secs(20);
    while received.load(Ordering::SeqCst) < THREADS * PER_THREAD {
        assert!(
            Instant::now() < give_up,
            "lost wake-up: {} of {} values arrived in 20 s ({} still queued)",
            received.load(Ordering::SeqCst),
            THREADS * PER_THREAD,
            queue.lock().unwrap().len()
        );
        std::thread::sleep(ms(5));
    }
    queue.lock().unwrap().insert(STOP, Duration::ZERO);
    let seen = rt.block_on(async {
        tickless::timeout(Duration::from_secs(20), drainer)
            .await
            .expect("the drainer stopped")
    });
    let seen = match seen {
        Ok(seen) => seen,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("{e}"),
    };
    assert!(seen.iter().all(|s| *s));
}

/// Values due but not yet handed out are still in the queue: removing them
/// by key costs O(1) each, not a scan of everything due.
#[test]
fn removing_due_values_is_constant_time() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue::<u64>();
    let n = 100_000u64;
    let keys: Vec<_> = (0..n).map(|i| q.insert(i, ms(10 + i % 50))).collect();
    clock.advance(ms(100));
    let waker = futures::task::noop_waker();
    let first = match poll(&mut q, &waker) {
        Poll::Ready(Some(e)) => e.key(),
        other => panic!(
            "expected a value, got {:?}",
            other.map(|o| o.map(|e| *e.get_ref()))
        ),
    };
    let start = Instant::now();
    let mut removed = 0;
    for k in &keys {
        if *k != first {
            assert!(q.remove(k).is_some());
            removed += 1;
        }
    }
    let took = start.elapsed();
    assert_eq!(removed, n - 1);
    assert!(q.is_empty());
    // O(1) each: well under a millisecond for all here; a scan of the due
    // values per remove (O(n²) in all) takes seconds.
    assert!(
        took < Duration::from_millis(500),
        "removing {n} due values took {took:?}"
    );
}

/// A driver dropped under a queue completes its timers at once (the
/// driver's shutdown rule); the queue then hands out its values without
/// waiting — it must neither spin nor hang.
#[test]
fn a_shut_down_driver_does_not_make_the_queue_spin() {
    let (_clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    q.insert("a", Duration::from_secs(3600));
    q.insert("b", Duration::from_secs(60));
    let waker = futures::task::noop_waker();
    assert!(poll(&mut q, &waker).is_pending());
    drop(driver);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        loop {
            match poll(&mut q, &waker) {
                Poll::Ready(Some(e)) => out.push(e.into_inner()),
                Poll::Ready(None) => break,
                Poll::Pending => {
                    out.push("pending");
                    break;
                }
            }
        }
        let _ = tx.send(out);
    });
    let out = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("poll_expired spins after the driver shut down");
    assert_eq!(
        out,
        ["b", "a"],
        "values come out at once, in deadline order"
    );
}

/// Values due at different ticks come back in deadline order even when a
/// late poll finds them all due at once, wherever the wheel filed them.
#[test]
fn a_late_poll_hands_out_in_deadline_order() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue::<u64>();
    let mut x = 12345u64;
    let mut deadlines = Vec::new();
    for i in 0..5000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let d = Duration::from_micros(x % 30_000_000); // up to 30 s: several levels
        deadlines.push((d, i));
        q.insert(i, d);
    }
    clock.advance(Duration::from_secs(31));
    let mut last = None;
    let mut n = 0;
    while let Some(e) = support::expired_now(&mut q) {
        if let Some(prev) = last {
            assert!(e.deadline() >= prev, "out of order at value {n}");
        }
        last = Some(e.deadline());
        n += 1;
    }
    assert_eq!(n, 5000);
}

/// One driver timer stands for the whole queue, and changes that do not
/// bring an earlier deadline touch only the queue's own wheel: no driver
/// registration, cancel or reset, no wake-up.
#[test]
fn later_changes_touch_only_the_queue() {
    let (_clock, driver) = driver();
    let mut q = driver.handle().delay_queue::<u64>();
    let keys: Vec<_> = (0..1000u64).map(|i| q.insert(i, ms(100 + i))).collect();
    let (woken, waker) = CountingWaker::new();
    assert!(poll(&mut q, &waker).is_pending());
    assert_eq!(
        driver.handle().pending_timers(),
        1,
        "one driver timer for the queue"
    );
    let before = driver.handle().snapshot().counters;
    for (i, k) in keys.iter().enumerate().skip(1) {
        if i % 2 == 0 {
            assert!(q.remove(k).is_some());
        } else {
            assert!(q.reset(k, ms(5_000 + i as u64)));
        }
    }
    for i in 0..1000u64 {
        q.insert(i, ms(200 + i));
    }
    let after = driver.handle().snapshot().counters;
    assert_eq!(
        (after.created, after.cancelled, after.reset),
        (before.created, before.cancelled, before.reset),
        "the driver was touched"
    );
    assert_eq!(woken.count(), 0, "the waiting task was woken for nothing");
    assert_eq!(driver.handle().pending_timers(), 1);
}
