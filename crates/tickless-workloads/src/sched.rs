//! Scheduler workloads (`tickless::sched`, and tokio tasks where the
//! comparison applies) for `tickless bench sched`: the numbered scenarios
//! of the scheduler issue, measured in-process. The Java
//! (`ScheduledThreadPoolExecutor`) and Go (`AfterFunc`) anchors run the
//! same scenarios in their own processes (`anchors/`).
//!
//! | fn | scenario |
//! |---|---|
//! | [`churn`] | schedule + cancel of a one-hour job, 10k others pending |
//! | [`bytes_per_job`] | heap bytes per pending one-shot job (zero-sized closure) |
//! | [`periodic`] | the seed's load: N fixed-rate jobs on a pool, lateness |
//! | [`one_shots`], [`one_shots_tokio`] | 1M one-shot jobs due within a second |
//! | [`overload`] | producers offering twice what the workers can run |
//!
//! Lateness is measured inside the job, the same way in every anchor:
//! start − the deadline the caller asked for (so a deadline rounded up by
//! a timer counts as late). Memory comes from
//! [`live_bytes`], so the binary must install
//! [`CountingAlloc`](crate::alloc::CountingAlloc).

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tickless::sched::{RejectPolicy, Scheduler};

use crate::alloc::live_bytes;

const HOUR: Duration = Duration::from_secs(3600);

/// Signed nanoseconds from `due` to `now` (negative: early).
fn late_nanos(now: Instant, due: Instant) -> i64 {
    match now.checked_duration_since(due) {
        Some(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        None => -i64::try_from((due - now).as_nanos()).unwrap_or(i64::MAX),
    }
}

/// Quantiles of signed lateness samples (nanoseconds).
#[derive(Debug, Clone, Default)]
pub struct Lateness {
    sorted: Vec<i64>,
}

impl Lateness {
    pub fn new(mut samples: Vec<i64>) -> Self {
        samples.sort_unstable();
        Lateness { sorted: samples }
    }
    pub fn len(&self) -> usize {
        self.sorted.len()
    }
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }
    /// Samples below zero: runs that started before their deadline.
    pub fn early(&self) -> usize {
        self.sorted.partition_point(|&l| l < 0)
    }
    /// The `q`-quantile in nanoseconds (nearest rank; 0 when empty).
    pub fn quantile(&self, q: f64) -> f64 {
        if self.sorted.is_empty() {
            return 0.0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.sorted.len() as f64).ceil() as usize).max(1);
        self.sorted[rank.min(self.sorted.len()) - 1] as f64
    }
    pub fn max(&self) -> f64 {
        self.sorted.last().map_or(0.0, |&l| l as f64)
    }
}

/// `pairs` × (`schedule` of a one-hour job, then cancel), with `pending`
/// other one-hour jobs waiting; after a warm-up tenth. `explicit_cancel`:
/// `handle.cancel()` before the drop (else the drop alone cancels).
pub fn churn(pairs: u64, pending: usize, explicit_cancel: bool) -> Duration {
    let sched = Scheduler::builder()
        .workers(1)
        .name("bench churn")
        .build()
        .expect("a one-worker scheduler");
    let held: Vec<_> = (0..pending)
        .map(|_| sched.schedule(HOUR, || {}).expect("room for 10k"))
        .collect();
    let round = |n: u64| {
        let start = Instant::now();
        for _ in 0..n {
            let h = sched.schedule(HOUR, || {}).expect("room");
            if explicit_cancel {
                std::hint::black_box(h.cancel());
            }
            drop(h);
        }
        start.elapsed()
    };
    round(pairs / 10);
    let took = round(pairs);
    drop(held);
    took
}

/// Heap bytes per pending one-hour one-shot job, `n` pending: the
/// scheduler's own cost. The closure is zero-sized (a `Box` of it allocates
/// nothing), and the handles go to a `Vec` allocated before the count
/// starts, so they are not counted (a kept handle adds
/// `size_of::<JobHandle>()` wherever the caller keeps it; a detached job
/// costs exactly this).
///
/// The handles are kept, not detached, so dropping them empties the
/// scheduler job by job before it shuts down.
pub fn bytes_per_job(n: usize) -> f64 {
    let sched = Scheduler::builder()
        .workers(1)
        .max_pending(n + 1)
        .name("bench bytes")
        .build()
        .expect("a one-worker scheduler");
    // Warm-up: the driver and the wheel's first allocations are not per job.
    drop(sched.schedule(HOUR, || {}));
    let mut handles = Vec::with_capacity(n);
    let before = live_bytes();
    for _ in 0..n {
        handles.push(sched.schedule(HOUR, || {}).expect("max_pending is n + 1"));
    }
    let bytes = live_bytes().saturating_sub(before) as f64 / n as f64;
    assert_eq!(sched.metrics().pending, n, "every job pending");
    drop(handles);
    sched.shutdown_now();
    bytes
}

/// What [`periodic`] saw.
#[derive(Debug)]
pub struct Periodic {
    /// Measured in the job: start − (first deadline + k × period).
    pub lateness: Lateness,
    /// The scheduler's own dispatch-lateness histogram, p99 (bucket bound).
    pub metrics_p99: Option<Duration>,
}

/// `jobs` fixed-rate jobs every `period` on `workers` workers for
/// `run_for` (Java's `scheduleAtFixedRate`). The first deadlines are fixed
/// up front, so every anchor gets the same load however fast it submits:
/// all at one instant 200 ms from the start (time enough to submit;
/// `staggered == false`: every period begins with a burst of `jobs` runs),
/// or spread evenly over one period from there.
pub fn periodic(
    jobs: usize,
    period: Duration,
    workers: usize,
    run_for: Duration,
    staggered: bool,
) -> Periodic {
    let sched = Scheduler::builder()
        .workers(workers)
        .name("bench periodic")
        .build()
        .expect("a scheduler");
    let cap = jobs * ((run_for.as_secs_f64() / period.as_secs_f64()) as usize + 4);
    // One slot per run, claimed with a counter (as the Java anchor does).
    let samples: Arc<Vec<AtomicI64>> = Arc::new((0..cap).map(|_| AtomicI64::new(0)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now() + Duration::from_millis(200);
    let handles: Vec<_> = (0..jobs)
        .map(|j| {
            let first = if staggered {
                start + period.mul_f64(j as f64 / jobs as f64)
            } else {
                start
            };
            let mut k = 0u32;
            let (samples, next) = (samples.clone(), next.clone());
            sched
                .at_fixed_rate(
                    first.saturating_duration_since(Instant::now()),
                    period,
                    move || {
                        let late = late_nanos(Instant::now(), first + period * k);
                        k += 1;
                        // Relaxed: a unique slot index; the slots are read after
                        // shutdown, which joins the workers.
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if let Some(slot) = samples.get(i) {
                            slot.store(late, Ordering::Relaxed);
                        }
                    },
                )
                .expect("room for the periodic jobs")
        })
        .collect();
    std::thread::sleep(run_for);
    drop(handles);
    let metrics_p99 = sched.metrics().total.lateness.quantile(0.99);
    sched.shutdown();
    // Relaxed: the workers were joined by `shutdown`.
    let runs = next.load(Ordering::Relaxed).min(cap);
    let samples = samples[..runs].iter().map(|s| s.load(Ordering::Relaxed));
    Periodic {
        lateness: Lateness::new(samples.collect()),
        metrics_p99,
    }
}

/// What a one-shot run saw.
#[derive(Debug)]
pub struct OneShots {
    pub ran: u64,
    /// Jobs that ran zero times or more than once.
    pub not_exactly_once: u64,
    /// From the first `schedule` to the last run.
    pub took: Duration,
    /// From the first `schedule` to the return of the last.
    pub submitted: Duration,
    pub lateness: Lateness,
}

/// Shared by the job closures of a one-shot run.
struct Record {
    runs: Vec<AtomicU32>,
    late: Vec<AtomicI64>,
    done: AtomicU64,
    last: AtomicU64,
}

impl Record {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Record {
            runs: (0..n).map(|_| AtomicU32::new(0)).collect(),
            late: (0..n).map(|_| AtomicI64::new(0)).collect(),
            done: AtomicU64::new(0),
            last: AtomicU64::new(0),
        })
    }

    fn ran(&self, i: usize, due: Instant, t0: Instant) {
        let now = Instant::now();
        // Relaxed: the counters are read after `wait`, whose Acquire load
        // of `done` pairs with the AcqRel increment below.
        self.late[i].store(late_nanos(now, due), Ordering::Relaxed);
        self.runs[i].fetch_add(1, Ordering::Relaxed);
        self.last
            .fetch_max((now - t0).as_nanos() as u64, Ordering::Relaxed);
        // AcqRel: publishes this run's records to the waiting thread.
        self.done.fetch_add(1, Ordering::AcqRel);
    }

    /// Waits (up to a minute) for `n` runs, then a little more to see
    /// duplicates; summarises.
    fn wait(&self, n: u64, submitted: Duration) -> OneShots {
        let give_up = Instant::now() + Duration::from_secs(60);
        // Acquire: pairs with the AcqRel increment in `ran`.
        while self.done.load(Ordering::Acquire) < n && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        let ran = self.done.load(Ordering::Acquire);
        OneShots {
            ran,
            not_exactly_once: self
                .runs
                .iter()
                .filter(|r| r.load(Ordering::Relaxed) != 1)
                .count() as u64,
            took: Duration::from_nanos(self.last.load(Ordering::Relaxed)),
            submitted,
            lateness: Lateness::new(
                self.late
                    .iter()
                    .map(|l| l.load(Ordering::Relaxed))
                    .collect(),
            ),
        }
    }
}

/// `n` one-shot jobs due evenly within `within` of the start, on
/// `workers` workers, via `schedule_at`. The pool uses
/// [`RejectPolicy::Block`], so a run that comes due with the queue full
/// waits for room instead of being dropped (Java's queue is unbounded).
pub fn one_shots(n: usize, within: Duration, workers: usize) -> OneShots {
    let sched = Scheduler::builder()
        .workers(workers)
        .max_pending(n + 1)
        .reject(RejectPolicy::Block)
        .name("bench one-shots")
        .build()
        .expect("a scheduler");
    let rec = Record::new(n);
    let t0 = Instant::now();
    for i in 0..n {
        let due = t0 + within.mul_f64(i as f64 / n as f64);
        let rec = rec.clone();
        sched
            .schedule_at(due, move || rec.ran(i, due, t0))
            .expect("max_pending is n + 1")
            .detach();
    }
    let out = rec.wait(n as u64, t0.elapsed());
    sched.shutdown();
    out
}

/// [`one_shots`] as tokio tasks: `spawn` + `sleep_until` on a
/// `workers`-worker multi-thread runtime.
pub fn one_shots_tokio(n: usize, within: Duration, workers: usize) -> OneShots {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let rec = Record::new(n);
    let t0 = Instant::now();
    for i in 0..n {
        let due = t0 + within.mul_f64(i as f64 / n as f64);
        let rec = rec.clone();
        rt.spawn(async move {
            tokio::time::sleep_until(due.into()).await;
            rec.ran(i, due, t0);
        });
    }
    let out = rec.wait(n as u64, t0.elapsed());
    drop(rt);
    out
}

/// What [`overload`] saw.
#[derive(Debug)]
pub struct Overload {
    pub offered: u64,
    /// `execute` calls that returned `Err`.
    pub refused: u64,
    /// From the scheduler's metrics, after shutdown (queued runs finished).
    pub completed: u64,
    pub rejected: u64,
    pub caller_runs: u64,
    pub offered_per_sec: f64,
    /// Runs completed over the whole run, the drain at shutdown included.
    pub completed_per_sec: f64,
    /// Highest live heap growth seen by the producer, bytes.
    pub peak_bytes: usize,
}

/// A producer `execute`s jobs that each sleep `job` at `rate` per second
/// (paced against the clock) for `run_for`, on `workers` workers with a
/// `queue_capacity`-run queue and `policy`.
pub fn overload(
    policy: RejectPolicy,
    workers: usize,
    queue_capacity: usize,
    job: Duration,
    rate: f64,
    run_for: Duration,
) -> Overload {
    let sched = Scheduler::builder()
        .workers(workers)
        .queue_capacity(queue_capacity)
        .reject(policy)
        .name("bench overload")
        .build()
        .expect("a scheduler");
    let base = live_bytes();
    let (mut offered, mut refused, mut peak) = (0u64, 0u64, 0usize);
    let start = Instant::now();
    loop {
        let elapsed = start.elapsed();
        if elapsed >= run_for {
            break;
        }
        let target = (elapsed.as_secs_f64() * rate) as u64;
        // A producer held up (Block, CallerRuns) does not catch up later:
        // it offers only while the clock says it may, and never past the end.
        while offered < target && start.elapsed() < run_for {
            offered += 1;
            if sched.execute(move || std::thread::sleep(job)).is_err() {
                refused += 1;
            }
        }
        peak = peak.max(live_bytes().saturating_sub(base));
        std::thread::sleep(Duration::from_micros(200));
    }
    let offered_per_sec = offered as f64 / start.elapsed().as_secs_f64();
    sched.shutdown();
    let completed_per_sec = sched.metrics().total.completed as f64 / start.elapsed().as_secs_f64();
    let m = sched.metrics();
    Overload {
        offered,
        refused,
        completed: m.total.completed,
        rejected: m.rejected().iter().sum(),
        caller_runs: m.caller_runs,
        offered_per_sec,
        completed_per_sec,
        peak_bytes: peak,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_quantiles_and_early_runs() {
        let l = Lateness::new(vec![30, -5, 10, 20, 0]);
        assert_eq!(l.early(), 1);
        assert_eq!(l.quantile(0.0), -5.0);
        assert_eq!(l.quantile(0.5), 10.0, "nearest rank: the 3rd of 5");
        assert_eq!(l.quantile(1.0), 30.0);
        assert_eq!(l.max(), 30.0);
        assert_eq!(Lateness::default().quantile(0.99), 0.0);
    }

    #[test]
    fn one_shots_run_exactly_once_and_never_early() {
        for r in [
            one_shots(2_000, Duration::from_millis(20), 2),
            one_shots_tokio(2_000, Duration::from_millis(20), 2),
        ] {
            assert_eq!((r.ran, r.not_exactly_once), (2_000, 0));
            assert_eq!(r.lateness.early(), 0);
        }
    }

    /// Timing decides how many runs are rejected, never the accounting.
    #[test]
    fn overload_under_abort_accounts_for_every_offer() {
        let o = overload(
            RejectPolicy::Abort,
            1,
            4,
            Duration::from_millis(1),
            4_000.0,
            Duration::from_millis(200),
        );
        assert!(o.offered > 0);
        assert_eq!(o.rejected + o.completed, o.offered, "{o:?}");
        assert_eq!(o.refused, o.rejected, "{o:?}");
    }
}
