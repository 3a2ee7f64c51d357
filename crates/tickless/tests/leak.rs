//! Memory follows live timers, never timers created: 10M one-hour sleeps
//! registered and dropped leave the heap where it started.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use support::{poll_once, CountingWaker};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
static ALLOCATIONS: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // Relaxed: a counter read after the work, on the same thread.
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

#[global_allocator]
static A: Counting = Counting;

#[test]
fn ten_million_dropped_sleeps_leave_nothing_behind() {
    let (_, waker) = CountingWaker::new();
    // Warm up: the driver, its thread, the shard's slab.
    let mut warm = tickless::sleep(Duration::from_secs(3600));
    assert!(poll_once(&mut warm, &waker).is_pending());
    drop(warm);
    let baseline = LIVE.load(Ordering::Relaxed);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    let handle = tickless::Handle::current();
    for i in 0..10_000_000u32 {
        let mut sleep = tickless::sleep(Duration::from_secs(3600));
        assert!(poll_once(&mut sleep, &waker).is_pending());
        if i % 1_000_000 == 0 {
            let grown = LIVE.load(Ordering::Relaxed) - baseline;
            assert!(grown < 4096, "heap grew by {grown} bytes after {i} timers");
        }
    }
    let grown = LIVE.load(Ordering::Relaxed) - baseline;
    assert!(
        grown.abs() < 4096,
        "heap moved by {grown} bytes after 10M timers"
    );
    // Create, register, cancel allocates nothing once warm (the waker clone
    // is a reference count; the slab slot is reused).
    let allocated = ALLOCATIONS.load(Ordering::Relaxed) - allocations;
    assert!(allocated < 100, "{allocated} allocations for 10M timers");
    assert_eq!(handle.pending_timers(), 0);
}
