//! Cooperative yielding for the streams that can be ready many times in a
//! row ([`Interval`](crate::Interval), [`DelayQueue`](crate::DelayQueue)).
//!
//! A stream that has fallen behind is ready on every poll. A task that only
//! takes items and works — `loop { interval.tick().await; work() }` — then
//! never returns to its executor: on tokio it keeps its worker thread and
//! does not see a runtime shutdown. tokio's own timers avoid that through
//! the runtime's cooperative budget, which only tokio's resources can use.
//! tickless works on any executor, so each stream keeps its own small
//! budget: after [`BUDGET`] items in a row handed out from a backlog it
//! answers `Pending` once, having woken the task, which any executor takes
//! as "poll me again soon" (no item is taken, so nothing is lost or
//! reordered). A backlog item is, for an `Interval`, a tick handed out when
//! the next tick is due already; for a `DelayQueue`, a value that was due at
//! the clock reading before this poll (so a batch due at one reading counts
//! from its second value). Any other answer starts a new streak: an item
//! that only just came due, `Pending`, or the end of the stream.
//!
//! So a consumer that takes one item per clock step (a test moving a
//! `ManualClock` one period at a time, a task that waits between items)
//! never sees the yield. Neither, until a backlog builds up, does one whose
//! work per item takes about as long as the items' spacing: each item is
//! ready at once, yet none is behind (an interval of period P worked for
//! W > P per tick falls a full period behind after about P/(W−P) ticks;
//! with W = P, never). tokio's budget, which counts operations per task
//! poll, would yield there; without a runtime's help a stream cannot tell
//! that loop from a test polling once per step.

use std::task::{Context, Poll};

/// Ready answers in a row before a stream yields once. tokio's whole budget
/// per task poll is 128 operations; a quarter of it keeps a stream that is
/// behind from using up a task's turn on its own, while a yield every 32
/// items (one executor round trip, ~100–200 ns) costs a few ns per item.
pub(crate) const BUDGET: u8 = 32;

/// Counts one stream's backlog answers in a row.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Streak(u8);

impl Streak {
    /// Polls through `poll` unless the budget is spent, in which case it
    /// wakes the task and answers `Pending` without calling `poll`. `poll`
    /// says whether its answer came from a backlog.
    pub(crate) fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Context<'_>) -> (Poll<T>, bool),
    ) -> Poll<T> {
        if self.0 >= BUDGET {
            self.0 = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let (answer, backlog) = poll(cx);
        self.0 = if backlog { self.0 + 1 } else { 0 };
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn yields_once_per_budget_and_wakes_without_taking_an_item() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let (mut streak, mut taken) = (Streak::default(), 0u32);
        let mut answers = Vec::new();
        for _ in 0..(2 * BUDGET as usize + 2) {
            let answer = streak.poll(&mut cx, |_| {
                taken += 1;
                (Poll::Ready(taken), true)
            });
            answers.push(answer.is_ready());
        }
        let pendings: Vec<usize> = (0..answers.len()).filter(|&i| !answers[i]).collect();
        let b = BUDGET as usize;
        assert_eq!(pendings, [b, 2 * b + 1]);
        assert_eq!(taken as usize, 2 * b);
        assert_eq!(count.0.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn only_a_backlog_counts() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut streak = Streak::default();
        // Items that only just came due, however many in a row: no yield.
        for _ in 0..10 * u32::from(BUDGET) {
            assert!(streak
                .poll(&mut cx, |_| (Poll::Ready(()), false))
                .is_ready());
        }
        // A backlog interrupted by a fresh item, a Pending or the end of
        // the stream starts again.
        for fresh in [Poll::Ready(()), Poll::Pending] {
            for _ in 0..BUDGET - 1 {
                assert!(streak.poll(&mut cx, |_| (Poll::Ready(()), true)).is_ready());
            }
            let _ = streak.poll(&mut cx, |_| (fresh, false));
        }
        for _ in 0..BUDGET {
            assert!(streak.poll(&mut cx, |_| (Poll::Ready(()), true)).is_ready());
        }
        assert!(streak
            .poll(&mut cx, |_| (Poll::Ready(()), true))
            .is_pending());
    }
}
