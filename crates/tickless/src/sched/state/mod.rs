//! The scheduler's state under its one lock, and every move a job makes:
//! wheel (pending) → queue (due, waiting for a worker) → running → freed,
//! or back to the wheel for a periodic job. No threads here: the callers
//! (`core.rs`) act on the [`Effects`] each move returns, after unlocking.
//!
//! # Counts (the invariants the model test checks)
//!
//! - `pending` = jobs in the wheel + due runs in `overflow` (bounded by
//!   `max_pending` at submit; a periodic job re-filing itself is not a
//!   submit);
//! - `queued` = live ids in `ready` (bounded by `capacity`);
//! - `running` = runs taken by workers and not finished;
//! - `overflow` is non-empty only while `queued == capacity`.
//!
//! `ready` and `overflow` may hold stale ids (cancelled jobs: the slab's
//! generation tells); they are skipped when met and compacted when they
//! outnumber live ones.

mod period;
mod plan;
mod run;
mod shed;
mod wake;

use std::collections::VecDeque;
use std::panic::Location;
use std::time::{Duration, Instant};

use super::builder::{RejectPolicy, Rejected, RejectedAt, Rejection};
use super::jobs::{At, JobId, Jobs, Work};
use super::stats::Stats;
use crate::clock::nanos_since;
use crate::queue::{TimerQueue, Wheel};
use crate::MissedTickBehavior;
use period::next_deadline;
#[cfg(test)]
pub(super) use run::Taken;
pub(super) use wake::{Stall, STALL};

/// Whether the scheduler takes work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Open,
    /// `shutdown`: no new jobs, no future runs; queued runs still run.
    Draining,
    /// `shutdown_now` (or a drain that timed out): nothing more runs.
    Stopped,
}

/// What a move asks its caller to do once the lock is released.
#[derive(Default)]
pub(super) struct Effects {
    /// Re-arm the driver timer: a job was filed in an earlier tick than its
    /// plan (or with nothing planned).
    pub(super) arm: bool,
    /// Runs queued: wake that many workers.
    pub(super) queued: usize,
    /// Room was made (queue or pending): wake blocked submitters.
    pub(super) room: bool,
    /// Rejections and work dropped unrun: rare, so kept out of line — the
    /// `Effects` of nearly every move has none, and drops with one check
    /// (two empty vectors cost ~30 instructions a move to drop, 5 % of a
    /// `schedule` + cancel).
    pub(super) shed: Option<Box<Shed>>,
}

/// The rare part of [`Effects`].
#[derive(Default)]
pub(super) struct Shed {
    /// Uses of the reject policy, for the hook.
    pub(super) rejections: Vec<Rejection>,
    /// Work dropped unrun (dropped outside the lock: user `Drop` code).
    pub(super) dropped: Vec<Work>,
}

impl Effects {
    /// Work to drop once the lock is released.
    pub(super) fn drop_work(&mut self, work: Work) {
        self.shed().dropped.push(work);
    }

    fn shed(&mut self) -> &mut Shed {
        self.shed.get_or_insert_with(Box::default)
    }
}

pub(super) struct State {
    pub(super) jobs: Jobs,
    wheel: Wheel<u32>,
    ready: VecDeque<JobId>,
    overflow: VecDeque<JobId>,
    pub(super) pending: usize,
    pub(super) queued: usize,
    pub(super) running: usize,
    /// Submitters waiting for room (`Block`): wake them only if any.
    pub(super) blocked: usize,
    /// Workers waiting for runs, and how many of them were notified and
    /// have not woken yet (`waking ≤ idle`): a move that queues runs
    /// notifies only the others (`core.rs`, "Waiting").
    pub(super) idle: usize,
    pub(super) waking: usize,
    /// A waiting worker waits only until the first pending deadline, to
    /// dispatch it itself (`Core::wait_for_runs`): at most one at a time.
    pub(super) leader: bool,
    /// Worker threads that have not exited.
    pub(super) live_workers: usize,
    /// Runs taken by workers, ever: the stall check's measure of progress
    /// (`wake.rs`).
    taken: u64,
    /// A moving average of run times, in nanoseconds (`None` before the
    /// first run ends): short runs are drained by one worker (`wake.rs`).
    run_estimate: Option<u64>,
    /// `taken` when the stall check was armed; `None` while it is not.
    stall_mark: Option<u64>,
    /// Workers presumed held by a long run (`wake.rs`).
    stuck: usize,
    /// The wheel tick of the deadline the driver timer is (or is about to
    /// be) armed for: a job filed in an earlier tick needs a re-arm, one
    /// filed in this tick or later does not (see [`filed`](State::filed)).
    armed_tick: Option<u64>,
    /// Scratch for [`dispatch`](State::dispatch)'s jobs due before their
    /// tick's boundary (kept, so a dispatch does not allocate).
    early: Vec<u32>,
    pub(super) phase: Phase,
    pub(super) capacity: usize,
    pub(super) max_pending: usize,
    pub(super) policy: RejectPolicy,
    cancel_on_panic: bool,
    /// For fixed-rate jobs whose runs end past their next deadline.
    pub(super) missed: MissedTickBehavior,
    pub(super) stats: Stats,
}

impl State {
    pub(super) fn new(
        origin: Instant,
        tick: Duration,
        capacity: usize,
        max_pending: usize,
        policy: RejectPolicy,
        cancel_on_panic: bool,
        missed: MissedTickBehavior,
    ) -> Self {
        State {
            jobs: Jobs::default(),
            wheel: Wheel::with_tick(origin, tick),
            ready: VecDeque::new(),
            overflow: VecDeque::new(),
            pending: 0,
            queued: 0,
            running: 0,
            blocked: 0,
            idle: 0,
            waking: 0,
            leader: false,
            live_workers: 0,
            taken: 0,
            run_estimate: None,
            stall_mark: None,
            stuck: 0,
            armed_tick: None,
            early: Vec::new(),
            phase: Phase::Open,
            capacity,
            max_pending,
            policy,
            cancel_on_panic,
            missed,
            stats: Stats::default(),
        }
    }

    /// The current run's deadline of a live job (the model test's
    /// never-early check).
    #[cfg(test)]
    pub(super) fn deadline_of(&self, id: JobId) -> Option<Instant> {
        let job = self.jobs.get(id)?;
        Some(period::instant(self.wheel.origin(), job.deadline))
    }

    pub(super) fn reject(
        &mut self,
        fx: &mut Effects,
        reason: Rejected,
        at: RejectedAt,
        job: &'static Location<'static>,
    ) {
        self.stats.rejected(job, self.policy);
        fx.shed().rejections.push(Rejection {
            policy: self.policy,
            reason,
            at,
            job,
        });
    }

    /// Files a new job for `deadline`, nanoseconds after the origin (the
    /// caller checked phase and bound); one already due may be queued at
    /// once ([`due_at_once`](State::due_at_once)).
    pub(super) fn submit(
        &mut self,
        work: Work,
        deadline: u64,
        site: &'static Location<'static>,
        fx: &mut Effects,
    ) -> JobId {
        let tick = self.wheel.tick_after_origin(Duration::from_nanos(deadline));
        if self.due_at_once(tick) {
            return self.queue_new(work, deadline, site, fx);
        }
        // The wheel entry first, under the index the record is about to get,
        // so the record is written once, complete (no lookup after insert).
        let key = self.wheel.insert_at_tick(tick, self.jobs.next_index());
        let id = self.jobs.insert(work, At::Pending(key), deadline, site);
        debug_assert_eq!(id.index(), key_value(&self.wheel, key));
        self.filed(tick, fx);
        id
    }

    /// Puts a job (with its work) in the wheel for its next deadline,
    /// `nanos` after the origin — or in the queue, if that is already due
    /// ([`due_at_once`](State::due_at_once): a periodic job behind its
    /// schedule).
    fn file(&mut self, id: JobId, nanos: u64, fx: &mut Effects) {
        let tick = self.wheel.tick_after_origin(Duration::from_nanos(nanos));
        let at_once = self.due_at_once(tick);
        let key = (!at_once).then(|| self.wheel.insert_at_tick(tick, id.index()));
        let job = self.jobs.get_mut(id).expect("filing a live job");
        job.deadline = nanos;
        match key {
            Some(key) => {
                job.at = At::Pending(key);
                self.filed(tick, fx);
            }
            None => self.enqueue(id, fx),
        }
    }

    /// Whether a deadline in wheel tick `tick` is queued at once rather than
    /// filed: the wheel's last poll, at a real clock reading, passed its
    /// tick (so it is due: never early), and the queue has room (else it is
    /// filed, and the policy acts when its fire finds the queue full, as
    /// documented). Filed, it would have the driver timer re-armed to fire
    /// at once — `arm_lock`, the alarm and a second pass through this lock
    /// for each such job, which a submitter running behind its deadlines
    /// paid for every job, falling further behind.
    fn due_at_once(&self, tick: u64) -> bool {
        tick <= self.wheel.elapsed_ticks() && self.queued < self.capacity
    }

    /// Records and queues a new job whose deadline (`nanos` after the
    /// origin) has passed; the caller checked there is room.
    fn queue_new(
        &mut self,
        work: Work,
        nanos: u64,
        site: &'static Location<'static>,
        fx: &mut Effects,
    ) -> JobId {
        let id = self.jobs.insert(work, At::Queued, nanos, site);
        self.enqueue(id, fx);
        id
    }

    /// Counts a job just filed in wheel tick `tick`; asks for a re-arm only
    /// if that tick is earlier than the planned fire's. The plan is always
    /// in the earliest occupied tick — its latest exact deadline, or its
    /// boundary (`plan.rs`) — so a job filed in that same tick is served by
    /// that fire: at or before the plan, it is taken then; after it (a
    /// later exact deadline in the tick), the fire's re-plan comes back for
    /// it. Comparing deadlines instead asked for a re-arm (a plan walk and
    /// an alarm reset) for every job filed before its tick's latest — in
    /// the seed's burst, for most runs of a periodic job re-filing itself.
    fn filed(&mut self, tick: u64, fx: &mut Effects) {
        self.pending += 1;
        if self.armed_tick.is_none_or(|armed| tick < armed) {
            self.armed_tick = Some(tick);
            fx.arm = true;
        }
    }

    /// Queues a job that is due; the caller checked there is room.
    fn enqueue(&mut self, id: JobId, fx: &mut Effects) {
        debug_assert!(
            self.queued < self.capacity,
            "queue overfilled: {} of {}",
            self.queued,
            self.capacity
        );
        self.jobs.get_mut(id).expect("queueing a live job").at = At::Queued;
        self.ready.push_back(id);
        self.queued += 1;
        fx.queued += 1;
    }

    /// `execute`: queues a new job due now, if there is room.
    pub(super) fn try_execute(
        &mut self,
        work: Work,
        now: Instant,
        site: &'static Location<'static>,
        fx: &mut Effects,
    ) -> Result<JobId, Work> {
        if self.queued >= self.capacity {
            return Err(work);
        }
        let nanos = nanos_since(self.wheel.origin(), now);
        Ok(self.queue_new(work, nanos, site, fx))
    }

    /// A run came due: queue it, or apply the policy.
    fn due(&mut self, id: JobId, now: Instant, fx: &mut Effects) {
        if self.queued < self.capacity {
            return self.enqueue(id, fx);
        }
        let site = self.jobs.get(id).expect("a due job is live").site;
        self.reject(fx, Rejected::QueueFull, RejectedAt::Due, site);
        match self.policy {
            RejectPolicy::Abort | RejectPolicy::Discard => self.drop_run(id, now, fx),
            RejectPolicy::DiscardOldest => {
                if let Some(oldest) = pop_live(&mut self.ready, &self.jobs, At::Queued) {
                    self.queued -= 1;
                    self.drop_run(oldest, now, fx);
                }
                self.enqueue(id, fx);
            }
            RejectPolicy::CallerRuns | RejectPolicy::Block => {
                self.jobs.get_mut(id).expect("live").at = At::Overflow;
                self.overflow.push_back(id);
                self.pending += 1;
            }
        }
    }

    /// Drops one run of a job that is out of every list: a one-shot job is
    /// freed, a periodic one re-filed for its next deadline.
    fn drop_run(&mut self, id: JobId, now: Instant, fx: &mut Effects) {
        let now = nanos_since(self.wheel.origin(), now);
        let job = self.jobs.get_mut(id).expect("dropping a run of a live job");
        if job.work.is_periodic() && self.phase == Phase::Open {
            let next = next_deadline(job, now, true);
            self.file(id, next, fx);
        } else {
            fx.drop_work(self.jobs.remove(id).expect("live"));
        }
    }

    /// Frees queue slots for overflowed runs, oldest first.
    fn refill(&mut self, fx: &mut Effects) {
        while self.queued < self.capacity {
            let Some(id) = pop_live(&mut self.overflow, &self.jobs, At::Overflow) else {
                break;
            };
            self.pending -= 1;
            self.enqueue(id, fx);
        }
    }

    /// Cancels a job: `true` if that prevented a run, and its work to drop
    /// (outside the lock).
    pub(super) fn cancel(&mut self, id: JobId, fx: &mut Effects) -> (bool, Option<Work>) {
        let Some(job) = self.jobs.get_mut(id) else {
            return (false, None);
        };
        match job.at {
            At::Running {
                periodic,
                ref mut cancelled,
            } => {
                // A periodic job's later runs are prevented; a one-shot job
                // that already started is not.
                let prevented = periodic && !*cancelled && self.phase == Phase::Open;
                *cancelled = true;
                return (prevented, None);
            }
            At::Free => unreachable!("`get_mut` returns live jobs only"),
            At::Pending(key) => {
                self.wheel.cancel(key);
                self.pending -= 1;
            }
            At::Overflow => self.pending -= 1,
            At::Queued => {
                self.queued -= 1;
                self.refill(fx);
            }
        }
        fx.room = true;
        let work = self.jobs.remove(id);
        compact(&mut self.ready, &self.jobs, At::Queued, self.queued);
        compact(&mut self.overflow, &self.jobs, At::Overflow, self.pending);
        (true, work)
    }

    /// `true` while the job has a run that has not started.
    pub(super) fn is_pending(&self, id: JobId) -> bool {
        self.jobs
            .get(id)
            .is_some_and(|job| !matches!(job.at, At::Running { .. }))
    }

    /// Workers exit once nothing is left for them.
    pub(super) fn finished(&self) -> bool {
        match self.phase {
            Phase::Open => false,
            Phase::Draining => self.queued == 0 && self.pending == 0,
            Phase::Stopped => true,
        }
    }

    /// Pending, queued, running and live jobs, for the model test and metrics.
    pub(super) fn counts(&self) -> (usize, usize, usize, usize) {
        (self.pending, self.queued, self.running, self.jobs.len())
    }
}

/// The job index a wheel entry holds (debug checks).
fn key_value(wheel: &Wheel<u32>, key: crate::queue::Key) -> u32 {
    *wheel.get(key).expect("a live key")
}

/// Pops the first id of `list` whose job is live and at `at`.
fn pop_live(list: &mut VecDeque<JobId>, jobs: &Jobs, at: At) -> Option<JobId> {
    while let Some(id) = list.pop_front() {
        if jobs.get(id).is_some_and(|job| job.at == at) {
            return Some(id);
        }
    }
    None
}

/// Drops stale ids once they outnumber live ones (cancelled runs leave
/// theirs behind), so a list never holds more than twice its live ids plus
/// a few: amortised O(1) per cancel.
fn compact(list: &mut VecDeque<JobId>, jobs: &Jobs, at: At, live: usize) {
    if list.len() > 2 * live + 32 {
        list.retain(|&id| jobs.get(id).is_some_and(|job| job.at == at));
    }
}
