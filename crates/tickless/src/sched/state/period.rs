//! When a periodic job runs next, and the job record's deadline format.

use std::time::{Duration, Instant};

use crate::clock::{next_on_grid, saturating_add};
use crate::sched::jobs::{Job, Period, Work};
use crate::MissedTickBehavior;

/// The next deadline of a periodic job whose run (due at `job.deadline`)
/// ended, or was dropped (`dropped`), at `now`. A dropped run of a fixed-rate
/// job skips to the grid's next point after `now` whatever the missed-tick
/// behaviour: a full queue must not be answered with a burst.
pub(super) fn next_deadline(job: &Job, origin: Instant, now: Instant, dropped: bool) -> Instant {
    let Work::Periodic(p) = &job.work else {
        return now;
    };
    let deadline = instant(origin, job.deadline);
    match p.period {
        Period::Delay(delay) => saturating_add(now, delay),
        Period::Rate(period, missed) => {
            let next = saturating_add(deadline, period);
            if next > now {
                return next;
            }
            match missed {
                _ if dropped => next_on_grid(deadline, period, now),
                MissedTickBehavior::Burst => next,
                MissedTickBehavior::Delay => saturating_add(now, period),
                MissedTickBehavior::Skip => next_on_grid(deadline, period, now),
            }
        }
    }
}

/// The instant `nanos` after `origin`: a deadline as a job record stores
/// it (`Job::deadline`, nanoseconds since the scheduler's origin).
pub(super) fn instant(origin: Instant, nanos: u64) -> Instant {
    saturating_add(origin, Duration::from_nanos(nanos))
}
