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
