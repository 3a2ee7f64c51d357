//! Handing a [`DelayQueue`]'s values out as they come due: the polling side
//! (`poll_expired`, the `Stream`), its one driver timer, and waking the
//! task that waits.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use super::{DelayQueue, Expired, Key};
use crate::queue::TimerQueue;
use crate::Sleep;

impl<T> DelayQueue<T> {
    /// Hands out the next value whose deadline has passed: `Ready(Some)`,
    /// `Pending` (the task is woken at the earliest deadline, or by an insert
    /// that brings an earlier one), or `Ready(None)` when the queue is empty
    /// (see the module docs: an insert wakes the task again).
    ///
    /// Values come out in deadline order (at the driver's resolution; equal
    /// deadlines in no particular order), one per call.
    ///
    /// After 32 values in a row handed out from a backlog (each due already
    /// at the clock reading before it) it answers `Pending` once, having
    /// woken the task and taken nothing, so a task draining a long backlog
    /// (`while let Some(v) = queue.next().await { work(v) }`) returns to its
    /// executor now and then, as tokio's own timers do through tokio's
    /// cooperative budget (which only tokio's resources can use). A consumer
    /// that takes each value before the next comes due never sees it; one
    /// whose work per value takes about as long as the values' spacing gets
    /// each at once and sees it only once 32 are due together. Values
    /// inserted already due, polled without the clock moving, count as due
    /// at the last reading (a yield every 33). Code that polls by hand must treat
    /// `Pending` as "poll again after a wake-up"; the blocking
    /// [`recv`](DelayQueue::recv) and [`recv_timeout`](DelayQueue::recv_timeout)
    /// do not yield.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<Option<Expired<T>>> {
        let mut streak = self.streak;
        let answer = streak.poll(cx, |cx| self.poll_due(cx));
        self.streak = streak;
        answer
    }

    /// [`poll_expired`](DelayQueue::poll_expired) without the budget (as
    /// the blocking `recv` polls: a thread has no executor to yield to);
    /// also whether the value came from a backlog: it was due at the last
    /// clock reading, before this poll.
    pub(super) fn poll_due(&mut self, cx: &mut Context<'_>) -> (Poll<Option<Expired<T>>>, bool) {
        // Remember who polled, whatever the answer (tokio-util's rule).
        match &self.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.waker = Some(cx.waker().clone()),
        }
        let mut now = self.seen;
        let mut read_clock = false;
        loop {
            if let Some((key, tick, value)) = self.wheel.pop_expired(now) {
                self.after_removal();
                let expired = Expired {
                    deadline: self.wheel.tick_instant(tick),
                    key: Key(key),
                    value,
                };
                return (Poll::Ready(Some(expired)), !read_clock);
            }
            if !read_clock {
                // Nothing due at the last reading: read the clock once.
                read_clock = true;
                let fresh = self.handle.now();
                if fresh > now {
                    (now, self.seen) = (fresh, fresh);
                    continue;
                }
            }
            let Some(next) = self.wheel.next_deadline() else {
                self.timer = None;
                return (Poll::Ready(None), false);
            };
            if next <= now {
                // Nothing came due at `now`, yet the next deadline is not
                // after it: only an instant saturated centuries away does
                // that. It never comes due.
                return (Poll::Pending, false);
            }
            // Nothing due: arm the one driver timer for the wheel's next
            // deadline (never after the earliest value) with this task's waker.
            let timer = match &mut self.timer {
                Some(timer) => {
                    if timer.deadline() != next {
                        timer.reset(next);
                    }
                    timer
                }
                None => self
                    .timer
                    .insert(Sleep::until(self.handle.clone(), next, self.site)),
            };
            if timer.poll_sleep(cx).is_pending() {
                return (Poll::Pending, false);
            }
            // It fired: the clock has reached `next`, so popping at it makes
            // progress (values come due, or a coarse slot cascades and `next`
            // moves on) — or the driver was dropped, which completes every
            // timer at once: then, like every timer on it, each value comes
            // out now, in deadline order.
            now = now.max(next);
        }
    }

    /// Bookkeeping after a value left: the live count, and storage left
    /// over from a burst (O(1) unless it shrinks).
    pub(super) fn after_removal(&mut self) {
        self.count.set(self.wheel.len());
        self.wheel.trim();
    }

    /// A new deadline: if it is earlier than the one the waiting task's
    /// timer is armed for (or nothing is armed), wake the task so it polls
    /// and re-arms. Touches nothing shared unless a task waits.
    pub(super) fn wake_if_earlier(&mut self, deadline: Instant) {
        if self.timer.as_ref().is_none_or(|t| deadline < t.deadline()) {
            self.wake();
        }
    }

    pub(super) fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

impl<T> futures_core::Stream for DelayQueue<T> {
    type Item = Expired<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Expired<T>>> {
        self.get_mut().poll_expired(cx)
    }
}
