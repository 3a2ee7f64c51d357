//! Async timers side by side: tickless vs tokio vs async-io vs futures-timer.
//!
//! `cargo bench -p tickless --bench timers`. Criterion times the per-op
//! scenarios (churn with 10k other pending timers, timeout around a future
//! pending once); memory, expiry, two-thread scaling and lateness are
//! measured once each and printed first, with ratios to tickless.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tickless_workloads::alloc::{live_bytes, CountingAlloc};
use tickless_workloads::timers::*;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn report() {
    let rt = runtime();
    let _guard = rt.enter();

    println!(
        "\n== bytes per pending timer, 1M pending (future + registration, counting allocator)"
    );
    for imp in Impl::ALL {
        let before = live_bytes();
        let held = hold_pending(imp, 1_000_000);
        let bytes = live_bytes().saturating_sub(before) as f64 / 1e6;
        drop(held);
        println!("{:>14}: {bytes:.1} B", imp.name());
    }

    println!("\n== expiry: 100k tasks sleep until one instant; last wakes after (current-thread tokio runtime; median of 5)");
    for imp in Impl::ALL {
        let mut runs: Vec<Duration> = (0..5).map(|_| expiry(imp, 100_000)).collect();
        runs.sort();
        println!(
            "{:>14}: {:?} (min {:?}, max {:?})",
            imp.name(),
            runs[2],
            runs[0],
            runs[4]
        );
    }

    println!("\n== churn inside tasks: 2-worker tokio runtime, 2 tasks × 1M create+poll+drop, real wakers, 10k pending (median of 3)");
    for imp in Impl::ALL {
        let mut runs: Vec<Duration> = (0..3).map(|_| churn_in_tasks(imp, 1_000_000)).collect();
        runs.sort();
        println!(
            "{:>14}: {:.1} ns/op per task",
            imp.name(),
            runs[1].as_nanos() as f64 / 1e6
        );
    }

    println!("\n== churn scaling: 2M create+poll+drop per thread");
    for imp in Impl::ALL {
        let one = churn_threads(imp, 1, 2_000_000);
        let two = churn_threads(imp, 2, 2_000_000);
        println!(
            "{:>14}: 1 thread {:.1} ns/op, 2 threads {:.1} ns/op each; throughput ×{:.2}",
            imp.name(),
            one.as_nanos() as f64 / 2e6,
            two.as_nanos() as f64 / 2e6,
            2.0 * one.as_secs_f64() / two.as_secs_f64()
        );
    }

    println!("\n== Context: derive a child with a timeout and drop it, vs a bare timeout registration (median of 5)");
    let (parent, _guard) = tickless::Context::background().with_cancel();
    let mut ctx_runs = Vec::new();
    let mut bare_runs = Vec::new();
    for _ in 0..5 {
        let start = std::time::Instant::now();
        for _ in 0..1_000_000 {
            drop(std::hint::black_box(parent.with_timeout(HOUR)));
        }
        ctx_runs.push(start.elapsed());
        bare_runs.push(churn(Impl::Tickless, 1_000_000));
    }
    ctx_runs.sort();
    bare_runs.sort();
    println!(
        "with_timeout+drop {:.1} ns, sleep create+register+drop {:.1} ns: ratio {:.2} (target ≤ 2)",
        ctx_runs[2].as_nanos() as f64 / 1e6,
        bare_runs[2].as_nanos() as f64 / 1e6,
        ctx_runs[2].as_secs_f64() / bare_runs[2].as_secs_f64()
    );

    println!("\n== call-site accounting: tickless churn, 2M ops, median of 5 alternating runs");
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        tickless::observe::set_call_sites(true);
        on.push(churn(Impl::Tickless, 2_000_000));
        tickless::observe::set_call_sites(false);
        off.push(churn(Impl::Tickless, 2_000_000));
    }
    tickless::observe::set_call_sites(true);
    on.sort();
    off.sort();
    println!(
        "on {:.1} ns/op, off {:.1} ns/op: overhead {:+.1}%",
        on[2].as_nanos() as f64 / 2e6,
        off[2].as_nanos() as f64 / 2e6,
        (on[2].as_secs_f64() / off[2].as_secs_f64() - 1.0) * 100.0
    );

    println!("\n== lateness of sleep(d), 1000 sequential sleeps (p50 / p99 / max)");
    for d in [Duration::from_millis(1), Duration::from_millis(10)] {
        for imp in Impl::ALL {
            let late = lateness(imp, d, 1000);
            println!(
                "{:>14} {d:?}: {:?} / {:?} / {:?}",
                imp.name(),
                quantile(&late, 0.5),
                quantile(&late, 0.99),
                late.last().unwrap()
            );
        }
    }
    println!();
}

fn benches(c: &mut Criterion) {
    report();
    let rt = runtime();
    let _guard = rt.enter();
    // 10k other timers pending in every implementation, as a server would have.
    let _background: Vec<_> = Impl::ALL
        .iter()
        .map(|&imp| hold_pending(imp, 10_000))
        .collect();

    let mut group = c.benchmark_group("churn (create, poll, drop; 10k pending)");
    group.throughput(Throughput::Elements(1));
    for imp in Impl::ALL {
        group.bench_function(BenchmarkId::from_parameter(imp.name()), |b| {
            b.iter_custom(|iters| churn(imp, iters))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("reset to now + 30 s (idle timeout; 10k live)");
    group.throughput(Throughput::Elements(1));
    for imp in Impl::ALL {
        group.bench_function(BenchmarkId::from_parameter(imp.name()), |b| {
            b.iter_custom(|iters| reset_later(imp, 10_000, iters))
        });
    }
    group.finish();

    c.bench_function(
        "reset to now + 30 s (idle timeout; 10k live)/tickless reset(Instant::now() + 30 s)",
        |b| b.iter_custom(|iters| reset_later_with(Impl::Tickless, 10_000, iters, true)),
    );

    let mut group = c.benchmark_group("timeout around a future pending once");
    group.throughput(Throughput::Elements(1));
    for imp in Impl::ALL {
        group.bench_function(BenchmarkId::from_parameter(imp.name()), |b| {
            b.iter_custom(|iters| timeout_pending_once(imp, iters))
        });
    }
    group.finish();
}

criterion_group! {
    name = timer_benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(timer_benches);
