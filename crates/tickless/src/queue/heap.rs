//! A 4-ary min-heap of deadlines with O(log n) cancel through a position index.
//!
//! This is the structure the Go runtime keeps per P (`runtime/time.go`): a
//! 4-ary heap is shallower than a binary one (log₄ n levels) and its four
//! children share a cache line or two. Each heap node is 16 bytes (deadline in
//! nanoseconds since the origin, slab index); each slab entry records the
//! node's position, so cancel and reset find their node in O(1) and restore
//! the heap in O(log₄ n).
//!
//! Invariant: every node's deadline is ≤ its children's, and for every node at
//! position `p`, `slab[node.index].pos == p`. [`QuadHeap::verify`] checks both.

use std::time::{Duration, Instant};

use super::slab::Slab;
use super::{Key, TimerQueue};
use crate::clock::{nanos_since, saturating_add};

const ARITY: usize = 4;

/// A 4-ary min-heap timer queue with exact (nanosecond) ordering.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use tickless::queue::{QuadHeap, TimerQueue};
///
/// let t0 = Instant::now();
/// let mut heap = QuadHeap::new(t0);
/// heap.insert(t0 + Duration::from_micros(30), "b");
/// heap.insert(t0 + Duration::from_micros(10), "a");
/// assert_eq!(heap.next_deadline(), Some(t0 + Duration::from_micros(10)));
///
/// let mut order = Vec::new();
/// heap.poll_expired(t0 + Duration::from_secs(1), |_, v| order.push(v));
/// assert_eq!(order, ["a", "b"]);
/// ```
pub struct QuadHeap<T> {
    origin: Instant,
    nodes: Vec<Node>,
    slab: Slab<HeapEntry<T>>,
}

#[derive(Clone, Copy)]
struct Node {
    /// Deadline in nanoseconds since the origin (saturating).
    when: u64,
    index: u32,
}

struct HeapEntry<T> {
    pos: u32,
    value: T,
}

impl<T> QuadHeap<T> {
    /// An empty heap measuring deadlines from `origin`.
    pub fn new(origin: Instant) -> Self {
        QuadHeap {
            origin,
            nodes: Vec::new(),
            slab: Slab::new(),
        }
    }

    /// Moves `node` up from `pos` until its parent is not later. Returns its final position.
    fn sift_up(&mut self, mut pos: usize, node: Node) -> usize {
        while pos > 0 {
            let parent = (pos - 1) / ARITY;
            if self.nodes[parent].when <= node.when {
                break;
            }
            self.place(pos, self.nodes[parent]);
            pos = parent;
        }
        self.place(pos, node);
        pos
    }

    /// Moves `node` down from `pos` until no child is earlier.
    fn sift_down(&mut self, mut pos: usize, node: Node) {
        let len = self.nodes.len();
        loop {
            let first = pos * ARITY + 1;
            if first >= len {
                break;
            }
            let last = (first + ARITY).min(len);
            let mut min = first;
            for child in first + 1..last {
                if self.nodes[child].when < self.nodes[min].when {
                    min = child;
                }
            }
            if self.nodes[min].when >= node.when {
                break;
            }
            self.place(pos, self.nodes[min]);
            pos = min;
        }
        self.place(pos, node);
    }

    #[inline]
    fn place(&mut self, pos: usize, node: Node) {
        self.nodes[pos] = node;
        self.slab.at_mut(node.index).pos = pos as u32;
    }

    /// Restores the heap after the node at `pos` changed its deadline.
    fn fix(&mut self, pos: usize) {
        let node = self.nodes[pos];
        if self.sift_up(pos, node) == pos {
            self.sift_down(pos, node);
        }
    }

    /// Removes the node at `pos` from the heap (not from the slab).
    fn remove_node(&mut self, pos: usize) {
        let last = self.nodes.pop().expect("remove_node on an empty heap");
        if pos < self.nodes.len() {
            self.nodes[pos] = last;
            self.fix(pos);
        }
    }

    /// Checks the heap order and the position index; panics with the offending values.
    #[doc(hidden)]
    pub fn verify(&self) {
        assert_eq!(
            self.nodes.len(),
            self.slab.len(),
            "heap and slab disagree on length"
        );
        for (pos, node) in self.nodes.iter().enumerate() {
            if pos > 0 {
                let parent = (pos - 1) / ARITY;
                assert!(
                    self.nodes[parent].when <= node.when,
                    "heap order: parent {parent} ({}) > child {pos} ({})",
                    self.nodes[parent].when,
                    node.when
                );
            }
            let entry_pos = self.slab.at(node.index).pos as usize;
            assert_eq!(
                entry_pos, pos,
                "slab entry {} says pos {entry_pos}, is at {pos}",
                node.index
            );
        }
        assert_eq!(self.slab.iter().count(), self.nodes.len());
    }
}

impl<T> TimerQueue<T> for QuadHeap<T> {
    fn insert(&mut self, deadline: Instant, value: T) -> Key {
        let when = nanos_since(self.origin, deadline);
        let pos = self.nodes.len();
        let key = self.slab.insert(HeapEntry {
            pos: pos as u32,
            value,
        });
        let node = Node {
            when,
            index: key.index,
        };
        self.nodes.push(node);
        self.sift_up(pos, node);
        key
    }

    fn cancel(&mut self, key: Key) -> Option<T> {
        let pos = self.slab.get(key)?.pos as usize;
        self.remove_node(pos);
        Some(self.slab.remove_at(key.index).1.value)
    }

    fn reset(&mut self, key: Key, deadline: Instant) -> bool {
        let Some(entry) = self.slab.get(key) else {
            return false;
        };
        let pos = entry.pos as usize;
        self.nodes[pos].when = nanos_since(self.origin, deadline);
        self.fix(pos);
        true
    }

    fn get(&self, key: Key) -> Option<&T> {
        self.slab.get(key).map(|e| &e.value)
    }

    fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        self.slab.get_mut(key).map(|e| &mut e.value)
    }

    fn next_deadline(&self) -> Option<Instant> {
        let first = self.nodes.first()?;
        Some(saturating_add(
            self.origin,
            Duration::from_nanos(first.when),
        ))
    }

    fn poll_expired<F: FnMut(Key, T)>(&mut self, now: Instant, mut on_expired: F) -> usize {
        let now = nanos_since(self.origin, now);
        let mut fired = 0;
        while let Some(first) = self.nodes.first().copied() {
            if first.when > now {
                break;
            }
            self.remove_node(0);
            let (key, entry) = self.slab.remove_at(first.index);
            fired += 1;
            on_expired(key, entry.value);
        }
        fired
    }

    fn for_each<F: FnMut(Key, &T)>(&self, mut f: F) {
        for (key, entry) in self.slab.iter() {
            f(key, &entry.value);
        }
    }

    fn len(&self) -> usize {
        self.nodes.len()
    }

    fn shrink_to_fit(&mut self) {
        self.nodes.shrink_to_fit();
        self.slab.shrink_to_fit();
    }

    fn allocated_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.slab.capacity() * Slab::<HeapEntry<T>>::SLOT_BYTES
    }
}

impl<T> std::fmt::Debug for QuadHeap<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuadHeap")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_deadline_order() {
        let t0 = Instant::now();
        let mut h = QuadHeap::new(t0);
        let mut x: u64 = 12345;
        for i in 0..1000u32 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            h.insert(t0 + Duration::from_nanos(x >> 40), i);
        }
        h.verify();
        let mut last = 0;
        let mut n = 0;
        while let Some(d) = h.next_deadline() {
            let at = nanos_since(t0, d);
            assert!(at >= last);
            last = at;
            n += h.poll_expired(d, |_, _| {});
            h.verify();
        }
        assert_eq!(n, 1000);
    }

    #[test]
    fn cancel_and_reset_from_the_middle() {
        let t0 = Instant::now();
        let mut h = QuadHeap::new(t0);
        let keys: Vec<_> = (0..100u64)
            .map(|i| h.insert(t0 + Duration::from_micros(i), i))
            .collect();
        for k in keys.iter().step_by(3) {
            assert!(h.cancel(*k).is_some());
            h.verify();
        }
        assert!(h.reset(keys[1], t0 + Duration::from_secs(5)));
        assert!(h.reset(keys[98], t0));
        h.verify();
        assert_eq!(h.next_deadline(), Some(t0));
        let mut first = None;
        h.poll_expired(t0, |k, _| first = Some(k));
        assert_eq!(first, Some(keys[98]));
        assert!(!h.reset(keys[0], t0), "cancelled key is stale");
    }
}
