//! A `DelayQueue`'s memory follows its live values after a burst too
//! (tokio-util's slab never shrank until `compact` was added). Alone in its
//! binary: the counting allocator sees every thread.

mod support;

use std::task::{Context, Poll};
use std::time::Duration;

use support::manual_driver as driver;

#[global_allocator]
static A: support::alloc::Counting = support::alloc::Counting;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Memory follows live values after a burst too (tokio-util's slab never
/// shrank until `compact` was added).
#[test]
fn a_drained_burst_gives_its_memory_back() {
    let (clock, driver) = driver();
    let mut q = driver.handle().delay_queue::<u64>();
    let waker = futures::task::noop_waker();
    q.insert(0, ms(1)); // warm: the queue's own allocations
    clock.advance(ms(1));
    assert!(matches!(
        q.poll_expired(&mut Context::from_waker(&waker)),
        Poll::Ready(Some(_))
    ));
    let baseline = support::alloc::live();
    for round in 0..2 {
        for i in 0..200_000u64 {
            q.insert(i, ms(1 + i % 1000));
        }
        let peak = support::alloc::live() - baseline;
        assert!(
            peak > 4_000_000,
            "round {round}: the burst holds {peak} bytes"
        );
        clock.advance(ms(1000));
        let mut n = 0;
        while support::expired_now(&mut q).is_some() {
            n += 1;
        }
        assert_eq!(n, 200_000);
        let left = support::alloc::live().saturating_sub(baseline);
        assert!(
            left < 64 * 1024,
            "round {round}: {left} bytes still held after draining (peak {peak})"
        );
    }
}
