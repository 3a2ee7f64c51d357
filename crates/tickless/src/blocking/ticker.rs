//! [`Ticker`]: Go's `time.Ticker` — a capacity-1 channel of tick times,
//! re-armed one period on after each fire, staying on its grid.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::alarm::{Action, Alarm};
use super::timer::SendOnce;
use super::TimerError;
use crate::clock::next_on_grid;
use crate::driver::Handle;

/// Sends the tick time into a capacity-1 channel and re-arms one period on.
struct Periodic {
    once: SendOnce,
    period_nanos: AtomicU64,
}

impl Periodic {
    fn period(&self) -> Duration {
        // Relaxed: `Ticker::reset` stores the new period and then re-arms
        // under the alarm lock; every fire of that arming reads it under the
        // same lock, after the re-arm, so the lock orders store before load.
        // A fire of the old arming that takes the lock first may see either
        // period: it re-arms, and the reset then replaces that arming.
        Duration::from_nanos(self.period_nanos.load(Ordering::Relaxed))
    }
}

impl Action for Periodic {
    fn fire(&self, deadline: Instant, now: Instant) -> Option<Instant> {
        self.once.fire(deadline, now); // a full channel drops the tick
                                       // Late by more than a period: skip to the next tick on the grid.
        Some(next_on_grid(deadline, self.period(), now))
    }

    fn drain(&self) -> bool {
        self.once.drain()
    }
}

/// A periodic timer: its [`receiver`](Ticker::receiver) yields each tick's
/// scheduled time, every period.
///
/// Go's `time.Ticker`: the channel holds one tick, so a slow receiver misses
/// ticks rather than queueing them, and the schedule stays on its grid.
/// Dropping the ticker stops it.
///
/// ```
/// use std::time::Duration;
/// use tickless::blocking::Ticker;
///
/// let ticker = Ticker::new(Duration::from_millis(2))?;
/// let a = ticker.receiver().recv().unwrap();
/// let b = ticker.receiver().recv().unwrap();
/// assert!(b > a);
/// ticker.stop();
/// # Ok::<(), tickless::blocking::TimerError>(())
/// ```
#[must_use = "dropping a Ticker stops it at once"]
pub struct Ticker {
    alarm: Arc<Alarm<Periodic>>,
}

impl Ticker {
    /// Ticks every `period`, the first one period from now, on the global
    /// driver. A zero period is [`TimerError::ZeroPeriod`].
    #[track_caller]
    pub fn new(period: Duration) -> Result<Ticker, TimerError> {
        Handle::current().ticker(period)
    }

    fn armed(
        handle: Handle,
        period: Duration,
        site: &'static Location<'static>,
    ) -> Result<Ticker, TimerError> {
        if period.is_zero() {
            return Err(TimerError::ZeroPeriod);
        }
        let action = Periodic {
            once: SendOnce::new(),
            period_nanos: AtomicU64::new(nanos(period)),
        };
        let alarm = Alarm::new(handle, site, action);
        alarm.reset_after(period);
        Ok(Ticker { alarm })
    }

    /// The channel ticks arrive on.
    pub fn receiver(&self) -> &Receiver<Instant> {
        self.alarm.action.once.receiver()
    }

    /// Stops ticking; an unreceived tick is taken back.
    pub fn stop(&self) {
        self.alarm.stop();
    }

    /// Restarts with a new period, the next tick one period from now. An
    /// unreceived tick is taken back. A zero period is an error and leaves the
    /// ticker unchanged.
    pub fn reset(&self, period: Duration) -> Result<(), TimerError> {
        if period.is_zero() {
            return Err(TimerError::ZeroPeriod);
        }
        // Relaxed: see `Periodic::period`.
        self.alarm
            .action
            .period_nanos
            .store(nanos(period), Ordering::Relaxed);
        self.alarm.reset_after(period);
        Ok(())
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.alarm.stop();
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticker")
            .field("period", &self.alarm.action.period())
            .finish()
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Handle {
    /// A [`Ticker`] on this driver; a zero period is [`TimerError::ZeroPeriod`].
    #[track_caller]
    pub fn ticker(&self, period: Duration) -> Result<Ticker, TimerError> {
        Ticker::armed(self.clone(), period, Location::caller())
    }
}
