//! The wheel as a [`TimerQueue`]: the trait's operations in terms of ticks,
//! slots and the slab.

use std::time::Instant;

use super::{Entry, Wheel, DUE, NIL};
use crate::queue::slab::Slab;
use crate::queue::{Key, TimerQueue};

impl<T> TimerQueue<T> for Wheel<T> {
    #[inline]
    fn insert(&mut self, deadline: Instant, value: T) -> Key {
        self.insert_at_tick(self.deadline_tick(deadline), value)
    }

    #[inline]
    fn cancel(&mut self, key: Key) -> Option<T> {
        self.slab.get(key)?;
        self.unlink(key.index);
        Some(self.slab.remove_at(key.index).1.value)
    }

    fn reset(&mut self, key: Key, deadline: Instant) -> bool {
        if self.slab.get(key).is_none() {
            return false;
        }
        let when = self.deadline_tick(deadline);
        self.unlink(key.index);
        self.link(key.index, when);
        true
    }

    fn get(&self, key: Key) -> Option<&T> {
        self.slab.get(key).map(|e| &e.value)
    }

    fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        self.slab.get_mut(key).map(|e| &mut e.value)
    }

    fn next_deadline(&self) -> Option<Instant> {
        if self.heads[DUE] != NIL {
            return Some(self.tick_instant(self.elapsed));
        }
        self.next_expiration()
            .map(|(_, _, tick)| self.tick_instant(tick))
    }

    fn poll_expired<F: FnMut(Key, T)>(&mut self, now: Instant, mut on_expired: F) -> usize {
        self.poll_expired_with_ticks(now, |key, _, value| on_expired(key, value))
    }

    fn for_each<F: FnMut(Key, &T)>(&self, mut f: F) {
        self.for_each_with_tick(|key, _, value| f(key, value));
    }

    fn len(&self) -> usize {
        self.slab.len()
    }

    fn shrink_to_fit(&mut self) {
        self.slab.shrink_to_fit();
    }

    fn allocated_bytes(&self) -> usize {
        self.slab.capacity() * Slab::<Entry<T>>::SLOT_BYTES
    }
}
