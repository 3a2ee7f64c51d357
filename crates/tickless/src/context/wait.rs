//! The futures that wait for a context to end: [`Cancelled`] and [`Run`].
//!
//! A waiting `Cancelled` keeps its waker in a slot of the node's `waiters`
//! (O(1) in and out), so a dropped wait leaves nothing behind.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use super::{ContextError, Node};
use crate::sync::lock;

/// Completes when its context ends; see [`Context::cancelled`](super::Context::cancelled).
#[must_use = "futures do nothing unless polled"]
pub struct Cancelled {
    node: Arc<Node>,
    /// Our waker's slot in the node's waiters while registered.
    slot: Option<usize>,
}

impl Cancelled {
    pub(super) fn new(node: Arc<Node>) -> Self {
        Cancelled { node, slot: None }
    }
}

impl Future for Cancelled {
    type Output = ContextError;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<ContextError> {
        let this = &mut *self;
        let mut st = this.node.lock_observed();
        if let Some(err) = st.err {
            this.slot = None;
            return Poll::Ready(err);
        }
        let waiters = &mut st.followers().waiters;
        match this.slot.and_then(|s| waiters.get_mut(s)) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => *w = cx.waker().clone(),
            None => this.slot = Some(waiters.insert(cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for Cancelled {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            let mut st = lock(&self.node.state);
            if st.err.is_none() {
                st.remove_waiter(slot);
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// A future raced against its context; see [`Context::run`](super::Context::run).
    #[must_use = "futures do nothing unless polled"]
    pub struct Run<F> {
        #[pin]
        future: F,
        cancelled: Cancelled,
    }
}

impl<F: Future> Future for Run<F> {
    type Output = Result<F::Output, ContextError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        Pin::new(this.cancelled).poll(cx).map(Err)
    }
}

impl<F> Run<F> {
    pub(super) fn new(future: F, cancelled: Cancelled) -> Self {
        Run { future, cancelled }
    }
}

impl fmt::Debug for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancelled").finish_non_exhaustive()
    }
}

impl<F> fmt::Debug for Run<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run").finish_non_exhaustive()
    }
}
