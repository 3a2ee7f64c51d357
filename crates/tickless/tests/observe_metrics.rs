//! The `metrics` bridge (feature `metrics`).

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tickless::clock::ManualClock;
use tickless::Driver;

#[test]
fn publishes_counters_and_call_sites() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
    let timers: Vec<_> = (0..3)
        .map(|_| driver.handle().timer(Duration::from_secs(9)))
        .collect();
    metrics::with_local_recorder(&recorder, || {
        tickless::observe::metrics::publish(&driver.handle().snapshot())
    });
    let values = snapshotter.snapshot().into_vec();
    let live = values
        .iter()
        .find(|(k, ..)| k.key().name() == "tickless_timers_live")
        .expect("live gauge");
    assert_eq!(live.3, DebugValue::Gauge(3.0.into()));
    let suspects = values
        .iter()
        .find(|(k, ..)| k.key().name() == "tickless_leak_suspects")
        .expect("leak suspects gauge");
    assert_eq!(suspects.3, DebugValue::Gauge(0.0.into()));
    assert!(values
        .iter()
        .any(|(k, ..)| k.key().name() == "tickless_call_site_live_timers"
            && k.key()
                .labels()
                .any(|l| l.key() == "file" && l.value().ends_with("observe_metrics.rs"))));
    drop(timers);
}
