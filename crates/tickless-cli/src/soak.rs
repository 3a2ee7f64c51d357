//! `tickless soak`: a randomized mix of every public timer API on real
//! threads and the real clock, in phases, with checkers — never early,
//! nothing lost, no stale value after stop, every context cancelled exactly
//! once, memory and threads back to their baseline, no panic. Prints a
//! summary and exits non-zero on any violation.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use crossbeam_channel::{unbounded, TryRecvError};
use tickless::blocking::{after_func, Ticker, Timer};
use tickless::sched::Scheduler;
use tickless::{Context, DelayQueue};
use tickless_workloads::alloc::live_bytes;

#[derive(Args, Debug)]
pub struct SoakArgs {
    /// How long to run (seconds, 1 to 86400).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    secs: u64,
    /// Threads issuing operations (1 to 64).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    threads: u64,
    #[arg(long, value_name = "FILE", value_parser = crate::out::json_to,
          help = crate::out::JSON_HELP)]
    json: Option<crate::out::JsonTo>,
}

/// Violations by kind, counted by every checker.
#[derive(Default)]
struct Checks {
    ops: AtomicU64,
    early: AtomicU64,
    lost: AtomicU64,
    stale: AtomicU64,
    twice: AtomicU64,
    panics: AtomicU64,
}

impl Checks {
    fn fail(&self, what: &AtomicU64, msg: impl FnOnce() -> String) {
        // Relaxed: counters read after the threads are joined.
        if what.fetch_add(1, Ordering::Relaxed) < 3 {
            crate::note(format!("violation: {}", msg()));
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn micros(&mut self, max: u64) -> Duration {
        Duration::from_micros(self.next() % max)
    }
}

const WAIT: Duration = Duration::from_secs(10);

/// One randomized operation, checked.
fn op(rng: &mut Rng, c: &Checks, sched: &Scheduler) {
    // Relaxed: a counter.
    c.ops.fetch_add(1, Ordering::Relaxed);
    match rng.next() % 9 {
        0 => {
            let d = rng.micros(2_000);
            let t = Instant::now();
            futures_lite::future::block_on(tickless::sleep(d));
            if t.elapsed() < d {
                c.fail(&c.early, || {
                    format!("sleep({d:?}) woke after {:?}", t.elapsed())
                });
            }
        }
        1 => {
            let d = rng.micros(2_000);
            let t = Instant::now();
            let r =
                futures_lite::future::block_on(tickless::timeout(d, std::future::pending::<()>()));
            if r.is_ok() || t.elapsed() < d {
                c.fail(&c.early, || {
                    format!("timeout({d:?}) elapsed after {:?}", t.elapsed())
                });
            }
        }
        2 => {
            let period = Duration::from_micros(200 + rng.next() % 800);
            let start = Instant::now();
            let mut ticks = tickless::interval(period);
            for k in 0..3u32 {
                let at = futures_lite::future::block_on(ticks.tick());
                if Instant::now() < start + period * k || at < start + period * k {
                    c.fail(&c.early, || format!("interval tick {k} early"));
                }
            }
        }
        3 => {
            // Timer: fires once, not early; after a successful stop, no stale value.
            let d = rng.micros(3_000);
            let t = Instant::now();
            let timer = Timer::new(d);
            if rng.next().is_multiple_of(2) && timer.stop() {
                std::thread::sleep(d + Duration::from_millis(1));
                if timer.receiver().try_recv() != Err(TryRecvError::Empty) {
                    c.fail(&c.stale, || {
                        "Timer delivered after a stop that returned true".into()
                    });
                }
            } else {
                match timer.receiver().recv_timeout(d + WAIT) {
                    Ok(_) if t.elapsed() < d => c.fail(&c.early, || "Timer fired early".into()),
                    Ok(_) => {}
                    Err(_) => c.fail(&c.lost, || format!("Timer({d:?}) never fired")),
                }
            }
        }
        4 => {
            let period = Duration::from_micros(300 + rng.next() % 700);
            let t = Instant::now();
            let ticker = Ticker::new(period).expect("a non-zero period");
            for k in 1..=2u32 {
                match ticker.receiver().recv_timeout(WAIT) {
                    Ok(_) if t.elapsed() < period * k => c.fail(&c.early, || "Ticker early".into()),
                    Ok(_) => {}
                    Err(_) => c.fail(&c.lost, || "Ticker stopped ticking".into()),
                }
            }
            ticker.stop();
            std::thread::sleep(period * 2);
            if ticker.receiver().try_recv().is_ok() {
                c.fail(&c.stale, || "Ticker delivered after stop".into());
            }
        }
        5 => {
            // after_func: runs once unless a stop returned true, then never.
            let d = rng.micros(2_000);
            let (tx, rx) = unbounded();
            let t = Instant::now();
            let h = after_func(d, move || {
                let _ = tx.send(t.elapsed());
            });
            if rng.next().is_multiple_of(3) && h.stop() {
                std::thread::sleep(d + Duration::from_millis(2));
                if rx.try_recv().is_ok() {
                    c.fail(&c.stale, || "after_func ran after a successful stop".into());
                }
            } else {
                match rx.recv_timeout(d + WAIT) {
                    Ok(at) if at < d => c.fail(&c.early, || "after_func early".into()),
                    Ok(_) => {}
                    Err(_) => c.fail(&c.lost, || "after_func never ran".into()),
                }
                if rx.recv_timeout(Duration::from_millis(1)).is_ok() {
                    c.fail(&c.twice, || "after_func ran twice".into());
                }
            }
        }
        6 => {
            // A context tree: every node ends (by its timeout or its
            // parent's cancel), with a reason that never changes, and a node
            // ended by its timeout alone not before its deadline.
            let (root, guard) = Context::background().with_cancel();
            let d = rng.micros(2_000);
            let t = Instant::now();
            let kids: Vec<_> = (0..4).map(|_| root.with_timeout(d)).collect();
            let grandkids: Vec<_> = kids.iter().map(|(k, _)| k.with_cancel()).collect();
            let cancel_root = rng.next().is_multiple_of(2);
            if cancel_root {
                drop(guard);
            }
            for (ctx, _) in kids.iter().chain(grandkids.iter()) {
                let ended =
                    futures_lite::future::block_on(tickless::timeout(WAIT, ctx.cancelled()));
                if ended.is_err() {
                    c.fail(&c.lost, || "a context was never cancelled".into());
                    continue;
                }
                if !cancel_root && t.elapsed() < d {
                    c.fail(&c.early, || {
                        format!("a context with a {d:?} timeout ended early")
                    });
                }
                let first = ctx.err();
                if first.is_none() || ctx.err() != first {
                    c.fail(&c.twice, || "a context's end changed".into());
                }
            }
        }
        7 => {
            // A delay queue: each value once, not early; removed ones never.
            let mut q = DelayQueue::new();
            let t = Instant::now();
            let mut expect = 0;
            for i in 0..20u64 {
                let d = rng.micros(2_000);
                let key = q.insert((i, d), d);
                if rng.next().is_multiple_of(4) {
                    q.remove(&key);
                } else {
                    expect += 1;
                }
            }
            let mut seen = std::collections::HashSet::new();
            while let Some(e) = q.recv() {
                let (i, d) = e.into_inner();
                if t.elapsed() < d {
                    c.fail(&c.early, || "delay queue value early".into());
                }
                if !seen.insert(i) {
                    c.fail(&c.twice, || "delay queue value twice".into());
                }
            }
            if seen.len() != expect {
                c.fail(&c.lost, || {
                    format!("delay queue: {} of {expect} values", seen.len())
                });
            }
        }
        _ => {
            // The scheduler: the job runs once unless cancelled, never early.
            let d = rng.micros(2_000);
            let (tx, rx) = unbounded();
            let t = Instant::now();
            let job = sched.schedule(d, move || {
                let _ = tx.send(t.elapsed());
            });
            let Ok(job) = job else {
                return c.fail(&c.lost, || "scheduler refused a job".into());
            };
            if rng.next().is_multiple_of(3) && job.cancel() {
                std::thread::sleep(d + Duration::from_millis(2));
                if rx.try_recv().is_ok() {
                    c.fail(&c.stale, || "a cancelled job ran".into());
                }
            } else {
                match rx.recv_timeout(d + WAIT) {
                    Ok(at) if at < d => c.fail(&c.early, || "job ran early".into()),
                    Ok(_) => {}
                    Err(_) => c.fail(&c.lost, || "job never ran".into()),
                }
            }
        }
    }
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

pub fn run(args: &SoakArgs) -> ExitCode {
    crate::out::start(args.json.as_ref());
    let checks = Arc::new(Checks::default());
    // Before the baselines: the bar's ticking thread (on a terminal) is
    // counted in both, and its buffers are not growth.
    let mut progress = crate::progress::Progress::new("soak", args.secs).ticking();
    // Warm up what lives for the whole process (the global driver and its
    // callback pool), then take the baselines.
    futures_lite::future::block_on(tickless::sleep(Duration::from_millis(1)));
    let (base_threads, base_bytes) = (threads(), live_bytes());
    let end = Instant::now() + Duration::from_secs(args.secs);
    let phase_len = Duration::from_secs(args.secs.clamp(1, 10));
    let mut phases = 0;
    let mut worst_bytes = 0usize;
    while Instant::now() < end && !crate::stopped() {
        phases += 1;
        progress.step(format!("phase {phases}"));
        let sched = Scheduler::builder()
            .workers(2)
            .queue_capacity(1 << 16)
            .name("soak")
            .build()
            .expect("a scheduler");
        let phase_end = (Instant::now() + phase_len).min(end);
        std::thread::scope(|scope| {
            for t in 0..args.threads {
                let (checks, sched) = (checks.clone(), sched.clone());
                scope.spawn(move || {
                    let mut rng =
                        Rng(0x9E37_79B9_7F4A_7C15 ^ (t + 1).wrapping_mul(phases as u64 + 7));
                    while Instant::now() < phase_end && !crate::stopped() {
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            op(&mut rng, &checks, &sched)
                        }));
                        if r.is_err() {
                            checks.fail(&checks.panics, || "an operation panicked".into());
                        }
                    }
                });
            }
        });
        drop(sched);
        progress.set(args.secs - end.saturating_duration_since(Instant::now()).as_secs());
        // Memory follows live timers: after the phase, back near the baseline.
        let bytes = live_bytes().saturating_sub(base_bytes);
        worst_bytes = worst_bytes.max(bytes);
        crate::say(format!(
            "phase {phases}: {} ops so far, {:.1} KiB above the baseline",
            checks.ops.load(Ordering::Relaxed),
            bytes as f64 / 1024.0
        ));
    }
    // Idle callback threads exit after 5 s; scheduler threads are joined.
    progress.step("waiting for idle callback threads to exit");
    let settle = Instant::now();
    while threads() > base_threads && settle.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let extra_threads = threads().saturating_sub(base_threads);
    progress.finish();
    let c = &checks;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    const MEMORY_SLACK: usize = 8 << 20;
    let memory_ok = worst_bytes <= MEMORY_SLACK;
    crate::say(format!(
        "soak: {} s, {} threads, {phases} phases, {} ops; early {}, lost {}, stale {}, twice {}, panics {}; \
         memory after a phase at most {:.1} KiB above the baseline (limit {} MiB); {} extra threads at the end",
        args.secs,
        args.threads,
        get(&c.ops),
        get(&c.early),
        get(&c.lost),
        get(&c.stale),
        get(&c.twice),
        get(&c.panics),
        worst_bytes as f64 / 1024.0,
        MEMORY_SLACK >> 20,
        extra_threads
    ));
    let violations = get(&c.early) + get(&c.lost) + get(&c.stale) + get(&c.twice) + get(&c.panics);
    let ok = violations == 0 && memory_ok && extra_threads == 0;
    crate::say(if ok { "soak: ok" } else { "soak: FAILED" });
    if let Some(to) = &args.json {
        let doc = serde_json::json!({
            "secs": args.secs,
            "threads": args.threads,
            "phases": phases,
            "ops": get(&c.ops),
            "violations": {
                "early": get(&c.early),
                "lost": get(&c.lost),
                "stale": get(&c.stale),
                "twice": get(&c.twice),
                "panics": get(&c.panics),
            },
            "worst_bytes_above_baseline": worst_bytes,
            "memory_limit_bytes": MEMORY_SLACK,
            "extra_threads": extra_threads,
            "interrupted": crate::stopped(),
            "ok": ok,
        });
        if let Err(e) = crate::out::write_json(to, &doc) {
            crate::note(format!("error: {e}"));
            return ExitCode::FAILURE;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
