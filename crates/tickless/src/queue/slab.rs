//! Generation-checked slab storage shared by the timer queues.
//!
//! Vacant slots form an intrusive free list, so once the slab has grown to
//! the peak number of live timers, inserting allocates nothing. Every slot
//! carries a generation that is bumped when the slot is freed: a [`Key`]
//! remembers the generation it was issued with, so a stale key (its timer
//! fired, was cancelled, or its slot was reused) never reaches another
//! timer. Generations are `u32` and wrap after 2³² reuses of one slot — the
//! only way a stale key could alias, and far beyond any realistic key
//! lifetime.
//!
//! # Flat, then chunks
//!
//! One `Vec` doubles: at 10M timers it holds room for 16.7M, and the 32
//! bytes of a slot become 53 per timer. So a slab is one `Vec` (`flat`,
//! growing by doubling) only up to [`FLAT_MAX`] slots; past that, slot `i`
//! lives in chunk `i >> CHUNK_BITS`, a fixed-size boxed array of [`CHUNK`]
//! slots, allocated whole (its slots past the last one handed out wait,
//! vacant, off the free list). A small slab costs what a `Vec` would; a
//! large one wastes less than one chunk (1024 slots), and growing copies
//! slots only when `flat` is cut into chunks (and glued back by a shrink).
//!
//! An access is one bounds check: on the chunk index (the offset in a
//! fixed-size array needs none), or, in a slab with no chunks (the test
//! that finds none is one compare, always taken the same way), on `flat`.
//! The first chunked version (a `Vec` of growable `Vec`s of 4096 slots)
//! loaded the chunk's `Vec` and checked two bounds at every access.
//! Instructions per operation (cachegrind), one flat `Vec` → `Vec` of
//! `Vec`s → this layout: cache trace replay, OLTP at capacity 1 000, 919 →
//! 1 047 → 970 per lookup, P3 at 100 000, 923 → 1 067 → 986; timer churn
//! (create, poll, drop; 10k pending) 849 → 892 → 830. Testing `flat` first
//! instead was measured: 924 on OLTP (its slabs are small) but 1 010 on P3
//! and 852 on churn, where the large slabs are.
//!
//! Cost: O(1) insert, lookup and remove; 8 bytes per slot beyond the entry.

use super::Key;

/// Marks the end of an index-linked list (free list or slot list).
pub(crate) const NIL: u32 = u32::MAX;

/// log₂ of [`CHUNK`].
const CHUNK_BITS: u32 = 10;
/// Slots per chunk: 1024 (40 KiB for a `Wheel<u64>`, 64 KiB for the driver's slots).
const CHUNK: usize = 1 << CHUNK_BITS;
const MASK: usize = CHUNK - 1;
/// The most slots a flat slab holds (a whole number of chunks).
const FLAT_MAX: usize = 4 * CHUNK;

/// A chunk: indexing it by `i & MASK` needs no bounds check.
type Chunk<E> = Box<[Slot<E>; CHUNK]>;

pub(crate) struct Slab<E> {
    /// All the slots while there are at most `FLAT_MAX`; empty once `chunks` is not.
    flat: Vec<Slot<E>>,
    /// Slot `i` is `chunks[i >> CHUNK_BITS][i & MASK]` once the slab has
    /// outgrown `flat`. Slots at `slots..` in the last chunk are vacant,
    /// not on the free list: they are handed out in order.
    chunks: Vec<Chunk<E>>,
    /// Vacant chunks set aside by [`reserve`](Slab::reserve).
    spare: Vec<Chunk<E>>,
    /// Slots handed out, occupied or vacant: indices run `0..slots`.
    slots: usize,
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

impl<E> Slot<E> {
    fn vacant() -> Self {
        Slot {
            gen: 0,
            next_free: NIL,
            entry: None,
        }
    }
}

/// `CHUNK` slots as a chunk, moved, not copied (`into_boxed_slice` reuses
/// the allocation when the capacity is exact, as it is everywhere here).
fn seal<E>(slots: Vec<Slot<E>>) -> Chunk<E> {
    match slots.into_boxed_slice().try_into() {
        Ok(chunk) => chunk,
        Err(_) => unreachable!("tickless: a chunk is sealed from CHUNK slots"),
    }
}

/// A chunk of vacant slots, built on the heap (no `CHUNK`-slot stack copy).
fn vacant_chunk<E>() -> Chunk<E> {
    seal((0..CHUNK).map(|_| Slot::vacant()).collect())
}

impl<E> Slab<E> {
    pub(crate) const fn new() -> Self {
        Slab {
            flat: Vec::new(),
            chunks: Vec::new(),
            spare: Vec::new(),
            slots: 0,
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
        self.flat.capacity() + (self.chunks.len() + self.spare.len()) * CHUNK
    }

    /// Bytes the slab holds per slot (entry included).
    pub(crate) const SLOT_BYTES: usize = std::mem::size_of::<Slot<E>>();

    #[inline]
    fn slot(&self, index: u32) -> Option<&Slot<E>> {
        let i = index as usize;
        match self.chunks.get(i >> CHUNK_BITS) {
            Some(chunk) => Some(&chunk[i & MASK]),
            None => self.flat.get(i),
        }
    }

    #[inline]
    fn slot_mut(&mut self, index: u32) -> Option<&mut Slot<E>> {
        let i = index as usize;
        match self.chunks.get_mut(i >> CHUNK_BITS) {
            Some(chunk) => Some(&mut chunk[i & MASK]),
            None => self.flat.get_mut(i),
        }
    }

    /// The slot at `index`, which the caller knows exists.
    #[inline]
    fn at_slot(&self, index: u32) -> &Slot<E> {
        let i = index as usize;
        match self.chunks.get(i >> CHUNK_BITS) {
            Some(chunk) => &chunk[i & MASK],
            None => &self.flat[i],
        }
    }

    #[inline]
    fn at_slot_mut(&mut self, index: u32) -> &mut Slot<E> {
        let i = index as usize;
        match self.chunks.get_mut(i >> CHUNK_BITS) {
            Some(chunk) => &mut chunk[i & MASK],
            None => &mut self.flat[i],
        }
    }

    #[inline]
    pub(crate) fn insert(&mut self, entry: E) -> Key {
        let index = self.free;
        if index == NIL {
            return self.insert_new(entry);
        }
        let slot = self.at_slot_mut(index);
        debug_assert!(
            slot.entry.is_none(),
            "free list holds occupied slot {index}"
        );
        let (gen, next) = (slot.gen, slot.next_free);
        slot.entry = Some(entry);
        self.free = next;
        self.len += 1;
        Key { index, gen }
    }

    /// [`insert`](Slab::insert) with no vacant slot: a brand-new one.
    fn insert_new(&mut self, entry: E) -> Key {
        let index = u32::try_from(self.slots)
            .ok()
            .filter(|&i| i != NIL)
            .expect("tickless: more than 4 billion live timers in one queue");
        let gen = self.fresh_gen;
        let slot = Slot {
            gen,
            next_free: NIL,
            entry: Some(entry),
        };
        let i = self.slots;
        if self.chunks.is_empty() && i < FLAT_MAX {
            if self.flat.len() == self.flat.capacity() {
                let grow = i.max(4).min(FLAT_MAX - i);
                self.flat.reserve_exact(grow);
            }
            self.flat.push(slot);
        } else {
            if self.chunks.is_empty() {
                self.unflatten();
            }
            if i == self.chunks.len() * CHUNK {
                let chunk = self.spare.pop().unwrap_or_else(vacant_chunk);
                self.chunks.push(chunk);
            }
            self.chunks[i >> CHUNK_BITS][i & MASK] = slot;
        }
        self.slots += 1;
        self.len += 1;
        Key { index, gen }
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

    /// Cuts `flat` into chunks, the last one padded with vacant slots (at
    /// least one chunk, so the slab counts as chunked even when empty).
    fn unflatten(&mut self) {
        let mut slots = std::mem::take(&mut self.flat).into_iter();
        let n = self.slots.div_ceil(CHUNK).max(1);
        self.chunks.reserve(n);
        for _ in 0..n {
            let vacant = std::iter::repeat_with(Slot::vacant);
            let chunk = slots.by_ref().take(CHUNK).chain(vacant).take(CHUNK);
            self.chunks.push(seal(chunk.collect()));
        }
    }

    /// Glues the chunks' first `slots` slots back into `flat`.
    fn flatten(&mut self) {
        let mut flat = Vec::with_capacity(self.slots);
        for chunk in std::mem::take(&mut self.chunks) {
            let rest = self.slots - flat.len();
            flat.extend((chunk as Box<[Slot<E>]>).into_vec().into_iter().take(rest));
        }
        self.flat = flat;
    }

    /// Drops trailing vacant slots (and spare chunks) and returns their
    /// memory to the allocator; back to `flat` at `FLAT_MAX` slots or fewer.
    /// O(slots): rebuilds the free list.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.spare = Vec::new();
        while self.slots > 0 {
            let last = self.at_slot(self.slots as u32 - 1);
            if last.entry.is_some() {
                break;
            }
            // Every key into this slot has a generation below `last.gen`.
            self.fresh_gen = self.fresh_gen.max(last.gen);
            self.slots -= 1;
        }
        if self.slots <= FLAT_MAX && !self.chunks.is_empty() {
            self.flatten();
        }
        if self.chunks.is_empty() {
            self.flat.truncate(self.slots);
            self.flat.shrink_to_fit();
        } else {
            self.chunks.truncate(self.slots.div_ceil(CHUNK));
            self.chunks.shrink_to_fit();
        }
        self.free = NIL;
        for index in (0..self.slots as u32).rev() {
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
    /// slots count, then the room left in `flat` or the last chunk, then
    /// spare chunks.
    pub(crate) fn reserve(&mut self, additional: usize) {
        // No more slots than indexes (`NIL` is not one): a larger request is
        // a hint no queue could use.
        let additional = additional.min(NIL as usize - self.len);
        let needed = additional.saturating_sub(self.slots - self.len);
        let target = self.slots.saturating_add(needed);
        if self.chunks.is_empty() {
            if target <= FLAT_MAX {
                self.flat.reserve_exact(target - self.flat.len());
                return;
            }
            // Cut now, so that filling the room allocates nothing.
            self.unflatten();
        }
        let have = self.chunks.len() + self.spare.len();
        let spares = target.div_ceil(CHUNK).saturating_sub(have);
        self.chunks.reserve(have + spares - self.chunks.len());
        self.spare.extend((0..spares).map(|_| vacant_chunk()));
    }

    /// Removes every entry; every key issued so far goes stale. O(slots).
    pub(crate) fn clear(&mut self) {
        for index in 0..self.slots as u32 {
            if self.is_occupied(index) {
                self.remove_at(index);
            }
        }
    }

    /// Number of slots, occupied or vacant: indices run `0..slots()`.
    #[inline]
    pub(crate) fn slots(&self) -> usize {
        self.slots
    }

    /// `true` if the last slot is vacant (so shrinking would free something).
    #[inline]
    pub(crate) fn last_is_vacant(&self) -> bool {
        self.slots > 0 && !self.is_occupied(self.slots as u32 - 1)
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
        let end = self.slots;
        let start = start.min(end);
        let slots: &[Slot<E>] = if self.chunks.is_empty() {
            &self.flat[start..]
        } else {
            &[]
        };
        let first = start >> CHUNK_BITS;
        let chunked = self
            .chunks
            .iter()
            .enumerate()
            .skip(first)
            .flat_map(move |(c, chunk)| {
                let base = c << CHUNK_BITS;
                let from = start.max(base) - base;
                let to = end.saturating_sub(base).min(CHUNK).max(from);
                chunk[from..to]
                    .iter()
                    .enumerate()
                    .map(move |(i, s)| (base + from + i, s))
            });
        slots
            .iter()
            .enumerate()
            .map(move |(i, s)| (start + i, s))
            .chain(chunked)
            .filter_map(|(index, s)| {
                let key = Key {
                    index: index as u32,
                    gen: s.gen,
                };
                s.entry.as_ref().map(|e| (key, e))
            })
    }
}

#[cfg(test)]
mod tests;
