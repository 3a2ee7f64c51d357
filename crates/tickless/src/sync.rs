//! The synchronisation primitives shared with loom.
//!
//! Under `--cfg tickless_loom` the shard lock and the wake-up word come from loom, so
//! the concurrency models in `driver::models` run the production code paths
//! (`RUSTFLAGS="--cfg tickless_loom" cargo test -p tickless --lib --release models`).

#[cfg(tickless_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(tickless_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(tickless_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(not(tickless_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// Locks `m`, ignoring poisoning: no user code runs under tickless's locks,
/// and a queue left by a panic is still structurally sound.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// [`lock`] for a std mutex that is not modelled under loom.
#[inline]
pub(crate) fn lock_std<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
