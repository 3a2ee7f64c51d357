//! Cost of reading each clock: `cargo bench -p tickless --bench clock`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use tickless::clock::{Clock, ManualClock, SystemClock};

fn clocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("clock_now");
    group.bench_function("std Instant::now (SystemClock)", |b| {
        let clock = SystemClock;
        b.iter(|| black_box(clock.now()))
    });
    group.bench_function("SystemClock::now_coarse (CLOCK_MONOTONIC_COARSE)", |b| {
        let clock = SystemClock;
        b.iter(|| black_box(clock.now_coarse()))
    });
    group.bench_function("ManualClock", |b| {
        let clock = ManualClock::new();
        b.iter(|| black_box(clock.now()))
    });
    group.finish();
}

criterion_group! {
    name = clock;
    config = Criterion::default().warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2));
    targets = clocks
}
criterion_main!(clock);
