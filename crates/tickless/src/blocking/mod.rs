//! Go-style timers for threads and `select!`: [`Timer`], [`Ticker`],
//! [`after`], [`at`], [`tick`], [`after_func`].
//!
//! Receivers are [`crossbeam_channel::Receiver<Instant>`], so they work in
//! `crossbeam_channel::select!` the way Go's timers work in `select`. Go's
//! documented semantics, in their Go 1.23 form, are the specification, with
//! Rust ownership on top:
//!
//! - After [`Timer::stop`] or [`Timer::reset`] returns, no value from the old
//!   deadline can ever be received — no drain dance.
//! - Dropping a [`Timer`], [`Ticker`] or [`TimerHandle`] stops it and frees it
//!   at once. Nothing waits in a heap for its deadline after its owner is gone.
//!
//! # Which one
//!
//! | you want | use | registers a driver timer? |
//! |---|---|---|
//! | a timeout branch in a `select!` loop | [`after`] / [`at`] | **no**: a deadline checked by the receive itself |
//! | a periodic branch | [`tick`] | no |
//! | a timeout you stop or reset | [`Timer`] | yes, until fired, stopped or dropped |
//! | a periodic timer you stop or reset | [`Ticker`] | yes |
//! | a callback | [`after_func`] | yes; it runs on a callback thread |
//!
//! `after`, `at` and `tick` are crossbeam-channel's own `at`/`tick` flavours:
//! the deadline is materialised when the channel is received from or
//! selected on, so they cost one small allocation, no registration, no thread
//! and no wakeup — and cannot leak, because there is nothing to leak. They
//! measured cheaper than a driver timer for the select-loop case (see the
//! README), so tickless uses them rather than re-implementing them. They have
//! no call site to account (nothing is live); they follow the real clock,
//! not a driver's [`ManualClock`](crate::clock::ManualClock).
//!
//! # Bad input
//!
//! A zero or past deadline fires immediately. `Duration::MAX` (anything past
//! the driver's range) means never: no timer is registered and nothing
//! overflows. A zero [`Ticker`] period is an error ([`TimerError::ZeroPeriod`]).
//!
//! # Examples
//!
//! Go's classic `select` loop — a busy channel or a one-hour `time.After`
//! timeout — with memory flat however many times it turns:
//!
//! ```
//! use std::time::Duration;
//! use crossbeam_channel::{select, unbounded};
//!
//! let (tx, work) = unbounded();
//! for i in 0..1000 {
//!     tx.send(i).unwrap();
//!     select! {
//!         recv(work) -> msg => assert_eq!(msg, Ok(i)),
//!         recv(tickless::blocking::after(Duration::from_secs(3600))) -> _ => unreachable!(),
//!     }
//! }
//! ```

mod after_func;
pub(crate) mod alarm;
#[cfg(all(test, tickless_loom))]
mod models;
mod ticker;
mod timer;

use std::fmt;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

pub use after_func::{after_func, TimerHandle};
pub use ticker::Ticker;
pub use timer::Timer;

/// A receiver that yields one `Instant` once `duration` has passed.
///
/// crossbeam-channel's `after`: no timer is registered; the receive (or
/// `select!`) itself waits until the deadline. Dropping it costs nothing.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let fired = tickless::blocking::after(Duration::from_millis(5)).recv().unwrap();
/// assert!(fired >= start + Duration::from_millis(5));
/// ```
pub fn after(duration: Duration) -> Receiver<Instant> {
    if duration >= NEVER {
        return crossbeam_channel::never();
    }
    crossbeam_channel::after(duration)
}

/// A receiver that yields one `Instant` at `deadline` (at once if it is past).
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let deadline = Instant::now() + Duration::from_millis(2);
/// assert!(tickless::blocking::at(deadline).recv().unwrap() >= deadline);
/// ```
pub fn at(deadline: Instant) -> Receiver<Instant> {
    crossbeam_channel::at(deadline)
}

/// A receiver that yields an `Instant` every `period`, the first one period
/// from now; a slow receiver gets the next tick, not a backlog.
///
/// Leak-free, unlike Go's `time.Tick` before 1.23: there is no registration,
/// and dropping the receiver is all it takes to end it. A zero period ticks
/// on every receive (crossbeam's semantics); `Duration::MAX` never ticks.
///
/// ```
/// use std::time::Duration;
///
/// let ticks = tickless::blocking::tick(Duration::from_millis(2));
/// let a = ticks.recv().unwrap();
/// let b = ticks.recv().unwrap();
/// assert!(b - a >= Duration::from_millis(2));
/// ```
pub fn tick(period: Duration) -> Receiver<Instant> {
    if period >= NEVER {
        return crossbeam_channel::never();
    }
    crossbeam_channel::tick(period)
}

/// Durations this long mean "never" for the receiver-only functions (crossbeam
/// would overflow `Instant` on `Duration::MAX`).
const NEVER: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Bad input for a timer that cannot be honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimerError {
    /// A [`Ticker`] period of zero would tick in a busy loop.
    ZeroPeriod,
}

impl fmt::Display for TimerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerError::ZeroPeriod => f.write_str("a ticker period must be greater than zero"),
        }
    }
}

impl std::error::Error for TimerError {}
