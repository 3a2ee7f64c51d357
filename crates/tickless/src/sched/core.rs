//! The running scheduler: its shared state, the one driver timer armed for
//! the next planned deadline (`State::next_deadline`), the worker threads
//! (`worker.rs`: a worker's life, and the leader), the stall check
//! (`stall.rs`), and the policies that need waiting (which `state/`, being
//! single-threaded, cannot do).
//!
//! # Locks
//!
//! `Shared::state` is the one lock of a scheduler. The driver timer is an
//! alarm (`blocking::alarm`) whose fire — on the driver's timer thread, or
//! inline when armed for a deadline already past — takes the state lock to
//! move due jobs to the queue: so the order is alarm → state, and nothing
//! here touches the alarm while holding the state lock. Re-arming for a
//! job filed in an earlier tick than the plan's (`State::filed`) plans the
//! next fire under the state lock, releases it,
//! then resets the alarm; `arm_lock` serialises re-arms so the last reset
//! is the latest reading (a fire in between re-arms for the plan itself, so
//! a stale reading only costs a spurious fire). Shutdown stops the alarm under `arm_lock` too, after the close
//! has emptied the wheel, so no re-arm lands after it. Order: `arm_lock` →
//! alarm → state; no user code runs under `arm_lock`. Workers and
//! submitters never run user code (jobs, hooks, `Drop` of dropped jobs)
//! under the state lock.
//!
//! The stall check is a second alarm, with the same order (stall alarm →
//! state: its fire takes the state lock, then only notifies workers, never
//! calling `release`). `release` resets it after dropping the state lock,
//! and may do so inside the driver timer's fire (which calls `release`),
//! so the full order is driver-timer alarm → stall alarm → state (a reset
//! that fires inline, for a deadline already past, takes the state lock
//! under both); nothing takes either alarm's lock under the state lock.
//!
//! # Waiting
//!
//! Workers wait on `work` while nothing is queued; every move that queues
//! runs notifies, after unlocking (`Shared::release`), one waiting worker
//! per run — but only workers that are waiting and not already notified
//! (`State::idle` − `State::waking`, counted under the lock): a notification
//! is a syscall even with nobody waiting, which every run queued while the
//! workers are busy used to pay. Short runs wake one worker only when none
//! is awake, and arm the stall check (`StallCheck`, a second alarm: its
//! fire takes the state lock, so `release` resets it after unlocking) that
//! wakes one more each time the awake ones took no run since it last looked
//! (`state/wake.rs`). The check and the wait happen under one
//! holding of the state lock, so no notification falls between them; a
//! worker that is woken takes runs until the queue is empty, so a run queued
//! while every waiting worker is already notified is taken by one of them.
//! `Block` submitters and a shutdown waiting for the workers wait on
//! `room`, notified when a run is taken or a worker exits.
//!
//! The locks, condition variables, worker threads and the `WORKER_OF`
//! thread-local come through `crate::sync`, so the loom models in
//! `models.rs` run this code: a due job against its cancel or drop,
//! `execute` against a waiting worker and against `shutdown`, `schedule`
//! against `shutdown`, a `Block` submitter, two racing re-arms, the
//! leading worker's dispatch against the timer's fire and a cancel, and a
//! short-run queue held up by a blocked run (the stall check).

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::builder::{BuildError, Builder, RejectHook, RejectPolicy, Rejected, RejectedAt};
use super::jobs::{JobId, Work};
use super::state::{Effects, Phase, Shed, State, STALL};
use crate::blocking::alarm::{Action, Alarm};
use crate::clock::{nanos_after, nanos_since, saturating_add};
use crate::driver::{CollectionCount, Handle};
use crate::sync::thread::{self, JoinHandle};
use crate::sync::{lock, thread_local_const, wait, wait_timeout, Condvar, Mutex, MutexGuard};
use stall::StallCheck;

mod stall;
mod worker;

thread_local_const! {
    /// The scheduler this thread works for (its `Shared`'s address), if any.
    static WORKER_OF: Cell<usize> = Cell::new(0);
}

pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// The scheduler's origin (its wheel's tick 0): job deadlines are
    /// nanoseconds after it.
    origin: Instant,
    /// The origin in the driver's own count ([`Handle::offset_of`]), so a
    /// deadline from [`Handle::offset_after`] needs no `Instant` arithmetic.
    origin_offset: i64,
    /// Workers wait here for runs.
    work: Condvar,
    /// `Block` submitters wait here for room; shutdown for workers to exit.
    room: Condvar,
    pub(super) handle: Handle,
    /// A worker may lead (`Core::wait_for_runs`): the driver reads the
    /// system clock (or a loom model asked for a leader).
    may_lead: bool,
    /// Short runs are drained by one worker (`state/wake.rs`): the driver
    /// reads the system clock (or a loom model asked for it).
    drain_short: bool,
    /// The stall check that backs that rule up (`core/stall.rs`).
    stall: Arc<Alarm<StallCheck>>,
    on_reject: Option<RejectHook>,
    pub(super) name: String,
    pub(super) workers: usize,
    /// Pending jobs, as live timers of the line that built the scheduler.
    count: Arc<CollectionCount>,
}

/// The driver timer's action: move due jobs to the queue.
pub(super) struct Dispatch(Arc<Shared>);

impl Action for Dispatch {
    fn fire(&self, _deadline: Instant, now: Instant) -> Option<Instant> {
        let mut fx = Effects::default();
        let mut st = lock(&self.0.state);
        let next = st.dispatch(now, &mut fx);
        // The fire re-arms for `next` itself (which covers any periodic
        // job re-filed by a dropped run).
        fx.arm = false;
        self.0.release(st, fx, RejectedAt::Due);
        next
    }
}

pub(super) struct Core {
    pub(super) shared: Arc<Shared>,
    pub(super) alarm: Arc<Alarm<Dispatch>>,
    /// Serialises re-arms, and a re-arm with shutdown's stop (module docs).
    pub(super) arm_lock: Mutex<()>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    /// Unlocks, then does what the move asked: wake workers and blocked
    /// submitters, report rejections, drop dropped work. At due time (on
    /// the timer thread) the hook and the drops go to the driver's callback
    /// executor instead.
    fn release(&self, mut st: MutexGuard<'_, State>, mut fx: Effects, at: RejectedAt) {
        let wake_room = fx.room && st.blocked > 0;
        // Not on a shut-down driver: the stall check could not be armed.
        let drain = self.drain_short && fx.queued > 0 && !self.handle.is_shut_down();
        let (wake, watch) = st.wakes(fx.queued, drain);
        self.count.set(st.pending + st.queued);
        drop(st);
        for _ in 0..wake {
            self.work.notify_one();
        }
        if watch {
            // Unlocked: the check's fire takes the state lock under its own.
            self.stall.reset_after(STALL);
        }
        if wake_room {
            self.room.notify_all();
        }
        let Some(shed) = fx.shed.take() else {
            return; // the common case: no hook to call, nothing to drop
        };
        let Shed {
            rejections,
            dropped,
        } = *shed;
        let hook = self.on_reject.clone().filter(|_| !rejections.is_empty());
        let report = move || {
            if let Some(hook) = hook {
                rejections.iter().for_each(|r| hook(r));
            }
            drop(dropped);
        };
        match at {
            RejectedAt::Submit => report(),
            _ => self.handle.run_callback(Box::new(report)),
        }
    }

    fn on_own_worker(self: &Arc<Self>) -> bool {
        WORKER_OF.with(Cell::get) == Arc::as_ptr(self) as usize
    }
}

/// What a loom model asked for on its `ManualClock`: a leader, and the
/// short-run rule (`Builder`'s loom-only fields).
#[cfg(tickless_loom)]
fn asked_on_manual_clock(b: &Builder) -> (bool, bool) {
    (b.lead_on_manual_clock, b.drain_on_manual_clock)
}

#[cfg(not(tickless_loom))]
fn asked_on_manual_clock(_: &Builder) -> (bool, bool) {
    (false, false)
}

impl Core {
    #[track_caller]
    pub(super) fn start(b: Builder) -> Result<Arc<Core>, BuildError> {
        let handle = b.handle.clone().unwrap_or_else(Handle::current);
        let site = Location::caller();
        let origin = handle.now();
        let state = State::new(
            origin,
            handle.resolution(),
            b.capacity(),
            b.max_pending,
            b.policy,
            b.cancel_on_panic,
            b.missed,
        );
        let (lead_asked, drain_asked) = asked_on_manual_clock(&b);
        let shared = Arc::new_cyclic(|weak| Shared {
            stall: Alarm::new(handle.clone(), site, StallCheck(weak.clone())),
            state: Mutex::new(state),
            origin,
            origin_offset: handle.offset_of(origin),
            work: Condvar::new(),
            room: Condvar::new(),
            count: handle.register_collection(site),
            handle: handle.clone(),
            may_lead: handle.real_time() || lead_asked,
            drain_short: handle.real_time() || drain_asked,
            on_reject: b.on_reject.clone(),
            name: b.name.clone(),
            workers: b.workers,
        });
        super::metrics::register(&shared);
        let core = Arc::new(Core {
            alarm: Alarm::new(handle, site, Dispatch(shared.clone())),
            shared,
            arm_lock: Mutex::new(()),
            threads: Mutex::new(Vec::with_capacity(b.workers)),
        });
        for i in 0..b.workers {
            let worker = core.clone();
            lock(&core.shared.state).live_workers += 1;
            let spawned = thread::Builder::new()
                .name(format!("{}-{i}", b.name))
                .spawn(move || worker.work());
            match spawned {
                Ok(thread) => lock(&core.threads).push(thread),
                Err(e) => {
                    lock(&core.shared.state).live_workers -= 1;
                    core.shutdown(true, None);
                    return Err(BuildError::SpawnThread(e));
                }
            }
        }
        Ok(core)
    }

    /// Re-arms the driver timer for the next planned deadline.
    fn arm(&self) {
        let _serial = lock(&self.arm_lock);
        let target = lock(&self.shared.state).next_deadline();
        if let Some(deadline) = target {
            self.alarm.reset(deadline);
        }
    }

    fn release(&self, st: MutexGuard<'_, State>, fx: Effects) {
        let arm = fx.arm;
        self.shared.release(st, fx, RejectedAt::Submit);
        if arm {
            self.arm();
        }
    }

    /// A job's deadline `delay` from now, as its record keeps it:
    /// nanoseconds after the scheduler's origin, read as
    /// [`Handle::deadline_after`] reads it (never early), with no `Instant`
    /// arithmetic. `u64::MAX` for a deadline too far to represent (never).
    pub(super) fn deadline_after(&self, delay: Duration) -> u64 {
        nanos_after(
            self.shared.handle.offset_after(delay),
            self.shared.origin_offset,
        )
    }

    /// `deadline` as a job record keeps it (see [`deadline_after`](Self::deadline_after)).
    pub(super) fn deadline_at(&self, deadline: Instant) -> u64 {
        nanos_since(self.shared.origin, deadline)
    }

    /// `schedule*`: files `work` for `deadline` (nanoseconds after the
    /// scheduler's origin), applying the policy when `max_pending` jobs are
    /// waiting. `Ok(None)`: not filed (discarded, or run by the caller).
    pub(super) fn schedule(
        &self,
        work: Work,
        deadline: u64,
        site: &'static Location<'static>,
    ) -> Result<Option<JobId>, Rejected> {
        let shared = &self.shared;
        let mut fx = Effects::default();
        let mut st = lock(&shared.state);
        let mut counted = false;
        let result = loop {
            if st.phase != Phase::Open {
                break Err(Rejected::Shutdown);
            }
            if st.pending < st.max_pending {
                break Ok(Some(st.submit(work, deadline, site, &mut fx)));
            }
            if !counted {
                st.reject(&mut fx, Rejected::PendingFull, RejectedAt::Submit, site);
                counted = true;
            }
            match st.policy {
                RejectPolicy::Abort => break Err(Rejected::PendingFull),
                RejectPolicy::Discard => {
                    fx.drop_work(work);
                    break Ok(None);
                }
                RejectPolicy::DiscardOldest => {
                    if !st.discard_first_pending(&mut fx) {
                        break Err(Rejected::PendingFull);
                    }
                }
                RejectPolicy::CallerRuns | RejectPolicy::Block if shared.on_own_worker() => {
                    break Err(Rejected::PendingFull);
                }
                RejectPolicy::CallerRuns if !work.is_periodic() => {
                    st.stats.caller_runs += 1;
                    self.release(st, fx);
                    // Never early: wait for the deadline on the driver.
                    let deadline = saturating_add(shared.origin, Duration::from_nanos(deadline));
                    let _ = shared.handle.timer_at(deadline).receiver().recv();
                    if lock(&shared.state).phase != Phase::Open {
                        // Shut down meanwhile: cancelled like every pending job.
                        drop(work); // user code: unlocked
                        return Err(Rejected::Shutdown);
                    }
                    self.run_here(work, site, deadline);
                    return Ok(None);
                }
                RejectPolicy::CallerRuns | RejectPolicy::Block => {
                    st.blocked += 1;
                    st = wait(&shared.room, st);
                    st.blocked -= 1;
                }
            }
        };
        self.release(st, fx);
        result
    }

    /// `execute`: queues `work` to run now, applying the policy when the
    /// queue is full.
    pub(super) fn execute(
        &self,
        work: Work,
        site: &'static Location<'static>,
    ) -> Result<(), Rejected> {
        let shared = &self.shared;
        let mut fx = Effects::default();
        let mut st = lock(&shared.state);
        let mut work = Some(work);
        let mut counted = false;
        let result = loop {
            let now = shared.handle.now();
            if st.phase != Phase::Open {
                break Err(Rejected::Shutdown);
            }
            match st.try_execute(work.take().expect("work"), now, site, &mut fx) {
                Ok(_) => break Ok(()),
                Err(back) => work = Some(back),
            }
            if !counted {
                st.reject(&mut fx, Rejected::QueueFull, RejectedAt::Submit, site);
                counted = true;
            }
            let inline = match st.policy {
                RejectPolicy::Abort => break Err(Rejected::QueueFull),
                RejectPolicy::Discard => {
                    if let Some(work) = work.take() {
                        fx.drop_work(work);
                    }
                    break Ok(());
                }
                RejectPolicy::DiscardOldest => {
                    st.discard_oldest_queued(now, &mut fx);
                    false
                }
                RejectPolicy::CallerRuns => true,
                RejectPolicy::Block => shared.on_own_worker(),
            };
            if inline {
                st.stats.caller_runs += 1;
                self.release(st, fx);
                self.run_here(work.take().expect("work"), site, now);
                return Ok(());
            }
            if st.policy == RejectPolicy::Block {
                st.blocked += 1;
                st = wait(&shared.room, st);
                st.blocked -= 1;
            }
        };
        self.release(st, fx);
        result
    }

    /// Runs a one-shot job on the calling thread (`CallerRuns`), counted
    /// like a worker's run.
    fn run_here(&self, work: Work, site: &'static Location<'static>, deadline: Instant) {
        let start = self.shared.handle.now();
        let panicked = match work {
            Work::Once(f) => catch_unwind(AssertUnwindSafe(f)).is_err(),
            Work::Periodic(_) => unreachable!("only one-shot jobs run on the caller"),
        };
        let end = self.shared.handle.now();
        let mut st = lock(&self.shared.state);
        let stats = st.stats.of(site);
        stats
            .lateness
            .record(start.saturating_duration_since(deadline));
        stats.run_time.record(end.saturating_duration_since(start));
        if panicked {
            stats.panicked += 1;
        } else {
            stats.completed += 1;
        }
    }

    pub(super) fn cancel(&self, id: JobId) -> bool {
        let mut fx = Effects::default();
        let mut st = lock(&self.shared.state);
        let (prevented, work) = st.cancel(id, &mut fx);
        self.release(st, fx);
        drop(work); // user code: unlocked
        prevented
    }

    /// Stops taking jobs (see `Scheduler::shutdown*`) and waits up to
    /// `timeout` (`None`: for ever) for the workers to exit, joining them.
    /// `true` if they all did.
    pub(super) fn shutdown(&self, stop: bool, timeout: Option<Duration>) -> bool {
        let shared = &self.shared;
        let mut fx = Effects::default();
        let mut st = lock(&shared.state);
        st.close(stop, &mut fx);
        self.shared.release(st, fx, RejectedAt::Submit);
        {
            // Under `arm_lock`: a re-arm that read the wheel before the close
            // has reset the alarm already (stopped here), and one that reads
            // it after finds it empty. Without it, a reset landing after this
            // stop kept the alarm armed — and the state alive — until the
            // deadline of a job the close had cancelled.
            let _serial = lock(&self.arm_lock);
            self.alarm.stop();
        }
        shared.work.notify_all();
        let own = usize::from(shared.on_own_worker());
        // A timeout too long to represent (`Duration::MAX`) waits for ever.
        let limit = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut st = lock(&shared.state);
        let mut all = true;
        while st.live_workers > own {
            let left = limit.map(|l| l.saturating_duration_since(Instant::now()));
            match left {
                None => st = wait(&shared.room, st),
                Some(left) if left.is_zero() => {
                    all = false;
                    break;
                }
                Some(left) => st = wait_timeout(&shared.room, st, left),
            }
        }
        if !all {
            // Timed out: what is still queued will not run.
            let mut fx = Effects::default();
            st.close(true, &mut fx);
            self.shared.release(st, fx, RejectedAt::Submit);
            shared.work.notify_all();
        } else {
            drop(st);
        }
        // Workers may have armed the stall check while draining.
        shared.stall.stop();
        let me = thread::current().id();
        for worker in std::mem::take(&mut *lock(&self.threads)) {
            // Every other worker has left its loop (or, after a timeout, the
            // finished ones have): joining is immediate. Ourselves (shut
            // down from a job) and stragglers are left detached.
            if worker.thread().id() != me && (all || thread::is_finished(&worker)) {
                let _ = worker.join();
            }
        }
        all
    }
}
