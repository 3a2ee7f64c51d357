//! Single-threaded timer queues: a hierarchical timing wheel and a 4-ary heap.
//!
//! A queue maps deadlines to values. It knows nothing of threads, locks or
//! atomics; the driver wraps one per shard behind its own lock. Both queues
//! implement [`TimerQueue`]:
//!
//! | | [`Wheel`] | [`QuadHeap`] |
//! |---|---|---|
//! | insert | O(1) | O(log₄ n) |
//! | cancel / reset | O(1) | O(log₄ n) |
//! | next deadline | O(levels), bit operations | O(1) |
//! | expire one | O(1) amortised (≤ one cascade per level) | O(log₄ n) |
//! | precision | never early, < 1 tick late | exact (nanoseconds) |
//! | bytes / pending timer beyond the value (`T = u64`) | 32 | 40 |
//!
//! The wheel is the production structure: most timers are cancelled before
//! they fire, and it makes cancellation O(1) with no data movement. The heap is
//! the structure the Go runtime keeps per P; it orders exactly and is the
//! comparison point (`cargo bench -p tickless --bench queue`).
//!
//! # Keys
//!
//! [`insert`](TimerQueue::insert) returns a [`Key`] that carries a generation.
//! After the timer fires or is cancelled its key is *stale*: `cancel` returns
//! `None`, `reset` returns `false`, and it never touches a timer that later
//! reuses the same slot.
//!
//! # Bad input
//!
//! Nothing here panics on a deadline. A deadline at or before the last polled
//! time fires on the next [`poll_expired`](TimerQueue::poll_expired); a deadline
//! before the queue's origin counts as the origin; a deadline too far away for
//! the queue's range still never fires early (see [`Wheel`]).
//!
//! # Examples
//!
//! ```
//! use std::time::{Duration, Instant};
//! use tickless::queue::{TimerQueue, Wheel};
//!
//! let start = Instant::now();
//! let mut wheel = Wheel::new(start);
//! let soon = wheel.insert(start + Duration::from_millis(5), "soon");
//! let later = wheel.insert(start + Duration::from_secs(60), "later");
//! assert_eq!(wheel.cancel(later), Some("later"));
//!
//! let mut fired = Vec::new();
//! wheel.poll_expired(start + Duration::from_millis(5), |key, value| fired.push((key, value)));
//! assert_eq!(fired, vec![(soon, "soon")]);
//! assert!(wheel.is_empty());
//! assert_eq!(wheel.cancel(soon), None, "a fired key is stale");
//! ```

use std::time::Instant;

mod heap;
mod slab;
pub mod wheel;

pub use heap::QuadHeap;
pub use wheel::{Wheel, LEVELS, SLOTS};

/// Identifies one timer in one queue; stale once the timer fires or is cancelled.
///
/// Keys are 8 bytes, `Copy`, and only meaningful for the queue that issued them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub(crate) index: u32,
    pub(crate) gen: u32,
}

/// The operations both timer queues offer.
///
/// `T` is the value handed back when the timer fires or is cancelled.
pub trait TimerQueue<T> {
    /// Schedules `value` to be handed out by the first
    /// [`poll_expired`](TimerQueue::poll_expired) whose `now` is at or past
    /// `deadline`. O(1) for the wheel, O(log n) for the heap; allocates only
    /// when the queue grows past its previous peak.
    fn insert(&mut self, deadline: Instant, value: T) -> Key;

    /// Removes the timer and returns its value, or `None` if the key is stale.
    fn cancel(&mut self, key: Key) -> Option<T>;

    /// Moves a pending timer to a new deadline, keeping its key. Returns
    /// `false` (and does nothing) if the key is stale.
    fn reset(&mut self, key: Key, deadline: Instant) -> bool;

    /// The value of a pending timer.
    fn get(&self, key: Key) -> Option<&T>;

    /// The value of a pending timer, mutably.
    fn get_mut(&mut self, key: Key) -> Option<&mut T>;

    /// When [`poll_expired`](TimerQueue::poll_expired) next has work: never
    /// later than the earliest pending deadline (the wheel may answer earlier,
    /// when a coarse slot must be cascaded). `None` when empty. May lie in the
    /// past when a timer is already due.
    fn next_deadline(&self) -> Option<Instant>;

    /// Removes every timer due at `now` and hands each `(key, value)` to
    /// `on_expired`, in no guaranteed order (sort them if order matters).
    /// Returns how many fired.
    fn poll_expired<F: FnMut(Key, T)>(&mut self, now: Instant, on_expired: F) -> usize;

    /// Visits every pending timer's key and value, in no particular order.
    /// O(slots ever used): for diagnostics, not hot paths.
    fn for_each<F: FnMut(Key, &T)>(&self, f: F);

    /// Number of pending timers.
    fn len(&self) -> usize;

    /// `true` when no timer is pending.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns memory beyond what the pending timers need to the allocator.
    fn shrink_to_fit(&mut self);

    /// Bytes of heap memory the queue holds right now (capacity, not length).
    fn allocated_bytes(&self) -> usize;
}
