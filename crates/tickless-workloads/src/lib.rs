//! The workloads shared by `cargo bench -p tickless` and the `tickless`
//! command (`tickless demo`, `tickless bench`), so both measure the same
//! thing: the criterion benches time them with criterion, the command with
//! plain `Instant`s.
//!
//! | module | what |
//! |---|---|
//! | [`queues`] | timer queues side by side (wheel, 4-ary heap, `BTreeMap`, `BinaryHeap`): churn, expiry, bytes per timer |
//! | [`timers`] | async timers side by side (tickless, tokio, async-io, futures-timer): churn, timeout, memory, expiry, lateness |
//! | [`delay_queue`] | keyed delay queues side by side (tickless, tokio-util): insert+remove, reset, bytes per entry, draining |
//! | [`sched`] | `tickless::sched` beside tokio tasks: schedule+cancel churn, bytes per job, periodic lateness, one-shot bursts, overload |
//! | [`traces`] | the ARC paper's cache traces (Megiddo and Modha, FAST 2003): load, expand, replay for a hit ratio |
//! | [`wakeups`] | timer-thread and runtime-thread wake-ups per second under 10k timers of random deadlines (tickless, tokio, async-io) |
//! | [`alloc`] | [`CountingAlloc`](alloc::CountingAlloc), the global allocator that counts live heap bytes for the memory figures |
//!
//! `CountingAlloc` is the only unsafe code here (it forwards every call to
//! the system allocator); CI runs `tickless demo --quick`, which installs
//! it, under valgrind. A library cannot install it: each binary or bench that
//! reports memory declares `#[global_allocator] static ALLOC: CountingAlloc =
//! CountingAlloc;` itself.
//!
//! Not published: a measuring instrument for this workspace, not an API.

pub mod alloc;
pub mod delay_queue;
pub mod queues;
pub mod sched;
pub mod timers;
pub mod traces;
pub mod wakeups;
