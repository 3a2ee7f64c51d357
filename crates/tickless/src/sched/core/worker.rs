//! A worker thread's life: take a run, run it (panics caught), count it,
//! and wait when there is none — as the leader, until the first pending
//! deadline, when one is known and ahead.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::{Core, WORKER_OF};
use crate::sched::builder::RejectedAt;
use crate::sched::jobs::Work;
use crate::sched::state::{Effects, State};
use crate::sync::{lock, wait, wait_timeout, MutexGuard};

impl Core {
    /// Waits, given the state lock, until there may be runs to take.
    ///
    /// A worker that goes idle while no other leads, and a pending deadline
    /// lies ahead (`State::first_deadline`: known when the earliest tick
    /// holds at most 8 jobs), becomes the leader: it waits only until that
    /// deadline and then moves the due jobs to the queue itself, as a
    /// `ScheduledThreadPoolExecutor` worker waits for its queue's head: one
    /// wake-up from a deadline to its run, where the driver timer's fire and
    /// then a notified worker are two. Workers already waiting do not start
    /// to lead (a `schedule` notifies none), and none takes over from a
    /// leader pulled away by a run: until a worker next goes idle, the
    /// driver timer serves the deadlines, as it always does — it still fires
    /// at its plan and finds nothing left, or what the leader has not
    /// reached, so a leader that wakes late, is notified for a run first, or
    /// whose plan moves earlier loses only its head start. Only on the
    /// system clock: a `ManualClock`'s time does not pass while a thread
    /// waits (a loom model may ask for a leader there anyway: woken only
    /// by notifications, it still races the timer's fire).
    fn wait_for_runs<'a>(&'a self, mut st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        let shared = &self.shared;
        // Lead only towards a deadline still ahead: one already past is the
        // driver timer's (armed for it, it fires at once — often inline in
        // the submitter that filed it), and a worker racing it for the lock
        // would only slow a dense stream down.
        // The clock is read only when there is a deadline to lead to.
        let lead = (shared.may_lead && !st.leader)
            .then(|| st.first_deadline())
            .flatten()
            .and_then(|first| {
                let now = shared.handle.now();
                (first > now).then(|| first - now)
            });
        st.idle += 1;
        match lead {
            Some(timeout) => {
                st.leader = true;
                st = wait_timeout(&shared.work, st, timeout);
                st.leader = false;
            }
            None => st = wait(&shared.work, st),
        }
        st.idle -= 1;
        // Woken by a notification, spuriously, by a `notify_all` or (a
        // leader) by its timeout: count one fewer on its way. Only a
        // notification consumed one; after the others `waking` counts low,
        // and a later move notifies one worker more than it needs (never
        // fewer: no run is left beside a sleeping worker).
        st.waking = st.waking.saturating_sub(1);
        if lead.is_none() {
            return st;
        }
        let now = shared.handle.now();
        if st.first_deadline().is_none_or(|first| first > now) {
            return st; // not due yet, or the timer's fire got there first
        }
        // The driver timer stays armed for its plan (the latest deadline of
        // this tick, or an earlier plan already past): it will fire, find
        // what is left, and re-arm for the next plan itself.
        let mut fx = Effects::default();
        st.dispatch(now, &mut fx);
        fx.arm = false;
        // The leader takes one run itself (the caller's next `take`); every
        // other run queued — not only those this dispatch queued: the leader
        // may have been notified for one already — gets a worker.
        fx.queued = st.queued.saturating_sub(1);
        shared.release(st, fx, RejectedAt::Due);
        lock(&shared.state)
    }

    /// A worker thread's life.
    pub(super) fn work(self: Arc<Self>) {
        let shared = &self.shared;
        WORKER_OF.with(|w| w.set(Arc::as_ptr(shared) as usize));
        // The leader's timed wait (`wait_for_runs`) wakes when asked.
        crate::driver::set_precise_timer_slack();
        let mut st = lock(&shared.state);
        loop {
            if st.queued == 0 {
                // Nothing to take (`queued` counts the live queued runs): no
                // clock read under the lock on the way to waiting.
                if st.finished() {
                    break;
                }
                st = self.wait_for_runs(st);
                continue;
            }
            let mut fx = Effects::default();
            let taken = st.take(&mut fx).expect("a queued run");
            self.release(st, fx);
            // Read unlocked, next to the run: its lateness and its time (the
            // short-run rule's estimate, `state/wake.rs`) leave out the
            // scheduler's own work.
            let start = shared.handle.now();
            let (rest, panicked) = match taken.work {
                Work::Once(f) => (None, catch_unwind(AssertUnwindSafe(f)).is_err()),
                Work::Periodic(mut p) => {
                    let panicked = catch_unwind(AssertUnwindSafe(|| (p.run)())).is_err();
                    (Some(Work::Periodic(p)), panicked)
                }
            };
            let end = shared.handle.now();
            let mut fx = Effects::default();
            st = lock(&shared.state);
            let dropped = st.finish((taken.id, taken.site), rest, start, end, panicked, &mut fx);
            if fx.arm || dropped.is_some() {
                self.release(st, fx);
                // User code, caught as the run was: a panic in its `Drop`
                // must not unwind the worker out of its loop (the pool one
                // worker short, `live_workers` never counted down).
                let _ = catch_unwind(AssertUnwindSafe(|| drop(dropped)));
                st = lock(&shared.state);
            }
            st.running -= 1;
        }
        st.live_workers -= 1;
        drop(st);
        // Other workers may be waiting for runs that will never come, and a
        // shutdown may be waiting for this exit.
        shared.work.notify_all();
        shared.room.notify_all();
    }
}
