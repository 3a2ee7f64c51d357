//! loom models of the driver's races, run against the production `Shard` and
//! `Wakeup` (their lock and atomic come from loom under `--cfg tickless_loom`):
//!
//! `RUSTFLAGS="--cfg tickless_loom" cargo test -p tickless --lib --release models`

use std::panic::Location;
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use loom::thread;

use super::exact::{Exact, Stamp};
use super::shard::{Registration, Shard};
use super::wakeup::{Wakeup, IDLE};
use crate::queue::{Key, Wheel};

struct Flag;
impl Wake for Flag {
    fn wake(self: Arc<Self>) {}
}

fn waker() -> Waker {
    Waker::from(Arc::new(Flag))
}

fn registration(waker: &Waker) -> Registration {
    Registration {
        waker: Some(waker.clone()),
        site: Location::caller(),
        stamp: Stamp::new(0, 0),
    }
}

/// The exact-deadline arithmetic of `Wheel::new`'s 1 ms tick.
fn exact() -> Exact {
    Exact::new(1_000_000)
}

/// Registers a timer for `deadline` (a whole number of ticks: no `early`).
fn insert(shard: &Shard, origin: Instant, deadline: Instant, waker: &Waker) -> Key {
    let tick = Wheel::<()>::new(origin).tick_for(deadline);
    shard.insert(tick, registration(waker)).unwrap()
}

/// A registration racing the timer thread's scan is never missed: either the
/// scan saw it (the published plan is no later than it) or the registering
/// thread is told to wake the timer thread.
#[test]
fn registration_vs_scan_never_loses_a_wakeup() {
    loom::model(|| {
        let origin = Instant::now();
        let shard = Arc::new(Shard::new(Wheel::new(origin)));
        let wakeup = Arc::new(Wakeup::new());
        wakeup.publish(IDLE); // the thread was idle before this cycle
        let deadline = origin + Duration::from_millis(5);

        let registering = {
            let (shard, wakeup) = (shard.clone(), wakeup.clone());
            thread::spawn(move || {
                let tick = Wheel::<()>::new(origin).tick_for(deadline);
                shard.insert(tick, registration(&waker())).unwrap();
                wakeup.must_wake(tick)
            })
        };
        // The timer thread's cycle.
        wakeup.begin_scan();
        let mut wakers = Vec::new();
        let next = shard.expire(origin, &exact(), &mut wakers);
        let ticks = Wheel::<()>::new(origin);
        let plan = next.map_or(IDLE, |p| {
            ticks.tick_for(origin + Duration::from_nanos(p.wake_nanos))
        });
        wakeup.publish(plan);

        let woken = registering.join().unwrap();
        assert!(
            woken || plan <= ticks.tick_for(deadline),
            "lost wakeup: plan {plan}, not woken"
        );
    });
}

/// Cancel (a drop on another thread) racing the timer thread's expiry: the
/// timer is either fired once or cancelled, never both, never neither.
#[test]
fn cancel_vs_fire_exactly_one() {
    loom::model(|| {
        let origin = Instant::now();
        let shard = Arc::new(Shard::new(Wheel::new(origin)));
        let deadline = origin + Duration::from_millis(1);
        let key = insert(&shard, origin, deadline, &waker());

        let dropping = {
            let shard = shard.clone();
            thread::spawn(move || shard.cancel(key).is_some())
        };
        let mut wakers = Vec::new();
        shard.expire(deadline, &exact(), &mut wakers);
        let cancelled = dropping.join().unwrap();
        assert_eq!(
            cancelled as usize + wakers.len(),
            1,
            "cancelled {cancelled}, fired {}",
            wakers.len()
        );
        assert_eq!(shard.len(), 0);
    });
}

/// A poll that refreshes the waker racing the expiry: if the poll saw the
/// timer still pending, the expiry wakes the *new* waker; otherwise the poll
/// sees it fired.
#[test]
fn refresh_vs_fire_wakes_the_latest_waker() {
    loom::model(|| {
        let origin = Instant::now();
        let shard = Arc::new(Shard::new(Wheel::new(origin)));
        let deadline = origin + Duration::from_millis(1);
        let old = waker();
        let key = insert(&shard, origin, deadline, &old);
        let new = waker();

        let polling = {
            let (shard, new) = (shard.clone(), new.clone());
            thread::spawn(move || shard.refresh(key, &new))
        };
        let mut wakers = Vec::new();
        shard.expire(deadline, &exact(), &mut wakers);
        let still_pending = polling.join().unwrap();
        assert_eq!(wakers.len(), 1);
        if still_pending {
            assert!(wakers[0].will_wake(&new), "fired with a stale waker");
        } else {
            assert!(wakers[0].will_wake(&old));
        }
    });
}

/// Reset racing expiry: a reset that succeeds moves the timer (it does not
/// fire at the old deadline); one that fails found it already fired.
#[test]
fn reset_vs_fire() {
    loom::model(|| {
        let origin = Instant::now();
        let shard = Arc::new(Shard::new(Wheel::new(origin)));
        let deadline = origin + Duration::from_millis(1);
        let key = insert(&shard, origin, deadline, &waker());

        let resetting = {
            let shard = shard.clone();
            thread::spawn(move || shard.reset(key, 60_000, 0))
        };
        let mut wakers = Vec::new();
        shard.expire(deadline, &exact(), &mut wakers);
        let moved = resetting.join().unwrap();
        if moved {
            assert!(
                wakers.is_empty() && shard.len() == 1,
                "a moved timer fired at its old deadline"
            );
        } else {
            assert!(wakers.len() == 1 && shard.len() == 0);
        }
    });
}
