//! The demo's scheduler part: the seed's table — one load of periodic jobs
//! dispatched by a single-threaded timer, by a pool, and by async tasks —
//! measured here, then an overload run with its rejection counts.
//!
//! The load is the seed's shape: `tasks` jobs every `period`, all on the
//! same grid from t = 0 (Java's `scheduleAtFixedRate(task, 0, period)` per
//! task), each doing a fixed amount of CPU work. Latency is how late a run
//! starts after its grid point, measured inside the job the same way for
//! every dispatcher.

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tickless::sched::{RejectPolicy, Scheduler};

/// One dispatcher's result.
pub struct SchedRow {
    pub name: String,
    pub runs: usize,
    pub avg_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The overload run: offered = completed + rejected, exactly.
pub struct Overload {
    pub offered: u64,
    pub completed: u64,
    pub rejected: u64,
    pub secs: f64,
}

/// A fixed amount of CPU work (a few tens of µs here): the same for every
/// dispatcher, whatever the CPU contention.
fn work(rounds: u32) {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    black_box(x);
}

type Samples = Arc<Mutex<Vec<Duration>>>;

/// A job for one task: records how late each run starts after its point
/// on the grid `start + k·period`.
fn job(
    start: Instant,
    period: Duration,
    rounds: u32,
    samples: Samples,
) -> impl FnMut() + Send + 'static {
    let mut k = 0u32;
    move || {
        let due = start + period * k;
        k += 1;
        let late = Instant::now().saturating_duration_since(due);
        samples.lock().unwrap().push(late);
        work(rounds);
    }
}

fn row(name: &str, samples: &[Samples]) -> SchedRow {
    let mut all: Vec<Duration> = samples
        .iter()
        .flat_map(|s| s.lock().unwrap().clone())
        .collect();
    all.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let n = all.len().max(1);
    SchedRow {
        name: name.to_string(),
        runs: all.len(),
        avg_ms: ms(all.iter().sum::<Duration>()) / n as f64,
        p99_ms: all.get((n * 99 / 100).min(n - 1)).copied().map_or(0.0, ms),
        max_ms: all.last().copied().map_or(0.0, ms),
    }
}

/// Runs the load on a tickless pool of `workers` threads.
fn pool(
    workers: usize,
    tasks: usize,
    period: Duration,
    rounds: u32,
    run_for: Duration,
) -> Vec<Samples> {
    let sched = Scheduler::builder()
        .workers(workers)
        .queue_capacity(tasks.max(1))
        .reject(RejectPolicy::Block)
        .name("demo")
        .build()
        .expect("a scheduler");
    let start = Instant::now();
    let samples: Vec<Samples> = (0..tasks).map(|_| Samples::default()).collect();
    let handles: Vec<_> = samples
        .iter()
        .map(|s| {
            sched
                .at_fixed_rate(
                    Duration::ZERO,
                    period,
                    job(start, period, rounds, s.clone()),
                )
                .expect("room for every task")
        })
        .collect();
    std::thread::sleep(run_for);
    drop(handles);
    sched.shutdown();
    samples
}

/// Runs the load as tokio tasks, each ticking a tickless `Interval`.
fn tasks_on_tokio(tasks: usize, period: Duration, rounds: u32, run_for: Duration) -> Vec<Samples> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a tokio runtime");
    let start = Instant::now();
    let samples: Vec<Samples> = (0..tasks).map(|_| Samples::default()).collect();
    for s in &samples {
        let mut run = job(start, period, rounds, s.clone());
        rt.spawn(async move {
            let mut ticks = tickless::interval_at(start, period);
            loop {
                ticks.tick().await;
                // An interval that is behind (under valgrind it always is)
                // yields to the worker every 32 ticks on its own, so the
                // tasks see the shutdown below.
                run();
            }
        });
    }
    std::thread::sleep(run_for);
    rt.shutdown_background();
    samples
}

/// The seed's table: the same load on three dispatchers.
pub fn table(quick: bool) -> Vec<SchedRow> {
    let (tasks, run_for) = if quick {
        (50, Duration::from_millis(300))
    } else {
        (200, Duration::from_secs(3))
    };
    let period = Duration::from_millis(50);
    let rounds = 20_000;
    vec![
        row(
            "single-threaded timer (1 worker)",
            &pool(1, tasks, period, rounds, run_for),
        ),
        row(
            "thread pool (10 workers)",
            &pool(10, tasks, period, rounds, run_for),
        ),
        row(
            "async tasks (tokio, 2 workers, tickless intervals)",
            &tasks_on_tokio(tasks, period, rounds, run_for),
        ),
    ]
}

/// Producers offering about twice what two workers can run, into a queue
/// of 100 under `Abort`, for `secs`.
pub fn overload(quick: bool) -> Overload {
    let rounds = 20_000;
    // What one run costs here, to offer twice what 2 workers can take.
    let t = Instant::now();
    for _ in 0..200 {
        work(rounds);
    }
    let per_run = t.elapsed() / 200;
    let rate = 2.0 * 2.0 / per_run.as_secs_f64().max(1e-7);
    let secs = if quick { 0.3 } else { 2.0 };
    let sched = Scheduler::builder()
        .workers(2)
        .queue_capacity(100)
        .reject(RejectPolicy::Abort)
        .name("overload")
        .build()
        .expect("a scheduler");
    let start = Instant::now();
    let mut offered = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        while offered < due {
            let _ = sched.execute(move || work(rounds));
            offered += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    sched.shutdown();
    let m = sched.metrics();
    Overload {
        offered,
        completed: m.total.completed,
        rejected: m.rejected()[RejectPolicy::Abort as usize],
        secs,
    }
}
