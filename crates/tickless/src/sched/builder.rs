//! [`Builder`] and the scheduler's vocabulary: [`RejectPolicy`], why a job
//! was refused ([`Rejected`]), why a scheduler could not start
//! ([`BuildError`]), and what the `on_reject` hook is told ([`Rejection`]).

use std::fmt;
use std::io;
use std::panic::Location;
use std::sync::Arc;

use super::Scheduler;
use crate::{Handle, MissedTickBehavior};

/// What happens to a job that finds its bound full (Java's four policies
/// plus `Block`).
///
/// A scheduler has two bounds: **pending** jobs waiting for their deadline
/// ([`Builder::max_pending`]), and **queued** runs that are due and wait for
/// a worker ([`Builder::queue_capacity`]). The policy decides at three
/// moments:
///
/// | policy | `execute`, queue full | `schedule*`, pending full | a run comes due, queue full |
/// |---|---|---|---|
/// | `Abort` (default) | `Err(Rejected)` | `Err(Rejected)` | the run is dropped |
/// | `Discard` | `Ok`, the job is dropped | `Ok`, the handle is not pending | the run is dropped |
/// | `DiscardOldest` | the oldest queued run is dropped, this one queued | the pending job due first is dropped, this one admitted | the oldest queued run is dropped, this one queued |
/// | `CallerRuns` | the caller runs it at once | a one-shot job: the caller waits for its deadline and runs it (`Err(Rejected)` instead if shut down meanwhile — learnt at the deadline); periodic: as `Block` | the run waits for room |
/// | `Block` | the caller waits for room | the caller waits for room | the run waits for room |
///
/// Every use of the policy is counted ([`SchedulerMetrics::rejected`](super::SchedulerMetrics::rejected))
/// and reported to the [`on_reject`](Builder::on_reject) hook.
///
/// At due time there is no caller to slow down, and the timer thread never
/// blocks: under `CallerRuns` and `Block` a due run that finds the queue full
/// waits (still counted pending, so bounded by `max_pending`) and is queued,
/// in deadline order, as soon as a worker takes a run — late, never lost.
/// A dropped run of a periodic job is only that run: the job keeps its
/// schedule. `DiscardOldest` at `schedule*` drops the whole pending job due
/// first (periodic or not) — first to the driver's resolution: of jobs in
/// the same 100 µs tick, any one; its handle then reports not pending.
///
/// **Inside a job** of the same scheduler, waiting could deadlock the pool
/// (every worker waiting for room only workers can make), so nothing waits:
/// `Block` and `CallerRuns` run an `execute`d job inline, and a `schedule*`
/// that would wait is refused with `Err(Rejected)` instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RejectPolicy {
    /// Refuse with an error (Java's `AbortPolicy`); at due time, drop the run.
    #[default]
    Abort,
    /// Drop the newcomer silently (counted and reported all the same).
    Discard,
    /// Drop the oldest waiting run (or pending job) to make room.
    DiscardOldest,
    /// The submitting thread runs the job itself, which slows the producer.
    CallerRuns,
    /// The submitting thread waits until there is room.
    Block,
}

impl RejectPolicy {
    /// All five, in declaration order (the index of [`SchedulerMetrics::rejected`](super::SchedulerMetrics::rejected)).
    pub const ALL: [RejectPolicy; 5] = [
        RejectPolicy::Abort,
        RejectPolicy::Discard,
        RejectPolicy::DiscardOldest,
        RejectPolicy::CallerRuns,
        RejectPolicy::Block,
    ];

    /// A short lowercase name (`"abort"`, `"caller_runs"`, …), as used in metrics.
    pub fn name(self) -> &'static str {
        match self {
            RejectPolicy::Abort => "abort",
            RejectPolicy::Discard => "discard",
            RejectPolicy::DiscardOldest => "discard_oldest",
            RejectPolicy::CallerRuns => "caller_runs",
            RejectPolicy::Block => "block",
        }
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// Why a job was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejected {
    /// The due-run queue was full and the policy refused the job.
    QueueFull,
    /// `max_pending` jobs were already waiting for their deadlines.
    PendingFull,
    /// The scheduler is shutting down or shut down.
    Shutdown,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rejected::QueueFull => "job rejected: the scheduler's queue is full",
            Rejected::PendingFull => "job rejected: too many jobs are pending",
            Rejected::Shutdown => "job rejected: the scheduler is shut down",
        })
    }
}

impl std::error::Error for Rejected {}

/// Why a scheduler could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// `workers(0)`: a pool needs at least one thread.
    ZeroWorkers,
    /// More workers than [`Builder::MAX_WORKERS`]: every worker is an
    /// operating-system thread, started by `build`.
    TooManyWorkers,
    /// `queue_capacity(0)`: due runs need somewhere to wait for a worker.
    ZeroQueueCapacity,
    /// `max_pending(0)`: no delayed job could ever be scheduled.
    ZeroMaxPending,
    /// The operating system refused to start a worker thread.
    SpawnThread(io::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroWorkers => f.write_str("a scheduler needs at least one worker"),
            BuildError::TooManyWorkers => write!(
                f,
                "a scheduler has at most {} workers",
                Builder::MAX_WORKERS
            ),
            BuildError::ZeroQueueCapacity => {
                f.write_str("a scheduler's queue capacity must be at least 1")
            }
            BuildError::ZeroMaxPending => {
                f.write_str("a scheduler's max_pending must be at least 1")
            }
            BuildError::SpawnThread(e) => write!(f, "cannot start a scheduler worker thread: {e}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::SpawnThread(e) => Some(e),
            _ => None,
        }
    }
}

/// Where a policy was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectedAt {
    /// In `execute` or `schedule*`, on the submitting thread.
    Submit,
    /// When a run came due and the queue was full.
    Due,
}

/// What the [`on_reject`](Builder::on_reject) hook is told, once per use of
/// the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The scheduler's policy.
    pub policy: RejectPolicy,
    /// Which bound was full: [`Rejected::QueueFull`] or [`Rejected::PendingFull`].
    pub reason: Rejected,
    /// When.
    pub at: RejectedAt,
    /// Where the job was submitted (its name in metrics).
    pub job: &'static Location<'static>,
}

pub(super) type RejectHook = Arc<dyn Fn(&Rejection) + Send + Sync + 'static>;

/// Configures and starts a [`Scheduler`]; from [`Scheduler::builder`].
///
/// ```
/// use std::time::Duration;
/// use tickless::sched::{RejectPolicy, Scheduler};
///
/// let sched = Scheduler::builder()
///     .workers(4)
///     .queue_capacity(1_000)
///     .max_pending(100_000)
///     .reject(RejectPolicy::CallerRuns)
///     .name("reports")
///     .build()?;
/// let (tx, rx) = crossbeam_channel::bounded(1);
/// let _job = sched.schedule(Duration::from_millis(1), move || tx.send("done").unwrap())?;
/// assert_eq!(rx.recv(), Ok("done"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Builder {
    pub(super) workers: usize,
    pub(super) queue_capacity: Option<usize>,
    pub(super) max_pending: usize,
    pub(super) policy: RejectPolicy,
    pub(super) name: String,
    pub(super) handle: Option<Handle>,
    pub(super) on_reject: Option<RejectHook>,
    pub(super) cancel_on_panic: bool,
    pub(super) missed: MissedTickBehavior,
    /// Lets a worker lead on a `ManualClock` (loom models only: its time
    /// does not pass while a thread waits, and loom's timed waits never
    /// time out, so a leader there is woken only by notifications).
    #[cfg(tickless_loom)]
    pub(super) lead_on_manual_clock: bool,
    /// Applies the short-run rule (`state/wake.rs`) on a `ManualClock`
    /// (loom models only): its runs take no time, so every run is short,
    /// and its stall check fires only when the model advances the clock.
    #[cfg(tickless_loom)]
    pub(super) drain_on_manual_clock: bool,
}

impl Builder {
    /// The most workers a scheduler may have: 32 767, the cap of Java's
    /// `ForkJoinPool`. Each is a thread started by [`build`](Self::build).
    pub const MAX_WORKERS: usize = 32_767;
    /// Default queue capacity: 1024 due runs per worker.
    pub const DEFAULT_QUEUE_PER_WORKER: usize = 1024;
    /// Default bound on jobs waiting for their deadline: 1,000,000 (about
    /// 100 MB of closures of 100 bytes; raise it knowingly).
    pub const DEFAULT_MAX_PENDING: usize = 1_000_000;

    pub(super) fn new() -> Self {
        Builder {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            queue_capacity: None,
            max_pending: Self::DEFAULT_MAX_PENDING,
            policy: RejectPolicy::default(),
            name: "tickless-sched".into(),
            handle: None,
            on_reject: None,
            cancel_on_panic: false,
            missed: MissedTickBehavior::Burst,
            #[cfg(tickless_loom)]
            lead_on_manual_clock: false,
            #[cfg(tickless_loom)]
            drain_on_manual_clock: false,
        }
    }

    /// Worker threads (default: the number of CPUs). Zero, or more than
    /// [`MAX_WORKERS`](Self::MAX_WORKERS), is a [`BuildError`].
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Due runs that may wait for a worker (default:
    /// [`DEFAULT_QUEUE_PER_WORKER`](Self::DEFAULT_QUEUE_PER_WORKER) per
    /// worker). Zero is a [`BuildError`].
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = Some(n);
        self
    }

    /// Jobs that may wait for their deadline (default
    /// [`DEFAULT_MAX_PENDING`](Self::DEFAULT_MAX_PENDING)); a periodic job
    /// counts as one. Zero is a [`BuildError`].
    pub fn max_pending(mut self, n: usize) -> Self {
        self.max_pending = n;
        self
    }

    /// What happens when a bound is full (default [`RejectPolicy::Abort`]).
    pub fn reject(mut self, policy: RejectPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Names the worker threads (`{name}-{i}`) and the scheduler in metrics
    /// (default `"tickless-sched"`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Runs the scheduler's timers on this driver (default: the global one).
    /// With a [`ManualClock`](crate::clock::ManualClock) driver, jobs come due
    /// as the test moves time. Shut the scheduler down before dropping an
    /// explicit driver: once the driver is gone no deadline comes, and jobs
    /// waiting for theirs stay pending (`execute`d jobs still run).
    pub fn handle(mut self, handle: Handle) -> Self {
        self.handle = Some(handle);
        self
    }

    /// Called once per use of the reject policy (the seed's "alert"). It runs
    /// on the submitting thread for rejections at submit time and on the
    /// driver's callback executor for rejections at due time; keep it short.
    pub fn on_reject(mut self, hook: impl Fn(&Rejection) + Send + Sync + 'static) -> Self {
        self.on_reject = Some(Arc::new(hook));
        self
    }

    /// Whether a periodic job that panics is cancelled (Java's behaviour) or
    /// keeps its schedule (the default, `false`). Panics are caught and
    /// counted either way.
    pub fn cancel_periodic_on_panic(mut self, cancel: bool) -> Self {
        self.cancel_on_panic = cancel;
        self
    }

    /// What a fixed-rate job does after runs that ended past its next
    /// deadline (default [`MissedTickBehavior::Burst`], as Java's
    /// `scheduleAtFixedRate` and tokio's `Interval`): `Burst` runs the
    /// missed deadlines back to back, `Delay` continues one period after the
    /// late run ended, `Skip` continues on the original grid. A job never
    /// runs twice at once whatever the choice.
    pub fn missed_tick_behavior(mut self, behavior: MissedTickBehavior) -> Self {
        self.missed = behavior;
        self
    }

    /// Starts the worker threads. Errors for zero workers, queue capacity or
    /// `max_pending`, and when a thread cannot be spawned.
    #[track_caller]
    pub fn build(self) -> Result<Scheduler, BuildError> {
        if self.workers == 0 {
            return Err(BuildError::ZeroWorkers);
        }
        if self.workers > Self::MAX_WORKERS {
            return Err(BuildError::TooManyWorkers);
        }
        if self.queue_capacity == Some(0) {
            return Err(BuildError::ZeroQueueCapacity);
        }
        if self.max_pending == 0 {
            return Err(BuildError::ZeroMaxPending);
        }
        Scheduler::start(self)
    }

    pub(super) fn capacity(&self) -> usize {
        self.queue_capacity
            .unwrap_or_else(|| self.workers.saturating_mul(Self::DEFAULT_QUEUE_PER_WORKER))
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field("queue_capacity", &self.capacity())
            .field("max_pending", &self.max_pending)
            .field("policy", &self.policy)
            .field("name", &self.name)
            .field("on_reject", &self.on_reject.is_some())
            .field("cancel_periodic_on_panic", &self.cancel_on_panic)
            .field("missed_tick_behavior", &self.missed)
            .finish_non_exhaustive()
    }
}
