//! The one word the timer thread and registering threads share: when the
//! timer thread next plans to look at the shards.
//!
//! # Protocol
//!
//! Timer thread, each cycle: `begin_scan()` (planned = AWAKE), lock and scan
//! every shard, then `publish(t)` with its next wake-up time and park until
//! `t`. Registering thread: insert under the shard lock, unlock, then
//! `must_wake(latest)`; if true, unpark the timer thread (std's `unpark`
//! leaves a token, so a wake that lands before `park` is not lost).
//!
//! Why no registration is missed: take a timer inserted into shard S.
//! - If the timer thread locks S after the insert's unlock, its scan sees the
//!   timer.
//! - Otherwise the insert's lock happens after the timer thread's unlock of S,
//!   which follows its `begin_scan` store in program order; so that store
//!   happens-before the registering thread's load, which therefore reads AWAKE
//!   (→ wake) or a later `publish(t)`, where `t` either already accounts for
//!   the timer or is later than it (→ wake).
//!
//! The argument rests on the shard mutex's happens-before edges plus
//! coherence of this one atomic, so Release stores and Acquire loads are
//! enough. `driver::models` checks it with loom.

use crate::sync::{AtomicU64, Ordering};

/// The timer thread is awake and may already have passed your shard: wake it.
const AWAKE: u64 = 0;
/// No timer pending: the thread sleeps until woken.
pub(crate) const IDLE: u64 = u64::MAX;

pub(crate) struct Wakeup {
    /// Ticks of the driver's wheels, `AWAKE`, or `IDLE`.
    planned: AtomicU64,
}

impl Wakeup {
    pub(crate) fn new() -> Self {
        // A fresh driver's thread has not scanned yet: treat it as awake.
        Wakeup {
            planned: AtomicU64::new(AWAKE),
        }
    }

    /// The timer thread is about to scan the shards.
    pub(crate) fn begin_scan(&self) {
        // Release: see the module docs; pairs with the Acquire in `must_wake`.
        self.planned.store(AWAKE, Ordering::Release);
    }

    /// The timer thread will next look at `at` (ticks of the driver's wheels) or,
    /// with `IDLE`, only when woken.
    pub(crate) fn publish(&self, at: u64) {
        // Release: see `begin_scan`. `max(1)` keeps a real time apart from AWAKE.
        self.planned.store(at.max(1), Ordering::Release);
    }

    /// Must a timer whose latest acceptable firing time is `latest`
    /// (ticks of the driver's wheels) wake the timer thread?
    #[inline]
    pub(crate) fn must_wake(&self, latest: u64) -> bool {
        // Acquire: see the module docs.
        let planned = self.planned.load(Ordering::Acquire);
        planned == AWAKE || latest < planned
    }
}

#[cfg(all(test, not(tickless_loom)))]
mod tests {
    use super::*;

    #[test]
    fn awake_always_wakes_and_idle_wakes_for_any_deadline() {
        let w = Wakeup::new();
        assert!(w.must_wake(u64::MAX - 1));
        w.publish(IDLE);
        assert!(w.must_wake(5));
        w.publish(1_000);
        assert!(w.must_wake(999));
        assert!(!w.must_wake(1_000));
        w.publish(0);
        assert!(!w.must_wake(5), "a published time of 0 is not AWAKE");
        w.begin_scan();
        assert!(w.must_wake(u64::MAX - 1));
    }
}
