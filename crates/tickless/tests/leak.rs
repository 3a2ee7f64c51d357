//! Memory follows live timers, never timers created: 10M one-hour sleeps
//! registered and dropped leave the heap where it started.

mod support;

use std::time::Duration;

use support::{poll_once, CountingWaker};

#[global_allocator]
static A: support::alloc::Counting = support::alloc::Counting;

#[test]
fn ten_million_dropped_sleeps_leave_nothing_behind() {
    let (_, waker) = CountingWaker::new();
    // Warm up: the driver, its thread, the shard's slab.
    let mut warm = tickless::sleep(Duration::from_secs(3600));
    assert!(poll_once(&mut warm, &waker).is_pending());
    drop(warm);
    let baseline = support::alloc::live();
    let allocations = support::alloc::allocations();
    let handle = tickless::Handle::current();
    for i in 0..10_000_000u32 {
        let mut sleep = tickless::sleep(Duration::from_secs(3600));
        assert!(poll_once(&mut sleep, &waker).is_pending());
        if i % 1_000_000 == 0 {
            let grown = support::alloc::live() - baseline;
            assert!(grown < 4096, "heap grew by {grown} bytes after {i} timers");
        }
    }
    let grown = support::alloc::live() - baseline;
    assert!(
        grown.abs() < 4096,
        "heap moved by {grown} bytes after 10M timers"
    );
    // Create, register, cancel allocates nothing once warm (the waker clone
    // is a reference count; the slab slot is reused).
    let allocated = support::alloc::allocations() - allocations;
    assert!(allocated < 100, "{allocated} allocations for 10M timers");
    assert_eq!(handle.pending_timers(), 0);
}
