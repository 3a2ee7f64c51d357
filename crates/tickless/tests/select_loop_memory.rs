//! The seed's pitfall: `loop { select! { recv(work), recv(after(HOUR)) } }`.
//! In Go before 1.23 every turn left a timer in the runtime heap for an hour
//! (1M turns kept ~200 MiB). Here memory stays flat, for `after` and for a
//! `Timer` dropped every turn.

mod support;

use std::time::Duration;

use crossbeam_channel::{select, unbounded};

#[global_allocator]
static A: support::alloc::Counting = support::alloc::Counting;

const HOUR: Duration = Duration::from_secs(3600);
const TURNS: usize = 1_000_000;

fn assert_flat(what: &str, mut turn: impl FnMut(usize)) {
    for i in 0..1000 {
        turn(i); // warm up: channels, driver, slabs
    }
    let baseline = support::alloc::live();
    for i in 0..TURNS {
        turn(i);
        if i % 100_000 == 0 {
            let grown = support::alloc::live() - baseline;
            assert!(
                grown < 64 * 1024,
                "{what}: heap grew {grown} bytes after {i} turns"
            );
        }
    }
    let grown = support::alloc::live() - baseline;
    assert!(
        grown < 64 * 1024,
        "{what}: heap grew {grown} bytes over {TURNS} turns"
    );
}

/// One test (the counting allocator sees every thread, so the two loops must
/// not run at once).
#[test]
fn select_loops_keep_memory_flat() {
    after_in_a_select_loop_keeps_memory_flat();
    timer_in_a_select_loop_keeps_memory_flat();
}

fn after_in_a_select_loop_keeps_memory_flat() {
    let (tx, work) = unbounded();
    assert_flat("after", |i| {
        tx.send(i).unwrap();
        select! {
            recv(work) -> msg => assert_eq!(msg, Ok(i)),
            recv(tickless::blocking::after(HOUR)) -> _ => unreachable!(),
        }
    });
}

fn timer_in_a_select_loop_keeps_memory_flat() {
    let (tx, work) = unbounded();
    assert_flat("Timer", |i| {
        tx.send(i).unwrap();
        let timeout = tickless::blocking::Timer::new(HOUR);
        select! {
            recv(work) -> msg => assert_eq!(msg, Ok(i)),
            recv(timeout.receiver()) -> _ => unreachable!(),
        }
    });
    assert_eq!(tickless::Handle::current().pending_timers(), 0);
}
