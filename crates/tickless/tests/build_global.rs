//! `Builder::build_global`: a manual-clock driver made process-wide reaches
//! code on threads the test does not control (a multi-thread tokio
//! runtime's workers). Its own test binary: the process-wide driver is
//! shared by everything in the process, so this file holds one test.

use std::time::Duration;

use tickless::clock::ManualClock;
use tickless::{Driver, DriverError, Handle};

#[test]
fn a_global_manual_driver_reaches_runtime_workers() {
    let clock = ManualClock::new();
    let handle = Driver::builder()
        .clock(clock.clone())
        .build_global()
        .expect("first in this process");
    assert!(Handle::current().same_driver_as(&handle));
    assert!(matches!(
        Driver::builder().build_global(),
        Err(DriverError::GlobalInUse)
    ));
    assert!(DriverError::GlobalInUse
        .to_string()
        .contains("already in use"));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let tasks: Vec<_> = (1..=4u64)
        .map(|i| {
            rt.spawn(async move {
                tickless::sleep(Duration::from_secs(60 * i)).await;
                i
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while handle.pending_timers() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the tasks never registered"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        clock.advance_to_next(),
        Some(clock.start() + Duration::from_secs(60))
    );
    while clock.advance_to_next().is_some() {}
    let done: Vec<u64> = rt.block_on(async {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    assert_eq!(done, [1, 2, 3, 4]);
    assert_eq!(
        clock.elapsed(),
        Duration::from_secs(240),
        "virtual time only"
    );
}
