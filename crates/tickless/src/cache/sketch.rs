//! The frequency sketch behind TinyLFU admission: a count-min sketch of
//! 4-bit counters that forgets by halving (Einziger, Friedman and Manes,
//! "TinyLFU: A Highly Efficient Cache Admission Policy", 2017).
//!
//! Each key hash picks one counter in each of [`DEPTH`] rows (16 counters
//! per `u64` word); its frequency is the smallest of them. After `10 ×
//! capacity` increments every counter is halved, so the sketch follows a
//! changing workload. Cost: O(1) per increment or estimate (four counters
//! in one 64-byte block: one cache miss); memory: one `u64` word (16
//! counters) per unit of capacity, as Caffeine and moka size theirs — half
//! that measured up to 1.5 points lower on the P3 trace — and at most
//! [`MAX_WORDS`] words per shard.

/// Rows of the count-min sketch (counters consulted per key).
const DEPTH: usize = 4;
/// Largest sketch, in `u64` words (32 MiB).
const MAX_WORDS: usize = 1 << 22;
/// Seeds that make the rows independent.
const SEEDS: [u64; DEPTH] = [
    0xc3a5_c85c_97cb_3127,
    0xb492_b66f_be98_f273,
    0x9ae1_6a3b_2f90_404f,
    0xcbf2_9ce4_8422_2325,
];
/// Halving keeps 3 bits of every 4-bit counter.
const HALF_MASK: u64 = 0x7777_7777_7777_7777;

pub(super) struct Sketch {
    words: Box<[u64]>,
    mask: u64,
    additions: u32,
    sample: u32,
}

impl Sketch {
    /// A sketch for a cache of `capacity` entries.
    pub(super) fn new(capacity: u64) -> Self {
        let words = (capacity.clamp(16, MAX_WORDS as u64) as usize).next_power_of_two();
        let sample = capacity.saturating_mul(10).clamp(160, u64::from(u32::MAX)) as u32;
        Sketch {
            words: vec![0; words].into_boxed_slice(),
            mask: words as u64 - 1,
            additions: 0,
            sample,
        }
    }

    /// Word and bit shift of `hash`'s counter in row `row`. The four rows
    /// of one key share a 64-byte block (one cache miss per key, as in
    /// Caffeine); each row uses its own word of the block.
    #[inline]
    fn slot(&self, hash: u64, row: usize) -> (usize, u32) {
        let h = (hash ^ SEEDS[row]).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let block = (hash.wrapping_mul(0xff51_afd7_ed55_8ccd) >> 20) & (self.mask & !7);
        let word = block as usize | (row * 2 + ((h >> 40) as usize & 1));
        (word, ((h >> 60) as u32) * 4)
    }

    /// Counts one access of the key with `hash`.
    pub(super) fn increment(&mut self, hash: u64) {
        let mut added = false;
        for row in 0..DEPTH {
            let (word, shift) = self.slot(hash, row);
            if (self.words[word] >> shift) & 0xf < 15 {
                self.words[word] += 1 << shift;
                added = true;
            }
        }
        if added {
            self.additions += 1;
            if self.additions >= self.sample {
                self.halve();
            }
        }
    }

    /// The estimated number of recent accesses of the key with `hash` (0–15).
    pub(super) fn frequency(&self, hash: u64) -> u8 {
        (0..DEPTH)
            .map(|row| {
                let (word, shift) = self.slot(hash, row);
                ((self.words[word] >> shift) & 0xf) as u8
            })
            .min()
            .unwrap_or(0)
    }

    fn halve(&mut self) {
        for w in self.words.iter_mut() {
            *w = (*w >> 1) & HALF_MASK;
        }
        self.additions /= 2;
    }

    /// Heap bytes held.
    pub(super) fn bytes(&self) -> usize {
        self.words.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_capacity_sizes_a_bounded_sketch() {
        for capacity in [0, 1, 1000, u64::MAX / 2, u64::MAX - 1] {
            let s = Sketch::new(capacity);
            assert!(s.words.len().is_power_of_two() && s.words.len() <= MAX_WORDS);
        }
    }

    #[test]
    fn counts_saturate_at_fifteen_and_estimates_never_undercount() {
        let mut s = Sketch::new(1024);
        for _ in 0..20 {
            s.increment(42);
        }
        for k in 0..5u64 {
            s.increment(k.wrapping_mul(0x1234_5678_9abc_def1));
        }
        assert_eq!(s.frequency(42), 15);
        assert!(s.frequency(0x1234_5678_9abc_def1) >= 1);
    }

    #[test]
    fn halving_forgets_after_the_sample() {
        let mut s = Sketch::new(16); // sample = 160
        for _ in 0..8 {
            s.increment(7);
        }
        assert_eq!(s.frequency(7), 8);
        s.halve();
        assert_eq!(s.frequency(7), 4);
        for k in 0..1000u64 {
            let before = s.additions;
            s.increment(k.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            if s.additions < before {
                assert_eq!(before + 1, s.sample, "halves on reaching the sample");
                assert_eq!(s.additions, s.sample / 2);
                return;
            }
        }
        panic!("never halved");
    }
}
