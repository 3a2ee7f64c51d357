//! Timer-thread wake-ups under many timers: `timers` tasks each sleep a
//! random duration and sleep again as soon as they wake, on a tokio
//! current-thread runtime of their own thread, for tickless, tokio and
//! async-io; counted from the kernel's per-thread context switches.
//!
//! Each implementation drives its timers on a different thread, so both are
//! reported: the thread that waits for deadlines (tickless's
//! `tickless-timer`, async-io's `async-io`; tokio's time driver runs on the
//! runtime thread itself) and the runtime thread the tasks run on (woken by
//! the former, or by its own driver). A wake-up is one voluntary context
//! switch: the thread blocked (in a futex, `epoll_wait`…) and was woken. Only
//! Linux exposes them (`/proc/self/task/*/status`); elsewhere the counts are
//! `None`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::queues::Rng;
use crate::timers::{runtime, Impl};

/// The name of the thread the tasks run on.
const RUNTIME_THREAD: &str = "wakeups-rt";

/// What one run measured.
#[derive(Debug, Clone, Copy)]
pub struct Wakeups {
    /// Timers that fired, per second.
    pub fires_per_sec: f64,
    /// Wake-ups per second of the thread that waits for the deadlines
    /// (`None`: not measurable here).
    pub timer_thread_per_sec: Option<f64>,
    /// Wake-ups per second of the runtime thread the tasks run on.
    pub runtime_thread_per_sec: Option<f64>,
}

/// The thread that waits for `imp`'s deadlines, by name.
pub fn timer_thread(imp: Impl) -> &'static str {
    match imp {
        Impl::Tickless => "tickless-timer",
        Impl::Tokio => RUNTIME_THREAD,
        Impl::AsyncIo => "async-io",
        Impl::FuturesTimer => "futures-timer",
    }
}

/// `timers` tasks sleeping uniformly random durations in `[min, max)`,
/// re-armed as they fire: wake-ups per second over `secs` after `warmup`.
pub fn random_deadlines(
    imp: Impl,
    timers: usize,
    (min, max): (Duration, Duration),
    warmup: Duration,
    secs: Duration,
) -> Wakeups {
    let fires = Arc::new(AtomicU64::new(0));
    let stop = Stop::default();
    let runner = {
        let (fires, stop) = (fires.clone(), stop.clone());
        std::thread::Builder::new()
            .name(RUNTIME_THREAD.into())
            .spawn(move || run_tasks(imp, timers, (min, max), fires, stop))
            .expect("a thread for the runtime")
    };
    std::thread::sleep(warmup);
    let before = (switches(timer_thread(imp)), switches(RUNTIME_THREAD));
    let fired = fires.load(Ordering::Relaxed);
    let start = Instant::now();
    std::thread::sleep(secs);
    let after = (switches(timer_thread(imp)), switches(RUNTIME_THREAD));
    let fired = fires.load(Ordering::Relaxed) - fired;
    let elapsed = start.elapsed().as_secs_f64();
    stop.stop();
    runner.join().expect("the runtime thread");
    let rate = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?) as f64 / elapsed);
    Wakeups {
        fires_per_sec: fired as f64 / elapsed,
        timer_thread_per_sec: rate(before.0, after.0),
        runtime_thread_per_sec: rate(before.1, after.1),
    }
}

fn run_tasks(
    imp: Impl,
    timers: usize,
    (min, max): (Duration, Duration),
    fires: Arc<AtomicU64>,
    stop: Stop,
) {
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    let span = max.saturating_sub(min).max(Duration::from_nanos(1));
    for i in 0..timers {
        let fires = fires.clone();
        let mut rng =
            Rng::new(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9));
        local.spawn_local(async move {
            loop {
                imp.sleep(min + rng.below(span)).await;
                // Relaxed: a counter read after the run.
                fires.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    rt.block_on(local.run_until(stop));
}

/// A future that completes once [`Stop::stop`] is called (no timer of its own).
#[derive(Clone, Default)]
struct Stop(Arc<(AtomicBool, Mutex<Option<Waker>>)>);

impl Stop {
    fn stop(&self) {
        // Release: pairs with the Acquire in `poll`.
        self.0 .0.store(true, Ordering::Release);
        if let Some(w) = self.0 .1.lock().unwrap().take() {
            w.wake();
        }
    }
}

impl Future for Stop {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.0 .1.lock().unwrap() = Some(cx.waker().clone());
        // Acquire: see `stop`; checked after storing the waker, so a stop in
        // between still wakes us.
        if self.0 .0.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Voluntary context switches, summed over this process's threads named `name`.
fn switches(name: &str) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let mut total = None;
        for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let path = task.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            if comm.trim_end() != name {
                continue;
            }
            let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
            let n = status
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse::<u64>().ok());
            if let Some(n) = n {
                total = Some(total.unwrap_or(0) + n);
            }
        }
        total
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = name;
        None
    }
}
