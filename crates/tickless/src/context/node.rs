//! A context's node: its state, how a child is linked under its parent, and
//! how a subtree ends (guard dropped, deadline fired, ancestor cancelled).

use std::panic::Location;
use std::sync::{Arc, Weak};
use std::task::{Wake, Waker};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::slots::Slots;
use super::{Cause, ContextError};
use crate::driver::{Entry, Handle, Registered};
use crate::sync::{lock, AtomicBool, Mutex, Ordering};

pub(super) struct Node {
    /// The parent to unlink from; `None` for roots and for children of roots.
    pub(super) parent: Option<Weak<Node>>,
    /// Effective deadline: the earlier of its own and its parent's.
    pub(super) deadline: Option<Instant>,
    /// What [`Context::cause`](super::Context::cause) reports when this
    /// node's own deadline ends it (`with_timeout_cause`).
    pub(super) deadline_cause: Option<Cause>,
    /// Roots are never cancelled and do not track children.
    pub(super) root: bool,
    pub(super) handle: Handle,
    pub(super) site: &'static Location<'static>,
    /// Set once, under the lock, when the context ends; read without it.
    pub(super) done: AtomicBool,
    pub(super) state: Mutex<State>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) err: Option<ContextError>,
    pub(super) cause: Option<Cause>,
    children: Slots<Weak<Node>>,
    /// This node's slot in its parent's `children`.
    slot_in_parent: Option<usize>,
    /// `cancelled()` futures and `after_func` callbacks, woken when it ends.
    pub(super) waiters: Slots<Waker>,
    /// Created on the first `done()`; dropped (disconnecting every receiver)
    /// when the context ends.
    pub(super) channel: Option<(Sender<()>, Receiver<()>)>,
    /// The driver registration enforcing this node's own deadline.
    timer: Option<Entry>,
}

/// What a new child needs besides its parent.
pub(super) struct ChildSpec {
    /// Its own deadline, if any.
    pub(super) own: Option<Instant>,
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
            state: Mutex::new(State::default()),
        })
    }

    /// A child of `parent`, linked under it, its deadline timer armed.
    pub(super) fn child(parent: &Arc<Node>, spec: ChildSpec) -> Arc<Node> {
        let deadline = match (parent.deadline, spec.own) {
            (Some(p), Some(o)) => Some(p.min(o)),
            (p, o) => p.or(o),
        };
        let own_timer = spec.own.filter(|o| parent.deadline.is_none_or(|p| *o < p));
        let new_node = |slot_in_parent: Option<usize>| Node {
            parent: (!parent.root).then(|| Arc::downgrade(parent)),
            deadline,
            deadline_cause: spec.deadline_cause.clone(),
            root: false,
            handle: parent.handle.clone(),
            site: spec.site,
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
            None if spec.expired => Node::deadline_passed(&node),
            None => {
                if let Some(at) = own_timer {
                    node.arm(at);
                }
            }
        }
        node
    }

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
                Node::deadline_passed(self);
            }
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

    /// Live children (not yet ended).
    pub(super) fn children(&self) -> usize {
        lock(&self.state).children.len()
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
