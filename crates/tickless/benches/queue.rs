//! Timer queue benchmarks: wheel vs 4-ary heap vs `BTreeMap` and `BinaryHeap`.
//!
//! `cargo bench -p tickless --bench queue`. Bytes per pending timer are
//! printed before the timings (criterion measures time, not memory).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tickless_workloads::alloc::CountingAlloc;
use tickless_workloads::queues::*;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const SIZES: [usize; 3] = [1_000, 1_000_000, 10_000_000];
/// Expiry refills the queue for every sample; at 10M that is minutes per structure.
const EXPIRE_SIZES: [usize; 2] = [1_000, 1_000_000];

fn insert_cancel_group<Q: BenchQueue>(c: &mut Criterion) {
    let mut group = c.benchmark_group("insert_cancel");
    group.throughput(Throughput::Elements(1));
    for live in SIZES {
        let mut churn = Churn::<Q>::new(live);
        group.bench_function(BenchmarkId::new(Q::NAME, live), |b| b.iter(|| churn.step()));
    }
    group.finish();
}

fn expire_group<Q: BenchQueue>(c: &mut Criterion) {
    let mut group = c.benchmark_group("expire");
    group.sample_size(10);
    for live in EXPIRE_SIZES {
        group.throughput(Throughput::Elements(live as u64));
        group.bench_function(
            BenchmarkId::new(format!("{} insert+expire", Q::NAME), live),
            |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let mut q: Q = filled(start, live, 9);
                        black_box(expire_stepwise(&mut q));
                        total += start.elapsed();
                    }
                    total
                })
            },
        );
        for (name, bulk) in [("expiry stepwise", false), ("expiry bulk", true)] {
            group.bench_function(BenchmarkId::new(format!("{} {name}", Q::NAME), live), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += fill_and_expire::<Q>(live, bulk);
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

fn memory() {
    let origin = Instant::now();
    for live in SIZES {
        println!(
            "bytes per pending timer (u64 value) at {live}: wheel {:.1}, 4-ary heap {:.1}, BTreeMap {:.1}, BinaryHeap {:.1}",
            bytes_per_timer::<tickless::queue::Wheel<u64>>(origin, live),
            bytes_per_timer::<tickless::queue::QuadHeap<u64>>(origin, live),
            bytes_per_timer::<BTreeQueue>(origin, live),
            bytes_per_timer::<BinaryHeapQueue>(origin, live),
        );
    }
}

fn benches(c: &mut Criterion) {
    memory();
    insert_cancel_group::<tickless::queue::Wheel<u64>>(c);
    insert_cancel_group::<tickless::queue::QuadHeap<u64>>(c);
    insert_cancel_group::<BTreeQueue>(c);
    expire_group::<tickless::queue::Wheel<u64>>(c);
    expire_group::<tickless::queue::QuadHeap<u64>>(c);
    expire_group::<BTreeQueue>(c);
    expire_group::<BinaryHeapQueue>(c);
}

criterion_group! {
    name = queue;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(queue);
