//! Generation-checked slab storage shared by the timer queues.
//!
//! Entries live in one `Vec`; vacant slots form an intrusive free list, so
//! once the `Vec` has grown to the peak number of live timers, inserting
//! allocates nothing. Every slot carries a generation that is bumped when the
//! slot is freed: a [`Key`] remembers the generation it was issued with, so a
//! stale key (its timer fired, was cancelled, or its slot was reused) never
//! reaches another timer. Generations are `u32` and wrap after 2³² reuses of
//! one slot — the only way a stale key could alias, and far beyond any
//! realistic key lifetime.
//!
//! Cost: O(1) insert, lookup and remove; 8 bytes per slot beyond the entry.

use super::Key;

/// Marks the end of an index-linked list (free list or slot list).
pub(crate) const NIL: u32 = u32::MAX;

pub(crate) struct Slab<E> {
    slots: Vec<Slot<E>>,
    /// Head of the free list of vacant slots, or `NIL`.
    free: u32,
    len: usize,
    /// Generation given to brand-new slots. Raised past every generation a
    /// truncated slot ever had, so keys into truncated slots stay stale.
    fresh_gen: u32,
}

struct Slot<E> {
    gen: u32,
    /// Next vacant slot while this one is vacant; unused while occupied.
    next_free: u32,
    entry: Option<E>,
}

impl<E> Slab<E> {
    pub(crate) const fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: NIL,
            len: 0,
            fresh_gen: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// Bytes the slab holds per slot (entry included).
    pub(crate) const SLOT_BYTES: usize = std::mem::size_of::<Slot<E>>();

    pub(crate) fn insert(&mut self, entry: E) -> Key {
        let index = self.free;
        if index != NIL {
            let slot = &mut self.slots[index as usize];
            debug_assert!(
                slot.entry.is_none(),
                "free list holds occupied slot {index}"
            );
            self.free = slot.next_free;
            slot.entry = Some(entry);
            self.len += 1;
            return Key {
                index,
                gen: slot.gen,
            };
        }
        let index = u32::try_from(self.slots.len())
            .ok()
            .filter(|&i| i != NIL)
            .expect("tickless: more than 4 billion live timers in one queue");
        self.slots.push(Slot {
            gen: self.fresh_gen,
            next_free: NIL,
            entry: Some(entry),
        });
        self.len += 1;
        Key {
            index,
            gen: self.fresh_gen,
        }
    }

    #[inline]
    pub(crate) fn get(&self, key: Key) -> Option<&E> {
        let slot = self.slots.get(key.index as usize)?;
        if slot.gen == key.gen {
            slot.entry.as_ref()
        } else {
            None
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut E> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.gen == key.gen {
            slot.entry.as_mut()
        } else {
            None
        }
    }

    /// The occupied entry at `index`. Panics on a vacant slot: callers reach
    /// indices only through the queues' own links, so that is a queue bug.
    #[inline]
    pub(crate) fn at(&self, index: u32) -> &E {
        match &self.slots[index as usize].entry {
            Some(e) => e,
            None => unreachable!("tickless: queue links to vacant slot {index}"),
        }
    }

    #[inline]
    pub(crate) fn at_mut(&mut self, index: u32) -> &mut E {
        match &mut self.slots[index as usize].entry {
            Some(e) => e,
            None => unreachable!("tickless: queue links to vacant slot {index}"),
        }
    }

    /// Frees the occupied slot at `index`, returning the key it had and its entry.
    #[inline]
    pub(crate) fn remove_at(&mut self, index: u32) -> (Key, E) {
        let slot = &mut self.slots[index as usize];
        let Some(entry) = slot.entry.take() else {
            unreachable!("tickless: queue removes vacant slot {index}")
        };
        let key = Key {
            index,
            gen: slot.gen,
        };
        slot.gen = slot.gen.wrapping_add(1);
        slot.next_free = self.free;
        self.free = index;
        self.len -= 1;
        (key, entry)
    }

    /// Drops trailing vacant slots and returns their memory to the allocator.
    /// O(slots): rebuilds the free list.
    pub(crate) fn shrink_to_fit(&mut self) {
        while let Some(last) = self.slots.last() {
            if last.entry.is_some() {
                break;
            }
            // Every key into this slot has a generation below `last.gen`.
            self.fresh_gen = self.fresh_gen.max(last.gen);
            self.slots.pop();
        }
        self.slots.shrink_to_fit();
        self.free = NIL;
        for (i, slot) in self.slots.iter_mut().enumerate().rev() {
            if slot.entry.is_none() {
                slot.next_free = self.free;
                self.free = i as u32;
            }
        }
    }

    /// The key of the occupied slot at `index`.
    #[inline]
    pub(crate) fn key_at(&self, index: u32) -> Key {
        Key {
            index,
            gen: self.slots[index as usize].gen,
        }
    }

    /// Makes room for `additional` more entries without reallocating.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.slots
            .reserve(additional.saturating_sub(self.slots.len() - self.len));
    }

    /// Removes every entry; every key issued so far goes stale. O(slots).
    pub(crate) fn clear(&mut self) {
        for index in 0..self.slots.len() as u32 {
            if self.is_occupied(index) {
                self.remove_at(index);
            }
        }
    }

    /// Number of slots, occupied or vacant: indices run `0..slots()`.
    #[inline]
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    /// `true` if the last slot is vacant (so shrinking would free something).
    #[inline]
    pub(crate) fn last_is_vacant(&self) -> bool {
        self.slots.last().is_some_and(|s| s.entry.is_none())
    }

    /// `true` if the slot at `index` holds an entry.
    #[inline]
    pub(crate) fn is_occupied(&self, index: u32) -> bool {
        self.slots[index as usize].entry.is_some()
    }

    /// Iterates over occupied slots with their keys. O(slots).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Key, &E)> {
        self.iter_from(0)
    }

    /// [`iter`](Slab::iter) starting at slot `start`.
    pub(crate) fn iter_from(&self, start: usize) -> impl Iterator<Item = (Key, &E)> {
        let start = start.min(self.slots.len());
        self.slots[start..]
            .iter()
            .enumerate()
            .filter_map(move |(i, s)| {
                let i = i + start;
                let key = Key {
                    index: i as u32,
                    gen: s.gen,
                };
                s.entry.as_ref().map(|e| (key, e))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_are_inert() {
        let mut s = Slab::new();
        let a = s.insert("a");
        let (ka, va) = s.remove_at(a.index);
        assert_eq!((ka, va), (a, "a"));
        let b = s.insert("b");
        assert_eq!(b.index, a.index, "slot is reused");
        assert_ne!(b.gen, a.gen);
        assert!(s.get(a).is_none());
        assert_eq!(s.get(b), Some(&"b"));
    }

    #[test]
    fn shrink_keeps_truncated_keys_stale() {
        let mut s = Slab::new();
        let keys: Vec<_> = (0..100).map(|i| s.insert(i)).collect();
        for k in &keys[10..] {
            s.remove_at(k.index);
        }
        s.shrink_to_fit();
        assert_eq!(s.len(), 10);
        assert!(s.capacity() < 100);
        for k in &keys[10..] {
            assert!(s.get(*k).is_none());
        }
        // Regrow over the truncated indices: old keys must stay stale.
        let fresh: Vec<_> = (0..90).map(|i| s.insert(1000 + i)).collect();
        for k in &keys[10..] {
            assert!(s.get(*k).is_none(), "stale key {k:?} aliased after shrink");
        }
        for (i, k) in fresh.iter().enumerate() {
            assert_eq!(s.get(*k), Some(&(1000 + i as i32)));
        }
    }

    #[test]
    fn shrink_rebuilds_free_list() {
        let mut s = Slab::new();
        let keys: Vec<_> = (0..8).map(|i| s.insert(i)).collect();
        s.remove_at(keys[2].index);
        s.remove_at(keys[7].index);
        s.shrink_to_fit();
        let k = s.insert(42);
        assert_eq!(k.index, 2, "interior hole is reused");
        assert_eq!(s.len(), 7);
    }
}
