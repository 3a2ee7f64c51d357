//! [`Context::after_func`](super::Context::after_func): Go's
//! `context.AfterFunc` — a callback run when a context ends, with a handle
//! that stops it.
//!
//! The callback waits as one of the node's waiters (a waker whose `wake`
//! hands the callback to the driver's callback executor), so it costs the
//! same as a waiting `cancelled()` future and leaves nothing behind when
//! stopped.

use std::fmt;
use std::sync::Arc;
use std::task::{Wake, Waker};

use super::node::Node;
use crate::driver::{Handle, Job};
use crate::sync::{lock, Mutex};

/// Stops a callback registered by [`Context::after_func`](super::Context::after_func);
/// **dropping it stops the callback too** (leak-free by default, like
/// [`blocking::after_func`](crate::blocking::after_func)'s handle). Call
/// [`detach`](AfterFuncHandle::detach) to let the callback run without a handle.
#[must_use = "dropping the handle stops the callback; call `detach` to keep it"]
pub struct AfterFuncHandle {
    node: Arc<Node>,
    call: Arc<Call>,
    /// The callback's slot in the node's waiters; `None` when the context
    /// had ended (or is a root) at registration.
    slot: Option<usize>,
    /// [`detach`](AfterFuncHandle::detach)ed: dropping does not stop it.
    detached: bool,
}

/// The callback, taken exactly once: by the wake (to run it) or by `stop`.
struct Call {
    f: Mutex<Option<Job>>,
    handle: Handle,
}

impl Wake for Call {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let job = lock(&self.f).take();
        if let Some(job) = job {
            self.handle.run_callback(job);
        }
    }
}

impl AfterFuncHandle {
    pub(super) fn new(node: &Arc<Node>, f: Job) -> AfterFuncHandle {
        let call = Arc::new(Call {
            f: Mutex::new(Some(f)),
            handle: node.handle.clone(),
        });
        let slot = if node.root {
            // Roots never end: nothing to wait for.
            None
        } else {
            let mut st = node.lock_observed();
            if st.err.is_none() {
                Some(st.followers().waiters.insert(Waker::from(call.clone())))
            } else {
                drop(st);
                // Ended already: run now, as Go does.
                call.wake_by_ref();
                None
            }
        };
        AfterFuncHandle {
            node: node.clone(),
            call,
            slot,
            detached: false,
        }
    }

    /// Stops the callback from running. `true` if this call stopped it;
    /// `false` if it had already been started (the context ended) or
    /// stopped — Go's `stop()`.
    pub fn stop(&self) -> bool {
        // Lock order: node state, then the callback (the wake takes only the
        // callback's lock, after the node's lock was released).
        let mut st = lock(&self.node.state);
        let took = lock(&self.call.f).take().is_some();
        if took && st.err.is_none() {
            if let Some(slot) = self.slot {
                st.remove_waiter(slot);
            }
        }
        took
    }

    /// Lets the callback run when the context ends, without a handle to
    /// stop it. It stays registered until then: on a context that never
    /// ends, for as long as the context lives.
    pub fn detach(mut self) {
        self.detached = true;
    }
}

impl Drop for AfterFuncHandle {
    fn drop(&mut self) {
        if !self.detached {
            self.stop();
        }
    }
}

impl fmt::Debug for AfterFuncHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AfterFuncHandle")
            .field("pending", &lock(&self.call.f).is_some())
            .finish_non_exhaustive()
    }
}
