//! [`Context`]: deadlines and cancellation that propagate, and cannot be
//! forgotten — Go's `context`, for async code on any runtime and for threads.
//!
//! ```
//! use std::time::Duration;
//! use tickless::Context;
//!
//! let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(20));
//! let (child, _child_cancel) = ctx.with_timeout(Duration::from_secs(3600));
//! assert_eq!(child.deadline(), ctx.deadline(), "a child never outlives its parent");
//!
//! // Threads wait in select! on `done()`; async code awaits `cancelled()`.
//! assert!(child.done().recv().is_err(), "done() disconnects when the context ends");
//! assert_eq!(child.err(), Some(tickless::ContextError::DeadlineExceeded));
//! ```
//!
//! # Shape and guarantees
//!
//! - A context is a node in a tree. [`with_cancel`](Context::with_cancel),
//!   [`with_timeout`](Context::with_timeout) and
//!   [`with_deadline`](Context::with_deadline) derive a child and return a
//!   [`CancelGuard`]: **dropping the guard cancels the child** — the
//!   `lostcancel` bug Go's vet hunts for cannot be written.
//! - Cancelling a context cancels all its descendants at once, from any
//!   thread (iteratively: any depth). A finished child is unlinked from its
//!   parent in O(1), so a long-lived parent that derives millions of
//!   short-lived children keeps memory flat (Go's `cancelCtx` keeps its child
//!   map until children cancel; this one forgets them when they end).
//! - A child's effective deadline is the earlier of its own and its parent's.
//!   A deadline is enforced by exactly one driver timer per context whose
//!   own deadline is earlier than its parent's; the timer is cancelled when
//!   the context ends first. When it fires, the cancellation of that subtree
//!   runs on the timer thread (proportional to the subtree's size); a
//!   deadline that passed before it was registered (below) ends the context
//!   on the thread that next asks or drops the guard.
//! - The timer is registered when something first waits on the context or
//!   asks about its end — [`done`](Context::done), a
//!   [`cancelled`](Context::cancelled) poll (so [`run`](Context::run) and
//!   [`sleep`](Context::sleep) once their future is pending),
//!   [`after_func`](Context::after_func), a child,
//!   [`is_done`](Context::is_done), [`err`](Context::err) or
//!   [`cause`](Context::cause) — as tokio's `Sleep` registers on its first
//!   poll. A context derived and cancelled before any of that (a request
//!   that finished in time) costs no driver work, and does not show among
//!   the live timers of [`observe`](crate::observe) until it is waited on.
//!   Its answers do not change: a guard dropped after an unregistered
//!   deadline passed (or after the driver shut down) still ends the context
//!   with [`DeadlineExceeded`](ContextError::DeadlineExceeded), and
//!   [`children`](Context::children) does not count a child past its
//!   deadline. Disarming a guard registers the deadline.
//! - [`Context::background`] is a root that is never cancelled; children of a
//!   root are not tracked by it, so deriving from it takes no shared lock.
//!
//! # Values
//!
//! Contexts carry no request-scoped values: in Rust those belong in typed
//! arguments or `tracing` spans, where the type system and the subscriber
//! see them. A context carries only what must propagate *downwards and
//! across threads*: cancellation and a deadline.

mod after_func;
mod node;
mod slots;
mod wait;

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use crate::driver::Handle;
use crate::sync::{lock, Ordering};
pub use after_func::AfterFuncHandle;
use node::{ChildSpec, Node};
pub use wait::{Cancelled, Run};

/// Why a context ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContextError {
    /// Its guard (or an ancestor's) was dropped or cancelled.
    Cancelled,
    /// Its deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContextError::Cancelled => f.write_str("context cancelled"),
            ContextError::DeadlineExceeded => f.write_str("context deadline exceeded"),
        }
    }
}

impl Error for ContextError {}

/// Why a context ended, in the caller's words: given to
/// [`CancelGuard::cancel_with`] or [`Context::with_timeout_cause`], read
/// back with [`Context::cause`].
pub type Cause = Arc<dyn Error + Send + Sync + 'static>;

/// A cancellation scope with an optional deadline; cheap to clone and send.
#[derive(Clone)]
pub struct Context {
    node: Arc<Node>,
}

/// Ends its context when dropped (or on [`cancel`](CancelGuard::cancel)).
#[must_use = "dropping the guard cancels the context at once"]
pub struct CancelGuard {
    node: Arc<Node>,
    /// [`disarm`](CancelGuard::disarm)ed: dropping does not cancel.
    armed: bool,
}

impl Context {
    /// A root context: no deadline, never cancelled.
    #[track_caller]
    pub fn background() -> Context {
        Context::root(Handle::current())
    }

    /// A root context whose deadlines run on `handle`'s driver (e.g. one on
    /// a [`ManualClock`](crate::clock::ManualClock) in tests).
    #[track_caller]
    pub fn background_on(handle: Handle) -> Context {
        Context::root(handle)
    }

    #[track_caller]
    fn root(handle: Handle) -> Context {
        Context {
            node: Node::root(handle, Location::caller()),
        }
    }

    /// A context that is never cancelled and has no deadline, on this
    /// context's driver — Go's `context.WithoutCancel`: for work that must
    /// outlive the request that started it (an audit write after the reply).
    /// It is a root: cancelling `self` does not reach it.
    ///
    /// ```
    /// use tickless::Context;
    ///
    /// let (request, guard) = Context::background().with_cancel();
    /// let detached = request.without_cancel();
    /// drop(guard);
    /// assert!(request.is_done() && !detached.is_done());
    /// ```
    #[track_caller]
    pub fn without_cancel(&self) -> Context {
        Context::root(self.node.handle.clone())
    }

    /// A child that ends when its guard is dropped or cancelled, or when this
    /// context ends.
    #[track_caller]
    pub fn with_cancel(&self) -> (Context, CancelGuard) {
        self.child(None, false, None)
    }

    /// A child that also ends `timeout` from now.
    ///
    /// A zero timeout returns a child that has already ended
    /// (`DeadlineExceeded`), as Go's does.
    #[track_caller]
    pub fn with_timeout(&self, timeout: Duration) -> (Context, CancelGuard) {
        let deadline = self.node.handle.offset_after(timeout);
        self.child(Some(deadline), timeout.is_zero(), None)
    }

    /// A child that also ends at `deadline`; one whose deadline has passed
    /// is returned already ended (`DeadlineExceeded`).
    #[track_caller]
    pub fn with_deadline(&self, deadline: Instant) -> (Context, CancelGuard) {
        let passed = deadline <= self.node.handle.now();
        let deadline = self.node.handle.offset_of(deadline);
        self.child(Some(deadline), passed, None)
    }

    /// [`with_timeout`](Context::with_timeout) whose expiry reports `cause`
    /// from [`cause`](Context::cause) — Go's `context.WithTimeoutCause`. The
    /// error is still [`ContextError::DeadlineExceeded`]. When an ancestor's
    /// earlier deadline or a cancellation ends the child first, theirs is
    /// the cause.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tickless::{Context, ContextError};
    ///
    /// #[derive(Debug)]
    /// struct SlowBackend;
    /// impl std::fmt::Display for SlowBackend {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         f.write_str("the backend took longer than its budget")
    ///     }
    /// }
    /// impl std::error::Error for SlowBackend {}
    ///
    /// let (ctx, _guard) = Context::background().with_timeout_cause(Duration::ZERO, SlowBackend);
    /// assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    /// assert_eq!(ctx.cause().unwrap().to_string(), "the backend took longer than its budget");
    /// ```
    #[track_caller]
    pub fn with_timeout_cause(
        &self,
        timeout: Duration,
        cause: impl Error + Send + Sync + 'static,
    ) -> (Context, CancelGuard) {
        let deadline = self.node.handle.offset_after(timeout);
        self.child(Some(deadline), timeout.is_zero(), Some(Arc::new(cause)))
    }

    /// [`with_deadline`](Context::with_deadline) whose expiry reports
    /// `cause` — Go's `context.WithDeadlineCause`; see
    /// [`with_timeout_cause`](Context::with_timeout_cause).
    #[track_caller]
    pub fn with_deadline_cause(
        &self,
        deadline: Instant,
        cause: impl Error + Send + Sync + 'static,
    ) -> (Context, CancelGuard) {
        let passed = deadline <= self.node.handle.now();
        let deadline = self.node.handle.offset_of(deadline);
        self.child(Some(deadline), passed, Some(Arc::new(cause)))
    }

    #[track_caller]
    fn child(
        &self,
        own: Option<i64>,
        expired: bool,
        deadline_cause: Option<Cause>,
    ) -> (Context, CancelGuard) {
        let spec = ChildSpec {
            own,
            expired,
            deadline_cause,
            site: Location::caller(),
        };
        let node = Node::child(&self.node, spec);
        (
            Context { node: node.clone() },
            CancelGuard { node, armed: true },
        )
    }

    /// The effective deadline, if any. A deadline ≈292 years or more after
    /// the driver started (which never comes) reads back as that limit.
    pub fn deadline(&self) -> Option<Instant> {
        let handle = &self.node.handle;
        self.node.deadline.map(|at| handle.instant_at_offset(at))
    }

    /// Time left until the deadline (zero once past); `None` without one.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline()
            .map(|d| d.saturating_duration_since(self.node.handle.now()))
    }

    /// Why the context ended, or `None` while it is live.
    pub fn err(&self) -> Option<ContextError> {
        if !self.is_done() {
            return None;
        }
        lock(&self.node.state).err
    }

    /// Why the context ended, in the caller's words: the cause given to
    /// [`CancelGuard::cancel_with`] or [`with_timeout_cause`](Context::with_timeout_cause)
    /// on this context or the ancestor that ended it; without one, the
    /// [`err`](Context::err) itself, as Go's `context.Cause` falls back.
    /// `None` while the context is live.
    pub fn cause(&self) -> Option<Cause> {
        let st = self.node.lock_observed();
        let err = st.err?;
        Some(st.cause.clone().unwrap_or_else(|| Arc::new(err)))
    }

    /// `true` once the context has ended.
    pub fn is_done(&self) -> bool {
        // Acquire: pairs with the Release in `Node::end`, so a caller that sees
        // `true` also sees the error and the disconnected channel.
        if self.node.done.load(Ordering::Acquire) {
            return true;
        }
        // Relaxed: a hint (see `Node::lazy`); the first question registers
        // the deadline, or ends the context if it has passed.
        if self.node.lazy.load(Ordering::Relaxed) {
            drop(self.node.lock_observed());
            return self.node.done.load(Ordering::Acquire);
        }
        false
    }

    /// A receiver that disconnects when the context ends — a broadcast, like
    /// Go's closed `Done()` channel: use `recv(ctx.done())` in `select!`.
    /// Nothing is ever sent on it.
    pub fn done(&self) -> Receiver<()> {
        let mut st = self.node.lock_observed();
        if st.err.is_some() {
            let (tx, rx) = crossbeam_channel::bounded(0);
            drop(tx);
            return rx;
        }
        st.followers()
            .channel
            .get_or_insert_with(|| crossbeam_channel::bounded(0))
            .1
            .clone()
    }

    /// A future that completes, with the reason, when the context ends.
    pub fn cancelled(&self) -> Cancelled {
        Cancelled::new(self.node.clone())
    }

    /// Runs `future` until it completes or the context ends, whichever is
    /// first (the future is polled first).
    pub fn run<F: Future>(&self, future: F) -> Run<F> {
        Run::new(future, self.cancelled())
    }

    /// Sleeps for `duration` unless the context ends first.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tickless::{Context, ContextError};
    ///
    /// let (ctx, _guard) = Context::background().with_timeout(Duration::from_millis(5));
    /// let slept = futures::executor::block_on(ctx.sleep(Duration::from_secs(3600)));
    /// assert_eq!(slept, Err(ContextError::DeadlineExceeded));
    /// ```
    #[track_caller]
    pub fn sleep(&self, duration: Duration) -> Run<crate::Sleep> {
        self.run(self.node.handle.sleep(duration))
    }

    /// [`sleep`](Context::sleep) for threads: blocks until `duration` passes
    /// or the context ends.
    #[track_caller]
    pub fn sleep_blocking(&self, duration: Duration) -> Result<(), ContextError> {
        let done = self.done();
        let timer = self.node.handle.timer(duration);
        crossbeam_channel::select! {
            recv(done) -> _ => Err(self.err().unwrap_or(ContextError::Cancelled)),
            recv(timer.receiver()) -> _ => match self.err() {
                Some(err) => Err(err),
                None => Ok(()),
            },
        }
    }

    /// Runs `f` once the context ends — Go's `context.AfterFunc`. `f` runs
    /// on the driver's callback threads (never on the thread that cancels,
    /// never under a lock); at once if the context has ended already; never
    /// for a root, which does not end. The handle stops it; **dropping the
    /// handle stops it too** — [`detach`](AfterFuncHandle::detach) it to let
    /// `f` run regardless.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tickless::Context;
    ///
    /// let (ctx, guard) = Context::background().with_cancel();
    /// let (tx, rx) = crossbeam_channel::bounded(1);
    /// let release = ctx.after_func(move || tx.send("released the lock").unwrap());
    /// let stopped = ctx.after_func(|| unreachable!());
    /// assert!(stopped.stop());
    /// drop(guard); // cancels: the first callback runs
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("released the lock"));
    /// assert!(!release.stop(), "already started");
    /// ```
    pub fn after_func<F: FnOnce() + Send + 'static>(&self, f: F) -> AfterFuncHandle {
        AfterFuncHandle::new(&self.node, Box::new(f))
    }

    /// Live children (not yet ended) of this context; 0 for roots, which do
    /// not track theirs. O(children): a child past a deadline nobody has
    /// registered yet is checked against the clock.
    pub fn children(&self) -> usize {
        self.node.children()
    }
}

impl CancelGuard {
    /// Ends the context now (as dropping the guard does), keeping the guard:
    /// callable through a shared reference (an `Arc<CancelGuard>` shared by
    /// several cancellers) and any number of times (the first wins).
    pub fn cancel(&self) {
        Node::end(&self.node, ContextError::Cancelled, None);
    }

    /// Ends the context now, recording `cause` (see [`Context::cause`]); the
    /// error is still [`ContextError::Cancelled`]. No effect on a context
    /// that has ended already (its first cause stays).
    pub fn cancel_with(&self, cause: impl Error + Send + Sync + 'static) {
        Node::end(&self.node, ContextError::Cancelled, Some(Arc::new(cause)));
    }

    /// Makes dropping the guard a no-op: the context then ends only through
    /// its deadline or its parent — tokio-util's `DropGuard::disarm`. Returns
    /// the context. A disarmed child of a long-lived parent stays linked
    /// under it until one of them ends, so disarm only what has a deadline or
    /// a parent that ends.
    ///
    /// ```
    /// use tickless::Context;
    ///
    /// let (parent, parent_guard) = Context::background().with_cancel();
    /// let (child, guard) = parent.with_cancel();
    /// let child_again = guard.disarm();
    /// assert!(!child.is_done()); // the guard's drop did not cancel
    /// drop(parent_guard);
    /// assert!(child_again.is_done());
    /// ```
    pub fn disarm(mut self) -> Context {
        self.armed = false;
        // Nothing may ever cancel it now: its deadline must be registered
        // to end it (and unlink it from its parent).
        drop(self.node.lock_observed());
        Context {
            node: self.node.clone(),
        }
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if self.armed {
            Node::end(&self.node, ContextError::Cancelled, None);
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("deadline", &self.deadline())
            // Acquire: as in `is_done`, which is not called so that
            // formatting never registers the deadline.
            .field("done", &self.node.done.load(Ordering::Acquire))
            .field("site", &format_args!("{}", self.node.site))
            .finish()
    }
}

impl fmt::Debug for CancelGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelGuard").finish_non_exhaustive()
    }
}

#[cfg(all(test, tickless_loom))]
mod models;
