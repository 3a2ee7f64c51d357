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
//!   runs on the timer thread (proportional to the subtree's size).
//! - [`Context::background`] is a root that is never cancelled; children of a
//!   root are not tracked by it, so deriving from it takes no shared lock.
//!
//! # Values
//!
//! Contexts carry no request-scoped values: in Rust those belong in typed
//! arguments or `tracing` spans, where the type system and the subscriber
//! see them. A context carries only what must propagate *downwards and
//! across threads*: cancellation and a deadline.

mod slots;
mod wait;

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::{Arc, Weak};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::driver::{Entry, Handle, Registered};
use crate::sync::{lock, AtomicBool, Mutex, Ordering};
use slots::Slots;
pub use wait::{Cancelled, Run};

/// Why a context ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContextError {
    /// Its guard (or an ancestor's) was dropped or cancelled.
    Canceled,
    /// Its deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContextError::Canceled => f.write_str("context canceled"),
            ContextError::DeadlineExceeded => f.write_str("context deadline exceeded"),
        }
    }
}

impl Error for ContextError {}

/// The cause given to [`CancelGuard::cancel_with`].
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
}

struct Node {
    /// The parent to unlink from; `None` for roots and for children of roots.
    parent: Option<Weak<Node>>,
    /// Effective deadline: the earlier of its own and its parent's.
    deadline: Option<Instant>,
    /// Roots are never cancelled and do not track children.
    root: bool,
    handle: Handle,
    site: &'static Location<'static>,
    /// Set once, under the lock, when the context ends; read without it.
    done: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    err: Option<ContextError>,
    cause: Option<Cause>,
    children: Slots<Weak<Node>>,
    /// This node's slot in its parent's `children`.
    slot_in_parent: Option<usize>,
    waiters: Slots<Waker>,
    /// Created on the first `done()`; dropped (disconnecting every receiver)
    /// when the context ends.
    channel: Option<(Sender<()>, Receiver<()>)>,
    /// The driver registration enforcing this node's own deadline.
    timer: Option<Entry>,
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
            node: Arc::new(Node {
                parent: None,
                deadline: None,
                root: true,
                handle,
                site: Location::caller(),
                done: AtomicBool::new(false),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// A child that ends when its guard is dropped or cancelled, or when this
    /// context ends.
    #[track_caller]
    pub fn with_cancel(&self) -> (Context, CancelGuard) {
        self.child(None, false, Location::caller())
    }

    /// A child that also ends `timeout` from now.
    #[track_caller]
    ///
    /// A zero timeout returns a child that has already ended
    /// (`DeadlineExceeded`), as Go's does.
    pub fn with_timeout(&self, timeout: Duration) -> (Context, CancelGuard) {
        let deadline = self.node.handle.deadline_after(timeout);
        self.child(Some(deadline), timeout.is_zero(), Location::caller())
    }

    /// A child that also ends at `deadline`; one whose deadline has passed
    /// is returned already ended (`DeadlineExceeded`).
    #[track_caller]
    pub fn with_deadline(&self, deadline: Instant) -> (Context, CancelGuard) {
        let passed = deadline <= self.node.handle.now();
        self.child(Some(deadline), passed, Location::caller())
    }

    /// A child with its own deadline `own`; `expired` when `own` has passed.
    fn child(
        &self,
        own: Option<Instant>,
        expired: bool,
        site: &'static Location<'static>,
    ) -> (Context, CancelGuard) {
        let parent = &self.node;
        let deadline = match (parent.deadline, own) {
            (Some(p), Some(o)) => Some(p.min(o)),
            (p, o) => p.or(o),
        };
        let own_timer = own.filter(|o| parent.deadline.is_none_or(|p| *o < p));
        let new_node = |slot_in_parent: Option<usize>| Node {
            parent: (!parent.root).then(|| Arc::downgrade(parent)),
            deadline,
            root: false,
            handle: parent.handle.clone(),
            site,
            done: AtomicBool::new(false),
            state: Mutex::new(State {
                slot_in_parent,
                ..State::default()
            }),
        };
        let (node, ended) = if parent.root {
            (Arc::new(new_node(None)), None)
        } else {
            // Linked under the parent's lock, its slot known from the start:
            // one lock for the parent, none extra for the child.
            let mut ps = lock(&parent.state);
            match ps.err {
                Some(err) => {
                    let cause = ps.cause.clone();
                    drop(ps);
                    (Arc::new(new_node(None)), Some((err, cause)))
                }
                None => {
                    let node =
                        Arc::new_cyclic(|weak| new_node(Some(ps.children.insert(weak.clone()))));
                    (node, None)
                }
            }
        };
        match ended {
            Some((err, cause)) => Node::end(&node, err, cause),
            None if expired => Node::end(&node, ContextError::DeadlineExceeded, None),
            None => {
                if let Some(at) = own_timer {
                    node.arm(at);
                }
            }
        }
        (Context { node: node.clone() }, CancelGuard { node })
    }

    /// The effective deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.node.deadline
    }

    /// Time left until the deadline (zero once past); `None` without one.
    pub fn remaining(&self) -> Option<Duration> {
        self.node
            .deadline
            .map(|d| d.saturating_duration_since(self.node.handle.now()))
    }

    /// Why the context ended, or `None` while it is live.
    pub fn err(&self) -> Option<ContextError> {
        if !self.is_done() {
            return None;
        }
        lock(&self.node.state).err
    }

    /// The cause passed to [`CancelGuard::cancel_with`] on this context or the
    /// ancestor whose cancellation ended it.
    pub fn cause(&self) -> Option<Cause> {
        lock(&self.node.state).cause.clone()
    }

    /// `true` once the context has ended.
    pub fn is_done(&self) -> bool {
        // Acquire: pairs with the Release in `Node::end`, so a caller that sees
        // `true` also sees the error and the disconnected channel.
        self.node.done.load(Ordering::Acquire)
    }

    /// A receiver that disconnects when the context ends — a broadcast, like
    /// Go's closed `Done()` channel: use `recv(ctx.done())` in `select!`.
    /// Nothing is ever sent on it.
    pub fn done(&self) -> Receiver<()> {
        let mut st = lock(&self.node.state);
        if st.err.is_some() {
            let (tx, rx) = crossbeam_channel::bounded(0);
            drop(tx);
            return rx;
        }
        st.channel
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
            recv(done) -> _ => Err(self.err().unwrap_or(ContextError::Canceled)),
            recv(timer.receiver()) -> _ => match self.err() {
                Some(err) => Err(err),
                None => Ok(()),
            },
        }
    }

    /// Live children (not yet ended) of this context; 0 for roots, which do
    /// not track theirs.
    pub fn children(&self) -> usize {
        lock(&self.node.state).children.len()
    }
}

impl Node {
    /// Registers the driver timer for this node's own deadline.
    fn arm(self: &Arc<Self>, at: Instant) {
        let mut st = lock(&self.state);
        if st.err.is_some() {
            return;
        }
        let waker = Waker::from(self.clone());
        match Entry::register_owned(&self.handle, at, waker, self.site) {
            Registered::Pending(entry) => st.timer = Some(entry),
            Registered::Never => {}
            Registered::Due | Registered::Closed => {
                drop(st);
                Node::end(self, ContextError::DeadlineExceeded, None);
            }
        }
    }

    /// Ends `node` and its whole subtree with `err`, then unlinks `node` from
    /// its parent. Idempotent; iterative, so any depth is fine.
    fn end(node: &Arc<Node>, err: ContextError, cause: Option<Cause>) {
        let Some((slot, children)) = node.end_one(err, &cause) else {
            return;
        };
        // Descendants: no allocation unless there are any.
        let mut stack: Vec<Arc<Node>> = children;
        while let Some(n) = stack.pop() {
            if let Some((_, grandchildren)) = n.end_one(err, &cause) {
                stack.extend(grandchildren);
            }
        }
        if let (Some(slot), Some(parent)) = (slot, node.parent.as_ref().and_then(Weak::upgrade)) {
            let mut ps = lock(&parent.state);
            // An ended parent has drained its children already; its slots are
            // never reused, so there is nothing to remove.
            if ps.err.is_none() {
                ps.children.remove(slot);
            }
        }
    }

    /// Ends this one node: records the error, cancels its timer, disconnects
    /// `done()` receivers and wakes `cancelled()` futures. Returns its slot in
    /// its parent and its live children, or `None` if it had already ended.
    fn end_one(
        &self,
        err: ContextError,
        cause: &Option<Cause>,
    ) -> Option<(Option<usize>, Vec<Arc<Node>>)> {
        let (slot, children, waiters, channel, timer) = {
            let mut st = lock(&self.state);
            if st.err.is_some() {
                return None;
            }
            st.err = Some(err);
            st.cause = cause.clone();
            // Release: see `Context::is_done`.
            self.done.store(true, Ordering::Release);
            let children: Vec<Arc<Node>> =
                st.children.drain().filter_map(|c| c.upgrade()).collect();
            let waiters: Vec<Waker> = st.waiters.drain().collect();
            (
                st.slot_in_parent.take(),
                children,
                waiters,
                st.channel.take(),
                st.timer.take(),
            )
        };
        if let Some(entry) = timer {
            entry.cancel(&self.handle);
        }
        drop(channel); // disconnects every `done()` receiver
        for waker in waiters {
            waker.wake();
        }
        Some((slot, children))
    }
}

/// The deadline timer fired.
impl Wake for Node {
    fn wake(self: Arc<Self>) {
        Node::end(&self, ContextError::DeadlineExceeded, None);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        Node::end(self, ContextError::DeadlineExceeded, None);
    }
}

impl CancelGuard {
    /// Ends the context now (as dropping the guard does).
    pub fn cancel(self) {}

    /// Ends the context now, recording `cause` (see [`Context::cause`]); the
    /// error is still [`ContextError::Canceled`].
    pub fn cancel_with(self, cause: impl Error + Send + Sync + 'static) {
        Node::end(&self.node, ContextError::Canceled, Some(Arc::new(cause)));
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        Node::end(&self.node, ContextError::Canceled, None);
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("deadline", &self.node.deadline)
            .field("done", &self.is_done())
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
