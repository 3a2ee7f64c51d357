//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod alloc;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A waker that counts how often it was woken.
#[derive(Default)]
pub struct CountingWaker(AtomicUsize);

impl CountingWaker {
    pub fn new() -> (Arc<CountingWaker>, Waker) {
        let c = Arc::new(CountingWaker::default());
        let w = Waker::from(c.clone());
        (c, w)
    }
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The next value of `q` due now, polling by hand as a careful caller does:
/// a `Pending` that woke the task (the queue's cooperative yield, after 32
/// values in a row) means "poll again", any other `Pending` means nothing is
/// due. `None` also when the queue is empty.
pub fn expired_now<T>(q: &mut tickless::DelayQueue<T>) -> Option<tickless::Expired<T>> {
    let (woken, waker) = CountingWaker::new();
    loop {
        let before = woken.count();
        match q.poll_expired(&mut Context::from_waker(&waker)) {
            Poll::Ready(expired) => return expired,
            Poll::Pending if woken.count() > before => continue,
            Poll::Pending => return None,
        }
    }
}

/// A driver whose time moves only by hand, and its clock.
pub fn manual_driver() -> (tickless::clock::ManualClock, tickless::Driver) {
    let clock = tickless::clock::ManualClock::new();
    let driver = tickless::Driver::builder()
        .clock(clock.clone())
        .build()
        .unwrap();
    (clock, driver)
}

/// A scheduler of `workers` workers on `driver`.
pub fn sched(driver: &tickless::Driver, workers: usize) -> tickless::sched::Scheduler {
    tickless::sched::Scheduler::builder()
        .workers(workers)
        .handle(driver.handle().clone())
        .build()
        .unwrap()
}

/// [`manual_driver`] plus a root context on it.
pub fn manual_context() -> (
    tickless::clock::ManualClock,
    tickless::Driver,
    tickless::Context,
) {
    let (clock, driver) = manual_driver();
    let root = tickless::Context::background_on(driver.handle().clone());
    (clock, driver, root)
}

/// Polls `f` once with a waker that does nothing.
pub fn poll_noop<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    poll_once(f, Waker::noop())
}

/// Polls `f` once with `waker`.
pub fn poll_once<F: Future + Unpin>(f: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(waker))
}

/// Waits (up to 10 s) until `cond` holds.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Threads of this process whose name starts with `prefix`; `None` without
/// `/proc` (not Linux).
pub fn threads_named(prefix: &str) -> Option<usize> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    Some(
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.starts_with(prefix))
            .count(),
    )
}
