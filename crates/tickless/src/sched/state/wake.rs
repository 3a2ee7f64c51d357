//! How many waiting workers a move that queued runs wakes, the run-time
//! estimate that decides it, and the stall check that backs it up.
//!
//! Runs of unknown length, or long ones: one waiting worker per run queued
//! (as many as wait), since the pool's parallelism is what they need.
//!
//! *Short* runs — a moving average of run times below [`SHORT_RUN_NANOS`] —
//! are drained fastest by one worker: the lock they all go through costs
//! more to hand between cores than such a run does. On the 2-vCPU machine
//! this crate is measured on, 1000 trivial runs due at one instant were
//! started ~0.4 µs apart by one worker and 1–1.5 µs apart by ten woken for
//! them (the lock bouncing between the cores, with futex sleeps and
//! wake-ups): the last run of the seed's burst started 2–3× later. So for
//! short runs a move wakes one worker only when none is awake (or already
//! woken); an awake worker takes runs until the queue is empty.
//!
//! A run may be longer than its history says (it blocks, or waits for a run
//! queued behind it), and the one awake worker may lose its core for a
//! while. So whenever waiting workers are left beside queued runs, a *stall
//! check* runs every [`STALL`] while runs wait (`core/stall.rs`): when no
//! run was taken since the last check, it wakes one more worker. One, not
//! all: on that machine a drainer descheduled for a few hundred µs was
//! common, and waking every worker then brought back the fight over the
//! lock for the rest of the burst (p99 of the burst's runs over 200 bursts:
//! 1.3–3.5 ms waking all after 1 ms, 1.2–1.9 ms waking one after 250 µs,
//! against 1.6–3.2 ms for a worker per run).
//!
//! A worker found that way is presumed *stuck* in a long run and no longer
//! counts as awake (until a run of `STALL` or more ends, or every worker
//! waits), so the runs that follow wake a worker at once: a service loop
//! that holds a worker for good costs the first short run behind it one or
//! two checks, not every one. Each misjudged run delays the runs queued
//! behind it by one or two checks (later ones when the driver's resolution
//! is coarser than `STALL`), runs that wait for each other need a check per
//! extra worker, and a misjudged run's own time lifts the estimate when it
//! ends; once the estimate is long again, the check wakes a worker per
//! queued run and stops.
//!
//! The estimate is of the runs alone (the worker reads the clock after
//! unlocking, next to the run), so the rule does not depend on how busy
//! the scheduler's lock is.

use std::time::Duration;

use super::State;

/// Runs averaging less than this (1 µs) are drained by one worker.
pub(in crate::sched) const SHORT_RUN_NANOS: u64 = 1_000;

/// How often the stall check looks at queued runs beside waiting workers
/// (250 µs).
pub(in crate::sched) const STALL: Duration = Duration::from_micros(250);

/// What the stall check found.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::sched) enum Stall {
    /// No run waits beside a waiting worker (or the check was not armed):
    /// stop checking.
    Clear,
    /// Runs were taken since the last check: check again later.
    Progress,
    /// No run taken since the last check: one more worker was counted
    /// waking; wake it, and check again later.
    Stalled,
    /// Runs are no longer short: this many workers were counted waking (one
    /// per queued run, as the long-run rule wakes); wake them and stop.
    Long(usize),
}

impl State {
    /// Records a run's time in the estimate (a moving average, weight 1/8).
    /// A run of `STALL` or more may be the one the stall check presumed
    /// stuck: one fewer.
    pub(in crate::sched) fn ran_for(&mut self, nanos: u64) {
        self.run_estimate = Some(match self.run_estimate {
            None => nanos,
            Some(e) => e - e / 8 + nanos / 8,
        });
        if u128::from(nanos) >= STALL.as_nanos() {
            self.stuck = self.stuck.saturating_sub(1);
        }
    }

    /// Whether recent runs were short (see the module docs).
    fn short_runs(&self) -> bool {
        self.run_estimate.is_some_and(|e| e < SHORT_RUN_NANOS)
    }

    /// A move queued `queued` runs: how many waiting workers to wake (counted
    /// as waking), and whether to arm the stall check. `drain` allows the
    /// short-run rule: on the system clock only (a `ManualClock`'s runs take
    /// no time, and its stall check would fire only when a test advanced
    /// it), and while the driver runs (a shut-down one cannot arm the check).
    pub(in crate::sched) fn wakes(&mut self, queued: usize, drain: bool) -> (usize, bool) {
        debug_assert!(self.waking <= self.idle, "{} > {}", self.waking, self.idle);
        if queued == 0 {
            return (0, false); // most moves (a schedule, a cancel): kept cheap
        }
        let all = queued.min(self.idle - self.waking);
        let wake = if drain && self.short_runs() {
            if self.idle == self.live_workers {
                self.stuck = 0; // no run in progress: none is stuck
            }
            // Workers awake (not waiting) or about to be, and not presumed
            // stuck: they take runs until the queue is empty.
            let awake = (self.live_workers - self.idle + self.waking).saturating_sub(self.stuck);
            all.min(usize::from(awake == 0))
        } else {
            all
        };
        self.waking += wake;
        // Waiting workers left beside queued runs: make sure they are woken
        // if the awake ones stop taking runs.
        let watch = wake < all && self.stall_mark.is_none();
        if watch {
            self.stall_mark = Some(self.taken);
        }
        (wake, watch)
    }

    /// The stall check fired (see the module docs).
    pub(in crate::sched) fn stall_check(&mut self) -> Stall {
        let Some(mark) = self.stall_mark else {
            return Stall::Clear;
        };
        let free = self.idle - self.waking;
        if self.queued == 0 || free == 0 {
            // Every worker is awake (or about to be): whichever goes idle
            // first finds the queue empty, and a move that leaves runs
            // beside a waiting worker arms the check again.
            self.stall_mark = None;
            return Stall::Clear;
        }
        if !self.short_runs() {
            self.stall_mark = None;
            let wake = self.queued.min(free);
            self.waking += wake;
            self.stats.stall_wakes += wake as u64;
            return Stall::Long(wake);
        }
        if self.taken != mark {
            self.stall_mark = Some(self.taken);
            return Stall::Progress;
        }
        self.waking += 1;
        self.stats.stall_wakes += 1;
        self.stuck = (self.stuck + 1).min(self.running);
        Stall::Stalled
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::sched::RejectPolicy;
    use crate::MissedTickBehavior;

    /// A state with `workers` live workers, `idle` of them waiting.
    fn pool(workers: usize, idle: usize) -> State {
        let (tick, burst) = (Duration::from_micros(100), MissedTickBehavior::Burst);
        let mut st = State::new(
            Instant::now(),
            tick,
            64,
            64,
            RejectPolicy::Abort,
            false,
            burst,
        );
        st.live_workers = workers;
        st.idle = idle;
        st
    }

    /// [`pool`], its recent runs short.
    fn short(workers: usize, idle: usize) -> State {
        let mut st = pool(workers, idle);
        st.ran_for(100);
        st
    }

    #[test]
    fn unknown_or_long_runs_wake_a_worker_per_run() {
        let mut st = pool(4, 4);
        assert_eq!(st.wakes(3, true), (3, false), "no estimate yet");
        assert_eq!(st.wakes(3, true), (1, false), "only one more waits");
        let mut st = pool(4, 4);
        st.ran_for(50_000);
        assert_eq!(st.wakes(10, true), (4, false));
    }

    #[test]
    fn short_runs_wake_one_worker_and_watch() {
        let mut st = short(4, 4);
        assert_eq!(st.wakes(10, true), (1, true), "one worker, a check");
        assert_eq!(st.wakes(10, true), (0, false), "one is waking; checked");
        let mut st = short(4, 3);
        assert_eq!(st.wakes(1, true), (0, true), "a worker is awake");
        // Without the short-run rule (a `ManualClock`): every run a worker.
        let mut st = short(4, 4);
        assert_eq!(st.wakes(10, false), (4, false));
    }

    #[test]
    fn the_estimate_follows_the_runs() {
        let mut st = short(2, 2);
        assert!(st.short_runs());
        // One long run lifts the average over the limit at once ...
        st.ran_for(1_000_000);
        assert!(!st.short_runs());
        // ... and short runs bring it back down.
        (0..60).for_each(|_| st.ran_for(100));
        assert!(st.short_runs());
    }

    #[test]
    fn the_stall_check_wakes_one_worker_per_stalled_check() {
        let mut st = short(4, 3);
        assert_eq!(st.stall_check(), Stall::Clear, "not armed");
        st.queued = 5;
        assert_eq!(st.wakes(5, true), (0, true));
        st.taken += 1;
        assert_eq!(st.stall_check(), Stall::Progress, "a run was taken");
        assert_eq!(st.stall_check(), Stall::Stalled, "none since");
        assert_eq!(st.stall_check(), Stall::Stalled, "still none");
        assert_eq!(st.waking, 2, "one worker per stalled check");
        assert_eq!(st.stats.stall_wakes, 2, "counted");
        st.taken += 1;
        assert_eq!(st.stall_check(), Stall::Progress);
        st.queued = 0;
        assert_eq!(st.stall_check(), Stall::Clear, "nothing waits");
        assert_eq!(st.stall_mark, None, "disarmed");
    }

    #[test]
    fn a_worker_found_stuck_no_longer_counts_as_awake() {
        let mut st = short(3, 2);
        st.running = 1; // the awake worker is in a run
        st.queued = 1;
        assert_eq!(
            st.wakes(1, true),
            (0, true),
            "the awake worker will take it"
        );
        assert_eq!(st.stall_check(), Stall::Stalled, "it took none");
        assert_eq!(st.stuck, 1);
        // The woken worker took the run and waits again; the next run wakes
        // a worker at once, with no check.
        (st.waking, st.queued, st.stall_mark) = (0, 1, None);
        assert_eq!(st.wakes(1, true), (1, false));
        // The stuck run ends after more than a check: no longer stuck.
        st.ran_for(10_000_000);
        assert_eq!(st.stuck, 0);
        // Every worker waiting resets the presumption too.
        st.stuck = 1;
        (st.idle, st.waking, st.running) = (3, 0, 0);
        st.run_estimate = Some(100);
        assert_eq!(st.wakes(1, true), (1, false));
        assert_eq!(st.stuck, 0);
    }

    #[test]
    fn the_stall_check_stops_when_no_worker_waits_or_runs_turn_long() {
        let mut st = short(4, 1);
        st.queued = 5;
        assert_eq!(st.wakes(5, true), (0, true));
        assert_eq!(st.stall_check(), Stall::Stalled, "wakes the last one");
        assert_eq!(st.stall_check(), Stall::Clear, "none left waiting");
        let mut st = short(4, 3);
        st.queued = 5;
        assert_eq!(st.wakes(5, true), (0, true));
        st.ran_for(1_000_000);
        assert_eq!(st.stall_check(), Stall::Long(3), "a worker per run");
        assert_eq!(st.stats.stall_wakes, 3, "counted");
        assert_eq!(st.stall_mark, None, "disarmed");
    }
}
