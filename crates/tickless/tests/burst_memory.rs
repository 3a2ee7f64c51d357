//! Memory follows live timers after a burst too: a million pending sleeps,
//! dropped, give their memory back — the shard's storage shrinks once it is
//! mostly empty (issue 17, item 3).

mod support;

use std::time::Duration;

use support::{poll_once, CountingWaker};
use tickless::Driver;

#[global_allocator]
static A: support::alloc::Counting = support::alloc::Counting;

#[test]
fn a_burst_of_sleeps_gives_its_memory_back() {
    let driver = Driver::builder().shards(1).build().unwrap();
    let (_, waker) = CountingWaker::new();
    let mut warm = driver.handle().sleep(Duration::from_secs(3600));
    assert!(poll_once(&mut warm, &waker).is_pending());
    let baseline = support::alloc::live();

    for round in 0..3 {
        let mut burst: Vec<_> = (0..1_000_000)
            .map(|_| driver.handle().sleep(Duration::from_secs(3600)))
            .collect();
        for s in &mut burst {
            assert!(poll_once(s, &waker).is_pending());
        }
        let peak = support::alloc::live() - baseline;
        assert!(
            peak > 64_000_000,
            "round {round}: the burst holds {peak} bytes"
        );
        drop(burst);
        let left = support::alloc::live() - baseline;
        assert!(
            left < 64 * 1024,
            "round {round}: {left} bytes still held after the burst ended (peak {peak})"
        );
    }
    assert_eq!(driver.handle().pending_timers(), 1);

    // Timers created first (low slots) may outlive the burst: the rest of
    // the storage still goes back.
    let mut burst: Vec<_> = (0..1_000_000)
        .map(|_| driver.handle().sleep(Duration::from_secs(3600)))
        .collect();
    for s in &mut burst {
        assert!(poll_once(s, &waker).is_pending());
    }
    let survivors: Vec<_> = burst.drain(..10).collect();
    drop(burst);
    let left = support::alloc::live() - baseline;
    assert!(left < 64 * 1024, "{left} bytes held by 10 survivors");
    assert_eq!(driver.handle().pending_timers(), 11);
    drop(survivors);
    drop(warm);
}
