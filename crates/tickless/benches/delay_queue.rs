//! Keyed delay queues side by side: tickless vs tokio-util.
//!
//! `cargo bench -p tickless --bench delay_queue`. Criterion times
//! insert+remove and reset with 10k values pending; bytes per entry at 1M and
//! draining 1M values due within 100 ms are measured once each and printed
//! first. The workloads live in `tickless-workloads` (shared with
//! `tickless bench`).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tickless_workloads::alloc::CountingAlloc;
use tickless_workloads::delay_queue::{bytes_per_entry, drain, insert_remove, reset, Queue};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn report() {
    println!("\n== delay queues: bytes per entry at 1M pending; draining 1M values due within 100 ms (median of 3)");
    for q in Queue::ALL {
        let bytes = bytes_per_entry(q, 1_000_000);
        let mut runs: Vec<Duration> = (0..3).map(|_| drain(q, 1_000_000)).collect();
        runs.sort();
        println!("{:>12}: {bytes:.1} B/entry, drain {:?}", q.name(), runs[1]);
    }
    println!();
}

fn benches(c: &mut Criterion) {
    report();
    let mut group = c.benchmark_group("delay queue insert+remove (10k live)");
    group.throughput(Throughput::Elements(1));
    for q in Queue::ALL {
        group.bench_function(BenchmarkId::from_parameter(q.name()), |b| {
            b.iter_custom(|iters| insert_remove(q, 10_000, iters))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("delay queue reset to 30 s (10k live)");
    group.throughput(Throughput::Elements(1));
    for q in Queue::ALL {
        group.bench_function(BenchmarkId::from_parameter(q.name()), |b| {
            b.iter_custom(|iters| reset(q, 10_000, iters))
        });
    }
    group.finish();
}

criterion_group! {
    name = delay_queue_benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(delay_queue_benches);
