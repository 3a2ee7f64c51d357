//! Queue workloads shared by `cargo bench -p tickless --bench queue` and
//! `tickless demo` / `tickless bench`, so both measure exactly the same thing.
//!
//! Four structures behind one small trait: the wheel and the 4-ary heap, plus
//! std's `BTreeMap` (ordered map keyed by `(deadline, sequence)`; cancel by the
//! key the caller holds) and `BinaryHeap` (no removal: it cannot cancel, which
//! is why Go before 1.23 left stopped timers in its heap).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::hint::black_box;
use std::time::{Duration, Instant};

use tickless::queue::{Key, QuadHeap, TimerQueue, Wheel};

use crate::alloc::live_bytes;

/// Deterministic xorshift, so every structure sees the same deadlines.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// A uniformly random offset below `max` (which must not be zero).
    pub(crate) fn below(&mut self, max: Duration) -> Duration {
        Duration::from_nanos(self.next() % max.as_nanos() as u64)
    }
}

/// The operations the workloads need.
pub trait BenchQueue {
    const NAME: &'static str;
    /// `false` for `BinaryHeap`, which cannot remove an arbitrary entry.
    const CAN_CANCEL: bool = true;
    type Handle: Copy;
    fn new(origin: Instant) -> Self;
    fn insert(&mut self, deadline: Instant, value: u64) -> Self::Handle;
    fn cancel(&mut self, handle: Self::Handle) -> bool;
    fn next_deadline(&self) -> Option<Instant>;
    fn poll(&mut self, now: Instant) -> usize;
}

macro_rules! timer_queue {
    ($ty:ident, $name:literal) => {
        impl BenchQueue for $ty<u64> {
            const NAME: &'static str = $name;
            type Handle = Key;
            fn new(origin: Instant) -> Self {
                $ty::new(origin)
            }
            #[inline]
            fn insert(&mut self, deadline: Instant, value: u64) -> Key {
                TimerQueue::insert(self, deadline, value)
            }
            #[inline]
            fn cancel(&mut self, key: Key) -> bool {
                TimerQueue::cancel(self, key).is_some()
            }
            fn next_deadline(&self) -> Option<Instant> {
                TimerQueue::next_deadline(self)
            }
            fn poll(&mut self, now: Instant) -> usize {
                self.poll_expired(now, |k, v| {
                    black_box((k, v));
                })
            }
        }
    };
}
timer_queue!(Wheel, "wheel");
timer_queue!(QuadHeap, "4-ary heap");

/// `BTreeMap<(deadline, sequence), value>`.
pub struct BTreeQueue {
    map: BTreeMap<(Instant, u64), u64>,
    seq: u64,
}

impl BenchQueue for BTreeQueue {
    const NAME: &'static str = "BTreeMap";
    type Handle = (Instant, u64);
    fn new(_: Instant) -> Self {
        BTreeQueue {
            map: BTreeMap::new(),
            seq: 0,
        }
    }
    #[inline]
    fn insert(&mut self, deadline: Instant, value: u64) -> Self::Handle {
        self.seq += 1;
        self.map.insert((deadline, self.seq), value);
        (deadline, self.seq)
    }
    #[inline]
    fn cancel(&mut self, handle: Self::Handle) -> bool {
        self.map.remove(&handle).is_some()
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.map.first_key_value().map(|(&(d, _), _)| d)
    }
    fn poll(&mut self, now: Instant) -> usize {
        let mut n = 0;
        while let Some(entry) = self.map.first_entry() {
            if entry.key().0 > now {
                break;
            }
            black_box(entry.remove());
            n += 1;
        }
        n
    }
}

/// `BinaryHeap<Reverse<(deadline, value)>>`: insert and expire only.
pub struct BinaryHeapQueue(BinaryHeap<Reverse<(Instant, u64)>>);

impl BenchQueue for BinaryHeapQueue {
    const NAME: &'static str = "BinaryHeap";
    const CAN_CANCEL: bool = false;
    type Handle = ();
    fn new(_: Instant) -> Self {
        BinaryHeapQueue(BinaryHeap::new())
    }
    #[inline]
    fn insert(&mut self, deadline: Instant, value: u64) {
        self.0.push(Reverse((deadline, value)));
    }
    fn cancel(&mut self, _: ()) -> bool {
        false
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.0.peek().map(|r| r.0 .0)
    }
    fn poll(&mut self, now: Instant) -> usize {
        let mut n = 0;
        while self.0.peek().is_some_and(|r| r.0 .0 <= now) {
            black_box(self.0.pop());
            n += 1;
        }
        n
    }
}

/// How far ahead pending timers are spread: typical request timeouts.
pub const SPREAD: Duration = Duration::from_secs(3600);

/// Deadlines drawn up front, so the timed loop measures the queue, not the
/// random number generator or `Instant` arithmetic.
struct Deadlines {
    all: Vec<Instant>,
    next: usize,
}

impl Deadlines {
    fn new(origin: Instant, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        Deadlines {
            all: (0..4096).map(|_| origin + rng.below(SPREAD)).collect(),
            next: 0,
        }
    }
    #[inline]
    fn next(&mut self) -> Instant {
        self.next = (self.next + 1) & 4095;
        self.all[self.next]
    }
}

/// A queue holding `live` pending timers spread over `SPREAD`.
pub fn filled<Q: BenchQueue>(origin: Instant, live: usize, seed: u64) -> Q {
    let mut rng = Rng::new(seed);
    let mut q = Q::new(origin);
    for i in 0..live {
        q.insert(origin + rng.below(SPREAD), i as u64);
    }
    q
}

/// Timeout churn as a server does it: `live` requests in flight, each with a
/// timeout; every step one request finishes (its timeout is cancelled — the
/// oldest, so cancels land all over the queue, not on the entry just added)
/// and a new one starts.
pub struct Churn<Q: BenchQueue> {
    pub queue: Q,
    in_flight: Vec<Q::Handle>,
    oldest: usize,
    deadlines: Deadlines,
}

impl<Q: BenchQueue> Churn<Q> {
    pub fn new(live: usize) -> Self {
        let origin = Instant::now();
        let mut queue = Q::new(origin);
        let deadlines = Deadlines::new(origin, 7);
        let mut rng = Rng::new(11);
        let in_flight = (0..live.max(1))
            .map(|i| queue.insert(origin + rng.below(SPREAD), i as u64))
            .collect();
        Churn {
            queue,
            in_flight,
            oldest: 0,
            deadlines,
        }
    }

    /// One request finishes, one starts.
    #[inline]
    pub fn step(&mut self) {
        let slot = &mut self.in_flight[self.oldest];
        black_box(self.queue.cancel(*slot));
        *slot = self.queue.insert(self.deadlines.next(), 0);
        self.oldest += 1;
        if self.oldest == self.in_flight.len() {
            self.oldest = 0;
        }
    }
}

/// Time to fire every pending timer, polling at `next_deadline` as a driver
/// with exact wakeups would (the wheel cascades coarse slots on the way).
pub fn expire_stepwise<Q: BenchQueue>(q: &mut Q) -> (Duration, usize) {
    let start = Instant::now();
    let mut fired = 0;
    while let Some(at) = q.next_deadline() {
        fired += q.poll(at);
    }
    (start.elapsed(), fired)
}

/// Time to fire every pending timer in one poll (all overdue at once: a
/// driver waking late, or timers all due at the same instant).
pub fn expire_bulk<Q: BenchQueue>(q: &mut Q, origin: Instant) -> (Duration, usize) {
    let start = Instant::now();
    let fired = q.poll(origin + SPREAD);
    (start.elapsed(), fired)
}

/// Fills a queue with `live` timers and expires them all, in bulk or
/// stepwise; the expiry time. Panics if a timer is lost.
pub fn fill_and_expire<Q: BenchQueue>(live: usize, bulk: bool) -> Duration {
    let origin = Instant::now();
    let mut q: Q = filled(origin, live, 9);
    let (took, fired) = if bulk {
        expire_bulk(&mut q, origin)
    } else {
        expire_stepwise(&mut q)
    };
    assert_eq!(fired, live, "{} lost timers", Q::NAME);
    took
}

/// Heap bytes per pending timer at `live` timers (needs `CountingAlloc`).
pub fn bytes_per_timer<Q: BenchQueue>(origin: Instant, live: usize) -> f64 {
    let before = live_bytes();
    let q: Q = filled(origin, live, 42);
    let bytes = live_bytes().saturating_sub(before);
    black_box(&q);
    bytes as f64 / live as f64
}
