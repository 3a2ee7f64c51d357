//! `DelayQueue` behaviour on a `ManualClock`: what tokio-util's users rely
//! on, and the bugs its tracker lists, as regression tests.

mod support;

use std::collections::BTreeMap;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use proptest::prelude::*;
use support::{manual_driver as driver, CountingWaker};
use tickless::clock::Clock;
use tickless::delay_queue::{Key, RecvTimeoutError};
use tickless::{DelayQueue, Expired};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn poll<T>(q: &mut DelayQueue<T>, waker: &Waker) -> Poll<Option<Expired<T>>> {
    q.poll_expired(&mut Context::from_waker(waker))
}

/// Every value ready now, in the order handed out.
fn drain<T>(q: &mut DelayQueue<T>) -> Vec<T> {
    let mut out = Vec::new();
    while let Some(e) = support::expired_now(q) {
        out.push(e.into_inner());
    }
    out
}

#[test]
fn values_come_back_in_deadline_order_never_early() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    for (v, at) in [("c", 30), ("a", 10), ("b", 20), ("d", 40)] {
        q.insert(v, ms(at));
    }
    assert!(drain(&mut q).is_empty());
    clock.advance(ms(9));
    assert!(drain(&mut q).is_empty(), "nothing before 10 ms");
    clock.advance(ms(1));
    assert_eq!(drain(&mut q), ["a"]);
    clock.advance(ms(25)); // 35: b and c due together
    assert_eq!(
        drain(&mut q),
        ["b", "c"],
        "a batch comes back in deadline order"
    );
    clock.advance(ms(5));
    assert_eq!(drain(&mut q), ["d"]);
    assert!(q.is_empty());
}

#[test]
fn equal_deadlines_each_come_back_once() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    let keys: Vec<Key> = (0..100).map(|i| q.insert(i, ms(5))).collect();
    clock.advance(ms(5));
    let mut got = drain(&mut q);
    got.sort();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    assert!(
        keys.iter().all(|k| q.deadline(k).is_none()),
        "expired keys are stale"
    );
}

#[test]
fn remove_before_and_after_expiry_never_panics() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    let a = q.insert("a", ms(10));
    let b = q.insert("b", ms(20));
    assert_eq!(q.remove(&a), Some("a"));
    assert_eq!(q.remove(&a), None, "removed twice: None, no panic");
    assert_eq!(q.try_remove(&a), None);
    clock.advance(ms(20));
    // Expired but not handed out yet: still removable.
    assert_eq!(q.remove(&b), Some("b"));
    assert!(drain(&mut q).is_empty());
    let c = q.insert("c", ms(1));
    clock.advance(ms(1));
    assert_eq!(drain(&mut q), ["c"]);
    assert_eq!(q.remove(&c), None, "handed out: stale");
}

#[test]
fn a_stale_key_never_reaches_the_value_that_reuses_its_slot() {
    let (_clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    let old = q.insert("old", ms(10));
    q.remove(&old);
    let new = q.insert("new", ms(10)); // reuses the slot
    assert_ne!(old, new);
    assert_eq!(q.remove(&old), None);
    assert!(!q.reset(&old, ms(1)));
    assert_eq!(q.deadline(&old), None);
    assert_eq!(q.len(), 1);
    assert_eq!(q.remove(&new), Some("new"));
}

#[test]
fn reset_earlier_later_and_after_expiry() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    let t0 = clock.now();
    let a = q.insert("a", ms(50));
    let b = q.insert("b", ms(10));
    assert!(q.reset(&a, ms(5)), "earlier");
    assert!(q.reset(&b, ms(100)), "later");
    assert_eq!(q.deadline(&a), Some(t0 + ms(5)));
    assert_eq!(q.deadline(&b), Some(t0 + ms(100)));
    clock.advance(ms(10));
    assert_eq!(drain(&mut q), ["a"], "b no longer due at 10 ms");
    assert!(!q.reset(&a, ms(1)), "after expiry: stale");
    clock.advance(ms(90));
    assert_eq!(drain(&mut q), ["b"]);
}

#[test]
fn peek_names_the_next_to_expire() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    assert_eq!(q.peek(), None);
    let late = q.insert(1, ms(3_000_000));
    let soon = q.insert(2, ms(70));
    q.insert(3, ms(5_000));
    assert_eq!(q.peek(), Some(soon));
    q.remove(&soon);
    assert_ne!(q.peek(), Some(late));
    clock.advance(ms(5_000));
    assert!(q.peek().is_some(), "an expired value not yet handed out");
    assert_eq!(drain(&mut q), [3]);
    assert_eq!(q.peek(), Some(late));
}

#[test]
fn clear_capacity_and_shrink() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue::<u64>();
    let keys: Vec<Key> = (0..10_000).map(|i| q.insert(i, ms(10 + i))).collect();
    assert!(q.capacity() >= 10_000);
    q.clear();
    assert!(q.is_empty() && q.peek().is_none());
    assert!(
        keys.iter().all(|k| q.remove(k).is_none()),
        "clear makes keys stale"
    );
    q.shrink_to_fit();
    assert!(
        q.capacity() < 10_000,
        "capacity {} after shrink",
        q.capacity()
    );
    clock.advance(ms(100_000));
    assert!(drain(&mut q).is_empty());
    let q2 = driver.handle().delay_queue::<u8>();
    let with = DelayQueue::<u8>::with_capacity(500);
    assert!(with.capacity() >= 500 && q2.capacity() == 0);
}

#[test]
fn the_stream_ends_when_empty_and_resumes_after_an_insert() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    let (_count, waker) = CountingWaker::new();
    assert!(matches!(poll(&mut q, &waker), Poll::Ready(None)));
    q.insert("x", ms(1));
    assert!(poll(&mut q, &waker).is_pending());
    clock.advance(ms(1));
    assert!(matches!(poll(&mut q, &waker), Poll::Ready(Some(e)) if *e.get_ref() == "x"));
    assert!(matches!(poll(&mut q, &waker), Poll::Ready(None)));
}

/// tokio-util's long-reported lost wake-up: the task waits on a later value,
/// then inserts an earlier one; the earlier one must wake it on time.
#[test]
fn an_insert_that_becomes_the_earliest_wakes_the_task() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    let (count, waker) = CountingWaker::new();
    q.insert("late", ms(1000));
    assert!(poll(&mut q, &waker).is_pending());
    q.insert("early", ms(10));
    clock.advance(ms(10));
    assert_eq!(count.count(), 1, "woken at the earlier deadline");
    assert!(matches!(poll(&mut q, &waker), Poll::Ready(Some(e)) if *e.get_ref() == "early"));
    assert!(poll(&mut q, &waker).is_pending());
    clock.advance(ms(990));
    assert_eq!(count.count(), 2);
    assert!(matches!(poll(&mut q, &waker), Poll::Ready(Some(e)) if *e.get_ref() == "late"));
}

/// A deadline already passed is due at once, also one inside the current
/// tick of the resolution: `insert` with a zero timeout, `insert_at` and
/// `reset_at` a past instant — as timers and tokio-util's queue do. (They
/// were rounded up to the end of the tick: late, and on a manual clock
/// never due until the test moved time.) A deadline ahead is still never early.
#[test]
fn a_deadline_already_passed_is_due_at_once_inside_a_tick() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    clock.advance(Duration::from_micros(130)); // 30 µs into a 100 µs tick
    q.insert("zero", Duration::ZERO);
    q.insert_at("past", clock.now() - Duration::from_micros(20));
    let reset = q.insert("reset", ms(10));
    assert!(q.reset_at(&reset, clock.now()));
    let moved = q.insert("moved", ms(10));
    assert!(q.reset(&moved, Duration::ZERO));
    q.insert_at("ahead", clock.now() + Duration::from_micros(20));
    let mut got = drain(&mut q);
    got.sort();
    assert_eq!(got, ["moved", "past", "reset", "zero"]);
    clock.advance(Duration::from_micros(19));
    assert!(drain(&mut q).is_empty(), "never early");
    clock.advance(Duration::from_micros(51)); // the tick's end
    assert_eq!(drain(&mut q), ["ahead"]);
}

/// Deadlines read back in the driver's resolution (module docs): rounded
/// up, or down for one already passed when filed — never the exact instant.
#[test]
fn deadlines_read_back_in_the_resolution() {
    let us = Duration::from_micros;
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    let t0 = clock.now();
    let ahead = q.insert_at("ahead", t0 + us(150));
    assert_eq!(q.deadline(&ahead), Some(t0 + us(200)));
    clock.advance(us(230));
    let e = support::expired_now(&mut q).unwrap();
    assert_eq!((e.deadline(), e.into_inner()), (t0 + us(200), "ahead"));
    q.insert_at("passed", t0 + us(210));
    let e = support::expired_now(&mut q).unwrap();
    assert_eq!((e.deadline(), e.into_inner()), (t0 + us(200), "passed"));
}

/// Deadlines far beyond any wheel's range, and at the end of time: no horizon
/// panic (tokio-util's wheel panicked past 2³⁶ ms), never early.
#[test]
fn far_deadlines_do_not_panic() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    let far = q.insert("20 years", Duration::from_secs(20 * 365 * 86_400));
    let never = q.insert("never", Duration::MAX);
    assert!(q.deadline(&never).is_some());
    clock.advance(Duration::from_secs(20 * 365 * 86_400) - ms(1));
    assert!(drain(&mut q).is_empty());
    clock.advance(ms(1));
    assert_eq!(drain(&mut q), ["20 years"]);
    assert_eq!(q.remove(&never), Some("never"));
    assert_eq!(q.remove(&far), None);
}

#[test]
fn blocking_recv_with_and_without_timeout() {
    let mut q = DelayQueue::new();
    assert_eq!(q.recv_timeout(ms(1)).unwrap_err(), RecvTimeoutError::Empty);
    q.insert(1, ms(2));
    assert_eq!(q.recv().map(Expired::into_inner), Some(1));
    q.insert(2, Duration::from_secs(3600));
    assert_eq!(
        q.recv_timeout(ms(5)).unwrap_err(),
        RecvTimeoutError::Timeout
    );
    assert_eq!(q.len(), 1);
}

/// Wake-ups are not lost under a multi-thread executor: values inserted from
/// a task, each awaited, all arrive (bounded real time, generous bounds).
#[test]
fn no_lost_wakeup_on_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..4)
            .map(|t| {
                tokio::spawn(async move {
                    use futures::StreamExt;
                    let mut q = DelayQueue::new();
                    let mut got = 0;
                    for round in 0..50u64 {
                        q.insert(round, Duration::from_micros(100 + (round * 37 + t) % 900));
                        q.insert(round, Duration::from_micros(50 + (round * 53 + t) % 500));
                        for _ in 0..2 {
                            tokio::task::yield_now().await;
                            let e = tickless::timeout(Duration::from_secs(10), q.next())
                                .await
                                .expect("a value was lost: no wake-up within 10 s");
                            assert_eq!(e.unwrap().into_inner(), round);
                            got += 1;
                        }
                    }
                    got
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 100);
        }
    });
}

#[test]
fn entries_count_under_the_queues_call_site() {
    let (_clock, driver) = driver();
    let line = line!() + 1;
    let mut q = driver.handle().delay_queue();
    for i in 0..1500 {
        q.insert(i, Duration::from_secs(3600));
    }
    let snap = driver.handle().snapshot();
    let site = snap
        .sites
        .iter()
        .find(|s| s.file.ends_with("delay_queue.rs") && s.line == line)
        .expect("the queue's site");
    assert!(site.live >= 1500, "live {}", site.live);
    drop(q);
    let snap = driver.handle().snapshot();
    assert!(snap.sites.iter().all(|s| s.line != line || s.live == 0));
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u64),
    Remove(usize),
    Reset(usize, u64),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..2_000).prop_map(Op::Insert),
        any::<usize>().prop_map(Op::Remove),
        (any::<usize>(), 0u64..2_000).prop_map(|(i, d)| Op::Reset(i, d)),
        (0u64..700).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random inserts, removes, resets and clock moves against a `BTreeMap`
    /// oracle: what comes back, and when, matches; nothing early, nothing twice.
    #[test]
    fn model_against_an_oracle(ops in proptest::collection::vec(op(), 1..120)) {
        let (clock, driver) = driver();
        let t0 = clock.now();
        let mut q = driver.handle().delay_queue();
        let mut oracle: BTreeMap<u64, Duration> = BTreeMap::new(); // id → deadline since t0
        let mut keys: Vec<(u64, Key)> = Vec::new();
        let mut next_id = 0u64;
        let resolution = driver.handle().resolution();
        for op in ops {
            match op {
                Op::Insert(d) => {
                    let k = q.insert(next_id, ms(d));
                    oracle.insert(next_id, clock.now() - t0 + ms(d));
                    keys.push((next_id, k));
                    next_id += 1;
                }
                Op::Remove(i) if !keys.is_empty() => {
                    let (id, k) = keys[i % keys.len()];
                    prop_assert_eq!(q.remove(&k), oracle.remove(&id).map(|_| id));
                }
                Op::Reset(i, d) if !keys.is_empty() => {
                    let (id, k) = keys[i % keys.len()];
                    let live = oracle.contains_key(&id);
                    prop_assert_eq!(q.reset(&k, ms(d)), live);
                    if live {
                        oracle.insert(id, clock.now() - t0 + ms(d));
                    }
                }
                Op::Advance(d) => clock.advance(ms(d)),
                _ => {}
            }
            let now = clock.now() - t0;
            for id in drain(&mut q) {
                let due = oracle.remove(&id);
                prop_assert!(due.is_some(), "{} came back twice or after removal", id);
                prop_assert!(due.unwrap() <= now, "{} early: due {:?}, now {:?}", id, due, now);
            }
            // Everything due a resolution ago has come back.
            prop_assert!(oracle.values().all(|due| *due + resolution > now),
                "a due value was held back at {:?}: {:?}", now, oracle);
            prop_assert_eq!(q.len(), oracle.len());
        }
    }
}

#[test]
fn the_queue_is_send_unpin_and_debug() {
    fn send_unpin_debug<T: Send + Unpin + std::fmt::Debug>(_: &T) {}
    let q: DelayQueue<std::cell::Cell<u8>> = DelayQueue::new(); // Send, not Sync
    send_unpin_debug(&q);
    let (_clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    q.insert(1u8, ms(5));
    assert!(format!("{q:?}").contains("len: 1"));
}

/// Dropping the driver under a polled queue must not spin: its values all
/// come due at once, as every timer on a dropped driver does.
#[test]
fn a_dropped_driver_releases_its_queue() {
    let (_clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    q.insert(2, Duration::from_secs(7200));
    q.insert(1, Duration::from_secs(3600));
    let waker = futures::task::noop_waker();
    assert!(poll(&mut q, &waker).is_pending());
    drop(driver);
    assert_eq!(drain(&mut q), [1, 2]);
    assert!(matches!(poll(&mut q, &waker), Poll::Ready(None)));
}

/// The blocking calls do not take the cooperative budget: a thread has no
/// executor to yield to, so `recv_timeout(ZERO)` used as a `try_recv` hands
/// out every due value of a long backlog, not 32 of them.
#[test]
fn recv_timeout_zero_drains_a_backlog() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue();
    for i in 0..100 {
        q.insert(i, ms(1));
    }
    clock.advance(ms(1));
    let mut got = 0;
    while q.recv_timeout(Duration::ZERO).is_ok() {
        got += 1;
    }
    assert_eq!(got, 100);
    assert!(q.is_empty());
}
