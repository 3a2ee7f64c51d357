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
/// Halving keeps 3 bits of every 4-bit counter.
const HALF_MASK: u64 = 0x7777_7777_7777_7777;

/// Eight words, aligned so that a key's counters share one cache line.
#[derive(Clone, Copy, Default)]
#[repr(align(64))]
struct Block([u64; 8]);

pub(super) struct Sketch {
    blocks: Box<[Block]>,
    /// Blocks − 1 (a power of two).
    mask: u64,
    additions: u32,
    sample: u32,
}

/// Where one key's counters are: its block's index and a 32-bit
/// mix whose byte `r` picks row `r`'s counter (one multiply per key, as
/// Caffeine does, instead of one per row).
#[derive(Clone, Copy)]
struct Place {
    block: usize,
    mix: u32,
}

impl Place {
    /// Word (within the block) and bit shift of row `row`'s counter: each
    /// row has its own two words of the block, and 16 counters in each.
    #[inline]
    fn slot(self, row: usize) -> (usize, u32) {
        let byte = self.mix >> (row * 8);
        (row * 2 + (byte as usize >> 4 & 1), (byte & 0xf) * 4)
    }
}

impl Sketch {
    /// A sketch for a cache of `capacity` entries.
    pub(super) fn new(capacity: u64) -> Self {
        let words = (capacity.clamp(16, MAX_WORDS as u64) as usize).next_power_of_two();
        let sample = capacity.saturating_mul(10).clamp(160, u64::from(u32::MAX)) as u32;
        let blocks = words / 8;
        Sketch {
            blocks: vec![Block::default(); blocks].into_boxed_slice(),
            mask: blocks as u64 - 1,
            additions: 0,
            sample,
        }
    }

    #[inline]
    fn place(&self, hash: u64) -> Place {
        Place {
            block: ((hash.wrapping_mul(0xff51_afd7_ed55_8ccd) >> 23) & self.mask) as usize,
            mix: (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as u32,
        }
    }

    /// Counts one access of the key with `hash` (each of its counters below
    /// 15 goes up by one).
    #[inline]
    pub(super) fn increment(&mut self, hash: u64) {
        let place = self.place(hash);
        let block = &mut self.blocks[place.block].0;
        let mut added = 0;
        for row in 0..DEPTH {
            let (word, shift) = place.slot(row);
            let w = &mut block[word];
            let below_max = u64::from((*w >> shift) & 0xf != 0xf);
            *w += below_max << shift;
            added |= below_max;
        }
        if added != 0 {
            self.additions += 1;
            if self.additions >= self.sample {
                self.halve();
            }
        }
    }

    /// The estimated number of recent accesses of the key with `hash` (0–15).
    #[inline]
    pub(super) fn frequency(&self, hash: u64) -> u8 {
        let place = self.place(hash);
        let block = &self.blocks[place.block].0;
        (0..DEPTH)
            .map(|row| {
                let (word, shift) = place.slot(row);
                ((block[word] >> shift) & 0xf) as u8
            })
            .min()
            .unwrap_or(0)
    }

    fn halve(&mut self) {
        for w in self.blocks.iter_mut().flat_map(|b| b.0.iter_mut()) {
            *w = (*w >> 1) & HALF_MASK;
        }
        self.additions /= 2;
    }

    /// Heap bytes held.
    pub(super) fn bytes(&self) -> usize {
        std::mem::size_of_val(&*self.blocks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_capacity_sizes_a_bounded_sketch() {
        for capacity in [0, 1, 1000, u64::MAX / 2, u64::MAX - 1] {
            let s = Sketch::new(capacity);
            assert!(s.blocks.len().is_power_of_two() && s.blocks.len() * 8 <= MAX_WORDS);
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
