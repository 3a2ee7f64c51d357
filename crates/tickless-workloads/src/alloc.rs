//! A global allocator that counts live heap bytes, so the workloads can
//! report memory per timer: [`live_bytes`] before and after a phase.
//!
//! The only unsafe code in the crate: every call is forwarded unchanged to
//! [`System`]; the counter is kept on the side. CI runs `tickless demo
//! --quick`, which installs it, under valgrind.
//!
//! A library cannot install a global allocator for its users: each binary or
//! bench that reports memory declares it itself, and without that
//! declaration [`live_bytes`] stays at zero.
//!
//! ```
//! use tickless_workloads::alloc::{live_bytes, CountingAlloc};
//!
//! #[global_allocator]
//! static ALLOC: CountingAlloc = CountingAlloc;
//!
//! fn main() {
//!     let before = live_bytes();
//!     let buffer = std::hint::black_box(vec![0u8; 4096]);
//!     assert!(live_bytes() >= before + 4096);
//!     drop(buffer);
//! }
//! ```
//!
//! Cost: one relaxed atomic add per allocation and per free (two per
//! realloc). The count covers every thread of the process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A global allocator that counts live heap bytes.
pub struct CountingAlloc;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Live heap bytes of the whole process (when `CountingAlloc` is the global allocator).
pub fn live_bytes() -> usize {
    // Relaxed: a statistic read between phases of one thread's work.
    LIVE_BYTES.load(Ordering::Relaxed)
}

// SAFETY: forwards every call unchanged to the System allocator; it only
// counts sizes on the side.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Relaxed: a counter with no ordering relation to the memory itself.
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
