//! A global allocator that counts live heap bytes and allocations, for the
//! memory tests. Each such test lives alone in its binary: the counters see
//! every thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

pub struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static ALLOCATIONS: AtomicIsize = AtomicIsize::new(0);

/// Live heap bytes.
pub fn live() -> isize {
    // Relaxed: counters read between phases of one test.
    LIVE.load(Ordering::Relaxed)
}

/// Allocations made so far.
pub fn allocations() -> isize {
    ALLOCATIONS.load(Ordering::Relaxed)
}

// SAFETY: forwards every call unchanged to the system allocator; it only
// counts sizes on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // Relaxed: counters with no ordering relation to the memory.
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds GlobalAlloc's contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }
}
