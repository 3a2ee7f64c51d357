//! When a periodic job runs next, and the job record's deadline format.

use std::time::{Duration, Instant};

use crate::clock::{duration_nanos, next_on_grid_nanos, saturating_add};
use crate::sched::jobs::{Job, Period, Work};
use crate::MissedTickBehavior;

/// The next deadline of a periodic job whose run (due at `job.deadline`)
/// ended, or was dropped (`dropped`), at `now` — all in nanoseconds after
/// the scheduler's origin, in integers: this runs under the scheduler's lock
/// once per run. A dropped run of a fixed-rate job skips to the grid's next
/// point after `now` whatever the missed-tick behaviour: a full queue must
/// not be answered with a burst.
pub(super) fn next_deadline(job: &Job, now: u64, dropped: bool) -> u64 {
    let Work::Periodic(p) = &job.work else {
        return now;
    };
    match p.period {
        Period::Delay(delay) => now.saturating_add(duration_nanos(delay)),
        Period::Rate(period, missed) => {
            let period = duration_nanos(period);
            let next = job.deadline.saturating_add(period);
            if next > now {
                return next;
            }
            match missed {
                _ if dropped => next_on_grid_nanos(job.deadline, period, now),
                MissedTickBehavior::Burst => next,
                MissedTickBehavior::Delay => now.saturating_add(period),
                MissedTickBehavior::Skip => next_on_grid_nanos(job.deadline, period, now),
            }
        }
    }
}

/// The instant `nanos` after `origin`: a deadline as a job record stores
/// it (`Job::deadline`, nanoseconds since the scheduler's origin).
pub(super) fn instant(origin: Instant, nanos: u64) -> Instant {
    saturating_add(origin, Duration::from_nanos(nanos))
}
