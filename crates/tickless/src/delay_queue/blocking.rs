//! Waiting for a [`DelayQueue`]'s next value on a plain thread: the thread
//! parks until the queue's one driver timer wakes it.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use super::{DelayQueue, Expired};

/// Why [`DelayQueue::recv_timeout`] returned without a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecvTimeoutError {
    /// No value came due within the timeout.
    Timeout,
    /// The queue is empty: nothing can ever come due without an insert.
    Empty,
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("no value came due within the timeout"),
            RecvTimeoutError::Empty => f.write_str("the delay queue is empty"),
        }
    }
}

impl std::error::Error for RecvTimeoutError {}

/// Unparks the waiting thread.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

impl<T> DelayQueue<T> {
    /// Blocks the calling thread until a value comes due and returns it;
    /// `None` at once if the queue is empty.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut queue = tickless::DelayQueue::new();
    /// queue.insert("retry", Duration::from_millis(2));
    /// assert_eq!(queue.recv().map(|e| e.into_inner()), Some("retry"));
    /// assert!(queue.recv().is_none());
    /// ```
    pub fn recv(&mut self) -> Option<Expired<T>> {
        self.wait(None).ok()
    }

    /// [`recv`](DelayQueue::recv), giving up after `timeout` (real time on
    /// the driver's clock; a manual clock must be moved by another thread).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Expired<T>, RecvTimeoutError> {
        let give_up = self.handle.deadline_after(timeout);
        self.wait(Some(give_up))
    }

    fn wait(&mut self, give_up: Option<Instant>) -> Result<Expired<T>, RecvTimeoutError> {
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            // Without the cooperative budget: a thread has no executor to
            // yield to, and a yield would read as "nothing due" below.
            match self.poll_due(&mut cx).0 {
                Poll::Ready(Some(expired)) => return Ok(expired),
                Poll::Ready(None) => return Err(RecvTimeoutError::Empty),
                Poll::Pending => {}
            }
            match give_up {
                None => thread::park(),
                Some(at) => {
                    let now = self.handle.now();
                    if now >= at {
                        return Err(RecvTimeoutError::Timeout);
                    }
                    // Spurious unparks only cost a poll.
                    thread::park_timeout(at - now);
                }
            }
        }
    }
}
