//! A long-lived parent deriving a million short-lived children keeps memory
//! flat (alone in its binary: the counting allocator sees every thread).

mod support;

use std::time::Duration;

#[global_allocator]
static A: support::alloc::Counting = support::alloc::Counting;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

use support::poll_noop as poll;

use support::manual_context as manual;

#[test]
fn a_long_lived_parent_with_a_million_children_stays_flat() {
    let (_clock, driver, root) = manual();
    let (parent, _pg) = root.with_cancel();
    for _ in 0..1000 {
        drop(parent.with_timeout(secs(30))); // warm up
    }
    let baseline = support::alloc::live();
    for i in 0..1_000_000 {
        let (child, _guard) = parent.with_timeout(secs(30));
        let mut c = child.cancelled();
        assert!(poll(&mut c).is_pending()); // a waiter, removed when dropped
        if i % 100_000 == 0 {
            let grown = support::alloc::live() - baseline;
            assert!(grown < 64 * 1024, "grew {grown} bytes after {i} children");
        }
    }
    let grown = support::alloc::live() - baseline;
    assert!(grown < 64 * 1024, "grew {grown} bytes over 1M children");
    assert_eq!(parent.children(), 0);
    assert_eq!(driver.handle().pending_timers(), 0);
}
