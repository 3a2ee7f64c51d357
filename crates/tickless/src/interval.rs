//! [`Interval`]: ticks at a fixed period, with tokio's missed-tick behaviours.

use std::fmt;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::clock::{next_on_grid, saturating_add};
use crate::coop::Streak;
use crate::driver::Handle;
use crate::Sleep;

/// A stream of ticks every `period`, the first completing at once.
///
/// Uses the global driver. A zero period is treated as 1 ns (every poll
/// ticks at once; use [`MissedTickBehavior::Delay`] or a real period to avoid
/// a busy loop) — it does not panic.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// futures::executor::block_on(async {
///     let start = Instant::now();
///     let mut interval = tickless::interval(Duration::from_millis(10));
///     interval.tick().await; // at once
///     interval.tick().await; // 10 ms later
///     interval.tick().await; // 20 ms later
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    Handle::current().interval(period)
}

/// A stream of ticks every `period`, the first at `start`.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now() + Duration::from_millis(5);
/// let mut interval = tickless::interval_at(start, Duration::from_millis(5));
/// let first = futures::executor::block_on(interval.tick());
/// assert_eq!(first, start);
/// ```
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    Handle::current().interval_at(start, period)
}

impl Handle {
    /// [`interval`] on this driver.
    #[track_caller]
    pub fn interval(&self, period: Duration) -> Interval {
        Interval::new(self.clone(), self.now(), period, Location::caller())
    }

    /// [`interval_at`] on this driver.
    #[track_caller]
    pub fn interval_at(&self, start: Instant, period: Duration) -> Interval {
        Interval::new(self.clone(), start, period, Location::caller())
    }
}

/// What an [`Interval`] does when ticks were missed (the consumer was slower
/// than the period). The names and semantics are tokio's.
///
/// Take a 10 ms interval started at 0 whose consumer stalls from 25 ms to 47 ms:
///
/// | behaviour | ticks returned after the stall | then |
/// |---|---|---|
/// | `Burst` (default) | 30, 40 at once | 50, 60, … (catches up on the original schedule) |
/// | `Delay` | 47 (one tick, at once) | 57, 67, … (schedule shifted to now) |
/// | `Skip` | 47 (one tick, at once) | 50, 60, … (the missed ones are skipped) |
///
/// A tick counts as missed when it is more than 5 ms late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks as fast as possible until caught up.
    #[default]
    Burst,
    /// Fire once now, then continue `period` after each tick actually taken.
    Delay,
    /// Fire once now, then continue on the original schedule's next tick.
    Skip,
}

impl MissedTickBehavior {
    /// When the next tick is due, after the tick scheduled at `timeout` was taken at `now`.
    fn next_timeout(self, timeout: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => saturating_add(timeout, period),
            MissedTickBehavior::Delay => saturating_add(now, period),
            MissedTickBehavior::Skip => next_on_grid(timeout, period, now),
        }
    }
}

/// Ticks at a fixed period; created by [`interval`] and [`interval_at`].
///
/// Also a [`futures_core::Stream`] of tick instants that never ends. Dropping
/// it cancels its timer.
///
/// # Falling behind
///
/// An interval that has fallen behind is ready at once until it has caught
/// up (under [`MissedTickBehavior::Burst`], the default). A task that only
/// ticks and works — `loop { interval.tick().await; work() }` — would not
/// return to its executor until then. tokio's own `Interval` avoids that
/// through the runtime's cooperative budget; tickless works on any executor
/// and keeps a budget of its own instead: after 32 ticks in a row handed out
/// while the next one was already due, [`poll_tick`](Interval::poll_tick)
/// wakes the task and answers `Pending` once, without taking a tick, so the
/// executor can run other tasks (and see a shutdown) before the burst goes
/// on. No tick is lost, delayed past that one round trip, or reordered, and
/// an interval that keeps up never yields. Code that polls by hand must, as
/// with tokio, treat `Pending` as "poll again after a wake-up", not as
/// "nothing is due".
///
/// An interval that is not behind does not yield, even when each tick is
/// ready at once: under `Burst`, a loop whose work takes about as long as the
/// period (W a little over the period P) yields only once it has fallen a
/// whole period behind, after about P/(W−P) ticks, and with W = P never;
/// under `Delay` or `Skip` a tick more than 5 ms late moves the schedule
/// past the stall, so the next tick is never already due. A loop whose work
/// can take as long as its period should yield
/// (`tokio::task::yield_now().await`) itself.
#[must_use = "an Interval does nothing unless ticked"]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
    streak: Streak,
}

/// How late a tick may be before it counts as missed (tokio's threshold).
const MISSED_AFTER: Duration = Duration::from_millis(5);

impl Interval {
    fn new(
        handle: Handle,
        start: Instant,
        period: Duration,
        site: &'static Location<'static>,
    ) -> Self {
        Interval {
            sleep: Sleep::until(handle, start, site),
            period: period.max(Duration::from_nanos(1)),
            missed: MissedTickBehavior::default(),
            streak: Streak::default(),
        }
    }

    /// Completes at the next tick, returning the instant it was scheduled for.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick; returns the instant it was scheduled for.
    ///
    /// After 32 ticks in a row handed out behind schedule it answers
    /// `Pending` once, having woken the task (see
    /// [Falling behind](Interval#falling-behind)).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let mut streak = self.streak;
        let answer = streak.poll(cx, |cx| self.poll_due(cx));
        self.streak = streak;
        answer
    }

    /// [`poll_tick`](Interval::poll_tick) without the budget; also whether
    /// the tick came from a backlog (the next one is due already).
    fn poll_due(&mut self, cx: &mut Context<'_>) -> (Poll<Instant>, bool) {
        if self.sleep.poll_sleep(cx).is_pending() {
            return (Poll::Pending, false);
        }
        let timeout = self.sleep.deadline();
        let now = self.sleep.handle().now();
        let next = if now > saturating_add(timeout, MISSED_AFTER) {
            self.missed.next_timeout(timeout, now, self.period)
        } else {
            saturating_add(timeout, self.period)
        };
        self.sleep.reset(next);
        (Poll::Ready(timeout), next <= now)
    }

    /// Restarts the schedule: the next tick is one period from now (a
    /// period of a second or more reads the coarse clock, as
    /// [`sleep`](crate::sleep) does: late by a few milliseconds at most,
    /// never early). Moving the tick later is a store, not a driver call.
    pub fn reset(&mut self) {
        self.sleep.reset_after(self.period);
    }

    /// Restarts the schedule: the next tick is `after` from now (read as
    /// [`reset`](Interval::reset) reads it).
    pub fn reset_after(&mut self, after: Duration) {
        self.sleep.reset_after(after);
    }

    /// Restarts the schedule: the next tick completes at once.
    pub fn reset_immediately(&mut self) {
        let now = self.sleep.handle().now();
        self.sleep.reset(now);
    }

    /// Restarts the schedule: the next tick is at `deadline`.
    pub fn reset_at(&mut self, deadline: Instant) {
        self.sleep.reset(deadline);
    }

    /// The behaviour on missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets the behaviour on missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}

impl fmt::Debug for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interval")
            .field("next", &self.sleep.deadline())
            .field("period", &self.period)
            .field("missed_tick_behavior", &self.missed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_timeout_per_behaviour() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let (timeout, now, period) = (t0 + ms(30), t0 + ms(47), ms(10));
        assert_eq!(
            MissedTickBehavior::Burst.next_timeout(timeout, now, period),
            t0 + ms(40)
        );
        assert_eq!(
            MissedTickBehavior::Delay.next_timeout(timeout, now, period),
            t0 + ms(57)
        );
        assert_eq!(
            MissedTickBehavior::Skip.next_timeout(timeout, now, period),
            t0 + ms(50)
        );
        // Exactly on a period boundary: Skip goes a whole period on.
        assert_eq!(
            MissedTickBehavior::Skip.next_timeout(t0, t0 + ms(20), period),
            t0 + ms(30)
        );
    }
}
