//! The stall check (`state/wake.rs`): a driver timer, armed when a move
//! leaves waiting workers beside queued short runs, that wakes one of them
//! each time it finds that no run was taken since it last looked.

use std::sync::Weak;
use std::time::Instant;

use super::Shared;
use crate::blocking::alarm::Action;
use crate::clock::saturating_add;
use crate::sched::state::{Stall, STALL};
use crate::sync::lock;

/// The stall check's action. `Weak`: a pending check does not keep a
/// dropped scheduler's state alive.
pub(in crate::sched) struct StallCheck(pub(super) Weak<Shared>);

impl Action for StallCheck {
    fn fire(&self, _deadline: Instant, now: Instant) -> Option<Instant> {
        // If this turns out to be the last strong reference (a straggler's
        // exit racing a timed-out shutdown), `Shared` is dropped at the end
        // of this call, on the timer thread under this alarm's lock: its
        // state is empty by then (closed), and this alarm outlives it (the
        // driver's waker holds it).
        let shared = self.0.upgrade()?;
        let mut st = lock(&shared.state);
        let (wake, again) = match st.stall_check() {
            Stall::Clear => (0, false),
            Stall::Progress => (0, true),
            Stall::Stalled => (1, true),
            Stall::Long(wake) => (wake, false),
        };
        drop(st);
        for _ in 0..wake {
            shared.work.notify_one();
        }
        // Re-armed by returning the deadline: `Shared::release` arms this
        // alarm only while no check is pending (`State::stall_mark`), so
        // nothing else resets it now.
        again.then(|| saturating_add(now, STALL))
    }
}
