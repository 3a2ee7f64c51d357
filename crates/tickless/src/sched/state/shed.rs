//! The moves that drop work: `DiscardOldest` at submit time, and shutdown.

use std::mem;
use std::time::Instant;

use super::{pop_live, Effects, Phase, State};
use crate::queue::TimerQueue;
use crate::sched::jobs::At;

impl State {
    /// `DiscardOldest` at `schedule*`: drops the whole pending job due first
    /// — any job of the earliest tick (`Wheel::peek`), not necessarily the
    /// earliest exact deadline in it (an overflowed run is due already, so it
    /// goes first). `false` if there
    /// was none.
    pub(in crate::sched) fn discard_first_pending(&mut self, fx: &mut Effects) -> bool {
        let id = match pop_live(&mut self.overflow, &self.jobs, At::Overflow) {
            Some(id) => id,
            None => {
                let Some(key) = self.wheel.peek() else {
                    return false;
                };
                let index = self.wheel.cancel(key).expect("peeked");
                self.jobs.id_at(index)
            }
        };
        self.pending -= 1;
        fx.room = true;
        fx.drop_work(self.jobs.remove(id).expect("live"));
        true
    }

    /// `DiscardOldest` at `execute`: drops the oldest queued run.
    pub(in crate::sched) fn discard_oldest_queued(&mut self, now: Instant, fx: &mut Effects) {
        if let Some(oldest) = pop_live(&mut self.ready, &self.jobs, At::Queued) {
            self.queued -= 1;
            self.drop_run(oldest, now, fx);
        }
    }

    /// Shutdown: drops every pending job; with `stop`, queued and
    /// overflowed runs too. Running jobs finish and are not re-filed.
    pub(in crate::sched) fn close(&mut self, stop: bool, fx: &mut Effects) {
        if self.phase == Phase::Stopped || (self.phase == Phase::Draining && !stop) {
            return;
        }
        self.phase = if stop {
            Phase::Stopped
        } else {
            Phase::Draining
        };
        // Every job in the wheel goes, in one pass (not one `peek` each: that
        // scans a slot, and jobs with similar delays share one).
        let mut gone = 0;
        self.jobs.remove_where(
            |job| matches!(job.at, At::Pending(_)),
            |work| {
                gone += 1;
                fx.drop_work(work);
            },
        );
        self.pending -= gone;
        self.wheel.clear();
        if stop {
            for list in [mem::take(&mut self.ready), mem::take(&mut self.overflow)] {
                for id in list {
                    if let Some(job) = self.jobs.get(id) {
                        if matches!(job.at, At::Queued | At::Overflow) {
                            if let Some(work) = self.jobs.remove(id) {
                                fx.drop_work(work);
                            }
                        }
                    }
                }
            }
            (self.queued, self.pending) = (0, 0);
        }
        self.armed_tick = None;
        fx.room = true;
    }
}
