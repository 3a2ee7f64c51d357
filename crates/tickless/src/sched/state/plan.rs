//! When the scheduler's jobs are dispatched: the driver timer's plan (the
//! latest exact deadline of the earliest occupied tick), a leading worker's
//! target (the first exact deadline, `Core::wait_for_runs`), and the move of
//! due jobs to the queue at the exact deadline rather than the tick's
//! boundary — the driver's own exact wake-ups (`driver::exact`) on the
//! scheduler's wheel.

use std::cmp::Ordering;
use std::mem;
use std::time::Instant;

use super::period::instant;
use super::{Effects, State};

/// Jobs of the wheel's earliest list looked at per plan or early dispatch;
/// beyond that the driver timer keeps the tick's boundary (as the driver's
/// own exact wake-ups do, `driver::exact::WALK`). Larger than the driver's
/// 64: the seed's load puts 1000 periodic jobs in one tick, which then fire
/// at their deadline rather than up to a tick later. The walks are per
/// fire, not per job: a fire walks the earliest list at most twice (the
/// early dispatch, then the next plan), a leader's dispatch does the same,
/// and a re-arm (a job filed in an earlier tick than the plan) walks once.
/// Each step reads a wheel entry and its job's record.
const WALK: usize = 1024;

/// Jobs of the earliest list a worker looks at, each time it goes idle, for
/// the first deadline it may lead to (`first_deadline`): a short walk, as
/// it happens under the lock after every run; denser ticks (which, with
/// runs this frequent, a worker rarely idles between anyway) are left to
/// the driver timer.
const LEAD_WALK: usize = 8;

impl State {
    /// When the driver timer should fire next, and remembers it: the
    /// latest exact deadline among the jobs of the lowest tick on the
    /// wheel's earliest list when that list is short (at most [`WALK`]
    /// jobs, not on the top level), else that tick's boundary — the
    /// driver's own exact wake-ups (`driver::exact`): one fire per occupied
    /// tick, as with boundaries, each at or before the boundary. Jobs of
    /// that tick with earlier deadlines wait for the latest one. A job filed
    /// later moves the fire earlier only if it lies in an earlier tick
    /// ([`filed`](State::filed) asks for a re-plan; within the planned tick
    /// the plan stays the tick's latest deadline). Costs a walk of at most
    /// [`WALK`] jobs.
    pub(in crate::sched) fn next_deadline(&mut self) -> Option<Instant> {
        let plan = self.earliest_tick(WALK, |latest, deadline| latest.max(deadline));
        self.armed_tick = plan.map(|(_, tick, _)| tick);
        plan.map(|(at, _, _)| at)
    }

    /// The earliest exact deadline of a pending job, when the wheel's
    /// earliest list is short enough to know it cheaply (at most
    /// [`LEAD_WALK`] jobs, not on the top level): when a leading worker
    /// dispatches (`Core::wait_for_runs`). `None` also when the jobs are
    /// denser than that: the driver timer's fire serves them.
    pub(in crate::sched) fn first_deadline(&self) -> Option<Instant> {
        match self.earliest_tick(LEAD_WALK, |first, deadline| first.min(deadline))? {
            (at, _, true) => Some(at),
            (_, _, false) => None,
        }
    }

    /// Folds, with `pick`, the exact deadlines of the jobs of the lowest tick
    /// on the wheel's earliest list, when that list has at most `walk` jobs
    /// and is not on the top level (`true`: exact); else that list's first
    /// boundary (`false`). With the tick the instant lies in.
    fn earliest_tick(
        &self,
        walk: usize,
        pick: impl Fn(u64, u64) -> u64,
    ) -> Option<(Instant, u64, bool)> {
        // The lowest tick on the list, and the picked deadline among its jobs.
        let (first, best) = self
            .wheel
            .earliest_list()?
            .fold(walk, |best, tick, &index| {
                let at = (tick, self.jobs.deadline_at(index));
                best.map_or(at, |b: (u64, u64)| match tick.cmp(&b.0) {
                    Ordering::Less => at,
                    Ordering::Equal => (tick, pick(b.1, at.1)),
                    Ordering::Greater => b,
                })
            });
        Some(match best {
            Some((tick, nanos)) => (instant(self.wheel.origin(), nanos), tick, true),
            None => (self.wheel.tick_instant(first), first, false),
        })
    }

    /// Moves every job due at `now` out of the wheel (the driver timer
    /// fired); returns the next deadline to arm for.
    ///
    /// Due means the job's exact deadline passed: the wheel hands out the
    /// jobs whose tick `now` reached (rounded down), and the jobs of the
    /// next tick whose own deadline is at or before `now` are taken from its
    /// list without moving the wheel on (as the driver does). Never early.
    pub(in crate::sched) fn dispatch(&mut self, now: Instant, fx: &mut Effects) -> Option<Instant> {
        while let Some((_, _, index)) = self.wheel.pop_expired(now) {
            self.came_due(index, now, fx);
        }
        let now_nanos = crate::clock::nanos_since(self.wheel.origin(), now);
        let (jobs, mut early) = (&self.jobs, mem::take(&mut self.early));
        self.wheel.expire_next_tick_where(
            WALK,
            |_, &index| jobs.deadline_at(index) <= now_nanos,
            |_, _, index| early.push(index),
        );
        for index in early.drain(..) {
            self.came_due(index, now, fx);
        }
        self.early = early;
        self.next_deadline()
    }

    /// A job just left the wheel at `now`.
    fn came_due(&mut self, index: u32, now: Instant, fx: &mut Effects) {
        self.pending -= 1;
        fx.room = true;
        let id = self.jobs.id_at(index);
        self.due(id, now, fx);
    }
}
