//! [`Scheduler`]: delayed and periodic jobs on a bounded pool of worker
//! threads, with backpressure you can see.
//!
//! Java's `ScheduledThreadPoolExecutor` shape — `schedule`,
//! `at_fixed_rate`, `with_fixed_delay`, `execute`, a fixed pool — without
//! its traps:
//!
//! - **Cancelling frees the job at once** (O(1)); dropping its [`JobHandle`]
//!   cancels it, so a forgotten job cannot linger (Java keeps cancelled tasks
//!   queued until their delay runs out unless `setRemoveOnCancelPolicy`).
//! - **Both bounds are real**: jobs waiting for their deadline
//!   ([`Builder::max_pending`]) and due runs waiting for a worker
//!   ([`Builder::queue_capacity`]); a full bound applies the
//!   [`RejectPolicy`] — at submit time on the submitter, at due time
//!   without ever blocking the timer (see the policy's table).
//! - **A panicking periodic job keeps its schedule** (Java stops it,
//!   silently and for ever); panics are caught and counted.
//! - **A job that submits to its own full pool never deadlocks**: nothing
//!   waits inside a job (Go's `ants` deadlocks there).
//! - **Nothing fires early**, missed fixed-rate deadlines follow a
//!   [`MissedTickBehavior`](crate::MissedTickBehavior), and a periodic job
//!   never runs twice at once.
//! - **Dropping the last [`Scheduler`] shuts it down and joins its threads.**
//!
//! ```
//! use std::time::Duration;
//! use tickless::sched::Scheduler;
//!
//! let sched = Scheduler::builder().workers(2).queue_capacity(64).build()?;
//! let (tx, rx) = crossbeam_channel::unbounded();
//! let tick = {
//!     let tx = tx.clone();
//!     sched.at_fixed_rate(Duration::ZERO, Duration::from_millis(2), move || {
//!         let _ = tx.send("tick");
//!     })?
//! };
//! sched.schedule(Duration::from_millis(5), move || tx.send("once").unwrap())?.detach();
//! assert!(rx.iter().any(|m| m == "once"));
//! assert!(tick.cancel(), "a periodic job is pending until cancelled");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Shape and cost
//!
//! One lock per scheduler guards its own timing [`Wheel`](crate::queue::Wheel)
//! of pending jobs, the queue of due runs and the counters; one driver timer
//! stands for the whole wheel, armed for its next planned deadline (the
//! latest exact deadline of the earliest occupied tick, so a job runs at
//! its own deadline or at a later one of its 100 µs tick, never at the tick's
//! boundary when the tick holds 1024 jobs or fewer). `schedule` + cancel is
//! two lock round trips and O(1) wheel work, and touches the driver only
//! when the new job is due in a tick before the planned one (re-planning
//! walks at most 1024 jobs of that tick). When that timer fires (on the driver's
//! timer thread) the due jobs move to the queue and a waiting worker per run
//! is woken — unless recent runs were short (under 1 µs on average, on the
//! system clock): one worker then drains them, waking only when none is
//! awake, because handing the lock between cores costs more than such runs
//! (in the seed's burst of 1000 trivial runs on 2 vCPUs, ten woken workers
//! started the last run 2–3× later than one). While runs wait beside
//! waiting workers, a stall check looks every 250 µs (at the driver's
//! resolution) and wakes one more worker whenever no run was taken since it
//! last looked. So a run that blocks despite its short history (or a worker
//! that loses its core) delays the runs queued behind it by one or two
//! checks, and short jobs that wait for each other (a fork-join, a
//! rendezvous) get their extra workers one check at a time. The estimate
//! is of the runs alone; on a driver that has shut down every run wakes a
//! worker, as for long runs.
//!
//! On the system clock a worker that goes idle while a deadline is pending
//! *leads* (one at a time): it waits only
//! until the first pending deadline (when the earliest tick holds 8 jobs or
//! fewer; denser ticks are left to the driver timer) and then moves the due
//! jobs to the queue itself and runs the first, as Java's `ScheduledThreadPoolExecutor`
//! workers wait for the queue's head — one wake-up from a deadline to its
//! run instead of two (the timer thread, then a worker), and at the job's
//! own deadline rather than its tick's latest. The driver timer still fires
//! at its plan and serves whatever the leader did not reach (the leader was
//! busy, or the job was filed before the leader's deadline). Worker threads
//! run with 1 ns of kernel timer slack (Linux) so that wait ends when asked.
//!
//! Per pending one-shot job: the boxed closure, a
//! job record and a wheel slot (`tickless bench sched` measures the bytes).
//!
//! # Observability
//!
//! [`Scheduler::metrics`] reports pending, queued and running jobs, runs
//! completed and panicked, uses of the reject policy, and the dispatch
//! lateness (deadline → start) and run-time histograms (both recorded when
//! the run ends), per job name (the
//! line that submitted the job, up to [`MAX_JOB_NAMES`]). Pending and queued
//! jobs also count as live timers of the line that built the scheduler in
//! [`observe`](crate::observe) snapshots.
//!
//! # When to use something else
//!
//! Jobs live in this process: they do not survive a restart and are not
//! shared between machines. Durable or distributed scheduling belongs to a
//! database- or Redis-backed job queue or a workflow engine.

mod builder;
mod core;
mod jobs;
mod metrics;
#[cfg(test)]
mod model;
#[cfg(all(test, tickless_loom))]
mod models;
#[cfg(all(test, not(tickless_loom)))]
mod races;
mod state;
mod stats;

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use builder::{BuildError, Builder, RejectPolicy, Rejected, RejectedAt, Rejection};
pub(crate) use metrics::on_driver;
pub use metrics::{JobMetrics, SchedulerMetrics};
pub use stats::{Histogram, JobStats, BUCKETS, MAX_JOB_NAMES};

use self::core::Core;
use self::state::Phase;
use crate::sync::lock;
use crate::Handle;
use jobs::{JobId, Period, Periodic, Work};

/// A pool of worker threads running delayed, periodic and immediate jobs;
/// cheap to clone (all clones share the pool). See the [module docs](self).
///
/// Dropping the last clone shuts the pool down as [`shutdown`](Self::shutdown)
/// does and joins its threads — unless a `shutdown*` call did already: then
/// nothing more is waited for (the workers a timed-out
/// [`shutdown_timeout`](Self::shutdown_timeout) left exit when their jobs end).
/// A job that holds a clone of its own `Scheduler` (to submit more work)
/// keeps the pool alive while it is pending or queued — a periodic job for
/// ever: call [`shutdown`](Self::shutdown) to end such a pool.
#[derive(Clone)]
pub struct Scheduler {
    owner: Arc<Owner>,
}

/// Shuts the pool down when the last `Scheduler` goes (workers and job
/// handles hold the `Core`, not this).
struct Owner(Arc<Core>);

impl Drop for Owner {
    fn drop(&mut self) {
        // After an explicit `shutdown*` its choice stands: one that gave up
        // on a stuck job (`shutdown_timeout`) must not be undone by waiting
        // for that job here.
        if lock(&self.0.shared.state).phase == Phase::Open {
            self.0.shutdown(false, None);
        }
    }
}

impl Scheduler {
    /// A [`Builder`] with the defaults (one worker per CPU, 1024 queued runs
    /// per worker, `max_pending` 1,000,000, [`RejectPolicy::Abort`], the
    /// global driver).
    pub fn builder() -> Builder {
        Builder::new()
    }

    #[track_caller]
    fn start(builder: Builder) -> Result<Scheduler, BuildError> {
        let core = Core::start(builder)?;
        Ok(Scheduler {
            owner: Arc::new(Owner(core)),
        })
    }

    fn core(&self) -> &Arc<Core> {
        &self.owner.0
    }

    /// Runs `job` once, `delay` from now (never earlier). The returned
    /// handle cancels the job when dropped: keep it, or
    /// [`detach`](JobHandle::detach) it.
    ///
    /// Errors: [`Rejected::Shutdown`] after shutdown; with `max_pending`
    /// jobs waiting, what the [`RejectPolicy`] says.
    #[track_caller]
    pub fn schedule<F: FnOnce() + Send + 'static>(
        &self,
        delay: Duration,
        job: F,
    ) -> Result<JobHandle, Rejected> {
        let deadline = self.core().deadline_after(delay);
        self.file(Work::Once(Box::new(job)), deadline, Location::caller())
    }

    /// Runs `job` once at `deadline` (at once if it has passed).
    #[track_caller]
    pub fn schedule_at<F: FnOnce() + Send + 'static>(
        &self,
        deadline: Instant,
        job: F,
    ) -> Result<JobHandle, Rejected> {
        let deadline = self.core().deadline_at(deadline);
        self.file(Work::Once(Box::new(job)), deadline, Location::caller())
    }

    /// Runs `job` as soon as a worker is free. Errors: [`Rejected::Shutdown`]
    /// after shutdown; with the queue full, what the [`RejectPolicy`] says.
    #[track_caller]
    pub fn execute<F: FnOnce() + Send + 'static>(&self, job: F) -> Result<(), Rejected> {
        self.core()
            .execute(Work::Once(Box::new(job)), Location::caller())
    }

    /// Runs `job` first after `initial_delay`, then every `period` on a fixed
    /// grid (Java's `scheduleAtFixedRate`); runs that end late follow the
    /// builder's [`missed_tick_behavior`](Builder::missed_tick_behavior). A
    /// `period` below the driver's resolution is raised to it.
    #[track_caller]
    pub fn at_fixed_rate<F: FnMut() + Send + 'static>(
        &self,
        initial_delay: Duration,
        period: Duration,
        job: F,
    ) -> Result<JobHandle, Rejected> {
        let missed = lock(&self.core().shared.state).missed;
        let period = Period::Rate(period.max(self.handle().resolution()), missed);
        self.periodic(initial_delay, period, Box::new(job), Location::caller())
    }

    /// Runs `job` first after `initial_delay`, then `delay` after the end
    /// of each run (Java's `scheduleWithFixedDelay`). A `delay` below the
    /// driver's resolution is raised to it.
    #[track_caller]
    pub fn with_fixed_delay<F: FnMut() + Send + 'static>(
        &self,
        initial_delay: Duration,
        delay: Duration,
        job: F,
    ) -> Result<JobHandle, Rejected> {
        let period = Period::Delay(delay.max(self.handle().resolution()));
        self.periodic(initial_delay, period, Box::new(job), Location::caller())
    }

    fn periodic(
        &self,
        initial_delay: Duration,
        period: Period,
        run: jobs::Repeat,
        site: &'static Location<'static>,
    ) -> Result<JobHandle, Rejected> {
        let deadline = self.core().deadline_after(initial_delay);
        let work = Work::Periodic(Box::new(Periodic { run, period }));
        self.file(work, deadline, site)
    }

    /// Files `work` for `deadline`, nanoseconds after the scheduler's origin.
    fn file(
        &self,
        work: Work,
        deadline: u64,
        site: &'static Location<'static>,
    ) -> Result<JobHandle, Rejected> {
        let id = self.core().schedule(work, deadline, site)?;
        Ok(JobHandle {
            core: self.core().clone(),
            id: AtomicU64::new(id.map_or(JobId::NONE, JobId::to_bits)),
        })
    }

    /// Stops accepting jobs (they get [`Rejected::Shutdown`]), cancels every
    /// pending job and every periodic job's future runs, lets running and
    /// queued runs finish, and joins the worker threads. Called from inside
    /// a job, it does not wait for that job's own thread.
    pub fn shutdown(&self) {
        self.core().shutdown(false, None);
    }

    /// [`shutdown`](Self::shutdown), waiting at most `timeout`; then runs
    /// still queued are dropped and workers still running a job are left to
    /// exit when it ends. `true` if every worker exited in time. A timeout
    /// too long to represent (`Duration::MAX`) waits as `shutdown` does.
    pub fn shutdown_timeout(&self, timeout: Duration) -> bool {
        self.core().shutdown(false, Some(timeout))
    }

    /// Stops at once: pending jobs and queued runs are dropped unrun, and
    /// the workers exit when their current run ends (a running job cannot
    /// be interrupted); waits for that and joins them.
    pub fn shutdown_now(&self) {
        self.core().shutdown(true, None);
    }

    /// The driver this scheduler's timers run on.
    pub fn handle(&self) -> &Handle {
        &self.core().shared.handle
    }

    /// Counts and histograms (see the [module docs](self#observability)).
    pub fn metrics(&self) -> SchedulerMetrics {
        self.core().shared.metrics()
    }
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.core().shared;
        f.debug_struct("Scheduler")
            .field("name", &shared.name)
            .field("workers", &shared.workers)
            .finish_non_exhaustive()
    }
}

/// Owns one job: dropping it cancels the job (leak-free by default);
/// [`detach`](Self::detach) lets the job run without it.
#[must_use = "dropping a JobHandle cancels its job; call .detach() to keep it running"]
pub struct JobHandle {
    core: Arc<Core>,
    /// The job's id packed into a word; [`JobId::NONE`] when the job was
    /// never filed (discarded, or run by the caller), or once cancelled or
    /// detached — so a drop after `cancel` costs no lock.
    id: AtomicU64,
}

impl JobHandle {
    /// Cancels the job and frees it at once. `true` if that prevented a run:
    /// the job was pending or queued, or it is periodic. A one-shot job
    /// already running finishes; a periodic one finishes its current run
    /// and never runs again.
    pub fn cancel(&self) -> bool {
        // Relaxed: the swap only decides who cancels (once); the scheduler's
        // lock orders the cancel itself.
        let id = self.id.swap(JobId::NONE, Ordering::Relaxed);
        JobId::from_bits(id).is_some_and(|id| self.core.cancel(id))
    }

    /// Lets the job run with no handle (a periodic job then runs until
    /// shutdown).
    pub fn detach(self) {
        // Relaxed: the handle is ours alone here.
        self.id.store(JobId::NONE, Ordering::Relaxed);
    }

    /// `true` while the job has a run that has not started: a one-shot job
    /// until it starts, a periodic job until cancelled (except during its
    /// runs) or shut down.
    pub fn is_pending(&self) -> bool {
        // Relaxed: see `cancel`.
        JobId::from_bits(self.id.load(Ordering::Relaxed))
            .is_some_and(|id| lock(&self.core.shared.state).is_pending(id))
    }
}

impl Drop for JobHandle {
    fn drop(&mut self) {
        // `&mut self`: no other reference to the handle exists, so a plain
        // read replaces `cancel`'s atomic swap (one read-modify-write fewer
        // per dropped handle).
        let id = std::mem::replace(self.id.get_mut(), JobId::NONE);
        if let Some(id) = JobId::from_bits(id) {
            self.core.cancel(id);
        }
    }
}

impl fmt::Debug for JobHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobHandle")
            .field("pending", &self.is_pending())
            .finish_non_exhaustive()
    }
}
