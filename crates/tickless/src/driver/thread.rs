//! The timer thread: start, restart after a crash, the park loop, shutdown,
//! and the platform pieces it needs (timer slack, the coarse clock).
//!
//! One cycle: `begin_scan`, expire every shard (each under its own lock),
//! publish the next wake-up time (`wakeup.rs` proves no registration is
//! missed), wake the fired tasks with no lock held, park until the plan —
//! the latest exact deadline of the next tick's timers, or that tick's
//! boundary (`exact.rs`).
//! With nothing pending it parks without a timeout: zero wakeups when idle.
//! A panicking waker is caught and counted; if the thread dies anyway, the
//! next registration restarts it (`Entry::register` → `after_insert`).

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use super::exact::Plan;
use super::wakeup::IDLE;
use super::Inner;
use crate::clock::{saturating_add, TimeListener};
use crate::sync::lock_std as lock;

/// The running timer thread, if any (behind `Inner::thread`).
#[derive(Default)]
pub(super) struct ThreadSlot {
    thread: Option<Thread>,
    join: Option<JoinHandle<()>>,
}

impl Inner {
    pub(super) fn start_thread(self: &Arc<Self>) -> io::Result<()> {
        let mut slot = lock(&self.thread);
        self.spawn_locked(&mut slot)
    }

    fn spawn_locked(self: &Arc<Self>, slot: &mut ThreadSlot) -> io::Result<()> {
        if self.thread_alive.load(Ordering::Acquire) || self.is_shut_down() {
            return Ok(());
        }
        if let Some(old) = slot.join.take() {
            let _ = old.join(); // it has died; reap it
        }
        let weak = Arc::downgrade(self);
        // Release: mark alive before it runs so concurrent registrations
        // (Acquire in `after_insert`) do not spawn twice.
        self.thread_alive.store(true, Ordering::Release);
        let join = thread::Builder::new()
            .name(self.thread_name.clone())
            .spawn(move || {
                if let Some(inner) = weak.upgrade() {
                    inner.run_timer_thread();
                }
            });
        match join {
            Ok(join) => {
                slot.thread = Some(join.thread().clone());
                slot.join = Some(join);
                Ok(())
            }
            Err(e) => {
                self.thread_alive.store(false, Ordering::Release);
                Err(e)
            }
        }
    }

    #[cold]
    pub(super) fn restart_thread(&self) {
        let Some(this) = self.me.upgrade() else {
            return;
        };
        let mut slot = lock(&this.thread);
        // A failed restart is retried by the next registration.
        let _ = this.spawn_locked(&mut slot);
    }

    pub(super) fn unpark_thread(&self) {
        let slot = lock(&self.thread);
        if let Some(thread) = &slot.thread {
            thread.unpark();
        }
    }

    /// Fires everything due at `now` across shards, on the calling thread
    /// (manual clocks, shutdown).
    pub(super) fn fire_due_now(&self, now: Instant) {
        let mut wakers = Vec::new();
        self.expire_all(now, &mut wakers);
        self.wake_all(&mut wakers);
    }

    /// Collects the wakers of every timer due at `now`; when to look next
    /// (the shards' plans merged, `exact.rs`).
    fn expire_all(&self, now: Instant, wakers: &mut Vec<Waker>) -> Option<Instant> {
        self.shards
            .iter()
            .filter_map(|s| s.expire(now, &self.exact, wakers))
            .reduce(Plan::merge)
            .map(|plan| self.instant_at(plan.wake_nanos))
    }

    fn wake_all(&self, wakers: &mut Vec<Waker>) {
        for waker in wakers.drain(..) {
            if catch_unwind(AssertUnwindSafe(|| waker.wake())).is_err() {
                // Relaxed: a statistic.
                self.wake_panics.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The timer thread's loop; see the module docs and `wakeup.rs`.
    fn run_timer_thread(self: Arc<Self>) {
        struct Alive<'a>(&'a AtomicBool);
        impl Drop for Alive<'_> {
            fn drop(&mut self) {
                // Release: pairs with the Acquire in `after_insert`.
                self.0.store(false, Ordering::Release);
            }
        }
        let _alive = Alive(&self.thread_alive);
        set_precise_timer_slack();
        let mut wakers = Vec::new();
        loop {
            if self.is_shut_down() {
                return;
            }
            #[cfg(test)]
            // Relaxed: a test hook; the unpark in `crash_for_test` delivers it.
            if self.crash.swap(false, Ordering::Relaxed) {
                panic!("tickless: timer thread crashed on request (test hook)");
            }
            // Relaxed: a statistic.
            self.wakeups.fetch_add(1, Ordering::Relaxed);
            self.wakeup.begin_scan();
            let now = self.clock.now();
            let next = self.expire_all(now, &mut wakers);
            let wake_at = next.map(|next| {
                let distance = next.saturating_duration_since(now);
                let pct = distance * self.slack_percent / 100;
                saturating_add(next, self.slack.max(pct))
            });
            self.wakeup
                .publish(wake_at.map_or(IDLE, |t| self.tick_for(t)));
            self.wake_all(&mut wakers);
            if wakers.capacity() > 1024 {
                wakers = Vec::new(); // a burst's worth of capacity goes back
            }
            match wake_at {
                None => thread::park(),
                Some(t) => {
                    let now = self.clock.now();
                    if t > now {
                        thread::park_timeout(t - now);
                    }
                }
            }
        }
    }

    /// Stops the thread, then completes every pending timer.
    pub(super) fn shut_down(&self) {
        // Release: pairs with the Acquire in `is_shut_down`.
        self.shut_down.store(true, Ordering::Release);
        let join = {
            let mut slot = lock(&self.thread);
            if let Some(thread) = &slot.thread {
                thread.unpark();
            }
            slot.thread = None;
            slot.join.take()
        };
        if let Some(join) = join {
            if join.thread().id() != thread::current().id() {
                let _ = join.join();
            }
        }
        // Every registered deadline lies before `never`, below the last
        // tick, so polling at the end of time empties every shard.
        self.fire_due_now(saturating_add(self.origin, Duration::MAX));
        // Their callbacks are queued now; the callback threads run them and
        // exit instead of idling for seconds.
        if let Some(callbacks) = self.callbacks.get() {
            callbacks.close();
        }
    }
}

impl TimeListener for Inner {
    fn time_moved(&self, now: Instant) {
        self.fire_due_now(now);
    }

    fn next_deadline(&self) -> Option<Instant> {
        if self.is_shut_down() {
            return None;
        }
        let nanos = self
            .shards
            .iter()
            .filter_map(|s| s.earliest(&self.exact))
            .min()?;
        Some(self.instant_at(nanos))
    }
}

/// Milliseconds of `CLOCK_MONOTONIC_COARSE` (Linux), else of `Instant`.
pub(super) fn coarse_clock_ms() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
        (t.tv_sec as u64).saturating_mul(1000) + (t.tv_nsec as u64) / 1_000_000
    }
    #[cfg(not(target_os = "linux"))]
    {
        static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        BASE.get_or_init(Instant::now).elapsed().as_millis() as u64
    }
}

/// Sets the calling thread's kernel timer slack to 1 ns so `park_timeout`
/// wakes when asked rather than up to 50 µs later (Linux only).
pub(crate) fn set_precise_timer_slack() {
    #[cfg(target_os = "linux")]
    {
        let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
    }
}

#[cfg(all(test, not(tickless_loom)))]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};
    use std::time::{Duration, Instant};

    use crate::Driver;

    fn alive(driver: &Driver) -> bool {
        driver.handle().inner().thread_alive.load(Ordering::Acquire)
    }

    fn crash(driver: &Driver) {
        // Relaxed: the unpark delivers it.
        driver.handle().inner().crash.store(true, Ordering::Relaxed);
        driver.handle().inner().unpark_thread();
    }

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let give_up = Instant::now() + Duration::from_secs(30);
        while !done() {
            assert!(Instant::now() < give_up, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[derive(Default)]
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn dead_timer_thread_is_restarted_by_the_next_timer() {
        let driver = Driver::builder().build().unwrap();
        assert!(alive(&driver));
        crash(&driver);
        wait_until("the thread to die", || !alive(&driver));

        let count = Arc::new(Count::default());
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut sleep = driver.handle().sleep(Duration::from_millis(3));
        assert!(sleep.poll_sleep(&mut cx).is_pending()); // restarts it
        assert!(alive(&driver));
        wait_until("the timer to fire", || count.0.load(Ordering::SeqCst) == 1);
        assert!(sleep.poll_sleep(&mut cx).is_ready());
    }

    #[test]
    fn a_panicking_waker_leaves_the_thread_alive() {
        struct Panicking;
        impl Wake for Panicking {
            fn wake(self: Arc<Self>) {
                panic!("waker panics on purpose");
            }
        }
        let driver = Driver::builder().build().unwrap();
        let waker = Waker::from(Arc::new(Panicking));
        let mut sleep = driver.handle().sleep(Duration::from_millis(2));
        assert!(sleep
            .poll_sleep(&mut Context::from_waker(&waker))
            .is_pending());
        wait_until("the panic to be counted", || {
            driver.handle().waker_panics() == 1
        });
        assert!(alive(&driver));
    }
}
