//! The workloads shared by `cargo bench -p tickless` and the `tickless`
//! command (`tickless demo`, `tickless bench`), so both measure the same
//! thing: the criterion benches time them with criterion, the command with
//! plain `Instant`s.
//!
//! | module | what |
//! |---|---|
//! | [`queues`] | timer queues side by side (wheel, 4-ary heap, `BTreeMap`, `BinaryHeap`): churn, expiry, bytes per timer |
//! | [`timers`] | async timers side by side (tickless, tokio, async-io, futures-timer): churn, timeout, memory, expiry, lateness |
//!
//! Heap bytes are measured with [`queues::CountingAlloc`], a global
//! allocator that counts live bytes. A library cannot install it: each
//! binary or bench that reports memory declares it itself,
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: CountingAlloc = CountingAlloc;
//! ```
//!
//! and without that declaration [`queues::live_bytes`] stays at zero.
//! `CountingAlloc` is the only unsafe code in this crate (it forwards every
//! call to the system allocator); CI runs `tickless demo --quick`, which
//! installs it, under valgrind.
//!
//! Not published: this is a measuring instrument for the workspace, not an
//! API.

pub mod queues;
pub mod timers;
