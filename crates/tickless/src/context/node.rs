//! A context's node: its state, how a child is linked under its parent,
//! when its deadline timer is registered, and how a subtree ends (guard
//! dropped, deadline fired, ancestor cancelled).
//!
//! # The deadline registers on first wait
//!
//! Like tokio's `Sleep`, which registers on its first poll, a node's own
//! deadline is registered with the driver only when something could wait
//! for it: a `done()` receiver, a `cancelled()` poll, an `after_func`, a
//! child (whose effective deadline may be this one), or a question about
//! its end (`is_done`, `err`, `cause`), or a guard that is disarmed — see
//! [`Node::lock_observed`]. A context that is derived and cancelled before
//! any of these (a request that finished in time) never touches the driver.
//! Until then nothing waits and the node has no children; [`Node::end`]
//! reports `DeadlineExceeded` if the deadline had passed (or the driver had
//! shut down) when the guard ended it, and `children()` does not count a
//! child past its deadline. What differs: such a node ends on the thread
//! that asks or drops its guard, not on the timer thread, and is not among
//! the driver's live timers until registered.

use std::panic::Location;
use std::sync::{Arc, Weak};
use std::task::{Wake, Waker};

use crossbeam_channel::{Receiver, Sender};

use super::slots::Slots;
use super::{Cause, ContextError};
use crate::driver::{Entry, Handle, Registered};
use crate::sync::{lock, AtomicBool, Mutex, MutexGuard, Ordering};

pub(super) struct Node {
    /// The parent to unlink from; `None` for roots and for children of roots.
    pub(super) parent: Option<Weak<Node>>,
    /// Effective deadline: the earlier of its own and its parent's.
    /// (Counted as `Handle::offset_of` counts: every node of a tree is on
    /// its root's driver.)
    pub(super) deadline: Option<i64>,
    /// What [`Context::cause`](super::Context::cause) reports when this
    /// node's own deadline ends it (`with_timeout_cause`).
    pub(super) deadline_cause: Option<Cause>,
    /// Roots are never cancelled and do not track children.
    pub(super) root: bool,
    pub(super) handle: Handle,
    pub(super) site: &'static Location<'static>,
    /// Set once, under the lock, when the context ends; read without it.
    pub(super) done: AtomicBool,
    /// `true` while the node's own deadline waits to be registered
    /// ([`OwnTimer::Lazy`]): a hint read without the lock, so that
    /// `is_done` on a live registered node is two loads and no lock.
    pub(super) lazy: AtomicBool,
    pub(super) state: Mutex<State>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) err: Option<ContextError>,
    pub(super) cause: Option<Cause>,
    /// This node's slot in its parent's `children`.
    slot_in_parent: Option<usize>,
    /// The driver registration enforcing this node's own deadline.
    timer: OwnTimer,
    /// Who follows this node's end, allocated on first use: a context that
    /// is derived and ended without children or waiters (a request that
    /// finished in time) costs one allocation, and its end has nothing to
    /// drain.
    followers: Option<Box<Followers>>,
}

/// The driver timer for a node's own deadline.
#[derive(Default)]
enum OwnTimer {
    /// No own deadline (none, or its parent's is earlier), or the node ended.
    #[default]
    None,
    /// Not registered yet: nothing has waited on the node.
    Lazy(i64),
    /// Registered: the entry cancels it.
    Armed(Entry),
}

#[derive(Default)]
pub(super) struct Followers {
    children: Slots<Weak<Node>>,
    /// `cancelled()` futures and `after_func` callbacks, woken when it ends.
    pub(super) waiters: Slots<Waker>,
    /// Created on the first `done()`; dropped (disconnecting every receiver)
    /// when the context ends.
    pub(super) channel: Option<(Sender<()>, Receiver<()>)>,
}

impl State {
    /// The followers, allocated on first use.
    pub(super) fn followers(&mut self) -> &mut Followers {
        self.followers.get_or_insert_with(Box::default)
    }

    /// Removes the waiter in `slot`, if there is one.
    pub(super) fn remove_waiter(&mut self, slot: usize) {
        if let Some(f) = self.followers.as_mut() {
            f.waiters.remove(slot);
        }
    }
}

/// What a new child needs besides its parent.
pub(super) struct ChildSpec {
    /// Its own deadline, if any.
    pub(super) own: Option<i64>,
    /// `own` has passed already: the child is born ended.
    pub(super) expired: bool,
    pub(super) deadline_cause: Option<Cause>,
    pub(super) site: &'static Location<'static>,
}

impl Node {
    pub(super) fn root(handle: Handle, site: &'static Location<'static>) -> Arc<Node> {
        Arc::new(Node {
            parent: None,
            deadline: None,
            deadline_cause: None,
            root: true,
            handle,
            site,
            done: AtomicBool::new(false),
            lazy: AtomicBool::new(false),
            state: Mutex::new(State::default()),
        })
    }

    /// A child of `parent`, linked under it, its deadline timer lazy.
    pub(super) fn child(parent: &Arc<Node>, spec: ChildSpec) -> Arc<Node> {
        let deadline = match (parent.deadline, spec.own) {
            (Some(p), Some(o)) => Some(p.min(o)),
            (p, o) => p.or(o),
        };
        let own_timer = spec.own.filter(|o| parent.deadline.is_none_or(|p| *o < p));
        // `own`: the lazy deadline, `None` for a child born under an ended
        // parent (it takes the parent's error, whatever its own deadline).
        let new_node = |slot_in_parent: Option<usize>, own: Option<i64>| Node {
            parent: (!parent.root).then(|| Arc::downgrade(parent)),
            deadline,
            deadline_cause: spec.deadline_cause.clone(),
            root: false,
            handle: parent.handle.clone(),
            site: spec.site,
            done: AtomicBool::new(false),
            lazy: AtomicBool::new(own.is_some()),
            state: Mutex::new(State {
                slot_in_parent,
                timer: own.map_or(OwnTimer::None, OwnTimer::Lazy),
                ..State::default()
            }),
        };
        let (node, ended) = if parent.root {
            (Arc::new(new_node(None, own_timer)), None)
        } else {
            // Linked under the parent's lock, its slot known from the start:
            // one lock for the parent, none extra for the child. The parent's
            // deadline may be the child's: it is registered now.
            let mut ps = parent.lock_observed();
            match ps.err {
                Some(err) => {
                    let cause = ps.cause.clone();
                    drop(ps);
                    (Arc::new(new_node(None, None)), Some((err, cause)))
                }
                None => {
                    let children = &mut ps.followers().children;
                    let node = Arc::new_cyclic(|weak| {
                        new_node(Some(children.insert(weak.clone())), own_timer)
                    });
                    (node, None)
                }
            }
        };
        match ended {
            Some((err, cause)) => Node::end(&node, err, cause),
            None if spec.expired => Node::deadline_passed(&node),
            None => {}
        }
        node
    }

    /// Locks the state after registering a lazy deadline (ending the node
    /// if it has passed): what everything that waits on the node, or asks
    /// whether it ended, goes through.
    pub(super) fn lock_observed(self: &Arc<Self>) -> MutexGuard<'_, State> {
        let mut st = lock(&self.state);
        if self.arm(&mut st) {
            return st;
        }
        drop(st);
        Node::deadline_passed(self);
        lock(&self.state)
    }

    /// Registers a lazy deadline with the driver, under the node's lock (so
    /// an end racing with it finds either nothing or the entry to cancel).
    /// `false`: the deadline has passed; the caller ends the node once it
    /// has released the lock.
    fn arm(self: &Arc<Self>, st: &mut State) -> bool {
        let OwnTimer::Lazy(at) = st.timer else {
            return true;
        };
        st.timer = OwnTimer::None;
        // Relaxed: only a hint that lets `is_done` skip this lock; the state
        // under the lock is what decides.
        self.lazy.store(false, Ordering::Relaxed);
        let waker = Waker::from(self.clone());
        match Entry::register_owned(&self.handle, at, waker, self.site) {
            Registered::Pending(entry) => {
                st.timer = OwnTimer::Armed(entry);
                true
            }
            Registered::Never => true,
            Registered::Due | Registered::Closed => false,
        }
    }

    /// Its own deadline passed: ends it with its deadline cause.
    fn deadline_passed(node: &Arc<Node>) {
        Node::end(
            node,
            ContextError::DeadlineExceeded,
            node.deadline_cause.clone(),
        );
    }

    /// Ends `node` and its whole subtree with `err`, then unlinks `node` from
    /// its parent. Idempotent; iterative, so any depth is fine.
    pub(super) fn end(node: &Arc<Node>, err: ContextError, cause: Option<Cause>) {
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
            if let (None, Some(f)) = (ps.err, ps.followers.as_mut()) {
                f.children.remove(slot);
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
        let (slot, followers, timer) = {
            let mut st = lock(&self.state);
            if st.err.is_some() {
                return None;
            }
            let timer = std::mem::take(&mut st.timer);
            // A deadline nobody waited for was not registered: if it has
            // passed, it ended the node before this cancel did — as would a
            // driver shutdown, which fires every registered timer. (A lazy
            // node has no children, which would otherwise need the same answer.)
            let expired = matches!(timer, OwnTimer::Lazy(at)
                if self.handle.offset_has_passed(at) || self.handle.is_shut_down());
            if expired {
                st.err = Some(ContextError::DeadlineExceeded);
                st.cause = self.deadline_cause.clone();
            } else {
                st.err = Some(err);
                st.cause = cause.clone();
            }
            // Release: see `Context::is_done`.
            self.done.store(true, Ordering::Release);
            (st.slot_in_parent.take(), st.followers.take(), timer)
        };
        if let OwnTimer::Armed(entry) = timer {
            entry.cancel(&self.handle);
        }
        let Some(mut followers) = followers else {
            return Some((slot, Vec::new()));
        };
        let children = followers
            .children
            .drain()
            .filter_map(|c| c.upgrade())
            .collect();
        drop(followers.channel.take()); // disconnects every `done()` receiver
        for waker in followers.waiters.drain() {
            waker.wake();
        }
        Some((slot, children))
    }

    /// Live children: not ended, and not past a deadline nobody registered
    /// (such a child has ended for whoever asks; it leaves the slab when it
    /// is next asked or its guard drops). O(children).
    pub(super) fn children(&self) -> usize {
        let st = lock(&self.state);
        let Some(f) = st.followers.as_ref() else {
            return 0;
        };
        f.children
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|c| !c.ended_unobserved())
            .count()
    }

    /// `true` if the node has ended, or its lazy deadline has passed. Reads
    /// only atomics and immutable fields (no lock: the caller may hold the
    /// parent's). A lazy node's own deadline is its effective one.
    fn ended_unobserved(&self) -> bool {
        // Acquire: as in `Context::is_done`. Relaxed for the hint: a stale
        // `true` only costs a clock read; a stale `false` means the deadline
        // was registered (the node is live until its timer or cancel ends it).
        self.done.load(Ordering::Acquire)
            || (self.lazy.load(Ordering::Relaxed)
                && self
                    .deadline
                    .is_some_and(|at| self.handle.offset_has_passed(at)))
    }
}

/// The deadline timer fired.
impl Wake for Node {
    fn wake(self: Arc<Self>) {
        Node::deadline_passed(&self);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        Node::deadline_passed(self);
    }
}
