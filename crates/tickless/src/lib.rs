//! Timers that cannot leak, cost almost nothing when cancelled, and can be seen.
//!
//! This crate is being built bottom-up (see `DESIGN.md` in the project's
//! shared folder). Available today:
//!
//! - [`clock`]: the [`Clock`](clock::Clock) trait, [`SystemClock`](clock::SystemClock)
//!   and [`ManualClock`](clock::ManualClock) for deterministic tests.
//! - [`queue`]: single-threaded timer queues — a hierarchical timing
//!   [`Wheel`](queue::Wheel) with O(1) insert and cancel, and the Go runtime's
//!   4-ary [`QuadHeap`](queue::QuadHeap) for exact ordering and comparison.
//!
//! ```
//! use std::time::Duration;
//! use tickless::clock::{Clock, ManualClock};
//! use tickless::queue::{TimerQueue, Wheel};
//!
//! let clock = ManualClock::new();
//! let mut wheel = Wheel::new(clock.now());
//! let timeout = wheel.insert(clock.now() + Duration::from_secs(30), "request 1");
//! // The request finished first: cancelling frees the timer at once.
//! assert_eq!(wheel.cancel(timeout), Some("request 1"));
//! assert!(wheel.is_empty());
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod clock;
pub mod queue;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
