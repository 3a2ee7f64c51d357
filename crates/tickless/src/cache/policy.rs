//! W-TinyLFU eviction (Einziger, Friedman and Manes, 2017; Caffeine's
//! policy): which entries stay when a shard is over its capacity.
//!
//! A new entry enters the *window*, an LRU list that lets bursts of recent
//! keys in: 1 % of the capacity at first, then sized (between one entry and
//! half the capacity) by the [ghosts](super::ghost) of recently evicted
//! keys: a miss on a key the window let go grows it, one on a key main let
//! go shrinks it (ARC's adaptation, Megiddo and Modha, FAST 2003). The window's least recent entry then
//! moves to the *main* space, a segmented LRU — *probation*, and
//! *protected* (80 % of main) for entries hit again while in main. When main
//! is over its share, the candidate just out of the window and main's victim
//! (probation's least recent, else protected's) meet at the door: the one
//! the [frequency sketch](super::sketch) has seen less often is evicted
//! (the candidate on a tie), so a one-off key cannot push out a popular one.
//!
//! The lists are intrusive, linked by `u32` slab index through the nodes
//! stored in the shard's wheel: every operation is O(1) and allocates
//! nothing. Weights are the weigher's (1 per entry without one).

use super::ghost::{Ghosts, Side};
use super::sketch::Sketch;
use crate::queue::Wheel;

/// Ends a list.
pub(super) const NIL: u32 = u32::MAX;
/// The low 30 bits of `Node::prev_region`: the index (all ones: none).
const INDEX: u32 = (1 << 30) - 1;
/// Slab indices must stay below this to be linked (a shard's entry limit).
pub(super) const MAX_ENTRIES: usize = INDEX as usize - 1;

/// Which list a node is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Region {
    Window = 0,
    Probation = 1,
    Protected = 2,
}

/// One cached entry, stored in the shard's wheel (whose tick is its deadline).
pub(super) struct Node<K, V> {
    pub(super) key: K,
    pub(super) value: V,
    /// Towards the most recent end of its list (low 30 bits), and the
    /// [`Region`] (top 2 bits): a 32-byte node for `u64 → u64`.
    prev_region: u32,
    /// Towards the least recent end.
    next: u32,
    pub(super) weight: u32,
    /// The list's push count when this node was pushed to its front.
    stamp: u32,
}

impl<K, V> Node<K, V> {
    pub(super) fn new(key: K, value: V, weight: u32) -> Self {
        Node {
            key,
            value,
            prev_region: INDEX,
            next: NIL,
            weight,
            stamp: 0,
        }
    }

    #[inline]
    fn prev(&self) -> u32 {
        match self.prev_region & INDEX {
            INDEX => NIL,
            p => p,
        }
    }

    #[inline]
    fn set_prev(&mut self, prev: u32) {
        self.prev_region = (self.prev_region & !INDEX) | (prev & INDEX);
    }

    #[inline]
    fn region(&self) -> Region {
        match self.prev_region >> 30 {
            0 => Region::Window,
            1 => Region::Probation,
            _ => Region::Protected,
        }
    }

    #[inline]
    fn set_region(&mut self, region: Region) {
        self.prev_region = (self.prev_region & INDEX) | ((region as u32) << 30);
    }
}

#[derive(Clone, Copy)]
struct List {
    /// Most recent.
    head: u32,
    /// Least recent.
    tail: u32,
    weight: u64,
    /// Nodes linked.
    len: u32,
    /// Pushes to the front so far (wrapping): a node pushed `k` pushes ago
    /// has fewer than `k` nodes before it.
    clock: u32,
}

const EMPTY: List = List {
    head: NIL,
    tail: NIL,
    weight: 0,
    len: 0,
    clock: 0,
};

pub(super) struct Policy {
    lists: [List; 3],
    capacity: u64,
    window_max: u64,
    protected_max: u64,
    /// Allocated once the shard first fills to half its capacity
    /// (Caffeine's habit): a cache that never fills never pays for it.
    sketch: Option<Sketch>,
    /// Allocated with the sketch.
    ghosts: Option<Ghosts>,
}

impl Policy {
    pub(super) fn new(capacity: u64) -> Self {
        let window_max = (capacity / 100).max(1).min(capacity);
        let protected_max = (capacity - window_max) / 5 * 4;
        Policy {
            lists: [EMPTY; 3],
            capacity,
            window_max,
            protected_max,
            sketch: None,
            ghosts: None,
        }
    }

    /// A miss on the key with `hash`: if it was evicted recently, the side
    /// it left from grows by one entry's (average) weight, the other shrinks
    /// (the window stays between 1 and half the capacity).
    #[inline]
    pub(super) fn missed(&mut self, hash: u64) {
        let Some(side) = self.ghosts.as_mut().and_then(|g| g.take(hash)) else {
            return;
        };
        let len: u64 = self.lists.iter().map(|l| u64::from(l.len)).sum();
        let step = (self.weight() / len.max(1)).max(1);
        let window = match side {
            Side::Window => self.window_max.saturating_add(step),
            Side::Main => self.window_max.saturating_sub(step),
        };
        // Within the capacity even when it is 0 or 1.
        self.window_max = window
            .clamp(1, (self.capacity / 2).max(1))
            .min(self.capacity);
        self.protected_max = (self.capacity - self.window_max) / 5 * 4;
    }

    pub(super) fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Total weight of the entries linked.
    pub(super) fn weight(&self) -> u64 {
        self.lists.iter().map(|l| l.weight).sum()
    }

    /// Counts an access of the key with `hash` (for admission): a hit, or
    /// the insert of a new key — as Caffeine counts (a miss then its
    /// insert is one access, not two).
    #[inline]
    pub(super) fn record(&mut self, hash: u64) {
        if let Some(sketch) = &mut self.sketch {
            sketch.increment(hash);
        } else if self.weight() >= self.capacity / 2 && self.capacity != u64::MAX {
            self.sketch = Some(Sketch::new(self.capacity));
            self.ghosts = Some(Ghosts::new(self.capacity));
        }
    }

    fn frequency(&self, hash: u64) -> u8 {
        self.sketch.as_ref().map_or(0, |s| s.frequency(hash))
    }

    /// Heap bytes of the sketch and the ghosts.
    pub(super) fn bytes(&self) -> usize {
        self.sketch.as_ref().map_or(0, Sketch::bytes)
            + self.ghosts.as_ref().map_or(0, Ghosts::bytes)
    }

    /// Links a new node (at `index` in `wheel`) as the window's most recent.
    pub(super) fn insert<K, V>(&mut self, wheel: &mut Wheel<Node<K, V>>, index: u32) {
        self.push_front(wheel, index, Region::Window);
    }

    /// A hit: moves the node to the front of its list; a probation hit is
    /// promoted to protected (demoting protected's least recent if full).
    ///
    /// A node already in the most recent quarter of its window or protected
    /// list stays where it is: its push stamp proves fewer nodes lie before
    /// it, and moving it would only cost its neighbours' cache misses (the
    /// hot keys of a skewed workload are hit there again and again).
    pub(super) fn touch<K, V>(&mut self, wheel: &mut Wheel<Node<K, V>>, index: u32) {
        let node = wheel.value_at(index);
        let region = node.region();
        let list = &self.lists[region as usize];
        if region != Region::Probation && list.clock.wrapping_sub(node.stamp) <= list.len / 4 {
            return;
        }
        self.unlink(wheel, index);
        match region {
            Region::Window | Region::Protected => self.push_front(wheel, index, region),
            Region::Probation => {
                self.push_front(wheel, index, Region::Protected);
                while self.lists[Region::Protected as usize].weight > self.protected_max {
                    let tail = self.lists[Region::Protected as usize].tail;
                    if tail == index {
                        break;
                    }
                    self.unlink(wheel, tail);
                    self.push_front(wheel, tail, Region::Probation);
                }
            }
        }
    }

    /// The node's weight changes (a replacement) from `old` to its current one.
    pub(super) fn reweigh<K, V>(&mut self, wheel: &Wheel<Node<K, V>>, index: u32, old: u32) {
        let node = wheel.value_at(index);
        let list = &mut self.lists[node.region() as usize];
        list.weight = list.weight - u64::from(old) + u64::from(node.weight);
    }

    /// Unlinks a node still in the wheel.
    pub(super) fn unlink<K, V>(&mut self, wheel: &mut Wheel<Node<K, V>>, index: u32) {
        let node = wheel.value_at(index);
        let (prev, next, weight, region) = (node.prev(), node.next, node.weight, node.region());
        self.unlink_links(wheel, prev, next, weight, region);
    }

    /// Unlinks a node already taken out of the wheel (expired or cancelled).
    pub(super) fn unlink_removed<K, V>(
        &mut self,
        wheel: &mut Wheel<Node<K, V>>,
        node: &Node<K, V>,
    ) {
        self.unlink_links(wheel, node.prev(), node.next, node.weight, node.region());
    }

    fn unlink_links<K, V>(
        &mut self,
        wheel: &mut Wheel<Node<K, V>>,
        prev: u32,
        next: u32,
        weight: u32,
        region: Region,
    ) {
        let list = &mut self.lists[region as usize];
        list.weight -= u64::from(weight);
        list.len -= 1;
        if prev == NIL {
            list.head = next;
        } else {
            wheel.value_at_mut(prev).next = next;
        }
        if next == NIL {
            list.tail = prev;
        } else {
            wheel.value_at_mut(next).set_prev(prev);
        }
    }

    fn push_front<K, V>(&mut self, wheel: &mut Wheel<Node<K, V>>, index: u32, region: Region) {
        let list = &mut self.lists[region as usize];
        let old_head = list.head;
        list.clock = list.clock.wrapping_add(1);
        list.len += 1;
        let node = wheel.value_at_mut(index);
        node.set_prev(NIL);
        node.set_region(region);
        node.next = old_head;
        node.stamp = list.clock;
        list.weight += u64::from(node.weight);
        list.head = index;
        if old_head == NIL {
            list.tail = index;
        } else {
            wheel.value_at_mut(old_head).set_prev(index);
        }
    }

    /// Restores the bounds after an insert or a weight change: moves the
    /// window's overflow to probation and settles each candidate against
    /// main's victim, pushing the losers (their indices, unlinked but still
    /// in the wheel, and their key hashes) onto `evicted`. Afterwards the
    /// weight is at most the capacity. `hash_of` gives a node's key hash
    /// (for the sketch), called at most once per node.
    pub(super) fn evict<K, V>(
        &mut self,
        wheel: &mut Wheel<Node<K, V>>,
        hash_of: impl Fn(&K) -> u64,
        evicted: &mut Vec<(u32, u64)>,
    ) {
        let main_max = self.capacity - self.window_max;
        while self.lists[Region::Window as usize].weight > self.window_max {
            // The candidate is settled before it moves: one that loses goes
            // straight from the window, never linked into probation.
            let candidate = self.lists[Region::Window as usize].tail;
            let node = wheel.value_at(candidate);
            let (weight, candidate_hash) = (u64::from(node.weight), hash_of(&node.key));
            let mut admitted = true;
            while self.main_weight() + weight > main_max {
                let victim = [Region::Probation, Region::Protected]
                    .into_iter()
                    .map(|r| self.lists[r as usize].tail)
                    .find(|&t| t != NIL);
                let (loser, hash, side) = match victim {
                    Some(victim) => {
                        let victim_hash = hash_of(&wheel.value_at(victim).key);
                        if self.frequency(candidate_hash) > self.frequency(victim_hash) {
                            (victim, victim_hash, Side::Main)
                        } else {
                            (candidate, candidate_hash, Side::Window)
                        }
                    }
                    None => (candidate, candidate_hash, Side::Window),
                };
                if let Some(ghosts) = &mut self.ghosts {
                    ghosts.put(hash, side);
                }
                self.unlink(wheel, loser);
                evicted.push((loser, hash));
                if loser == candidate {
                    admitted = false;
                    break;
                }
            }
            if admitted {
                self.unlink(wheel, candidate);
                self.push_front(wheel, candidate, Region::Probation);
            }
        }
        // Heavy entries can leave the total over even with both spaces
        // within their shares: evict the least recent, main first.
        while self.weight() > self.capacity {
            let Some(tail) = [Region::Probation, Region::Protected, Region::Window]
                .into_iter()
                .map(|r| self.lists[r as usize].tail)
                .find(|&t| t != NIL)
            else {
                break;
            };
            self.unlink(wheel, tail);
            evicted.push((tail, hash_of(&wheel.value_at(tail).key)));
        }
    }

    fn main_weight(&self) -> u64 {
        self.lists[Region::Probation as usize].weight
            + self.lists[Region::Protected as usize].weight
    }

    /// Forgets every list (the wheel was cleared).
    pub(super) fn clear(&mut self) {
        self.lists = [EMPTY; 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::TimerQueue;
    use std::time::{Duration, Instant};

    type Entries = Wheel<Node<u64, u64>>;

    /// Inserts each key (its own hash) as a shard would, dropping the evicted.
    fn insert(p: &mut Policy, wheel: &mut Entries, keys: impl Iterator<Item = u64>) {
        let mut evicted = Vec::new();
        for k in keys {
            p.record(k);
            let index = wheel.insert_at_tick(u64::MAX, Node::new(k, k, 1)).index;
            p.insert(wheel, index);
            p.evict(wheel, |k| *k, &mut evicted);
            for (i, _) in evicted.drain(..) {
                wheel.cancel(wheel.key_at(i));
            }
            assert!(p.weight() <= p.capacity);
        }
    }

    #[test]
    fn misses_on_keys_the_window_let_go_grow_it_up_to_half() {
        let mut wheel = Entries::with_tick(Instant::now(), Duration::from_millis(1));
        let mut p = Policy::new(100);
        assert_eq!(p.window_max, 1);
        // One-off keys: each candidate loses to main's victim on a tie.
        insert(&mut p, &mut wheel, 0..200);
        p.missed(199 - 1);
        assert_eq!(p.window_max, 2, "a young window ghost grows the window");
        p.missed(199 - 1);
        assert_eq!(p.window_max, 2, "a ghost counts once");
        p.missed(10);
        assert_eq!(
            p.window_max, 2,
            "an old ghost (190 evictions ago) is ignored"
        );
        // More than the window each round, so that some leave it; the
        // youngest dozen ghosts (an eighth of the capacity) count.
        for round in 1..30u64 {
            let keys = round * 1000..round * 1000 + 60;
            insert(&mut p, &mut wheel, keys.clone());
            keys.rev().for_each(|k| p.missed(k));
        }
        assert_eq!(p.window_max, 50, "at most half the capacity");
        assert_eq!(p.protected_max, 40);
    }

    #[test]
    fn ghosts_never_size_the_window_past_a_tiny_capacity() {
        for capacity in 0..4 {
            let mut wheel = Entries::with_tick(Instant::now(), Duration::from_millis(1));
            let mut p = Policy::new(capacity);
            for k in 0..50 {
                insert(&mut p, &mut wheel, [k, k / 2].into_iter());
                p.missed(k.saturating_sub(1));
                assert!(p.window_max <= capacity);
            }
        }
    }
}
