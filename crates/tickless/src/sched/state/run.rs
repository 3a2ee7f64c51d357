//! A worker's run: taking the oldest queued run out of its job record, and
//! recording its end — its lateness and run time, and for a periodic job
//! the next deadline it is filed for.

use std::mem;
use std::panic::Location;
use std::time::Instant;

use super::period::next_deadline;
use super::{pop_live, Effects, Phase, State};
use crate::clock::nanos_since;
use crate::sched::jobs::{At, JobId, Work};

/// A run taken by a worker.
pub(in crate::sched) struct Taken {
    pub(in crate::sched) id: JobId,
    pub(in crate::sched) work: Work,
    pub(in crate::sched) site: &'static Location<'static>,
}

impl State {
    /// A worker takes the oldest queued run.
    /// Its dispatch lateness is recorded when the run ends
    /// ([`finish`](State::finish)), from the start the worker read after
    /// unlocking.
    pub(in crate::sched) fn take(&mut self, fx: &mut Effects) -> Option<Taken> {
        let id = pop_live(&mut self.ready, &self.jobs, At::Queued)?;
        self.queued -= 1;
        self.running += 1;
        self.taken += 1;
        fx.room = true;
        let job = self.jobs.get_mut(id).expect("live");
        job.at = At::Running {
            periodic: job.work.is_periodic(),
            cancelled: false,
        };
        let (work, site) = (mem::replace(&mut job.work, Work::taken()), job.site);
        self.refill(fx);
        Some(Taken { id, work, site })
    }

    /// A run of job `id` (submitted at `site`) ended at `now`; `rest` is
    /// what is left of its work (a periodic job's closure). Returns work to
    /// drop outside the lock.
    pub(in crate::sched) fn finish(
        &mut self,
        (id, site): (JobId, &'static Location<'static>),
        rest: Option<Work>,
        start: Instant,
        now: Instant,
        panicked: bool,
        fx: &mut Effects,
    ) -> Option<Work> {
        // `running` is decremented by the worker, after any re-arm this asks
        // for: "nothing queued, nothing running" then means every due run has
        // been dispatched (tests settle on it).
        let (start, now) = (
            nanos_since(self.wheel.origin(), start),
            nanos_since(self.wheel.origin(), now),
        );
        let run_time = now.saturating_sub(start);
        self.ran_for(run_time);
        let job = self.jobs.get_mut(id).expect("a running job stays live");
        // The run's deadline: a periodic job's next one is filed below.
        let stats = self.stats.of(site);
        stats
            .lateness
            .record_nanos(start.saturating_sub(job.deadline));
        stats.run_time.record_nanos(run_time);
        if panicked {
            stats.panicked += 1;
        } else {
            stats.completed += 1;
        }
        let cancelled = matches!(
            job.at,
            At::Running {
                cancelled: true,
                ..
            }
        );
        let keep = !cancelled && self.phase == Phase::Open && !(panicked && self.cancel_on_panic);
        let work = match rest {
            Some(work) if keep => work,
            rest => {
                self.jobs.remove(id);
                return rest;
            }
        };
        // The running placeholder (`Work::taken()`) owns nothing.
        mem::forget(mem::replace(&mut job.work, work));
        let next = next_deadline(job, now, false);
        self.file(id, next, fx);
        None
    }
}
