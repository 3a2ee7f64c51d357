//! Async timer workloads: tickless vs `tokio::time` vs `async-io` vs
//! `futures-timer`, shared by `cargo bench -p tickless --bench timers` and
//! `tickless demo` / `tickless bench`.
//!
//! Every implementation runs the same steps; only the constructor differs.
//! Peers are used as their docs say: tokio's timers inside a runtime with
//! the time driver enabled, async-io's and futures-timer's with their own
//! global threads.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// One timer implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    Tickless,
    Tokio,
    AsyncIo,
    FuturesTimer,
}

impl Impl {
    pub const ALL: [Impl; 4] = [
        Impl::Tickless,
        Impl::Tokio,
        Impl::AsyncIo,
        Impl::FuturesTimer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Impl::Tickless => "tickless",
            Impl::Tokio => "tokio",
            Impl::AsyncIo => "async-io",
            Impl::FuturesTimer => "futures-timer",
        }
    }

    /// A sleep of `d` as a boxed future (for the workloads that need one type).
    pub fn sleep(self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        match self {
            Impl::Tickless => Box::pin(tickless::sleep(d)),
            Impl::Tokio => Box::pin(tokio::time::sleep(d)),
            Impl::AsyncIo => Box::pin(async move {
                async_io::Timer::after(d).await;
            }),
            Impl::FuturesTimer => Box::pin(futures_timer::Delay::new(d)),
        }
    }

    pub fn sleep_until(self, t: Instant) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        match self {
            Impl::Tickless => Box::pin(tickless::sleep_until(t)),
            Impl::Tokio => Box::pin(tokio::time::sleep_until(t.into())),
            Impl::AsyncIo => Box::pin(async move {
                async_io::Timer::at(t).await;
            }),
            Impl::FuturesTimer => Box::pin(futures_timer::Delay::new(
                t.saturating_duration_since(Instant::now()),
            )),
        }
    }
}

/// A current-thread tokio runtime with timers enabled; every workload runs
/// inside it (tokio's timers need it, the others ignore it).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn noop_cx() -> Context<'static> {
    Context::from_waker(std::task::Waker::noop())
}

/// Polls once; panics if it completed (every churned timer is an hour out).
#[inline]
fn poll_pending<F: Future + ?Sized>(f: Pin<&mut F>, cx: &mut Context<'_>) {
    assert!(f.poll(cx).is_pending(), "an hour-long timer completed");
}

pub const HOUR: Duration = Duration::from_secs(3600);

/// Timer churn: create a one-hour timer, poll it once (registers), drop it
/// (cancels) — `ops` times. Each implementation's natural type, no boxing.
/// Must run inside `runtime().enter()`.
pub fn churn(imp: Impl, ops: u64) -> Duration {
    let mut cx = noop_cx();
    let start = Instant::now();
    match imp {
        Impl::Tickless => {
            for _ in 0..ops {
                let mut s = tickless::sleep(HOUR);
                poll_pending(Pin::new(&mut s), &mut cx);
            }
        }
        Impl::Tokio => {
            for _ in 0..ops {
                let s = std::pin::pin!(tokio::time::sleep(HOUR));
                poll_pending(s, &mut cx);
            }
        }
        Impl::AsyncIo => {
            for _ in 0..ops {
                let mut s = async_io::Timer::after(HOUR);
                poll_pending(Pin::new(&mut s), &mut cx);
            }
        }
        Impl::FuturesTimer => {
            for _ in 0..ops {
                let mut s = futures_timer::Delay::new(HOUR);
                poll_pending(Pin::new(&mut s), &mut cx);
            }
        }
    }
    start.elapsed()
}

/// `timeout` (or the implementation's equivalent) around a future that is
/// pending on its first poll and ready on its second — `ops` times.
pub fn timeout_pending_once(imp: Impl, ops: u64) -> Duration {
    let mut cx = noop_cx();
    let start = Instant::now();
    for _ in 0..ops {
        let inner = PendingOnce(false);
        match imp {
            Impl::Tickless => {
                let mut t = std::pin::pin!(tickless::timeout(HOUR, inner));
                poll_pending(t.as_mut(), &mut cx);
                assert!(t.poll(&mut cx).is_ready());
            }
            Impl::Tokio => {
                let mut t = std::pin::pin!(tokio::time::timeout(HOUR, inner));
                poll_pending(t.as_mut(), &mut cx);
                assert!(t.poll(&mut cx).is_ready());
            }
            Impl::AsyncIo => {
                // async-io has no timeout combinator; futures-lite's `or` is the idiom.
                let mut t = std::pin::pin!(futures_lite::FutureExt::or(
                    async {
                        inner.await;
                        Some(())
                    },
                    async {
                        async_io::Timer::after(HOUR).await;
                        None
                    }
                ));
                poll_pending(t.as_mut(), &mut cx);
                assert!(t.poll(&mut cx).is_ready());
            }
            Impl::FuturesTimer => {
                let mut t = std::pin::pin!(futures_lite::FutureExt::or(
                    async {
                        inner.await;
                        Some(())
                    },
                    async {
                        futures_timer::Delay::new(HOUR).await;
                        None
                    }
                ));
                poll_pending(t.as_mut(), &mut cx);
                assert!(t.poll(&mut cx).is_ready());
            }
        }
    }
    start.elapsed()
}

/// Pending on the first poll, ready on the second.
struct PendingOnce(bool);

impl Future for PendingOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Keeps `n` one-hour timers registered; returns them so the caller can
/// measure memory before dropping them.
pub fn hold_pending(imp: Impl, n: usize) -> Box<dyn std::any::Any> {
    let mut cx = noop_cx();
    match imp {
        Impl::Tickless => {
            let mut v: Vec<tickless::Sleep> = (0..n).map(|_| tickless::sleep(HOUR)).collect();
            for s in &mut v {
                poll_pending(Pin::new(s), &mut cx);
            }
            Box::new(v)
        }
        Impl::Tokio => {
            // tokio's Sleep is !Unpin: holding many means boxing each.
            let mut v: Vec<Pin<Box<tokio::time::Sleep>>> =
                (0..n).map(|_| Box::pin(tokio::time::sleep(HOUR))).collect();
            for s in &mut v {
                poll_pending(s.as_mut(), &mut cx);
            }
            Box::new(v)
        }
        Impl::AsyncIo => {
            let mut v: Vec<async_io::Timer> =
                (0..n).map(|_| async_io::Timer::after(HOUR)).collect();
            for s in &mut v {
                poll_pending(Pin::new(s), &mut cx);
            }
            Box::new(v)
        }
        Impl::FuturesTimer => {
            let mut v: Vec<futures_timer::Delay> =
                (0..n).map(|_| futures_timer::Delay::new(HOUR)).collect();
            for s in &mut v {
                poll_pending(Pin::new(s), &mut cx);
            }
            Box::new(v)
        }
    }
}

/// Polls `f` once with the calling task's real waker; panics if it completed.
async fn poll_once_in_task<F: Future + ?Sized>(mut f: Pin<&mut F>) {
    std::future::poll_fn(|cx| {
        poll_pending(f.as_mut(), cx);
        Poll::Ready(())
    })
    .await
}

/// One task's share of [`churn_in_tasks`].
async fn churn_task(imp: Impl, ops: u64) {
    for _ in 0..ops {
        match imp {
            Impl::Tickless => poll_once_in_task(std::pin::pin!(tickless::sleep(HOUR))).await,
            Impl::Tokio => poll_once_in_task(std::pin::pin!(tokio::time::sleep(HOUR))).await,
            Impl::AsyncIo => poll_once_in_task(std::pin::pin!(async_io::Timer::after(HOUR))).await,
            Impl::FuturesTimer => {
                poll_once_in_task(std::pin::pin!(futures_timer::Delay::new(HOUR))).await
            }
        }
    }
}

/// Churn as a server runs it: inside tasks of a multi-thread tokio runtime
/// (2 workers), polled with the tasks' real wakers, 10k other timers
/// pending. Two tasks each create, poll once and drop `ops` one-hour timers;
/// the wall time (so ns/op is per task, both running at once).
pub fn churn_in_tasks(imp: Impl, ops: u64) -> Duration {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async move {
        let background = hold_pending(imp, 10_000);
        let start = Instant::now();
        let tasks: Vec<_> = (0..2).map(|_| tokio::spawn(churn_task(imp, ops))).collect();
        for task in tasks {
            task.await.unwrap();
        }
        let took = start.elapsed();
        drop(background);
        took
    })
}

/// How far an idle timeout is pushed out on every read in [`reset_later`].
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The idle-timeout pattern: `live` registered sleeps (one per connection);
/// each op moves one of them (round robin) to `now + 30 s`, as a read on
/// that connection would, each in its idiomatic way: tickless
/// `reset_after(30 s)` (coarse clock), tokio and async-io
/// `reset(Instant::now() + 30 s)`, futures-timer `reset(30 s)`. The clock
/// read is part of the op, as in a server. Must run inside `runtime().enter()`.
pub fn reset_later(imp: Impl, live: usize, ops: u64) -> Duration {
    reset_later_with(imp, live, ops, false)
}

/// [`reset_later`], with tickless also reading `Instant::now()` exactly
/// (`reset(Instant::now() + 30 s)`) when `exact` is set.
pub fn reset_later_with(imp: Impl, live: usize, ops: u64, exact: bool) -> Duration {
    let mut cx = noop_cx();
    let live = live.max(1);
    match imp {
        Impl::Tickless => {
            let mut v: Vec<tickless::Sleep> =
                (0..live).map(|_| tickless::sleep(IDLE_TIMEOUT)).collect();
            for s in &mut v {
                poll_pending(Pin::new(s), &mut cx);
            }
            let start = Instant::now();
            if exact {
                round_robin(live, ops, |j| v[j].reset(Instant::now() + IDLE_TIMEOUT));
            } else {
                round_robin(live, ops, |j| v[j].reset_after(IDLE_TIMEOUT));
            }
            start.elapsed()
        }
        Impl::Tokio => {
            let mut v: Vec<Pin<Box<tokio::time::Sleep>>> = (0..live)
                .map(|_| Box::pin(tokio::time::sleep(IDLE_TIMEOUT)))
                .collect();
            for s in &mut v {
                poll_pending(s.as_mut(), &mut cx);
            }
            let start = Instant::now();
            round_robin(live, ops, |j| {
                v[j].as_mut()
                    .reset(tokio::time::Instant::now() + IDLE_TIMEOUT)
            });
            start.elapsed()
        }
        Impl::AsyncIo => {
            let mut v: Vec<async_io::Timer> = (0..live)
                .map(|_| async_io::Timer::after(IDLE_TIMEOUT))
                .collect();
            for s in &mut v {
                poll_pending(Pin::new(s), &mut cx);
            }
            let start = Instant::now();
            round_robin(live, ops, |j| v[j].set_at(Instant::now() + IDLE_TIMEOUT));
            start.elapsed()
        }
        Impl::FuturesTimer => {
            let mut v: Vec<futures_timer::Delay> = (0..live)
                .map(|_| futures_timer::Delay::new(IDLE_TIMEOUT))
                .collect();
            for s in &mut v {
                poll_pending(Pin::new(s), &mut cx);
            }
            let start = Instant::now();
            round_robin(live, ops, |j| v[j].reset(IDLE_TIMEOUT));
            start.elapsed()
        }
    }
}

/// Calls `f` with `0, 1, …, live − 1, 0, 1, …`, `ops` times: the round robin
/// over live timers without a division per op (a `%` would cost as much as
/// the cheapest reset measured).
#[inline]
fn round_robin(live: usize, ops: u64, mut f: impl FnMut(usize)) {
    let mut j = 0;
    for _ in 0..ops {
        f(j);
        j += 1;
        if j == live {
            j = 0;
        }
    }
}

/// `tasks` tasks on a tokio current-thread runtime all sleep until the same
/// instant; the time from that instant until the last has woken.
pub fn expiry(imp: Impl, tasks: usize) -> Duration {
    let rt = runtime();
    rt.block_on(async move {
        let at = Instant::now() + Duration::from_millis(200);
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async move {
                let handles: Vec<_> = (0..tasks)
                    .map(|_| tokio::task::spawn_local(imp.sleep_until(at)))
                    .collect();
                for h in handles {
                    h.await.unwrap();
                }
            })
            .await;
        Instant::now().saturating_duration_since(at)
    })
}

/// Lateness (actual − requested) of `samples` sequential sleeps of `d`,
/// sorted, on a tokio current-thread runtime.
pub fn lateness(imp: Impl, d: Duration, samples: usize) -> Vec<Duration> {
    let rt = runtime();
    let mut late: Vec<Duration> = rt.block_on(async move {
        let mut out = Vec::with_capacity(samples);
        for _ in 0..samples {
            let start = Instant::now();
            imp.sleep(d).await;
            let took = start.elapsed();
            assert!(took >= d, "{} woke {:?} early", imp.name(), d - took);
            out.push(took - d);
        }
        out
    });
    late.sort();
    late
}

/// The `q`-quantile of sorted samples.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `ops` churn steps on each of `threads` threads at once (each with its own
/// runtime context); wall time for all.
pub fn churn_threads(imp: Impl, threads: usize, ops: u64) -> Duration {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(threads + 1));
    let rt = std::sync::Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_time()
            .build()
            .unwrap(),
    );
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (barrier, rt) = (barrier.clone(), rt.clone());
            std::thread::spawn(move || {
                let _guard = rt.enter();
                churn(imp, 1000); // warm this thread's shard / context
                barrier.wait();
                black_box(churn(imp, ops));
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed()
}
