//! The scheduler's job records: what a job runs, where it is, and a slab
//! that stores them under generation-checked ids, so a handle whose job is
//! gone (ran, cancelled, slot reused) touches nothing.

use std::panic::Location;
use std::time::{Duration, Instant};

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
    Running,
}

pub(super) struct Job {
    /// `None` while running.
    pub(super) work: Option<Work>,
    pub(super) at: At,
    /// The current run's deadline: lateness counts from it.
    pub(super) deadline: Instant,
    pub(super) site: &'static Location<'static>,
    /// Cancelled while running: the worker frees it when the run ends.
    pub(super) cancelled: bool,
    /// Whether its work (out of the record while running) is periodic.
    pub(super) periodic: bool,
}

/// Names one job; stale once the job is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct JobId {
    index: u32,
    gen: u32,
}

impl JobId {
    pub(super) fn index(self) -> u32 {
        self.index
    }
}

struct Slot {
    gen: u32,
    job: Option<Job>,
}

/// A slab of jobs; freed slots are reused, most recently freed first.
#[derive(Default)]
pub(super) struct Jobs {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// `shrink` tries again only once fewer jobs than this are live
    /// (hysteresis: a live job at the end can block shrinking, and churn
    /// must not retry every removal); 0 = not set since the last growth.
    shrink_below: usize,
}

impl Jobs {
    pub(super) fn insert(&mut self, job: Job) -> JobId {
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.job = Some(job);
            return JobId {
                index,
                gen: slot.gen,
            };
        }
        let index = u32::try_from(self.slots.len()).expect("more than 2^32 jobs");
        self.slots.push(Slot {
            gen: 0,
            job: Some(job),
        });
        self.shrink_below = 0;
        JobId { index, gen: 0 }
    }

    pub(super) fn get(&self, id: JobId) -> Option<&Job> {
        let slot = self.slots.get(id.index as usize)?;
        (slot.gen == id.gen).then_some(slot.job.as_ref()).flatten()
    }

    pub(super) fn get_mut(&mut self, id: JobId) -> Option<&mut Job> {
        let slot = self.slots.get_mut(id.index as usize)?;
        (slot.gen == id.gen).then_some(slot.job.as_mut()).flatten()
    }

    /// The id of the live job at `index` (the wheel stores indexes).
    pub(super) fn id_at(&self, index: u32) -> JobId {
        JobId {
            index,
            gen: self.slots[index as usize].gen,
        }
    }

    pub(super) fn remove(&mut self, id: JobId) -> Option<Job> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.gen != id.gen {
            return None;
        }
        let job = slot.job.take()?;
        slot.gen = slot.gen.wrapping_add(1);
        self.free.push(id.index);
        self.shrink();
        Some(job)
    }

    /// Gives storage back after a burst: when the last slot is freed while
    /// at most a quarter of the slots are live, drops the trailing free
    /// slots. Live jobs cannot move (their ids are indexes), so only a free
    /// tail can go. After each attempt the next waits until the live count
    /// has halved (or the slab grew): amortised O(1) per removal.
    fn shrink(&mut self) {
        let (slots, live) = (self.slots.len(), self.len());
        let tail_free = self.slots.last().is_some_and(|s| s.job.is_none());
        if slots < 64
            || !tail_free
            || live * 4 > slots
            || (self.shrink_below != 0 && live >= self.shrink_below)
        {
            return;
        }
        self.shrink_below = (live / 2).max(1);
        while self.slots.last().is_some_and(|s| s.job.is_none()) {
            self.slots.pop();
        }
        let end = self.slots.len() as u32;
        self.free.retain(|&i| i < end);
        self.slots.shrink_to(self.slots.len() * 2);
        self.free.shrink_to(self.free.len() * 2);
    }

    pub(super) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Job {
            work: Some(Work::Once(Box::new(|| {}))),
            at: At::Queued,
            deadline: Instant::now(),
            site: Location::caller(),
            cancelled: false,
            periodic: false,
        }
    }

    #[test]
    fn stale_ids_touch_nothing() {
        let mut jobs = Jobs::default();
        let a = jobs.insert(job());
        assert!(jobs.remove(a).is_some());
        let b = jobs.insert(job());
        assert_eq!(a.index, b.index, "slot reused");
        assert!(jobs.get(a).is_none() && jobs.remove(a).is_none());
        assert!(jobs.get(b).is_some());
        assert_eq!(jobs.len(), 1);
    }

    #[test]
    fn storage_shrinks_after_a_burst() {
        let mut jobs = Jobs::default();
        let ids: Vec<_> = (0..10_000).map(|_| jobs.insert(job())).collect();
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
