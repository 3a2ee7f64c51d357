//! Active expiry: one driver alarm per shard, armed for the shard wheel's
//! next deadline, whose fire removes what is due — with no cache call.
//!
//! # Protocol
//!
//! The alarm (`blocking::alarm`) fires on the driver's timer thread, under
//! the alarm's lock. Its action, [`Expire`], only hands a job to the driver's
//! callback executor ([`Handle::run_callback`](crate::Handle)): the timer
//! thread never takes a shard lock, never runs the listener and never drops
//! a value. The job takes the shard lock, pops the entries due at the clock's
//! reading in batches of [`BATCH`] (so callers wait at most one batch for
//! the lock), releases the lock after each batch to call the listener and
//! drop the values, and finally re-arms the alarm for the wheel's next
//! deadline (or stops it when the wheel is empty).
//!
//! # Lock order: shard → alarm → driver shard
//!
//! `State::armed` records, under the shard lock, the tick the alarm is armed
//! for; every arming (an insert whose deadline is earlier than it, the job's
//! re-arming, `invalidate_all`'s stop) happens under the shard lock, so the
//! record and the alarm never disagree for long: an insert cannot arm for
//! an early deadline and then see the job overwrite it with a later one.
//! The alarm's fire takes no shard lock (it only submits a job), so shard →
//! alarm is the only order and no cycle exists.
//!
//! # Why every entry is removed on time
//!
//! Invariant (under the shard lock): either the alarm is armed for a tick at
//! or before the wheel's earliest deadline, or a job is queued or running
//! that will re-arm after popping. An insert keeps it (it arms when its tick
//! is earlier than `armed`); a fire keeps it (it queues a job); the job
//! restores it when it re-arms. A fire is never early, so when the job pops
//! at the clock's reading everything due by the armed tick comes out.
//! Between a deadline and the job, reads already miss: `get` compares each
//! entry's deadline with the clock itself.
//!
//! # A shut-down driver
//!
//! A dropped explicit driver fires every alarm at once (early). The job then
//! pops what is due and stops re-arming (`armed` set to tick 0, which no
//! deadline precedes); expired entries are still never returned, and are
//! removed as calls meet them.

use std::hash::Hash;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Weak};
use std::time::Instant;

use super::shard::{Removed, State};
use super::Inner;
use crate::blocking::alarm::Action;
use crate::sync::lock_std;

/// Entries popped per hold of the shard lock.
const BATCH: usize = 1024;

/// The alarm action of shard `shard`: queue an expiry job.
pub(super) struct Expire<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(super) inner: Weak<Inner<K, V>>,
    pub(super) shard: usize,
}

impl<K, V> Action for Expire<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn fire(&self, deadline: Instant, now: Instant) -> Option<Instant> {
        if let Some(inner) = self.inner.upgrade() {
            // A fire is never early unless the driver shut down.
            let closed = now < deadline;
            let shard = self.shard;
            let handle = inner.handle.clone();
            handle.run_callback(Box::new(move || inner.expire(shard, closed)));
        }
        None // the job re-arms
    }
}

impl<K, V> Inner<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The expiry job of shard `shard` (see the module docs). A panicking
    /// listener does not stop it: the job finishes (and re-arms), then
    /// resumes the first panic for the executor to count.
    pub(super) fn expire(self: Arc<Self>, shard: usize, closed: bool) {
        let mut panic = None;
        loop {
            let mut removed = Removed::new();
            let done = {
                let mut st = lock_std(&self.shards[shard].state);
                let now = self.handle.now();
                while removed.len() < BATCH && st.pop_expired(now, &self.hasher, &mut removed) {}
                st.trim(&self.hasher);
                let done = removed.len() < BATCH;
                if done {
                    if closed {
                        st.armed = Some(0);
                    } else {
                        self.arm_next(shard, &mut st);
                    }
                }
                done
            };
            let notified = catch_unwind(AssertUnwindSafe(|| self.notify(removed)));
            if let Err(payload) = notified {
                panic.get_or_insert(payload);
            }
            if done {
                break;
            }
        }
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
    }

    /// Arms shard `shard`'s alarm for its wheel's next deadline, or stops it
    /// when the wheel is empty. The caller holds the shard lock (`st`).
    pub(super) fn arm_next(&self, shard: usize, st: &mut State<K, V>) {
        let alarm = &self.shards[shard].alarm;
        match st.next_deadline() {
            Some(at) => {
                st.armed = Some(st.wheel.tick_for(at));
                alarm.reset(at);
            }
            None => {
                st.armed = None;
                alarm.stop();
            }
        }
    }

    /// After filing a deadline `tick` in shard `shard`: arms its alarm if
    /// the tick is earlier than the one armed. The caller holds the shard lock.
    #[inline]
    pub(super) fn arm_if_earlier(&self, shard: usize, st: &mut State<K, V>, tick: u64) {
        if tick == super::shard::NEVER || st.armed.is_some_and(|armed| armed <= tick) {
            return;
        }
        st.armed = Some(tick);
        self.shards[shard].alarm.reset(st.wheel.tick_instant(tick));
    }
}
