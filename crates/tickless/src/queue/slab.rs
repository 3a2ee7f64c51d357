//! Generation-checked slab storage shared by the timer queues.
//!
//! Entries live in fixed-size chunks of slots; vacant slots form an
//! intrusive free list, so once the slab has grown to the peak number of
//! live timers, inserting allocates nothing. Every slot carries a generation
//! that is bumped when the slot is freed: a [`Key`] remembers the generation
//! it was issued with, so a stale key (its timer fired, was cancelled, or its
//! slot was reused) never reaches another timer. Generations are `u32` and
//! wrap after 2³² reuses of one slot — the only way a stale key could alias,
//! and far beyond any realistic key lifetime.
//!
//! # Why chunks
//!
//! One `Vec` doubles: at 10M timers it holds room for 16.7M, and the 32
//! bytes of a slot become 53 per timer. Here slot `i` lives in chunk
//! `i >> CHUNK_BITS`; every chunk but the last is full, and only the last
//! grows (doubling, as a `Vec` does, up to [`CHUNK`] slots). A small slab
//! costs what a `Vec` would; a large one wastes at most one chunk (≤ 4095
//! slots), and growing never copies more than one chunk. The price is one
//! more (cached) load per access.
//!
//! Cost: O(1) insert, lookup and remove; 8 bytes per slot beyond the entry.

use super::Key;

/// Marks the end of an index-linked list (free list or slot list).
pub(crate) const NIL: u32 = u32::MAX;

/// log₂ of [`CHUNK`].
const CHUNK_BITS: u32 = 12;
/// Slots per chunk: 4096 (128–160 KiB for the driver's and the cache's slots).
const CHUNK: usize = 1 << CHUNK_BITS;
const MASK: usize = CHUNK - 1;

pub(crate) struct Slab<E> {
    /// Slot `i` is `chunks[i >> CHUNK_BITS][i & MASK]`. Every chunk but the
    /// last holds exactly `CHUNK` slots; none is empty.
    chunks: Vec<Vec<Slot<E>>>,
    /// Empty chunks of capacity `CHUNK` set aside by [`reserve`](Slab::reserve).
    spare: Vec<Vec<Slot<E>>>,
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
            chunks: Vec::new(),
            spare: Vec::new(),
            free: NIL,
            len: 0,
            fresh_gen: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Slots allocated, used or not (spare chunks included).
    pub(crate) fn capacity(&self) -> usize {
        let last = self.chunks.last().map_or(0, Vec::capacity);
        self.chunks.len().saturating_sub(1) * CHUNK + last + self.spare.len() * CHUNK
    }

    /// Bytes the slab holds per slot (entry included).
    pub(crate) const SLOT_BYTES: usize = std::mem::size_of::<Slot<E>>();

    #[inline]
    fn slot(&self, index: u32) -> Option<&Slot<E>> {
        let i = index as usize;
        self.chunks.get(i >> CHUNK_BITS)?.get(i & MASK)
    }

    #[inline]
    fn slot_mut(&mut self, index: u32) -> Option<&mut Slot<E>> {
        let i = index as usize;
        self.chunks.get_mut(i >> CHUNK_BITS)?.get_mut(i & MASK)
    }

    /// The slot at `index`, which the caller knows exists.
    #[inline]
    fn at_slot(&self, index: u32) -> &Slot<E> {
        let i = index as usize;
        &self.chunks[i >> CHUNK_BITS][i & MASK]
    }

    #[inline]
    fn at_slot_mut(&mut self, index: u32) -> &mut Slot<E> {
        let i = index as usize;
        &mut self.chunks[i >> CHUNK_BITS][i & MASK]
    }

    pub(crate) fn insert(&mut self, entry: E) -> Key {
        let index = self.free;
        if index != NIL {
            let slot = self.at_slot_mut(index);
            debug_assert!(
                slot.entry.is_none(),
                "free list holds occupied slot {index}"
            );
            let (gen, next) = (slot.gen, slot.next_free);
            slot.entry = Some(entry);
            self.free = next;
            self.len += 1;
            return Key { index, gen };
        }
        let index = u32::try_from(self.slots())
            .ok()
            .filter(|&i| i != NIL)
            .expect("tickless: more than 4 billion live timers in one queue");
        let gen = self.fresh_gen;
        self.push(Slot {
            gen,
            next_free: NIL,
            entry: Some(entry),
        });
        self.len += 1;
        Key { index, gen }
    }

    /// Appends a slot: into the last chunk (growing it by doubling, never
    /// past `CHUNK`), or a new chunk once that one is full.
    fn push(&mut self, slot: Slot<E>) {
        if let Some(last) = self.chunks.last_mut().filter(|c| c.len() < CHUNK) {
            if last.len() == last.capacity() {
                let grow = last.len().max(4).min(CHUNK - last.len());
                last.reserve_exact(grow);
            }
            last.push(slot);
            return;
        }
        let mut chunk = self.spare.pop().unwrap_or_default();
        chunk.push(slot);
        self.chunks.push(chunk);
    }

    #[inline]
    pub(crate) fn get(&self, key: Key) -> Option<&E> {
        let slot = self.slot(key.index)?;
        if slot.gen == key.gen {
            slot.entry.as_ref()
        } else {
            None
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut E> {
        let slot = self.slot_mut(key.index)?;
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
        match &self.at_slot(index).entry {
            Some(e) => e,
            None => unreachable!("tickless: queue links to vacant slot {index}"),
        }
    }

    #[inline]
    pub(crate) fn at_mut(&mut self, index: u32) -> &mut E {
        match &mut self.at_slot_mut(index).entry {
            Some(e) => e,
            None => unreachable!("tickless: queue links to vacant slot {index}"),
        }
    }

    /// Frees the occupied slot at `index`, returning the key it had and its entry.
    #[inline]
    pub(crate) fn remove_at(&mut self, index: u32) -> (Key, E) {
        let free = self.free;
        let slot = self.at_slot_mut(index);
        let Some(entry) = slot.entry.take() else {
            unreachable!("tickless: queue removes vacant slot {index}")
        };
        let key = Key {
            index,
            gen: slot.gen,
        };
        slot.gen = slot.gen.wrapping_add(1);
        slot.next_free = free;
        self.free = index;
        self.len -= 1;
        (key, entry)
    }

    /// Drops trailing vacant slots (and spare chunks) and returns their
    /// memory to the allocator. O(slots): rebuilds the free list.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.spare = Vec::new();
        while let Some(last) = self.chunks.last_mut() {
            while let Some(slot) = last.last() {
                if slot.entry.is_some() {
                    break;
                }
                // Every key into this slot has a generation below `slot.gen`.
                self.fresh_gen = self.fresh_gen.max(slot.gen);
                last.pop();
            }
            if !last.is_empty() {
                last.shrink_to_fit();
                break;
            }
            self.chunks.pop();
        }
        self.chunks.shrink_to_fit();
        self.free = NIL;
        for index in (0..self.slots() as u32).rev() {
            let free = self.free;
            let slot = self.at_slot_mut(index);
            if slot.entry.is_none() {
                slot.next_free = free;
                self.free = index;
            }
        }
    }

    /// The key of the occupied slot at `index`.
    #[inline]
    pub(crate) fn key_at(&self, index: u32) -> Key {
        Key {
            index,
            gen: self.at_slot(index).gen,
        }
    }

    /// Makes room for `additional` more entries without allocating: vacant
    /// slots count, then the last chunk's room, then spare chunks.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let mut needed = additional.saturating_sub(self.slots() - self.len);
        if let Some(last) = self.chunks.last_mut().filter(|c| c.len() < CHUNK) {
            let room = (CHUNK - last.len()).min(needed);
            last.reserve_exact(room);
            needed -= room;
        }
        let spares = needed.div_ceil(CHUNK).saturating_sub(self.spare.len());
        self.chunks.reserve(spares + self.spare.len());
        self.spare
            .extend((0..spares).map(|_| Vec::with_capacity(CHUNK)));
    }

    /// Removes every entry; every key issued so far goes stale. O(slots).
    pub(crate) fn clear(&mut self) {
        for index in 0..self.slots() as u32 {
            if self.is_occupied(index) {
                self.remove_at(index);
            }
        }
    }

    /// Number of slots, occupied or vacant: indices run `0..slots()`.
    #[inline]
    pub(crate) fn slots(&self) -> usize {
        match self.chunks.last() {
            Some(last) => (self.chunks.len() - 1) * CHUNK + last.len(),
            None => 0,
        }
    }

    /// `true` if the last slot is vacant (so shrinking would free something).
    #[inline]
    pub(crate) fn last_is_vacant(&self) -> bool {
        self.chunks
            .last()
            .and_then(|c| c.last())
            .is_some_and(|s| s.entry.is_none())
    }

    /// `true` if the slot at `index` holds an entry.
    #[inline]
    pub(crate) fn is_occupied(&self, index: u32) -> bool {
        self.at_slot(index).entry.is_some()
    }

    /// Iterates over occupied slots with their keys, in index (memory) order. O(slots).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Key, &E)> {
        self.iter_from(0)
    }

    /// [`iter`](Slab::iter) starting at slot `start`.
    pub(crate) fn iter_from(&self, start: usize) -> impl Iterator<Item = (Key, &E)> {
        let start = start.min(self.slots());
        let first = start >> CHUNK_BITS;
        self.chunks
            .iter()
            .enumerate()
            .skip(first)
            .flat_map(move |(c, chunk)| {
                let skip = if c == first { start & MASK } else { 0 };
                chunk
                    .iter()
                    .enumerate()
                    .skip(skip)
                    .filter_map(move |(i, s)| {
                        let key = Key {
                            index: ((c << CHUNK_BITS) + i) as u32,
                            gen: s.gen,
                        };
                        s.entry.as_ref().map(|e| (key, e))
                    })
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
    fn chunks_grow_fill_and_shrink() {
        let mut s = Slab::new();
        let n = 3 * CHUNK + 5;
        let keys: Vec<_> = (0..n).map(|i| s.insert(i)).collect();
        assert_eq!(s.slots(), n);
        assert!(
            s.capacity() < n + CHUNK,
            "at most one chunk of slack, got {} for {n}",
            s.capacity()
        );
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(k.index as usize, i);
            assert_eq!(s.get(*k), Some(&i));
            assert_eq!(*s.at(k.index), i);
        }
        let seen: Vec<usize> = s.iter_from(CHUNK - 2).map(|(_, e)| *e).collect();
        assert_eq!(
            seen,
            (CHUNK - 2..n).collect::<Vec<_>>(),
            "memory order across chunks"
        );
        // Free everything past the first chunk and a hole inside it.
        for k in &keys[CHUNK..] {
            s.remove_at(k.index);
        }
        s.remove_at(keys[7].index);
        s.shrink_to_fit();
        assert_eq!(s.slots(), CHUNK);
        assert_eq!(s.capacity(), CHUNK);
        for k in &keys[CHUNK..] {
            assert!(s.get(*k).is_none(), "truncated key stays stale");
        }
        assert_eq!(s.insert(99).index, 7, "interior hole first");
        let next = s.insert(100);
        assert_eq!(next.index as usize, CHUNK, "then a new chunk");
        assert_ne!(next.gen, keys[CHUNK].gen, "fresh slot, fresh generation");
    }

    #[test]
    fn reserve_means_no_growth() {
        let mut s = Slab::new();
        s.insert(0usize);
        s.reserve(2 * CHUNK + 10);
        let cap = s.capacity();
        assert!(cap > 2 * CHUNK + 10);
        for i in 0..2 * CHUNK + 10 {
            s.insert(i);
        }
        assert_eq!(s.capacity(), cap, "reserved room used, nothing allocated");
        assert_eq!(s.len(), 2 * CHUNK + 11);
        s.shrink_to_fit();
        assert_eq!(s.capacity(), s.slots(), "spare room returned");
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
