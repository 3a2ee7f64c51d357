//! The synchronisation primitives shared with loom.
//!
//! Under `--cfg tickless_loom` the locks, condition variables, threads and
//! thread-locals below come from loom, so the concurrency models
//! (`driver::models`, `blocking::models`, `context::models`, `sched::models`)
//! run the production code paths
//! (`RUSTFLAGS="--cfg tickless_loom" cargo test -p tickless --lib --release models`).
//! Otherwise they are std's, re-exported unchanged.

#[cfg(tickless_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(tickless_loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};

#[cfg(not(tickless_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(not(tickless_loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

/// `thread_local!` with a `const` initialiser. Under loom it is loom's (its
/// model threads share one OS thread, so a std thread-local would be shared
/// by all of them), whose macro takes no `const` block.
macro_rules! thread_local_const {
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
        #[cfg(not(tickless_loom))]
        std::thread_local!($(#[$attr])* static $name: $t = const { $init });
        #[cfg(tickless_loom)]
        loom::thread_local!($(#[$attr])* static $name: $t = $init);
    };
}
pub(crate) use thread_local_const;

/// Spawning, joining and naming threads: std's, or loom's model threads.
pub(crate) mod thread {
    #[cfg(tickless_loom)]
    pub(crate) use loom::thread::{current, Builder, JoinHandle};
    #[cfg(not(tickless_loom))]
    pub(crate) use std::thread::{current, Builder, JoinHandle};

    /// `JoinHandle::is_finished`. loom cannot tell, so under loom a thread
    /// counts as still running (it is left detached, never joined blocking).
    pub(crate) fn is_finished<T>(thread: &JoinHandle<T>) -> bool {
        #[cfg(not(tickless_loom))]
        return thread.is_finished();
        #[cfg(tickless_loom)]
        {
            let _ = thread;
            false
        }
    }
}

/// Locks `m`, ignoring poisoning: no user code runs under tickless's locks,
/// and a queue left by a panic is still structurally sound.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits on `cv`, ignoring poisoning as [`lock`] does.
#[inline]
pub(crate) fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(guard)
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits on `cv` for at most `timeout`, ignoring poisoning. (loom's version
/// never times out: a model sees only the notifications.)
#[inline]
pub(crate) fn wait_timeout<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: std::time::Duration,
) -> MutexGuard<'a, T> {
    match cv.wait_timeout(guard, timeout) {
        Ok((guard, _)) => guard,
        Err(poisoned) => poisoned.into_inner().0,
    }
}

/// [`lock`] for a std mutex that is not modelled under loom.
#[inline]
pub(crate) fn lock_std<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
