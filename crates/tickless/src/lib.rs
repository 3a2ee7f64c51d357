//! Timers that cannot leak, cost almost nothing when cancelled, and can be seen.
//!
//! - **Async, any runtime**: [`sleep`], [`sleep_until`], [`timeout`],
//!   [`timeout_at`], [`interval`], [`interval_at`] — tokio's names and
//!   semantics, but the futures need nothing but the [`Waker`](std::task::Waker)
//!   they are polled with: they work under tokio, smol, `futures::executor`, or
//!   a hand-written executor.
//! - **Leak-free by construction**: a timer lives exactly as long as its
//!   future. Dropping it cancels the timer and frees its memory at once, on any
//!   thread. Memory follows live timers, never timers created.
//! - **Cheap to cancel**: registering and cancelling take the calling thread's
//!   own shard lock and an O(1) [timing wheel](queue::Wheel) operation; no
//!   global lock, no syscall, no allocation once warm, no clock read.
//! - **Tickless**: one timer thread sleeps exactly until the earliest deadline;
//!   idle, it makes no wakeups at all ([`driver`]).
//! - **Go-style timers for threads**: [`blocking`] has `Timer`, `Ticker`,
//!   `after`, `at`, `tick` and `after_func`, with crossbeam-channel receivers
//!   for `select!` and Go 1.23's no-stale-value semantics.
//! - **Deadlines that propagate**: [`Context`] — Go's `context` with a guard
//!   whose drop cancels, for async code and threads alike.
//! - **Deterministic tests**: a [`Driver`] built on a
//!   [`ManualClock`](clock::ManualClock) fires timers when the test moves time.
//! - **hyper** (feature `hyper`): `tickless::hyper::TicklessTimer` runs
//!   hyper's own timers (header-read timeout, pool idle timeout) on tickless.
//!
//! ```
//! use std::time::Duration;
//!
//! futures::executor::block_on(async {
//!     // The request finishes first: its timeout is cancelled and freed.
//!     let reply = tickless::timeout(Duration::from_secs(30), async { "pong" }).await;
//!     assert_eq!(reply, Ok("pong"));
//!
//!     tickless::sleep(Duration::from_millis(1)).await;
//! });
//! ```
//!
//! Lower layers are public too: [`clock`] (the `Clock` trait, `SystemClock`,
//! `ManualClock`) and [`queue`] (the wheel and the 4-ary heap, single-threaded).
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod blocking;
pub mod cache;
pub mod clock;
pub mod context;
mod coop;
pub mod delay_queue;
pub mod driver;
#[cfg(feature = "hyper")]
pub mod hyper;
mod interval;
pub mod observe;
pub mod queue;
pub mod sched;
mod sleep;
mod sync;
mod timeout;

pub use context::{CancelGuard, Context, ContextError};
pub use delay_queue::{DelayQueue, Expired};
pub use driver::{Builder, Driver, DriverError, EnterGuard, Handle};
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, Elapsed, FutureExt, Timeout};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
