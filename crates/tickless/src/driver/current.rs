//! Which driver the free functions use: the one entered on this thread
//! ([`Driver::enter`]), else the process-wide one ([`Builder::build_global`],
//! or the defaults on first use).

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::OnceLock;

use super::{Builder, Driver, DriverError, Handle, Inner};

std::thread_local! {
    /// The innermost entered driver of this thread.
    static ENTERED: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// The process-wide driver behind [`Handle::current`] when none is entered.
static GLOBAL: OnceLock<Driver> = OnceLock::new();

/// The driver entered on this thread, if any.
#[inline]
pub(super) fn entered() -> Option<Handle> {
    // `try_with`: during thread teardown the slot may be gone; the global
    // driver is the honest answer then.
    ENTERED.try_with(|e| e.borrow().clone()).ok().flatten()
}

/// The process-wide driver, started with the defaults on first use.
pub(super) fn global() -> &'static Inner {
    let driver = GLOBAL.get_or_init(|| {
        Driver::builder()
            .build()
            .unwrap_or_else(|e| panic!("tickless: cannot start the global timer driver: {e}"))
    });
    driver.handle().explicit_inner()
}

/// Installs `builder`'s driver as the process-wide one (see
/// [`Builder::build_global`]).
pub(super) fn install(builder: Builder) -> Result<Handle, DriverError> {
    if GLOBAL.get().is_some() {
        return Err(DriverError::GlobalInUse);
    }
    let driver = builder.build()?;
    let handle = driver.handle().clone();
    // Two threads may race past the check above; the loser's driver is
    // dropped (shut down) here and it gets the error.
    GLOBAL.set(driver).map_err(|_| DriverError::GlobalInUse)?;
    Ok(handle)
}

/// Makes `handle` this thread's current driver until the guard drops.
pub(super) fn enter(handle: &Handle) -> EnterGuard {
    let prev = ENTERED.with(|e| e.replace(Some(handle.clone())));
    EnterGuard {
        prev,
        _not_send: PhantomData,
    }
}

/// While it lives, [`Handle::current`] and the free functions
/// ([`sleep`](crate::sleep), [`timeout`](crate::timeout),
/// [`Timer::new`](crate::blocking::Timer::new), [`Context::background`](crate::Context::background),
/// `Scheduler::builder()`, `Cache::builder()`…) on **this thread** use the
/// entered driver; dropping it restores the driver entered before.
///
/// Returned by [`Driver::enter`] and [`Handle::enter`]. It is not `Send`: it
/// belongs to the thread that entered. Guards nest; drop them in reverse
/// order of creation. Dropped out of order, each still restores what was
/// current when *it* was created (nothing panics, but the thread may end up
/// on an unexpected driver).
///
/// Timers keep the driver they were created on: a `Sleep` created inside the
/// guard's scope and polled after it still runs on the entered driver.
///
/// ```compile_fail
/// let driver = tickless::Driver::builder().build().unwrap();
/// let guard = driver.enter();
/// std::thread::spawn(move || drop(guard)); // error: `EnterGuard` is not `Send`
/// ```
#[must_use = "the driver is current only while the guard lives"]
pub struct EnterGuard {
    prev: Option<Handle>,
    /// `*const ()` is neither `Send` nor `Sync`: a guard restores the
    /// thread-local of the thread that created it.
    _not_send: PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        // `try_with`: a guard dropped during thread teardown has nothing to restore.
        let _ = ENTERED.try_with(|e| *e.borrow_mut() = prev);
    }
}

impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}
