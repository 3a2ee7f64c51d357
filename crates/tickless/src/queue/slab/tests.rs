//! Tests of the slab: keys, growth across the flat → chunked boundary and back.

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
fn reserve_past_flat_means_no_growth() {
    let mut s = Slab::new();
    s.insert(0usize);
    let n = FLAT_MAX + 2 * CHUNK + 10;
    s.reserve(n);
    let cap = s.capacity();
    assert!(cap > n);
    for i in 0..n {
        s.insert(i);
    }
    assert_eq!(s.capacity(), cap, "reserved room used, nothing allocated");
    s.reserve(4 * CHUNK);
    assert!(s.capacity() >= s.slots() + 4 * CHUNK);
    s.shrink_to_fit();
    // Chunks are allocated whole: the last one keeps its vacant slots.
    assert_eq!(
        s.capacity(),
        (n + 1).div_ceil(CHUNK) * CHUNK,
        "spare room returned"
    );
    assert_eq!(s.slots(), n + 1);
    // An empty slab reserving past `flat` is chunked at once.
    let mut e = Slab::new();
    e.reserve(FLAT_MAX + 1);
    let cap = e.capacity();
    for i in 0..=FLAT_MAX {
        e.insert(i);
    }
    assert_eq!(e.capacity(), cap, "nothing allocated");
}

#[test]
fn reserve_in_a_flat_slab_stays_flat() {
    let mut s = Slab::new();
    s.insert(0usize);
    s.reserve(100);
    let cap = s.capacity();
    assert!((101..FLAT_MAX).contains(&cap), "{cap}");
    for i in 0..100 {
        s.insert(i);
    }
    assert_eq!(s.capacity(), cap, "reserved room used, nothing allocated");
}

#[test]
fn flat_to_chunks_and_back() {
    let mut s = Slab::new();
    let keys: Vec<_> = (0..FLAT_MAX).map(|i| s.insert(i)).collect();
    assert_eq!(s.capacity(), FLAT_MAX, "a full flat slab, nothing spare");
    // One more slot: `flat` is cut into chunks, and one more is allocated whole.
    let k = s.insert(FLAT_MAX);
    assert_eq!(k.index as usize, FLAT_MAX);
    assert_eq!(s.capacity(), FLAT_MAX + CHUNK);
    assert_eq!(s.slots(), FLAT_MAX + 1);
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(s.get(*k), Some(&i), "moved into the chunks");
        assert_eq!(s.key_at(k.index), *k);
    }
    assert_eq!(s.get(k), Some(&FLAT_MAX));
    // Slots of the last chunk not handed out yet are no entry, and not free.
    let unissued = Key {
        index: FLAT_MAX as u32 + 1,
        gen: 0,
    };
    assert!(s.get(unissued).is_none());
    assert!(s.get_mut(unissued).is_none());
    assert_eq!(
        s.insert(FLAT_MAX + 1).index as usize,
        FLAT_MAX + 1,
        "handed out in order"
    );
    let seen: Vec<usize> = s.iter_from(FLAT_MAX - 2).map(|(_, e)| *e).collect();
    assert_eq!(seen, (FLAT_MAX - 2..FLAT_MAX + 2).collect::<Vec<_>>());

    // Back to half of `FLAT_MAX`: flat again, exact size.
    let half = FLAT_MAX / 2;
    for k in &keys[half..] {
        s.remove_at(k.index);
    }
    s.remove_at(FLAT_MAX as u32 + 1);
    s.remove_at(k.index);
    s.shrink_to_fit();
    assert_eq!(s.slots(), half);
    assert_eq!(s.capacity(), half);
    for (i, k) in keys[..half].iter().enumerate() {
        assert_eq!(s.get(*k), Some(&i), "survivors kept across the move back");
    }
    assert!(s.get(k).is_none(), "truncated key stays stale");
    // And across the boundary again: the old keys never alias.
    let again: Vec<_> = (0..FLAT_MAX).map(|i| s.insert(10_000 + i)).collect();
    assert_eq!(
        again[half].index as usize, FLAT_MAX,
        "into the chunks again"
    );
    for old in keys[half..].iter().chain([&k]) {
        assert!(s.get(*old).is_none(), "stale key {old:?} aliased");
    }
    for (i, k) in again.iter().enumerate() {
        assert_eq!(s.get(*k), Some(&(10_000 + i)));
    }
}

#[test]
fn shrink_inside_the_last_chunk_keeps_keys_stale() {
    let mut s = Slab::new();
    let base = FLAT_MAX + 2 * CHUNK;
    let keys: Vec<_> = (0..base + 100).map(|i| s.insert(i)).collect();
    assert!(
        s.capacity() < base + 100 + CHUNK,
        "at most one chunk of slack"
    );
    // Free the last 50 slots and a hole: the last chunk stays allocated.
    for k in &keys[base + 50..] {
        s.remove_at(k.index);
    }
    s.remove_at(keys[FLAT_MAX + 3].index);
    s.shrink_to_fit();
    assert_eq!(s.slots(), base + 50);
    assert_eq!(s.capacity(), base + CHUNK);
    assert!(!s.last_is_vacant());
    assert_eq!(s.insert(0).index as usize, FLAT_MAX + 3, "the hole first");
    // Then the truncated slots, in order, each with a fresh generation.
    for (n, old) in keys[base + 50..].iter().enumerate() {
        let new = s.insert(n);
        assert_eq!(new.index, old.index);
        assert!(s.get(*old).is_none(), "stale key {old:?} aliased");
        assert_eq!(s.get(new), Some(&n));
    }
    let seen: Vec<usize> = s.iter_from(base - 1).map(|(_, e)| *e).collect();
    let mut want = vec![base - 1];
    want.extend(base..base + 50);
    want.extend(0..50);
    assert_eq!(seen, want, "memory order across chunks");
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

/// Random insert/remove/get/shrink/reserve/clear/iter sequences across the
/// `FLAT_MAX` boundary, checked against a plain model: live keys with their
/// values and every key ever made stale.
mod model {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[derive(Clone, Debug)]
    enum Op {
        /// Insert `n` entries.
        Insert(u16),
        /// Remove `n` live entries picked with `seed`.
        Remove {
            seed: u64,
            n: u16,
        },
        /// Remove the `n` live entries with the highest indices.
        RemoveTail(u16),
        Shrink,
        Reserve(u16),
        /// `reserve(n)`, then `n` inserts: nothing allocated.
        ReserveFill(u16),
        Clear,
        IterFrom(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (1u16..8).prop_map(Op::Insert),
            3 => (1u16..2500).prop_map(Op::Insert),
            3 => (any::<u64>(), 1u16..1500).prop_map(|(seed, n)| Op::Remove { seed, n }),
            2 => (1u16..3000).prop_map(Op::RemoveTail),
            3 => Just(Op::Shrink),
            1 => (0u16..6000).prop_map(Op::Reserve),
            1 => (0u16..6000).prop_map(Op::ReserveFill),
            1 => Just(Op::Clear),
            1 => (0u16..9000).prop_map(Op::IterFrom),
        ]
    }

    /// xorshift64*: picks without a second strategy.
    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed | 1;
        move || {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    #[derive(Default)]
    struct Model {
        live: Vec<(Key, u64)>,
        live_at: HashSet<u32>,
        stale: Vec<Key>,
        stale_set: HashSet<Key>,
        next: u64,
    }

    impl Model {
        fn insert(&mut self, s: &mut Slab<u64>) {
            let (slots, len) = (s.slots(), s.len());
            let v = self.next;
            self.next += 1;
            let k = s.insert(v);
            assert!(!self.stale_set.contains(&k), "stale key {k:?} issued again");
            assert!(
                self.live_at.insert(k.index),
                "index {} handed out twice",
                k.index
            );
            if slots > len {
                assert!(
                    (k.index as usize) < slots,
                    "a vacant slot is off the free list"
                );
                assert_eq!(s.slots(), slots);
            } else {
                assert_eq!(k.index as usize, slots, "new slots in order");
                assert_eq!(s.slots(), slots + 1);
            }
            self.live.push((k, v));
        }

        fn remove(&mut self, s: &mut Slab<u64>, pos: usize) {
            let (k, v) = self.live.swap_remove(pos);
            assert_eq!(s.remove_at(k.index), (k, v));
            self.live_at.remove(&k.index);
            self.stale.push(k);
            self.stale_set.insert(k);
        }

        fn sorted(&self) -> Vec<(Key, u64)> {
            let mut live = self.live.clone();
            live.sort_by_key(|(k, _)| k.index);
            live
        }

        /// One past the highest live slot: the slots a slab must keep.
        fn end(&self) -> usize {
            self.live
                .iter()
                .map(|(k, _)| k.index as usize + 1)
                .max()
                .unwrap_or(0)
        }

        fn check(&self, s: &mut Slab<u64>, seed: u64, all: bool) {
            assert_eq!(s.len(), self.live.len());
            let end = self.end();
            assert!(s.slots() >= end, "slots {} < {end}", s.slots());
            assert!(s.capacity() >= s.slots());
            let last = s.slots().checked_sub(1).map(|i| i as u32);
            assert_eq!(
                s.last_is_vacant(),
                last.is_some_and(|i| !self.live_at.contains(&i))
            );
            let mut next = rng(seed);
            let n = if all { usize::MAX } else { 48 };
            let pick = |len: usize, next: &mut dyn FnMut() -> u64| (next() % len as u64) as usize;
            for i in 0..self.live.len().min(n) {
                let (k, v) = if all {
                    self.live[i]
                } else {
                    self.live[pick(self.live.len(), &mut next)]
                };
                assert_eq!(s.get(k), Some(&v));
                assert_eq!(s.get_mut(k).copied(), Some(v));
                assert_eq!(*s.at(k.index), v);
                assert_eq!(s.key_at(k.index), k);
                assert!(s.is_occupied(k.index));
            }
            let recent = self.stale.iter().rev().take(16).copied();
            let sampled: Vec<Key> = if all {
                self.stale.clone()
            } else {
                (0..self.stale.len().min(48))
                    .map(|_| self.stale[pick(self.stale.len(), &mut next)])
                    .chain(recent)
                    .collect()
            };
            for k in sampled {
                assert!(s.get(k).is_none(), "stale key {k:?} reaches an entry");
                assert!(s.get_mut(k).is_none(), "stale key {k:?} reaches an entry");
            }
        }
    }

    fn run(ops: Vec<Op>) {
        let mut s = Slab::<u64>::new();
        let mut m = Model::default();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Insert(n) => (0..n).for_each(|_| m.insert(&mut s)),
                Op::Remove { seed, n } => {
                    let mut next = rng(seed);
                    for _ in 0..n {
                        if m.live.is_empty() {
                            break;
                        }
                        let pos = (next() % m.live.len() as u64) as usize;
                        m.remove(&mut s, pos);
                    }
                }
                Op::RemoveTail(n) => {
                    m.live.sort_by_key(|(k, _)| k.index);
                    for _ in 0..(n as usize).min(m.live.len()) {
                        m.remove(&mut s, m.live.len() - 1);
                    }
                }
                Op::Shrink => {
                    s.shrink_to_fit();
                    let end = m.end();
                    assert_eq!(s.slots(), end, "trailing vacant slots truncated");
                    let want = if end <= FLAT_MAX {
                        end
                    } else {
                        end.div_ceil(CHUNK) * CHUNK
                    };
                    assert_eq!(s.capacity(), want, "memory returned at {end} slots");
                }
                Op::Reserve(n) => {
                    s.reserve(n as usize);
                    assert!(s.capacity() - s.len() >= n as usize);
                }
                Op::ReserveFill(n) => {
                    s.reserve(n as usize);
                    let cap = s.capacity();
                    (0..n).for_each(|_| m.insert(&mut s));
                    assert_eq!(s.capacity(), cap, "reserved room used, nothing allocated");
                }
                Op::Clear => {
                    let slots = s.slots();
                    s.clear();
                    for (k, _) in m.live.drain(..) {
                        m.stale.push(k);
                        m.stale_set.insert(k);
                    }
                    m.live_at.clear();
                    assert_eq!((s.len(), s.slots()), (0, slots));
                }
                Op::IterFrom(start) => {
                    let start = start as usize;
                    let got: Vec<(Key, u64)> = s.iter_from(start).map(|(k, v)| (k, *v)).collect();
                    let want: Vec<(Key, u64)> = m
                        .sorted()
                        .into_iter()
                        .filter(|(k, _)| k.index as usize >= start)
                        .collect();
                    assert_eq!(got, want, "iter_from({start})");
                }
            }
            m.check(&mut s, step as u64 ^ 0x9E37_79B9_7F4A_7C15, false);
        }
        m.check(&mut s, 1, true);
        let all: Vec<(Key, u64)> = s.iter().map(|(k, v)| (k, *v)).collect();
        assert_eq!(all, m.sorted());
    }

    proptest! {
        // 256 cases (PROPTEST_CASES overrides): about 0.5 s optimized.
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn behaves_like_a_map_of_keys(ops in prop::collection::vec(op(), 1..48)) {
            run(ops);
        }
    }
}
