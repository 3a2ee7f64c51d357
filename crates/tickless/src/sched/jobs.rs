//! The scheduler's job records: what a job runs, where it is, and a slab
//! that stores them under generation-checked ids, so a handle whose job is
//! gone (ran, cancelled, slot reused) touches nothing.

use std::panic::Location;
use std::time::Duration;

use crate::queue::Key;
use crate::MissedTickBehavior;

pub(super) type Once = Box<dyn FnOnce() + Send + 'static>;
pub(super) type Repeat = Box<dyn FnMut() + Send + 'static>;

/// How a periodic job's next deadline follows from the last run.
#[derive(Debug, Clone, Copy)]
pub(super) enum Period {
    /// `scheduleAtFixedRate`: deadlines on a grid from the first one.
    Rate(Duration, MissedTickBehavior),
    /// `scheduleWithFixedDelay`: the delay counts from the end of each run.
    Delay(Duration),
}

pub(super) struct Periodic {
    pub(super) run: Repeat,
    pub(super) period: Period,
}

pub(super) enum Work {
    Once(Once),
    Periodic(Box<Periodic>),
}

impl Work {
    pub(super) fn is_periodic(&self) -> bool {
        matches!(self, Work::Periodic(_))
    }

    /// What a record holds while a worker has its work: a no-op closure,
    /// which allocates nothing (zero-sized) and keeps `Job::work` free of an
    /// `Option` (8 bytes per job).
    pub(super) fn taken() -> Work {
        Work::Once(Box::new(|| {}))
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum At {
    /// Waiting for its deadline in the wheel.
    Pending(Key),
    /// Due, but the queue was full: waiting for room (still pending).
    Overflow,
    /// Due, waiting for a worker.
    Queued,
    /// A worker is running it (its work is out of the record).
    Running {
        /// Whether its work is periodic.
        periodic: bool,
        /// Cancelled while running: the worker frees it when the run ends.
        cancelled: bool,
    },
    /// No job: a vacant slab slot.
    Free,
}

/// A job record, which is also its slab slot: 48 bytes (the wheel entry of
/// a pending job adds 32). Flat, with the slot's generation inside and
/// vacancy as [`At::Free`], so no `Option` or nesting pads it.
pub(super) struct Job {
    /// [`Work::taken`] while running or vacant.
    pub(super) work: Work,
    pub(super) at: At,
    /// The current run's deadline, in nanoseconds after the scheduler's
    /// origin (8 bytes, not an `Instant`'s 16; see `state::instant`):
    /// lateness counts from it.
    pub(super) deadline: u64,
    pub(super) site: &'static Location<'static>,
    /// The slot's generation (bumped when the job goes).
    gen: u32,
}

impl Job {
    pub(super) fn new(work: Work, at: At, deadline: u64, site: &'static Location<'static>) -> Job {
        Job {
            work,
            at,
            deadline,
            site,
            gen: 0,
        }
    }

    /// Whether the job's work (out of the record while running) is periodic.
    #[cfg(test)]
    pub(super) fn periodic(&self) -> bool {
        match self.at {
            At::Running { periodic, .. } => periodic,
            _ => self.work.is_periodic(),
        }
    }

    fn live(&self) -> bool {
        self.at != At::Free
    }
}

/// Names one job; stale once the job is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct JobId {
    index: u32,
    gen: u32,
}

impl JobId {
    /// No job: what a handle holds once cancelled, detached or never filed.
    pub(super) const NONE: u64 = u64::MAX;

    pub(super) fn index(self) -> u32 {
        self.index
    }

    /// Packed into one word (a handle keeps it in an atomic).
    pub(super) fn to_bits(self) -> u64 {
        u64::from(self.gen) << 32 | u64::from(self.index)
    }

    /// `None` for [`NONE`](Self::NONE).
    pub(super) fn from_bits(bits: u64) -> Option<JobId> {
        (bits != Self::NONE).then_some(JobId {
            index: bits as u32,
            gen: (bits >> 32) as u32,
        })
    }
}

/// A slab of jobs; freed slots are reused, most recently freed first.
#[derive(Default)]
pub(super) struct Jobs {
    slots: Vec<Job>,
    free: Vec<u32>,
    /// `shrink` tries again only once fewer jobs than this are live
    /// (hysteresis: a live job at the end can block shrinking, and churn
    /// must not retry every removal); 0 = not set since the last growth.
    shrink_below: usize,
}

impl Jobs {
    /// Files a new job (`at` is where it is: not [`At::Free`]).
    pub(super) fn insert(
        &mut self,
        work: Work,
        at: At,
        deadline: u64,
        site: &'static Location<'static>,
    ) -> JobId {
        debug_assert!(at != At::Free, "inserting a vacant record");
        if let Some(index) = self.free.pop() {
            // Written field by field: no whole-record move.
            let slot = &mut self.slots[index as usize];
            // A vacant slot holds `Work::taken()`, which owns nothing.
            std::mem::forget(std::mem::replace(&mut slot.work, work));
            (slot.at, slot.deadline, slot.site) = (at, deadline, site);
            return JobId {
                index,
                gen: slot.gen,
            };
        }
        let index = u32::try_from(self.slots.len()).expect("more than 2^32 jobs");
        self.slots.push(Job::new(work, at, deadline, site));
        self.shrink_below = 0;
        JobId { index, gen: 0 }
    }

    /// The index the next [`insert`](Self::insert) will use.
    pub(super) fn next_index(&self) -> u32 {
        match self.free.last() {
            Some(&index) => index,
            None => u32::try_from(self.slots.len()).expect("more than 2^32 jobs"),
        }
    }

    /// The deadline (ns after the origin) of the job in slot `index`, which
    /// the caller knows to be live (it is in the wheel).
    pub(super) fn deadline_at(&self, index: u32) -> u64 {
        self.slots[index as usize].deadline
    }

    pub(super) fn get(&self, id: JobId) -> Option<&Job> {
        let slot = self.slots.get(id.index as usize)?;
        (slot.gen == id.gen && slot.live()).then_some(slot)
    }

    pub(super) fn get_mut(&mut self, id: JobId) -> Option<&mut Job> {
        let slot = self.slots.get_mut(id.index as usize)?;
        (slot.gen == id.gen && slot.live()).then_some(slot)
    }

    /// The id of the live job at `index` (the wheel stores indexes).
    pub(super) fn id_at(&self, index: u32) -> JobId {
        JobId {
            index,
            gen: self.slots[index as usize].gen,
        }
    }

    /// Frees a job's slot; returns its work (`Work::taken()` for a running
    /// job's).
    pub(super) fn remove(&mut self, id: JobId) -> Option<Work> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.gen != id.gen || !slot.live() {
            return None;
        }
        let work = vacate(slot);
        self.free.push(id.index);
        if self.slots.len() >= 64 && self.len() * 4 <= self.slots.len() {
            self.shrink();
        }
        Some(work)
    }

    /// Gives storage back after a burst: when the last slot is freed while
    /// at most a quarter of the slots are live, drops the trailing free
    /// slots. Live jobs cannot move (their ids are indexes), so only a free
    /// tail can go. After each attempt the next waits until the live count
    /// has halved (or the slab grew): amortised O(1) per removal.
    fn shrink(&mut self) {
        let (slots, live) = (self.slots.len(), self.len());
        let tail_free = self.slots.last().is_some_and(|s| !s.live());
        if slots < 64
            || !tail_free
            || live * 4 > slots
            || (self.shrink_below != 0 && live >= self.shrink_below)
        {
            return;
        }
        self.shrink_below = (live / 2).max(1);
        while self.slots.last().is_some_and(|s| !s.live()) {
            self.slots.pop();
        }
        let end = self.slots.len() as u32;
        self.free.retain(|&i| i < end);
        self.slots.shrink_to(self.slots.len() * 2);
        self.free.shrink_to(self.free.len() * 2);
    }

    /// Removes every job `pred` accepts, handing each to `out`: one pass
    /// over the slab, O(slots) (shutdown drops all pending jobs this way).
    pub(super) fn remove_where(
        &mut self,
        mut pred: impl FnMut(&Job) -> bool,
        mut out: impl FnMut(Work),
    ) {
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if slot.live() && pred(slot) {
                out(vacate(slot));
                self.free.push(index as u32);
            }
        }
        self.shrink();
    }

    pub(super) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

/// Empties a live slot (bumping its generation) and returns its work.
fn vacate(slot: &mut Job) -> Work {
    slot.at = At::Free;
    slot.gen = slot.gen.wrapping_add(1);
    std::mem::replace(&mut slot.work, Work::taken())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(jobs: &mut Jobs) -> JobId {
        jobs.insert(
            Work::Once(Box::new(|| {})),
            At::Queued,
            0,
            Location::caller(),
        )
    }

    #[test]
    fn records_stay_small() {
        // What `tickless bench sched` measures per pending job: this record
        // in its slot, plus the wheel's entry.
        assert!(
            std::mem::size_of::<Job>() <= 48,
            "{}",
            std::mem::size_of::<Job>()
        );
    }

    #[test]
    fn stale_ids_touch_nothing() {
        let mut jobs = Jobs::default();
        let a = insert(&mut jobs);
        assert!(jobs.remove(a).is_some());
        let b = insert(&mut jobs);
        assert_eq!(a.index, b.index, "slot reused");
        assert!(jobs.get(a).is_none() && jobs.remove(a).is_none());
        assert!(jobs.get(b).is_some());
        assert_eq!(jobs.len(), 1);
    }

    #[test]
    fn storage_shrinks_after_a_burst() {
        let mut jobs = Jobs::default();
        let ids: Vec<_> = (0..10_000).map(|_| insert(&mut jobs)).collect();
        for id in &ids[10..] {
            jobs.remove(*id);
        }
        assert_eq!(jobs.len(), 10);
        assert!(jobs.slots.capacity() < 1_000, "{}", jobs.slots.capacity());
        for id in &ids[..10] {
            assert!(jobs.get(*id).is_some());
        }
    }
}
