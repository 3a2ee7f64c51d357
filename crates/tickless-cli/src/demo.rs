//! `tickless demo`: the queue benchmark summary, measured in this run.
//!
//! Uses the same workloads as `cargo bench -p tickless --bench queue` (the file
//! is shared with `#[path]`), timed with plain `Instant`s instead of criterion.

#[path = "../../tickless/benches/support/queues.rs"]
mod queues;

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use queues::*;
use tickless::queue::{QuadHeap, Wheel};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Small sizes and short runs (seconds): for smoke tests.
    #[arg(long)]
    quick: bool,
    /// Live timer counts to measure at (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1000,1000000")]
    live: Vec<usize>,
}

/// One measured row: a value per structure, `None` where it does not apply.
struct Row {
    label: String,
    values: [Option<f64>; 4],
}

const NAMES: [&str; 4] = [
    <Wheel<u64> as BenchQueue>::NAME,
    <QuadHeap<u64> as BenchQueue>::NAME,
    BTreeQueue::NAME,
    BinaryHeapQueue::NAME,
];

pub fn run(args: &DemoArgs) -> ExitCode {
    let live: Vec<usize> = if args.quick {
        vec![1_000, 100_000]
    } else {
        args.live.clone()
    };
    if live.contains(&0) {
        eprintln!("error: --live values must be at least 1");
        return ExitCode::from(2);
    }
    let ops = if args.quick { 20_000 } else { 1_000_000 };
    println!(
        "tickless {} — timer queue summary, measured now on this machine",
        env!("CARGO_PKG_VERSION")
    );
    println!("(full criterion suite: cargo bench -p tickless --bench queue)\n");

    let rows: Vec<Row> = live
        .iter()
        .map(|&n| Row {
            label: format!("{} live", count(n)),
            values: [
                Some(insert_cancel_ns::<Wheel<u64>>(n, ops)),
                Some(insert_cancel_ns::<QuadHeap<u64>>(n, ops)),
                Some(insert_cancel_ns::<BTreeQueue>(n, ops)),
                None,
            ],
        })
        .collect();
    table("timeout churn (cancel the oldest in-flight timeout, start a new one), ns/op — lower is better", "ns", &rows, false);

    let rows: Vec<Row> = live
        .iter()
        .flat_map(|&n| {
            [
                (false, "polled at each deadline"),
                (true, "all due, one poll"),
            ]
            .map(|(bulk, how)| Row {
                label: format!("{} live, {how}", count(n)),
                values: [
                    Some(expiry_rate::<Wheel<u64>>(n, bulk)),
                    Some(expiry_rate::<QuadHeap<u64>>(n, bulk)),
                    Some(expiry_rate::<BTreeQueue>(n, bulk)),
                    Some(expiry_rate::<BinaryHeapQueue>(n, bulk)),
                ],
            })
        })
        .collect();
    table(
        "expiry throughput, million timers/s — higher is better",
        "M/s",
        &rows,
        true,
    );

    let origin = Instant::now();
    let rows: Vec<Row> = live
        .iter()
        .map(|&n| Row {
            label: format!("{} live", count(n)),
            values: [
                Some(bytes_per_timer::<Wheel<u64>>(origin, n)),
                Some(bytes_per_timer::<QuadHeap<u64>>(origin, n)),
                Some(bytes_per_timer::<BTreeQueue>(origin, n)),
                Some(bytes_per_timer::<BinaryHeapQueue>(origin, n)),
            ],
        })
        .collect();
    table(
        "heap bytes per pending timer (u64 value) — lower is better",
        "B",
        &rows,
        false,
    );
    println!("BinaryHeap cannot cancel a timer: a stopped timer stays until its deadline (Go's heap before 1.23).");
    ExitCode::SUCCESS
}

/// Median ns per churn step (cancel the oldest timeout, start a new one) over five batches.
fn insert_cancel_ns<Q: BenchQueue>(live: usize, ops: usize) -> f64 {
    let mut churn = Churn::<Q>::new(live);
    for _ in 0..ops.max(live) / 2 {
        churn.step(); // warm up: every in-flight timer is replaced once
    }
    let mut samples: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..ops {
                churn.step();
            }
            start.elapsed().as_nanos() as f64 / ops as f64
        })
        .collect();
    black_box(&churn.queue);
    samples.sort_by(f64::total_cmp);
    samples[2]
}

/// Million timers expired per second, `live` timers spread over an hour.
fn expiry_rate<Q: BenchQueue>(live: usize, bulk: bool) -> f64 {
    let origin = Instant::now();
    let mut q: Q = filled(origin, live, 9);
    let (took, fired) = if bulk {
        expire_bulk(&mut q, origin)
    } else {
        expire_stepwise(&mut q)
    };
    assert_eq!(fired, live, "{} lost timers", Q::NAME);
    live as f64 / took.max(Duration::from_nanos(1)).as_secs_f64() / 1e6
}

fn table(title: &str, unit: &str, rows: &[Row], higher_is_better: bool) {
    println!("{title}");
    println!("| | {} |", NAMES.join(" | "));
    println!("|---|{}", "---:|".repeat(NAMES.len()));
    for row in rows {
        let base = row.values[0].unwrap_or(f64::NAN);
        let cells: Vec<String> = row
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                None => "n/a".to_string(),
                Some(v) if i == 0 => format!("{} {unit}", num(*v)),
                Some(v) => {
                    let ratio = if higher_is_better { base / v } else { v / base };
                    format!("{} {unit} (wheel {}×)", num(*v), num(ratio))
                }
            })
            .collect();
        println!("| {} | {} |", row.label, cells.join(" | "));
    }
    println!();
}

fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn count(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}K", n / 1_000),
        n => n.to_string(),
    }
}
