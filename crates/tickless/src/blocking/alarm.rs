//! An armable, stoppable driver timer with an action: the machinery behind
//! [`Timer`](super::Timer), [`Ticker`](super::Ticker) and
//! [`after_func`](super::after_func).
//!
//! # States and locks
//!
//! An `Alarm` is *armed* (`pending` holds its driver registration, or
//! `Never` for a deadline too far away to register — still a pending timer
//! to its owner, as in Go) or *idle*. Its state lives behind its own mutex
//! (through `crate::sync`, so the loom models in `blocking/models.rs` check
//! this protocol); the lock order is alarm → shard (the driver never holds a
//! shard lock while waking, so a fire takes the alarm lock with no shard
//! lock held).
//!
//! The alarm is its own waker. A wake acts only if it belongs to the current
//! registration: `pending` must be set (a `stop` clears it) and the driver
//! must no longer hold that registration (a wake left in flight by an
//! earlier, since reset, registration finds the current one still in its
//! wheel and is ignored; if the current one has fired too, firing now is on
//! time). `stop` and `reset` change `pending` under the same lock, so once
//! they return, no fire of the old arming can act: Go 1.23's "no stale value
//! after Stop/Reset".
//!
//! A `reset` to a later deadline keeps the registration and stores only the
//! new deadline (the idle-timeout pattern costs no shard lock); the wake of
//! that registration, finding the stored deadline still ahead, registers
//! for it instead of firing. Fires therefore happen at the latest deadline
//! set, exactly once, never early.
//!
//! The driver's registration holds a strong reference to the alarm (its
//! waker); the owner (`Timer`, `Ticker`, `TimerHandle`) stops the alarm when
//! dropped, which removes the registration and so frees the alarm at once.
//!
//! A shut-down driver answers every arming `Closed`: the alarm fires once
//! (a `Timer` delivers, an `after_func` runs) and does not re-arm, so a
//! `Ticker` cannot spin on a dead driver.

use std::panic::Location;
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use crate::clock::reached;
use crate::driver::{Entry, Handle, Registered};
use crate::sync::{lock, Mutex, MutexGuard};

/// What an alarm does when it fires.
pub(crate) trait Action: Send + Sync + 'static {
    /// The alarm, armed for `deadline`, fired at `now` (under the alarm lock;
    /// must not block). Returns the deadline to re-arm for (tickers).
    fn fire(&self, deadline: Instant, now: Instant) -> Option<Instant>;

    /// Takes back a fire the receiver has not seen yet; `true` if there was one.
    fn drain(&self) -> bool {
        false
    }
}

pub(crate) struct Alarm<A: Action> {
    handle: Handle,
    site: &'static Location<'static>,
    state: Mutex<State<A>>,
    pub(crate) action: A,
}

/// Whether, and how, an alarm is armed. Deadlines are counted as the
/// driver counts them (`Handle::offset_of`: nanoseconds after its origin),
/// so a lazy move compares and stores integers.
enum Pending {
    Idle,
    /// Registered with the driver, for this deadline (the arming's own
    /// `State::deadline` may be later: a lazy move, see `Alarm::reset`).
    Registered(Entry, i64),
    /// Armed for a deadline beyond the driver's range: never fires.
    Never,
}

struct State<A: Action> {
    /// The arming, if any.
    pending: Pending,
    /// The deadline of the current arming (`None` before the first).
    deadline: Option<i64>,
    /// Set by `detach`: keeps the alarm alive until its one fire.
    keep: Option<Arc<Alarm<A>>>,
}

impl<A: Action> Alarm<A> {
    pub(crate) fn new(handle: Handle, site: &'static Location<'static>, action: A) -> Arc<Self> {
        Arc::new(Alarm {
            handle,
            site,
            state: Mutex::new(State {
                pending: Pending::Idle,
                deadline: None,
                keep: None,
            }),
            action,
        })
    }

    /// Arms for `deadline`, replacing any earlier arming. `true` if the alarm
    /// was pending (or had an unreceived fire), as Go's `Reset` reports.
    ///
    /// A pending alarm moved *later* is moved lazily (an idle timeout pushed
    /// out on every read): its registration stays, only the deadline is
    /// stored, and when the registration fires early for the new deadline
    /// the wake re-registers instead of firing (`wake_by_ref`). No shard
    /// lock, no waker clone: the alarm's lock, a compare and a store (and
    /// taking back an unreceived tick). Earlier moves re-register at once.
    pub(crate) fn reset(self: &Arc<Self>, deadline: Instant) -> bool {
        self.reset_to(self.handle.offset_of(deadline))
    }

    /// [`reset`](Self::reset) to `duration` from now, read as
    /// [`Handle::deadline_after`] reads it.
    pub(crate) fn reset_after(self: &Arc<Self>, duration: Duration) -> bool {
        self.reset_to(self.handle.offset_after(duration))
    }

    fn reset_to(self: &Arc<Self>, deadline: i64) -> bool {
        let mut st = lock(&self.state);
        if matches!(st.pending, Pending::Registered(_, at) if deadline >= at) {
            // Pending: nothing of this arming has been sent, but a ticker
            // may hold an unreceived tick of an earlier period.
            self.action.drain();
            st.deadline = Some(deadline);
            return true;
        }
        let was_active = self.disarm(&mut st);
        self.arm(&mut st, deadline);
        was_active
    }

    /// Disarms. `true` if that prevented a fire (it was pending, or its fire
    /// had not been received yet).
    pub(crate) fn stop(&self) -> bool {
        let mut st = lock(&self.state);
        self.disarm(&mut st)
    }

    /// Lets a pending one-shot alarm outlive its owner until it fires. An
    /// alarm that is not pending is left to be dropped (nothing would release it).
    pub(crate) fn detach(self: &Arc<Self>) {
        let mut st = lock(&self.state);
        // Only a registration ever fires (and so releases `keep`).
        if matches!(st.pending, Pending::Registered(..)) {
            st.keep = Some(self.clone());
        }
    }

    /// `true` while a fire is scheduled.
    pub(crate) fn is_pending(&self) -> bool {
        !matches!(lock(&self.state).pending, Pending::Idle)
    }

    fn disarm(&self, st: &mut State<A>) -> bool {
        // Pending until its fire runs (which clears it under this lock): if
        // the driver has already taken it off the wheel, the fire is in
        // flight and clearing `pending` just prevented it. Either way this
        // stop prevented a fire, as Go 1.23 reports it.
        let prevented = match std::mem::replace(&mut st.pending, Pending::Idle) {
            Pending::Registered(entry, _) => {
                entry.cancel(&self.handle);
                true
            }
            Pending::Never => true,
            Pending::Idle => false,
        };
        let drained = self.action.drain();
        prevented || drained
    }

    /// Registers for `deadline` with the driver; fires inline if already due.
    fn arm(self: &Arc<Self>, st: &mut MutexGuard<'_, State<A>>, mut deadline: i64) {
        loop {
            st.deadline = Some(deadline);
            let waker = Waker::from(self.clone());
            match Entry::register_owned(&self.handle, deadline, waker, self.site) {
                Registered::Pending(entry) => {
                    st.pending = Pending::Registered(entry, deadline);
                    return;
                }
                Registered::Never => {
                    st.pending = Pending::Never;
                    return;
                }
                Registered::Due => match self.fire(deadline, self.handle.now()) {
                    Some(next) => deadline = next,
                    None => return,
                },
                Registered::Closed => {
                    // The last fire: a shut-down driver would answer every
                    // re-arming `Closed` again.
                    self.fire(deadline, self.handle.now());
                    return;
                }
            }
        }
    }
}

impl<A: Action> Alarm<A> {
    /// The action's fire for the arming at `deadline`, at `now`; the
    /// deadline to re-arm for, in the driver's count.
    fn fire(&self, deadline: i64, now: Instant) -> Option<i64> {
        let deadline = self.handle.instant_at_offset(deadline);
        let next = self.action.fire(deadline, now)?;
        Some(self.handle.offset_of(next))
    }
}

impl<A: Action> Wake for Alarm<A> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut st = lock(&self.state);
        let Pending::Registered(entry, _) = &st.pending else {
            return; // stopped since: this fire is stale
        };
        if entry.is_registered(&self.handle) {
            return; // a wake of an earlier arming; the current one is still due later
        }
        st.pending = Pending::Idle;
        let now = self.handle.now();
        let now_at = self.handle.offset_of(now);
        let deadline = st.deadline.unwrap_or(now_at);
        if !reached(now_at, deadline) {
            // Moved later since it was registered (`reset`): not due yet.
            self.arm(&mut st, deadline);
            return;
        }
        match self.fire(deadline, now) {
            Some(next) => self.arm(&mut st, next),
            None => {
                let keep = st.keep.take();
                drop(st);
                drop(keep); // may be the last reference: drop it unlocked
            }
        }
    }
}
