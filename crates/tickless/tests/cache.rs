//! `tickless::cache::Cache` on a `ManualClock`: never an expired value,
//! active expiry with no calls, TTL / TTI / per-entry TTL, the capacity
//! bound, every removal reported once with its cause, single-flight
//! `get_with`, and a model test against a plain map.
//!
//! Expiry with no calls runs on the driver's callback thread: tests wait for
//! its effects (up to a generous 10 s), never for a fixed time.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use support::{manual_driver, wait_until};
use tickless::cache::{Cache, RemovalCause};
use tickless::clock::ManualClock;
use tickless::Driver;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

type Log = Arc<Mutex<Vec<(u64, u64, RemovalCause)>>>;

/// A cache builder on a manual driver whose listener appends to a log.
fn logged(driver: &Driver) -> (tickless::cache::CacheBuilder<u64, u64>, Log) {
    let log: Log = Arc::default();
    let sink = log.clone();
    let builder = driver
        .handle()
        .cache_builder()
        .eviction_listener(move |k, v, cause| sink.lock().unwrap().push((k, v, cause)));
    (builder, log)
}

fn causes(log: &Log) -> Vec<RemovalCause> {
    log.lock().unwrap().iter().map(|e| e.2).collect()
}

#[test]
fn never_an_expired_value_even_before_the_timer_runs() {
    let (clock, driver) = manual_driver();
    let cache: Cache<u64, u64> = driver.handle().cache_builder().time_to_live(ms(10)).build();
    cache.insert(1, 10);
    clock.advance(ms(9));
    assert_eq!(cache.get(&1), Some(10));
    assert!(cache.contains_key(&1));
    // The expiry job may or may not have run yet: either way, a miss.
    clock.advance(ms(1));
    assert_eq!(cache.get(&1), None);
    assert!(!cache.contains_key(&1));
    assert_eq!(cache.iter().count(), 0);
}

#[test]
fn entries_expire_with_no_calls_each_reported_once() {
    let (clock, driver) = manual_driver();
    let (builder, log) = logged(&driver);
    let cache = builder.time_to_live(ms(50)).build();
    for k in 0..1000 {
        cache.insert(k, k * 10);
    }
    clock.advance(ms(49));
    std::thread::sleep(ms(20)); // room for a wrong early expiry to show
    assert!(log.lock().unwrap().is_empty(), "nothing expires early");
    clock.advance(ms(1));
    wait_until("1000 expirations", || log.lock().unwrap().len() >= 1000);
    std::thread::sleep(ms(20)); // room for a duplicate to show
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1000);
    let mut keys: Vec<_> = log.iter().map(|e| e.0).collect();
    keys.sort_unstable();
    assert_eq!(keys, (0..1000).collect::<Vec<_>>(), "each once");
    assert!(log
        .iter()
        .all(|&(k, v, c)| v == k * 10 && c == RemovalCause::Expired));
    assert_eq!(cache.entry_count(), 0);
}

#[test]
fn the_alarm_follows_the_earliest_deadline() {
    let (clock, driver) = manual_driver();
    let (builder, log) = logged(&driver);
    let cache = builder.build();
    cache.insert_with_ttl(1, 1, ms(100));
    cache.insert_with_ttl(2, 2, ms(30)); // earlier: re-arms
    cache.insert(3, 3); // no expiry at all
    clock.advance(ms(30));
    wait_until("key 2 to expire", || log.lock().unwrap().len() == 1);
    assert_eq!(log.lock().unwrap()[0], (2, 2, RemovalCause::Expired));
    clock.advance(ms(70));
    wait_until("key 1 to expire", || log.lock().unwrap().len() == 2);
    assert_eq!(log.lock().unwrap()[1], (1, 1, RemovalCause::Expired));
    clock.advance(Duration::from_secs(365 * 24 * 3600));
    assert_eq!(cache.get(&3), Some(3), "no TTL: never expires");
}

#[test]
fn time_to_idle_extends_on_reads_but_never_past_the_ttl() {
    let (clock, driver) = manual_driver();
    let cache: Cache<u64, u64> = driver
        .handle()
        .cache_builder()
        .time_to_idle(ms(10))
        .time_to_live(ms(25))
        .build();
    cache.insert(1, 1);
    for _ in 0..4 {
        clock.advance(ms(6)); // 6, 12, 18, 24: each read within 10 ms of the last
        assert_eq!(cache.get(&1), Some(1));
    }
    clock.advance(ms(1)); // 25: the TTL
    assert_eq!(cache.get(&1), None);

    cache.insert(2, 2);
    clock.advance(ms(9));
    assert!(cache.contains_key(&2), "contains_key is not a read");
    clock.advance(ms(1));
    assert_eq!(cache.get(&2), None, "idle for 10 ms");
}

#[test]
fn per_entry_ttl_overrides_the_cache_ttl() {
    let (clock, driver) = manual_driver();
    let cache: Cache<u64, u64> = driver.handle().cache_builder().time_to_live(ms(20)).build();
    cache.insert_with_ttl(1, 1, ms(5));
    cache.insert_with_ttl(2, 2, ms(40));
    cache.insert(3, 3);
    clock.advance(ms(5));
    assert_eq!(
        (cache.get(&1), cache.get(&2), cache.get(&3)),
        (None, Some(2), Some(3))
    );
    clock.advance(ms(15));
    assert_eq!((cache.get(&2), cache.get(&3)), (Some(2), None));
    clock.advance(ms(20));
    assert_eq!(cache.get(&2), None);
}

/// Entries without a deadline are kept off the wheel's lists (shelved): one
/// that gains a TTL by a replacement still expires on its own, one that
/// loses it never does, and eviction and removal reach both kinds.
#[test]
fn entries_without_a_deadline_gain_and_lose_one_by_replacement() {
    let (clock, driver) = manual_driver();
    let (builder, log) = logged(&driver);
    let cache = builder.max_capacity(4).build();
    cache.insert(1, 10); // no deadline
    cache.insert_with_ttl(1, 11, ms(5)); // gains one
    cache.insert_with_ttl(2, 20, ms(5));
    cache.insert(2, 21); // loses it
    clock.advance(ms(5));
    wait_until("key 1's expiry, with no call", || {
        log.lock()
            .unwrap()
            .contains(&(1, 11, RemovalCause::Expired))
    });
    clock.advance(ms(1000));
    assert_eq!((cache.get(&1), cache.get(&2)), (None, Some(21)));
    for k in 3..10 {
        cache.insert(k, k); // shelved entries only: evicted by size
        assert!(cache.entry_count() <= 4);
    }
    cache.insert_with_ttl(10, 100, ms(5));
    assert_eq!(cache.remove(&10), Some(100));
    cache.invalidate_all();
    let log = log.lock().unwrap().clone();
    let count = |cause| log.iter().filter(|e| e.2 == cause).count();
    assert_eq!(count(RemovalCause::Expired), 1, "{log:?}");
    assert_eq!(count(RemovalCause::Replaced), 2, "{log:?}");
    assert_eq!(
        count(RemovalCause::Size) + count(RemovalCause::Explicit),
        9,
        "{log:?}"
    );
    assert!(log.contains(&(10, 100, RemovalCause::Explicit)));
    assert_eq!(cache.entry_count(), 0);
}

#[test]
fn the_capacity_holds_after_every_insert() {
    let (_clock, driver) = manual_driver();
    let (builder, log) = logged(&driver);
    let cache = builder.max_capacity(100).build();
    for k in 0..1000 {
        cache.insert(k, k);
        assert!(cache.entry_count() <= 100, "after inserting {k}");
        if k % 3 == 0 {
            cache.get(&(k / 2)); // some reuse
        }
    }
    assert_eq!(cache.entry_count(), 100);
    let c = causes(&log);
    assert_eq!(c.len(), 900);
    assert!(c.iter().all(|&c| c == RemovalCause::Size));
}

#[test]
fn weights_bound_the_total_and_oversized_entries_are_refused() {
    let (_clock, driver) = manual_driver();
    let (builder, log) = logged(&driver);
    let cache = builder.max_capacity(100).weigher(|_, v| *v as u32).build();
    for k in 0..50 {
        cache.insert(k, 1 + k % 7);
        assert!(cache.weighted_size() <= 100);
    }
    cache.insert(999, 101);
    assert!(!cache.contains_key(&999));
    assert_eq!(
        log.lock().unwrap().last(),
        Some(&(999, 101, RemovalCause::Size))
    );
}

#[test]
fn every_cause_reported_exactly_once() {
    let (clock, driver) = manual_driver();
    let (builder, log) = logged(&driver);
    let cache = builder.max_capacity(2).build();
    cache.insert(1, 10);
    cache.insert(1, 11); // replaces 10
    assert_eq!(cache.remove(&1), Some(11)); // explicit
    assert_eq!(cache.remove(&1), None); // nothing more
    cache.insert(2, 20);
    cache.insert(3, 30);
    cache.insert(4, 40); // over capacity: one of them goes (size)
    cache.invalidate_all(); // the other two: explicit
    cache.insert_with_ttl(5, 50, ms(1));
    clock.advance(ms(1));
    wait_until("the expiry", || log.lock().unwrap().len() == 6);
    std::thread::sleep(ms(20)); // room for a duplicate to show
    let log = log.lock().unwrap().clone();
    assert_eq!(log[0], (1, 10, RemovalCause::Replaced));
    assert_eq!(log[1], (1, 11, RemovalCause::Explicit));
    assert_eq!(log[2].2, RemovalCause::Size);
    assert_eq!(log[3].2, RemovalCause::Explicit);
    assert_eq!(log[4].2, RemovalCause::Explicit);
    assert_eq!(log[5..], [(5, 50, RemovalCause::Expired)]);
    let mut values: Vec<_> = log[2..5].iter().map(|e| e.1).collect();
    values.sort_unstable();
    assert_eq!(values, [20, 30, 40]);
    assert_eq!(log.len(), 6, "nothing after");
}

#[test]
fn replacing_an_expired_entry_reports_it_expired() {
    let (clock, driver) = manual_driver();
    let (builder, log) = logged(&driver);
    let cache = builder.time_to_live(ms(10)).build();
    cache.insert(1, 1);
    clock.advance(ms(10));
    cache.insert(1, 2); // the job may have removed it already: either way, once
    wait_until("one report", || !log.lock().unwrap().is_empty());
    std::thread::sleep(ms(20));
    assert_eq!(*log.lock().unwrap(), [(1, 1, RemovalCause::Expired)]);
    assert_eq!(cache.get(&1), Some(2));
}

#[test]
fn get_with_runs_the_initializer_once_for_concurrent_misses() {
    let cache: Cache<u64, u64> = Cache::new(100);
    let runs = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (cache, runs, barrier) = (cache.clone(), runs.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                cache.get_with(7, || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(ms(100)); // the others arrive meanwhile
                    70
                })
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 70);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(cache.get_with(7, || unreachable!()), 70);
}

/// Waits until a second caller has missed on the key: it finds the leader's
/// flight in the same hold of the shard lock, so it is waiting behind it.
fn waiting_behind_the_leader(cache: &Cache<u64, u64>) {
    wait_until("a waiter behind the leader", || cache.stats().misses >= 2);
}

/// Lets a test hold a `*get_with` leader inside its initializer.
struct Hold {
    started: crossbeam_channel::Sender<()>,
    go: crossbeam_channel::Receiver<()>,
}

impl Hold {
    /// Called in the initializer: reports it started, waits for `go`.
    fn wait(self) {
        self.started.send(()).unwrap();
        self.go.recv().unwrap();
    }
}

/// Runs `lead` on its own thread and returns once it is inside its
/// initializer (it called [`Hold::wait`]): `(leader thread, go)`.
fn held_leader<T: Send + 'static>(
    lead: impl FnOnce(Hold) -> T + Send + 'static,
) -> (std::thread::JoinHandle<T>, crossbeam_channel::Sender<()>) {
    let (started_tx, started) = crossbeam_channel::bounded(1);
    let (go, go_rx) = crossbeam_channel::bounded(1);
    let leader = std::thread::spawn(move || {
        lead(Hold {
            started: started_tx,
            go: go_rx,
        })
    });
    started.recv().unwrap();
    (leader, go)
}

/// A leader whose initializer is in progress until the test says `go`:
/// `(leader thread, go)`. The leader calls `try_get_with(1, ..)`, failing
/// with `Err(error)`.
fn failing_leader(
    cache: &Cache<u64, u64>,
    error: &'static str,
) -> (
    std::thread::JoinHandle<Result<u64, Arc<String>>>,
    crossbeam_channel::Sender<()>,
) {
    let cache = cache.clone();
    held_leader(move |hold| {
        cache.try_get_with(1, || {
            hold.wait();
            Err(error.to_string())
        })
    })
}

#[test]
fn try_get_with_shares_an_error_and_caches_nothing() {
    let cache: Cache<u64, u64> = Cache::new(100);
    let (leader, go) = failing_leader(&cache, "backend down");
    let runs = Arc::new(AtomicUsize::new(0));
    let waiter = {
        let (cache, runs) = (cache.clone(), runs.clone());
        std::thread::spawn(move || {
            cache.try_get_with(1, || {
                runs.fetch_add(1, Ordering::SeqCst);
                Err("the waiter ran its own initializer".to_string())
            })
        })
    };
    waiting_behind_the_leader(&cache);
    go.send(()).unwrap();
    let (led, waited) = (leader.join().unwrap(), waiter.join().unwrap());
    let (led, waited) = (led.unwrap_err(), waited.unwrap_err());
    assert_eq!(*led, "backend down");
    assert!(
        Arc::ptr_eq(&led, &waited),
        "the waiter got the leader's error itself"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert!(!cache.contains_key(&1), "an error is not cached");
    assert_eq!(cache.try_get_with(1, || Ok::<_, ()>(5)), Ok(5), "retried");
    assert_eq!(cache.get(&1), Some(5));
}

#[test]
fn a_get_with_behind_a_failing_try_get_with_runs_its_own() {
    let cache: Cache<u64, u64> = Cache::new(100);
    let (leader, go) = failing_leader(&cache, "backend down");
    let waiter = {
        let cache = cache.clone();
        std::thread::spawn(move || cache.get_with(1, || 9))
    };
    waiting_behind_the_leader(&cache);
    go.send(()).unwrap();
    assert!(leader.join().unwrap().is_err());
    assert_eq!(
        waiter.join().unwrap(),
        9,
        "no error type to share: its own value"
    );
    assert_eq!(
        cache.stats().misses,
        2,
        "one miss per call: the waiter's second look is not counted"
    );
    assert_eq!(cache.get(&1), Some(9));
}

#[test]
fn optionally_get_with_shares_none() {
    let cache: Cache<u64, u64> = Cache::new(100);
    let (leader, go) = held_leader({
        let cache = cache.clone();
        move |hold: Hold| {
            cache.optionally_get_with(1, || {
                hold.wait();
                None
            })
        }
    });
    let waiter = {
        let cache = cache.clone();
        std::thread::spawn(move || cache.optionally_get_with(1, || Some(3)))
    };
    waiting_behind_the_leader(&cache);
    go.send(()).unwrap();
    assert_eq!(leader.join().unwrap(), None);
    assert_eq!(waiter.join().unwrap(), None, "the leader's None, shared");
    assert_eq!(cache.entry_count(), 0);
    assert_eq!(cache.optionally_get_with(1, || Some(3)), Some(3));
}

#[test]
fn a_panicking_initializer_lets_a_waiter_run_its_own() {
    let cache: Cache<u64, u64> = Cache::new(100);
    let leader = {
        let cache = cache.clone();
        std::thread::spawn(move || {
            cache.get_with(1, || {
                std::thread::sleep(ms(100));
                panic!("initializer fails");
            })
        })
    };
    std::thread::sleep(ms(20)); // the leader is in its initializer
    assert_eq!(cache.get_with(1, || 2), 2);
    assert!(leader.join().is_err());
    assert_eq!(cache.get(&1), Some(2));
}

#[test]
fn an_idle_cache_gives_its_memory_back() {
    let (clock, driver) = manual_driver();
    let (builder, log) = logged(&driver);
    let cache = builder.time_to_live(Duration::from_secs(1)).build();
    let empty = cache.heap_bytes();
    for k in 0..100_000 {
        cache.insert(k, k);
    }
    assert!(cache.heap_bytes() > empty + 100_000 * 32);
    clock.advance(Duration::from_secs(1));
    wait_until("every expiry", || log.lock().unwrap().len() == 100_000);
    assert_eq!(cache.entry_count(), 0);
    assert!(
        cache.heap_bytes() <= empty + 64 * 1024,
        "{} bytes held after expiry, {empty} empty",
        cache.heap_bytes()
    );
}

#[test]
fn dropping_the_cache_frees_its_driver_timers() {
    let (_clock, driver) = manual_driver();
    let cache: Cache<u64, u64> = driver.handle().cache_builder().time_to_live(ms(10)).build();
    cache.insert(1, 1);
    assert!(driver.handle().pending_timers() >= 1);
    drop(cache);
    assert_eq!(driver.handle().pending_timers(), 0);
}

#[test]
fn a_shut_down_driver_still_never_returns_expired_values() {
    let clock = ManualClock::new();
    let driver = Driver::builder().clock(clock.clone()).build().unwrap();
    let cache: Cache<u64, u64> = driver.handle().cache_builder().time_to_live(ms(10)).build();
    cache.insert(1, 1);
    drop(driver);
    cache.insert(2, 2);
    assert_eq!(cache.get(&2), Some(2));
    clock.advance(ms(10));
    assert_eq!((cache.get(&1), cache.get(&2)), (None, None));
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u64),
    InsertTtl(u64, u64),
    Get(u64),
    GetWith(u64),
    Remove(u64),
    Advance(u64),
    InvalidateAll,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..12u64;
    prop_oneof![
        4 => key.clone().prop_map(Op::Insert),
        2 => (key.clone(), 1..30u64).prop_map(|(k, t)| Op::InsertTtl(k, t)),
        4 => key.clone().prop_map(Op::Get),
        1 => key.clone().prop_map(Op::GetWith),
        1 => key.prop_map(Op::Remove),
        2 => (0..15u64).prop_map(Op::Advance),
        1 => Just(Op::InvalidateAll),
    ]
}

/// The model: key → (value, deadline, hard deadline, in ms); values are
/// unique per insert. With a time to idle, a read moves the deadline to
/// `now + idle`, never past the hard (TTL) deadline.
struct Model {
    live: HashMap<u64, (u64, u64, u64)>,
    deadlines: HashMap<u64, u64>,
    reported: HashMap<u64, RemovalCause>,
    idle: Option<u64>,
}

impl Model {
    /// Takes the listener's reports: each value once, with a cause that fits
    /// the time; a value the cache evicted (`Size`) leaves the model.
    fn absorb(&mut self, log: &Log, now: u64) {
        for (k, v, cause) in log.lock().unwrap().drain(..) {
            let deadline = self.deadlines[&v];
            assert!(
                self.reported.insert(v, cause).is_none(),
                "value {v} reported twice"
            );
            match cause {
                RemovalCause::Expired => assert!(deadline <= now, "{v} expired early"),
                RemovalCause::Replaced | RemovalCause::Explicit => {
                    assert!(deadline > now, "{v}: expired, reported {cause:?}")
                }
                RemovalCause::Size => {}
            }
            if self.live.get(&k).is_some_and(|&(lv, _, _)| lv == v) {
                self.live.remove(&k);
            }
        }
    }

    fn expected(&self, k: u64, now: u64) -> Option<u64> {
        self.live.get(&k).filter(|e| e.1 > now).map(|e| e.0)
    }

    fn insert(&mut self, k: u64, v: u64, now: u64, ttl: u64) {
        let hard = now + ttl;
        let deadline = self.idle.map_or(hard, |i| hard.min(now + i));
        self.deadlines.insert(v, deadline);
        self.live.insert(k, (v, deadline, hard));
    }

    /// A read hit at `now`.
    fn read(&mut self, k: u64, now: u64) {
        if let (Some(idle), Some(e)) = (self.idle, self.live.get_mut(&k)) {
            if e.1 > now {
                e.1 = e.2.min(now + idle);
                self.deadlines.insert(e.0, e.1);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn behaves_like_a_map_with_deadlines(
        ops in prop::collection::vec(op(), 1..120),
        capacity in prop_oneof![Just(None), (1..10u64).prop_map(Some)],
        idle in prop_oneof![Just(None), (3..15u64).prop_map(Some)],
    ) {
        let (clock, driver) = manual_driver();
        let (mut builder, log) = logged(&driver);
        builder = builder.time_to_live(ms(20));
        if let Some(c) = capacity {
            builder = builder.max_capacity(c);
        }
        if let Some(i) = idle {
            builder = builder.time_to_idle(ms(i));
        }
        let cache = builder.build();
        let mut model = Model { live: HashMap::new(), deadlines: HashMap::new(), reported: HashMap::new(), idle };
        let (mut now, mut next_value) = (0u64, 0u64);
        for op in ops {
            match op {
                Op::Insert(k) | Op::InsertTtl(k, _) | Op::GetWith(k) => {
                    let ttl = if let Op::InsertTtl(_, t) = op { t } else { 20 };
                    next_value += 1;
                    let v = next_value;
                    let inserted = if let Op::GetWith(_) = op {
                        let got = cache.get_with(k, || v);
                        let expected = model.expected(k, now);
                        model.absorb(&log, now);
                        prop_assert_eq!(Some(got), expected.or(Some(v)));
                        model.read(k, now);
                        expected.is_none()
                    } else if let Op::InsertTtl(_, t) = op {
                        cache.insert_with_ttl(k, v, ms(t));
                        true
                    } else {
                        cache.insert(k, v);
                        true
                    };
                    if inserted {
                        model.insert(k, v, now, ttl);
                    }
                }
                Op::Get(k) => {
                    let got = cache.get(&k);
                    model.absorb(&log, now);
                    prop_assert_eq!(got, model.expected(k, now), "get({}) at {} ms", k, now);
                    model.read(k, now);
                }
                Op::Remove(k) => {
                    let got = cache.remove(&k);
                    prop_assert_eq!(got, model.expected(k, now));
                    model.live.remove(&k);
                }
                Op::Advance(d) => {
                    clock.advance(ms(d));
                    now += d;
                }
                Op::InvalidateAll => {
                    cache.invalidate_all();
                    model.live.clear();
                }
            }
            model.absorb(&log, now);
            if let Some(c) = capacity {
                prop_assert!(cache.entry_count() <= c);
            }
        }
        // Everything inserted is reported exactly once in the end.
        cache.invalidate_all();
        wait_until("every report", || {
            model.absorb(&log, now);
            model.reported.len() as u64 == next_value - unreported_get_with(&model, next_value)
        });
        std::thread::sleep(ms(5));
        model.absorb(&log, now);
        prop_assert_eq!(cache.entry_count(), 0);
    }
}

/// Values of `get_with` calls that hit (their value was never inserted).
fn unreported_get_with(model: &Model, next_value: u64) -> u64 {
    (1..=next_value)
        .filter(|v| !model.deadlines.contains_key(v))
        .count() as u64
}

#[test]
fn a_panicking_listener_does_not_stop_active_expiry() {
    let (clock, driver) = manual_driver();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let cache: Cache<u64, u64> = driver
        .handle()
        .cache_builder()
        .time_to_live(ms(10))
        .eviction_listener(move |k, _, _| {
            seen.fetch_add(1, Ordering::SeqCst);
            assert_ne!(k, 0, "the listener panics on key 0");
        })
        .build();
    for k in 0..3000 {
        cache.insert(k, k); // more than one batch
    }
    clock.advance(ms(10));
    wait_until("every expiry despite the panic", || {
        calls.load(Ordering::SeqCst) == 3000
    });
    wait_until("the panic counted", || {
        driver.handle().callback_panics() >= 1
    });
    // The alarm was re-armed: later entries still expire with no call.
    cache.insert(5000, 1);
    clock.advance(ms(10));
    wait_until("the later expiry", || calls.load(Ordering::SeqCst) == 3001);
    assert_eq!(cache.entry_count(), 0);
}

/// Threads insert, read and remove while the clock moves and the expiry job
/// runs: every value is reported exactly once, none is read after its
/// deadline, and nothing is left.
#[test]
fn inserts_and_removes_racing_expiry_report_each_value_once() {
    let (clock, driver) = manual_driver();
    let (builder, log) = logged(&driver);
    let cache = builder.max_capacity(5_000).time_to_live(ms(5)).build();
    let next = Arc::new(AtomicUsize::new(1));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Time moves only under the write side, so a worker's clock reading
    // holds for its whole operation.
    let gate = Arc::new(std::sync::RwLock::new(()));
    let workers: Vec<_> = (0..3u64)
        .map(|t| {
            let (cache, next, stop, clock, gate) = (
                cache.clone(),
                next.clone(),
                stop.clone(),
                clock.clone(),
                gate.clone(),
            );
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let _still = gate.read().unwrap();
                    let now_ms = clock.elapsed().as_millis() as u64;
                    let key = (i * 7 + t) % 3000;
                    match i % 4 {
                        0 => {
                            cache.remove(&key);
                        }
                        1 => {
                            // Stamp the value with the insert time: a read must
                            // never see it 5 ms or more later.
                            let v = next.fetch_add(1, Ordering::SeqCst) as u64;
                            cache.insert(key, (v << 20) | now_ms);
                        }
                        _ => {
                            if let Some(v) = cache.get(&key) {
                                let born = v & ((1 << 20) - 1);
                                assert!(now_ms < born + 5, "read an expired value");
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for _ in 0..200 {
        {
            let _moving = gate.write().unwrap();
            clock.advance(ms(1));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    clock.advance(ms(10));
    let inserted = next.load(Ordering::SeqCst) - 1;
    wait_until("every value reported", || {
        log.lock().unwrap().len() >= inserted
    });
    std::thread::sleep(ms(20));
    let log = log.lock().unwrap();
    let mut values: Vec<u64> = log.iter().map(|e| e.1 >> 20).collect();
    values.sort_unstable();
    values.dedup();
    assert_eq!(
        (log.len(), values.len()),
        (inserted, inserted),
        "each value reported once"
    );
    assert_eq!(cache.entry_count(), 0);
}

#[test]
fn stats_snapshots_and_prometheus_count_reads_and_causes() {
    let (clock, driver) = manual_driver();
    let cache: Cache<u64, u64> = driver
        .handle()
        .cache_builder()
        .name("sessions")
        .max_capacity(2)
        .time_to_live(ms(10))
        .build();
    cache.insert(1, 1);
    cache.insert(1, 2); // replaced
    assert_eq!(cache.get(&1), Some(2)); // hit
    assert_eq!(cache.get(&9), None); // miss
    cache.remove(&1); // explicit
    for k in 2..=4 {
        cache.insert(k, k); // the third: one evicted for size
    }
    clock.advance(ms(10));
    wait_until("two expirations", || cache.stats().expired == 2);
    let stats = cache.stats();
    assert_eq!(
        (stats.name.as_str(), stats.hits, stats.misses),
        ("sessions", 1, 1)
    );
    assert_eq!(
        (stats.replaced, stats.explicit, stats.size, stats.expired),
        (1, 1, 1, 2)
    );
    assert_eq!((stats.entries, stats.weighted_size), (0, 0));

    let snapshot = driver.handle().snapshot();
    assert_eq!(snapshot.caches, [stats]);
    let text = snapshot.to_prometheus();
    for line in [
        "tickless_cache_hits_total{cache=\"sessions\"} 1",
        "tickless_cache_misses_total{cache=\"sessions\"} 1",
        "tickless_cache_hit_ratio{cache=\"sessions\"} 0.5",
        "tickless_cache_entries{cache=\"sessions\"} 0",
        "tickless_cache_evictions_total{cache=\"sessions\",cause=\"size\"} 1",
        "tickless_cache_evictions_total{cache=\"sessions\",cause=\"expired\"} 2",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    drop(cache);
    assert!(
        driver.handle().snapshot().caches.is_empty(),
        "a dropped cache leaves the snapshots"
    );
}

#[test]
fn popular_entries_survive_a_scan_of_one_off_keys() {
    let cache: Cache<u64, u64> = Cache::new(100);
    for _ in 0..20 {
        for k in 0..50 {
            if cache.get(&k).is_none() {
                cache.insert(k, k);
            }
        }
    }
    for k in 1_000..101_000 {
        if cache.get(&k).is_none() {
            cache.insert(k, k); // each seen once: a scan
        }
    }
    let kept = (0..50).filter(|k| cache.contains_key(k)).count();
    assert!(
        kept >= 45,
        "only {kept} of the 50 popular keys survived the scan"
    );
}

#[test]
fn a_panicking_weigher_in_get_with_releases_the_waiters() {
    let cache: Cache<u64, u64> = Cache::builder()
        .max_capacity(100)
        .weigher(|_, v| {
            assert_ne!(*v, 0, "weigher refuses 0");
            1
        })
        .build();
    let leader = {
        let cache = cache.clone();
        std::thread::spawn(move || {
            cache.get_with(1, || {
                std::thread::sleep(ms(100));
                0
            })
        })
    };
    std::thread::sleep(ms(20));
    assert_eq!(cache.get_with(1, || 5), 5, "the waiter ran its own");
    assert!(leader.join().is_err());
}

#[test]
fn a_panicking_try_get_with_lets_a_waiter_run_its_own() {
    let cache: Cache<u64, u64> = Cache::new(100);
    let (leader, go) = held_leader({
        let cache = cache.clone();
        move |hold: Hold| {
            cache.try_get_with::<_, String>(1, || {
                hold.wait();
                panic!("initializer fails")
            })
        }
    });
    let waiter = {
        let cache = cache.clone();
        std::thread::spawn(move || cache.try_get_with::<_, String>(1, || Ok(4)))
    };
    waiting_behind_the_leader(&cache);
    go.send(()).unwrap();
    assert!(leader.join().is_err());
    assert_eq!(waiter.join().unwrap(), Ok(4));
    assert_eq!(cache.try_get_with::<_, String>(1, || unreachable!()), Ok(4));
}

#[test]
fn a_waiter_expecting_another_error_type_runs_its_own() {
    let cache: Cache<u64, u64> = Cache::new(100);
    let (leader, go) = failing_leader(&cache, "backend down");
    let waiter = {
        let cache = cache.clone();
        std::thread::spawn(move || cache.try_get_with(1, || Err::<u64, _>(7u32)))
    };
    waiting_behind_the_leader(&cache);
    go.send(()).unwrap();
    assert_eq!(*leader.join().unwrap().unwrap_err(), "backend down");
    assert_eq!(*waiter.join().unwrap().unwrap_err(), 7, "its own error");
}

#[test]
fn by_ref_variants_take_a_borrowed_key() {
    let cache: Cache<String, usize> = Cache::new(100);
    assert_eq!(cache.get_with_by_ref("a", || 1), 1);
    assert_eq!(cache.get_with_by_ref("a", || unreachable!()), 1);
    assert_eq!(cache.get(&"a".to_string()), Some(1));
    let failed = cache.try_get_with_by_ref("b", || Err::<usize, _>("down"));
    assert_eq!(*failed.unwrap_err(), "down");
    assert!(!cache.contains_key("b"), "an error is not cached");
    assert_eq!(cache.try_get_with_by_ref("b", || Ok::<_, ()>(2)), Ok(2));
    assert_eq!(cache.optionally_get_with_by_ref("c", || None), None);
    assert_eq!(cache.optionally_get_with_by_ref("c", || Some(3)), Some(3));
    assert_eq!(cache.entry_count(), 3);
}

#[test]
fn a_by_ref_waiter_shares_an_owned_leaders_value() {
    let cache: Cache<String, u64> = Cache::new(100);
    let (leader, go) = held_leader({
        let cache = cache.clone();
        move |hold: Hold| {
            cache.get_with("k".to_string(), || {
                hold.wait();
                7
            })
        }
    });
    let waiter = {
        let cache = cache.clone();
        std::thread::spawn(move || cache.get_with_by_ref("k", || unreachable!("waits")))
    };
    wait_until("a waiter behind the leader", || cache.stats().misses >= 2);
    go.send(()).unwrap();
    assert_eq!(leader.join().unwrap(), 7);
    assert_eq!(waiter.join().unwrap(), 7);
}

// ---- review: flight.rs ----

/// A cache with `listener` whose key 1 has expired, on a shut-down driver,
/// so no expiry job runs after the one the insert queues (which may still
/// find key 1 expired first: the tests retry then).
fn expired_key_one(
    listener: impl Fn(u64, u64, RemovalCause) + Send + Sync + 'static,
) -> Cache<u64, u64> {
    let clock = ManualClock::new();
    let driver = Driver::builder().clock(clock.clone()).build().unwrap();
    let cache: Cache<u64, u64> = driver
        .handle()
        .cache_builder()
        .time_to_live(ms(10))
        .eviction_listener(listener)
        .build();
    drop(driver);
    cache.insert(1, 1);
    clock.advance(ms(10));
    cache
}

/// `true` on the driver's callback threads (active expiry), not on a reader.
fn on_callback_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|n| n.ends_with("-callback"))
}

#[test]
fn review_a_panicking_listener_in_get_with_leaves_no_flight() {
    for _ in 0..100 {
        let cache = expired_key_one(|_, _, cause| {
            assert!(
                cause != RemovalCause::Expired || on_callback_thread(),
                "the listener panics"
            );
        });
        let first =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cache.get_with(1, || 2)));
        if first.is_ok() {
            continue; // the expiry job found it first
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let c = cache.clone();
        std::thread::spawn(move || tx.send(c.get_with(1, || 3)).unwrap());
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Ok(3),
            "a later get_with waits forever on the flight the panic left in the map"
        );
        return;
    }
    panic!("the expiry job always found the entry first");
}

#[test]
fn review_a_listener_may_get_with_the_key_it_is_told_expired() {
    for _ in 0..100 {
        let slot: Arc<std::sync::OnceLock<Cache<u64, u64>>> = Arc::default();
        let seen = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (in_listener, seen_in_listener) = (slot.clone(), seen.clone());
        let cache = expired_key_one(move |k, _, cause| {
            if cause == RemovalCause::Expired && !on_callback_thread() {
                seen_in_listener.store(true, Ordering::SeqCst);
                in_listener.get().unwrap().get_with(k, || 100); // refresh on expiry
            }
        });
        slot.set(cache.clone()).ok().unwrap();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let c = cache.clone();
        std::thread::spawn(move || tx.send(c.get_with(1, || 2)).unwrap());
        let got = rx.recv_timeout(Duration::from_secs(5));
        assert!(
            got.is_ok(),
            "get_with deadlocks: its listener waits on its own flight"
        );
        if seen.load(Ordering::SeqCst) {
            return;
        }
    }
    panic!("the expiry job always found the entry first");
}

#[test]
fn review_a_panicking_value_clone_in_get_with_releases_the_waiters() {
    /// Panics on the clone that takes `fuse` from 1 to 0.
    #[derive(Debug)]
    struct Touchy(u64, Arc<AtomicUsize>);
    impl Clone for Touchy {
        fn clone(&self) -> Self {
            assert_ne!(self.1.fetch_sub(1, Ordering::SeqCst), 1, "clone panics");
            Touchy(self.0, self.1.clone())
        }
    }
    let fuse = Arc::new(AtomicUsize::new(usize::MAX / 2));
    let cache: Cache<u64, Touchy> = Cache::new(100);
    let (leader, go) = held_leader({
        let (cache, fuse) = (cache.clone(), fuse.clone());
        move |hold: Hold| {
            cache.get_with(1, || {
                hold.wait();
                // The leader clones twice: for the insert, then for the
                // waiters. The second clone panics.
                fuse.store(2, Ordering::SeqCst);
                Touchy(1, fuse)
            })
        }
    });
    let (tx, rx) = crossbeam_channel::bounded(1);
    {
        let (cache, fuse) = (cache.clone(), fuse.clone());
        std::thread::spawn(move || tx.send(cache.get_with(1, || Touchy(2, fuse)).0).unwrap());
    }
    wait_until("a waiter behind the leader", || cache.stats().misses >= 2);
    go.send(()).unwrap();
    assert!(leader.join().is_err(), "the leader's clone panicked");
    assert!(
        rx.recv_timeout(Duration::from_secs(5)).is_ok(),
        "the waiter waits forever: the flight left the map but never landed"
    );
}

/// A cache built after its driver has run a while counts deadlines from its
/// own start: an entry lives exactly its TTL (the coarse clock's path, a
/// TTL of seconds), not that plus or minus the driver's age.
#[test]
fn deadlines_count_from_the_cache_not_the_driver() {
    let (clock, driver) = manual_driver();
    clock.advance(Duration::from_secs(5));
    let cache: Cache<u64, u64> = driver
        .handle()
        .cache_builder()
        .time_to_live(Duration::from_secs(2))
        .build();
    cache.insert(1, 10);
    clock.advance(Duration::from_secs(2) - Duration::from_nanos(1));
    assert_eq!(cache.get(&1), Some(10), "expired early");
    clock.advance(Duration::from_nanos(1));
    assert_eq!(cache.get(&1), None, "expired late");
}
