//! [`SchedulerMetrics`]: one scheduler's counts and histograms, and the
//! registry through which `observe` finds every live scheduler of a driver.

use std::sync::{Arc, Mutex, Weak};

use super::builder::RejectPolicy;
use super::core::Shared;
use super::stats::JobStats;
use crate::sync::{lock, lock_std};
use crate::Handle;

/// A scheduler's counts and histograms, from [`Scheduler::metrics`](super::Scheduler::metrics).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SchedulerMetrics {
    /// [`Builder::name`](super::Builder::name).
    pub name: String,
    /// Worker threads.
    pub workers: usize,
    /// [`Builder::queue_capacity`](super::Builder::queue_capacity).
    pub queue_capacity: usize,
    /// [`Builder::max_pending`](super::Builder::max_pending).
    pub max_pending: usize,
    /// [`Builder::reject`](super::Builder::reject).
    pub policy: RejectPolicy,
    /// Jobs waiting for their deadline (and due runs waiting for room).
    pub pending: usize,
    /// Due runs waiting for a worker.
    pub queued: usize,
    /// Runs in progress on the workers.
    pub running: usize,
    /// Runs the submitting thread did itself (`CallerRuns`, or `Block` inside a job).
    pub caller_runs: u64,
    /// Workers woken by the stall check: while runs are short, one worker
    /// drains the queue, and this counts the workers woken because it took
    /// no run for 250 µs while runs waited (a run longer than the recent
    /// ones held it, or it lost its core), and those woken, one per queued
    /// run, when the check found the runs no longer short. See the
    /// [module docs](crate::sched#shape-and-cost).
    pub stall_wakes: u64,
    /// Per job name.
    pub jobs: Vec<JobMetrics>,
    /// Summed over all job names.
    pub total: JobStats,
}

impl SchedulerMetrics {
    /// Uses of the reject policy, summed over job names, indexed like
    /// [`RejectPolicy::ALL`].
    pub fn rejected(&self) -> [u64; 5] {
        self.total.rejected
    }
}

/// One job name's counts: the line that submitted the jobs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JobMetrics {
    /// Source file of the submitting call.
    pub file: &'static str,
    /// Its line.
    pub line: u32,
    /// Its column.
    pub column: u32,
    /// What jobs submitted there did.
    pub stats: JobStats,
}

impl Shared {
    pub(super) fn metrics(&self) -> SchedulerMetrics {
        let st = lock(&self.state);
        let (pending, queued, running, _) = st.counts();
        let (names, total) = st.stats.view();
        SchedulerMetrics {
            name: self.name.clone(),
            workers: self.workers,
            queue_capacity: st.capacity,
            max_pending: st.max_pending,
            policy: st.policy,
            pending,
            queued,
            running,
            caller_runs: st.stats.caller_runs,
            stall_wakes: st.stats.stall_wakes,
            jobs: names
                .into_iter()
                .map(|(site, stats)| JobMetrics {
                    file: site.file(),
                    line: site.line(),
                    column: site.column(),
                    stats,
                })
                .collect(),
            total,
        }
    }
}

/// Every scheduler ever started whose state is still alive; dead entries
/// are pruned at each registration, so the list is bounded by live
/// schedulers (amortised O(1) per registration).
///
/// A std mutex even under loom (a static; held with no other lock and
/// released before any state lock is taken).
static REGISTRY: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

pub(super) fn register(shared: &Arc<Shared>) {
    let mut list = lock_std(&REGISTRY);
    list.retain(|w| w.strong_count() > 0);
    list.push(Arc::downgrade(shared));
}

/// The metrics of every live scheduler on `handle`'s driver, by name.
pub(crate) fn on_driver(handle: &Handle) -> Vec<SchedulerMetrics> {
    let live: Vec<Arc<Shared>> = lock_std(&REGISTRY)
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    let mut out: Vec<_> = live
        .iter()
        .filter(|s| s.handle.same_driver_as(handle))
        .map(|s| s.metrics())
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}
