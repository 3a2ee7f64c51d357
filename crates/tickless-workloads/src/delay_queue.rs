//! Keyed delay queues side by side: `tickless::DelayQueue` and
//! `tokio_util::time::DelayQueue`, `u64` values, used as their docs say
//! (tokio-util's inside a tokio runtime with time enabled).

use std::hint::black_box;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;

use crate::alloc::live_bytes;
use crate::timers::runtime;

/// One delay queue implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    Tickless,
    TokioUtil,
}

impl Queue {
    pub const ALL: [Queue; 2] = [Queue::Tickless, Queue::TokioUtil];

    pub fn name(self) -> &'static str {
        match self {
            Queue::Tickless => "tickless",
            Queue::TokioUtil => "tokio-util",
        }
    }
}

const HOUR: Duration = Duration::from_secs(3600);

/// With `live` values pending, `ops` times: insert a value an hour out,
/// then remove it by its key. The elapsed time.
pub fn insert_remove(q: Queue, live: usize, ops: u64) -> Duration {
    let rt = runtime();
    let _guard = rt.enter();
    match q {
        Queue::Tickless => {
            let mut dq = tickless::DelayQueue::with_capacity(live + 1);
            for i in 0..live as u64 {
                dq.insert(i, HOUR);
            }
            let start = Instant::now();
            for i in 0..ops {
                let k = dq.insert(i, HOUR);
                black_box(dq.remove(&k));
            }
            start.elapsed()
        }
        Queue::TokioUtil => {
            let mut dq = tokio_util::time::DelayQueue::with_capacity(live + 1);
            for i in 0..live as u64 {
                dq.insert(i, HOUR);
            }
            let start = Instant::now();
            for i in 0..ops {
                let k = dq.insert(i, HOUR);
                black_box(dq.remove(&k));
            }
            start.elapsed()
        }
    }
}

/// With `live` values pending, `ops` times: move one (round robin) to 30 s
/// from now — the session-expiry pattern.
pub fn reset(q: Queue, live: usize, ops: u64) -> Duration {
    let rt = runtime();
    let _guard = rt.enter();
    let live = live.max(1);
    let later = Duration::from_secs(30);
    match q {
        Queue::Tickless => {
            let mut dq = tickless::DelayQueue::new();
            let keys: Vec<_> = (0..live as u64).map(|i| dq.insert(i, later)).collect();
            let start = Instant::now();
            for i in 0..ops {
                dq.reset(&keys[i as usize % live], later);
            }
            start.elapsed()
        }
        Queue::TokioUtil => {
            let mut dq = tokio_util::time::DelayQueue::new();
            let keys: Vec<_> = (0..live as u64).map(|i| dq.insert(i, later)).collect();
            let start = Instant::now();
            for i in 0..ops {
                dq.reset(&keys[i as usize % live], later);
            }
            start.elapsed()
        }
    }
}

/// Heap bytes per pending value with `n` values pending (needs `CountingAlloc`).
pub fn bytes_per_entry(q: Queue, n: usize) -> f64 {
    let rt = runtime();
    let _guard = rt.enter();
    let before = live_bytes();
    let grown = match q {
        Queue::Tickless => {
            let mut dq = tickless::DelayQueue::new();
            for i in 0..n as u64 {
                dq.insert(i, HOUR);
            }
            let grown = live_bytes().saturating_sub(before);
            drop(dq);
            grown
        }
        Queue::TokioUtil => {
            let mut dq = tokio_util::time::DelayQueue::new();
            for i in 0..n as u64 {
                dq.insert(i, HOUR);
            }
            let grown = live_bytes().saturating_sub(before);
            drop(dq);
            grown
        }
    };
    grown as f64 / n as f64
}

/// Inserts `n` values due spread over the next 100 ms, then takes them all
/// out as a stream; the time from the first insert until the last value.
pub fn drain(q: Queue, n: usize) -> Duration {
    let rt = runtime();
    rt.block_on(async move {
        let spread = 100_000u64; // µs
        let start = Instant::now();
        let mut got = 0;
        match q {
            Queue::Tickless => {
                let mut dq = tickless::DelayQueue::with_capacity(n);
                for i in 0..n as u64 {
                    dq.insert(i, Duration::from_micros(i * spread / n as u64));
                }
                while dq.next().await.is_some() {
                    got += 1;
                }
            }
            Queue::TokioUtil => {
                let mut dq = tokio_util::time::DelayQueue::with_capacity(n);
                for i in 0..n as u64 {
                    dq.insert(i, Duration::from_micros(i * spread / n as u64));
                }
                while dq.next().await.is_some() {
                    got += 1;
                }
            }
        }
        assert_eq!(got, n, "{} lost values", q.name());
        start.elapsed()
    })
}
