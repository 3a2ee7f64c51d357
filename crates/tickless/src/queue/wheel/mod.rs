//! A hierarchical timing wheel (Varghese & Lauck) with occupancy bitmaps.
//!
//! Time is counted in *ticks* of a configurable resolution from the wheel's
//! origin (1 ms for [`Wheel::new`]; the driver uses 100 µs). There are
//! [`LEVELS`] levels of [`SLOTS`] slots; a slot of level `l` spans `64^l`
//! ticks. A timer is filed in the finest level that can tell its tick apart
//! from the current one, so its slot is found with shifts and masks, and the
//! next occupied slot with one `trailing_zeros` on the level's `u64` bitmap —
//! never a scan of slots or timers.
//!
//! At the driver's default 100 µs tick
//! (`Wheel::level_table(Duration::from_micros(100))`):
//!
//! | level | slot granularity | level range |
//! |---:|---:|---:|
//! | 0 | 100 µs | 6.4 ms |
//! | 1 | 6.4 ms | 410 ms |
//! | 2 | 410 ms | 26.2 s |
//! | 3 | 26.2 s | 28 min |
//! | 4 | 28 min | 1.24 d |
//! | 5 | 1.24 d | 79.5 d |
//! | 6 | 79.5 d | 13.9 y |
//!
//! A timer filed at level `l` is never early and, because it cascades into
//! finer levels as its slot approaches, still fires less than one tick late.
//! The coarse levels cost only cascades: a timer that is cancelled first —
//! most timeouts — never moves at all.
//!
//! # Precision: never early, less than one tick late
//!
//! A deadline is rounded *up* to a tick, and a timer fires in the first
//! [`poll_expired`](TimerQueue::poll_expired) whose `now`, rounded *down*, has
//! reached that tick. So a timer never fires before its deadline, and a caller
//! that polls at [`next_deadline`](TimerQueue::next_deadline) fires it less than
//! one tick after. When a coarse slot comes due its timers *cascade*: those
//! already due fire, the rest are re-filed in finer levels (each timer cascades
//! at most once per level). Timers that are cancelled — most of them — never
//! cascade at all.
//!
//! # Range
//!
//! The levels span 2⁴² ticks (13.9 years at 100 µs, 139 years at 1 ms, 50 days at 1 µs). A deadline
//! farther away than that is filed at the end of the range and re-filed when
//! that slot comes due: it costs one extra cascade per span and *still never
//! fires early*. Tick arithmetic saturates at `u64::MAX` nanoseconds after the
//! origin (≈584 years); deadlines beyond that never fire.
//!
//! # Memory
//!
//! Timers live in a generation-checked slab linked into per-slot doubly
//! linked lists by `u32` index: 24 bytes of links and deadline per timer plus
//! 8 bytes of slab bookkeeping (32 bytes beyond a `u64` value), and a fixed
//! ~1.8 KiB of list heads. Insert and cancel allocate nothing once the slab
//! has grown to the peak number of pending timers.

mod bulk;
mod earliest;
mod index;
mod level;
mod pop;
mod table;
mod tick;
mod timer_queue;
mod verify;

use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use super::slab::{Slab, NIL};
use super::{Key, TimerQueue};
use crate::clock::saturating_add;
use level::{level_for, level_range, next_occupied, slot_for, slot_range, SPAN};
pub use level::{LEVELS, SLOTS};
pub(crate) use tick::TickMath;

/// Index of the list of timers that were already due when filed.
const DUE: usize = LEVELS * SLOTS;
/// Slot lists plus the due list.
const LISTS: usize = DUE + 1;
/// The tag of a *shelved* entry, on no list: one that never fires (see
/// `insert_or_shelve` in `index.rs`). It has no head: `heads[SHELVED]` would panic.
const SHELVED: usize = LISTS;

/// A hierarchical timing wheel: O(1) insert and cancel, never early, less than
/// one tick late, 139-year range at 1 ms (see the [module docs](self) for the level table).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use tickless::queue::{TimerQueue, Wheel};
///
/// let t0 = Instant::now();
/// let mut wheel = Wheel::with_tick(t0, Duration::from_millis(10));
/// let key = wheel.insert(t0 + Duration::from_millis(25), 7u32);
///
/// // 25 ms rounds up to the 30 ms tick: nothing fires before it.
/// assert_eq!(wheel.next_deadline(), Some(t0 + Duration::from_millis(30)));
/// assert_eq!(wheel.poll_expired(t0 + Duration::from_millis(29), |_, _| {}), 0);
///
/// let mut fired = None;
/// wheel.poll_expired(t0 + Duration::from_millis(30), |k, v| fired = Some((k, v)));
/// assert_eq!(fired, Some((key, 7)));
/// ```
pub struct Wheel<T> {
    origin: Instant,
    ticks: TickMath,
    /// The current tick: every timer due at or before it has been handed out,
    /// except those in the due list.
    elapsed: u64,
    /// Per level, bit `s` is set iff slot `s`'s list is non-empty.
    occupied: [u64; LEVELS],
    /// Head of each slot's list (level-major), then the due list; `NIL` if empty.
    heads: [u32; LISTS],
    slab: Slab<Entry<T>>,
    /// `trim` tries again only once `len` is below this (hysteresis);
    /// reset to `usize::MAX` whenever the slab grows.
    trim_below: usize,
}

struct Entry<T> {
    /// Deadline in ticks since the origin (rounded up).
    when: u64,
    prev: u32,
    next: u32,
    /// Which list the entry is on, plus one (the niche keeps `Option<Entry>` small).
    list: NonZeroU16,
    value: T,
}

impl<T> Wheel<T> {
    /// Default resolution: 1 ms.
    pub const DEFAULT_TICK: Duration = Duration::from_millis(1);

    /// An empty wheel with a 1 ms tick counting from `origin`.
    pub fn new(origin: Instant) -> Self {
        Self::with_tick(origin, Self::DEFAULT_TICK)
    }

    /// An empty wheel with the given resolution. A zero tick means 1 ns;
    /// ticks longer than `u64::MAX` nanoseconds are capped there.
    pub fn with_tick(origin: Instant, tick: Duration) -> Self {
        Wheel {
            origin,
            ticks: TickMath::new(tick),
            elapsed: 0,
            occupied: [0; LEVELS],
            heads: [NIL; LISTS],
            slab: Slab::new(),
            trim_below: usize::MAX,
        }
    }

    /// The instant tick 0 corresponds to.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// The wheel's resolution.
    pub fn tick(&self) -> Duration {
        Duration::from_nanos(self.ticks.tick_nanos)
    }

    /// The farthest a deadline can be filed ahead of the current time before it
    /// is parked at the end of the range (see the module docs).
    pub fn range(&self) -> Duration {
        self.ticks.span()
    }

    /// Bytes per pending timer the wheel's slab uses, value included.
    pub const BYTES_PER_TIMER: usize = Slab::<Entry<T>>::SLOT_BYTES;

    /// Deadline → tick, rounded up so a timer never fires early.
    #[inline]
    fn deadline_tick(&self, deadline: Instant) -> u64 {
        self.ticks
            .ceil(deadline.saturating_duration_since(self.origin))
    }

    /// Now → tick, rounded down.
    #[inline]
    fn now_tick(&self, now: Instant) -> u64 {
        self.ticks.floor(now.saturating_duration_since(self.origin))
    }

    /// The instant tick `tick` starts at (saturating): a tick handed out by
    /// [`poll_expired_with_ticks`](Wheel::poll_expired_with_ticks) as an
    /// `Instant` — the deadline rounded up to the resolution.
    pub fn tick_instant(&self, tick: u64) -> Instant {
        saturating_add(
            self.origin,
            Duration::from_nanos(tick.saturating_mul(self.ticks.tick_nanos)),
        )
    }

    /// Files the (unlinked) entry at `index` for tick `when`.
    #[inline]
    fn link(&mut self, index: u32, when: u64) {
        let list = if when <= self.elapsed {
            DUE
        } else {
            // Beyond the range: park at its end; `when` itself is kept, so the
            // timer is re-filed, not fired, when that slot comes due.
            let filed = when.min(self.elapsed.saturating_add(SPAN - 1));
            let level = level_for(self.elapsed, filed);
            let slot = slot_for(filed, level);
            self.occupied[level] |= 1 << slot;
            level * SLOTS + slot
        };
        let head = self.heads[list];
        if head != NIL {
            self.slab.at_mut(head).prev = index;
        }
        let entry = self.slab.at_mut(index);
        entry.when = when;
        entry.prev = NIL;
        entry.next = head;
        entry.list = list_tag(list);
        self.heads[list] = index;
    }

    /// Takes the entry at `index` off its list (a shelved one is on none).
    #[inline]
    fn unlink(&mut self, index: u32) {
        let entry = self.slab.at(index);
        let (prev, next, list) = (entry.prev, entry.next, usize::from(entry.list.get()) - 1);
        if list == SHELVED {
            return;
        }
        if prev == NIL {
            debug_assert_eq!(
                self.heads[list], index,
                "entry {index} claims list {list} but is not its head"
            );
            self.heads[list] = next;
            if next == NIL && list != DUE {
                self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
            }
        } else {
            self.slab.at_mut(prev).next = next;
        }
        if next != NIL {
            self.slab.at_mut(next).prev = prev;
        }
    }

    /// The earliest occupied slot: `(level, slot, tick at which it comes due)`.
    ///
    /// Lower levels always come due before higher ones: a level-`l` slot lies
    /// within the current rotation of level `l + 1`, before its next slot.
    fn next_expiration(&self) -> Option<(usize, usize, u64)> {
        (0..LEVELS).find_map(|level| {
            let current = slot_for(self.elapsed, level);
            let (slot, wrapped) = next_occupied(self.occupied[level], current)?;
            // Surprise: at the top level the occupied slot may be at or before the
            // current one. It then belongs to the *next* rotation, so its tick is
            // one whole level range later — never "in the past".
            debug_assert!(
                !wrapped || level == LEVELS - 1,
                "level {level} slot {slot} wrapped behind current slot {current} (elapsed {})",
                self.elapsed
            );
            let rotation = self.elapsed & !(level_range(level) - 1);
            let mut tick = rotation.saturating_add(slot as u64 * slot_range(level));
            if wrapped {
                tick = tick.saturating_add(level_range(level));
            }
            Some((level, slot, tick))
        })
    }

    /// The unlinked entry at `index`: handed out if due at `now_tick`
    /// (`true`), else filed afresh relative to `self.elapsed`.
    #[inline]
    fn fire_or_refile<F: FnMut(Key, u64, T)>(
        &mut self,
        index: u32,
        now_tick: u64,
        on_expired: &mut F,
    ) -> bool {
        let when = self.slab.at(index).when;
        if when > now_tick {
            self.link(index, when);
            return false;
        }
        let (key, entry) = self.slab.remove_at(index);
        on_expired(key, when, entry.value);
        true
    }

    /// Hands out every entry of list `list`: fires those due at `now_tick`,
    /// re-files the rest relative to `self.elapsed`.
    fn drain_list<F: FnMut(Key, u64, T)>(
        &mut self,
        list: usize,
        now_tick: u64,
        on_expired: &mut F,
    ) -> usize {
        let mut index = std::mem::replace(&mut self.heads[list], NIL);
        if list != DUE {
            self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
        }
        let mut fired = 0;
        while index != NIL {
            let next = self.slab.at(index).next;
            fired += usize::from(self.fire_or_refile(index, now_tick, on_expired));
            index = next;
        }
        fired
    }

    /// [`poll_expired`](TimerQueue::poll_expired) that also hands out each
    /// timer's tick (for lateness accounting).
    pub fn poll_expired_with_ticks<F: FnMut(Key, u64, T)>(
        &mut self,
        now: Instant,
        mut on_expired: F,
    ) -> usize {
        let now_tick = self.now_tick(now);
        if let Some(fired) = self.expire_all_linear(now_tick, &mut on_expired) {
            return fired;
        }
        let mut fired = self.drain_list(DUE, now_tick, &mut on_expired);
        while let Some((level, slot, tick)) = self.next_expiration() {
            if tick > now_tick {
                break;
            }
            debug_assert!(
                tick >= self.elapsed,
                "slot tick {tick} behind elapsed {}",
                self.elapsed
            );
            // Timers due by `now` fire straight from a coarse slot instead of
            // cascading through every finer level first.
            self.elapsed = tick;
            fired += self.drain_list(level * SLOTS + slot, now_tick, &mut on_expired);
        }
        self.elapsed = self.elapsed.max(now_tick);
        fired
    }

    /// [`for_each`](TimerQueue::for_each) that also gives each timer's tick.
    pub fn for_each_with_tick<F: FnMut(Key, u64, &T)>(&self, mut f: F) {
        for (key, entry) in self.slab.iter() {
            f(key, entry.when, &entry.value);
        }
    }

    /// [`for_each_with_tick`](Wheel::for_each_with_tick) over at most `slots`
    /// storage slots starting at slot `start`, so a caller holding a lock can
    /// scan a large wheel in bounded pieces. Returns where the next piece
    /// starts, or `None` when the scan reached the end. Timers inserted or
    /// removed between pieces may be missed or seen (a snapshot, not a freeze).
    pub fn for_each_in<F: FnMut(Key, u64, &T)>(
        &self,
        start: usize,
        slots: usize,
        mut f: F,
    ) -> Option<usize> {
        let end = start.saturating_add(slots);
        for (key, entry) in self.slab.iter_from(start) {
            if key.index as usize >= end {
                return Some(end);
            }
            f(key, entry.when, &entry.value);
        }
        None
    }

    /// The tick `deadline` fires at: ticks since the origin, rounded up.
    #[inline]
    pub fn tick_for(&self, deadline: Instant) -> u64 {
        self.deadline_tick(deadline)
    }

    /// [`tick_for`](Wheel::tick_for) of the instant `since` after the
    /// origin, for callers that already hold that offset (one clock
    /// subtraction instead of two).
    #[inline]
    pub(crate) fn tick_after_origin(&self, since: Duration) -> u64 {
        self.ticks.ceil(since)
    }

    /// The tick of the last poll: every timer due at or before it has fired.
    #[inline]
    pub fn elapsed_ticks(&self) -> u64 {
        self.elapsed
    }

    /// [`insert`](TimerQueue::insert) for a deadline already converted with
    /// [`tick_for`](Wheel::tick_for), so callers that also need the tick
    /// convert once.
    #[inline]
    pub fn insert_at_tick(&mut self, tick: u64, value: T) -> Key {
        let key = self.store(tick, DUE, value);
        self.link(key.index, tick);
        key
    }

    /// Stores a timer for `tick` in the slab, tagged `list` but linked into
    /// none: the caller links it (or, `index.rs`, shelves it).
    #[inline]
    fn store(&mut self, tick: u64, list: usize, value: T) -> Key {
        if self.slab.len() == self.slab.slots() {
            self.trim_below = usize::MAX; // about to grow: a new burst may follow
        }
        self.slab.insert(Entry {
            when: tick,
            prev: NIL,
            next: NIL,
            list: list_tag(list),
            value,
        })
    }

    /// The key of a timer with the earliest deadline (ties: any of them), or
    /// `None` when empty (the cache's shelved timers, which never fire, are
    /// not seen). O(timers in the earliest slot): the earliest timer
    /// always sits in the due list or the earliest occupied slot, since lower
    /// levels come due before higher ones.
    pub fn peek(&self) -> Option<Key> {
        let list = if self.heads[DUE] != NIL {
            DUE
        } else {
            let (level, slot, _) = self.next_expiration()?;
            level * SLOTS + slot
        };
        let mut index = self.heads[list];
        let mut best = (u64::MAX, NIL);
        while index != NIL {
            let entry = self.slab.at(index);
            if entry.when < best.0 || best.1 == NIL {
                best = (entry.when, index);
            }
            index = entry.next;
        }
        (best.1 != NIL).then(|| self.slab.key_at(best.1))
    }

    /// Removes every timer, dropping their values; every key goes stale.
    /// Keeps the storage (see [`shrink_to_fit`](TimerQueue::shrink_to_fit)).
    pub fn clear(&mut self) {
        self.heads = [NIL; LISTS];
        self.occupied = [0; LEVELS];
        self.slab.clear();
    }

    /// The deadline of the timer under `key`, rounded up to the resolution
    /// (when it fires); `None` for a stale key.
    pub fn deadline(&self, key: Key) -> Option<Instant> {
        self.slab.get(key).map(|e| self.tick_instant(e.when))
    }

    /// Makes room for `additional` more timers without allocating.
    pub fn reserve(&mut self, additional: usize) {
        self.slab.reserve(additional);
    }

    /// Timers the storage holds room for without allocating.
    pub fn capacity(&self) -> usize {
        self.slab.capacity()
    }
}

#[inline]
fn list_tag(list: usize) -> NonZeroU16 {
    // LISTS < u16::MAX, so list + 1 is a valid non-zero u16.
    NonZeroU16::new(list as u16 + 1).unwrap_or(NonZeroU16::MAX)
}

impl<T> std::fmt::Debug for Wheel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wheel")
            .field("tick", &self.tick())
            .field("elapsed_ticks", &self.elapsed)
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
