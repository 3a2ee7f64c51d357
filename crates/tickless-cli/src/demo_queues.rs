//! `tickless demo`, part 4: the timer queues underneath — timeout churn,
//! expiry throughput and bytes per pending timer for the wheel, the 4-ary
//! heap, `BTreeMap` and `BinaryHeap`, measured in this run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tickless::queue::{QuadHeap, Wheel};
use tickless_workloads::queues::*;

use crate::demo::Out;
use crate::out::number;
use crate::progress::Progress;

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

/// The three queue tables, printed; their JSON.
pub(crate) fn summary(live: &[usize], ops: usize, out: &mut Out) -> Vec<Value> {
    let mut p = Progress::new("timer queues", 3 * live.len() as u64).ticking();
    let mut done = 0;
    let mut step = |what: String| {
        p.step(what);
        p.set(done);
        done += 1;
    };
    let rows: Vec<Row> = live
        .iter()
        .map(|&n| {
            step(format!("timeout churn, {} live", count(n)));
            Row {
                label: format!("{} live", count(n)),
                values: [
                    Some(insert_cancel_ns::<Wheel<u64>>(n, ops)),
                    Some(insert_cancel_ns::<QuadHeap<u64>>(n, ops)),
                    Some(insert_cancel_ns::<BTreeQueue>(n, ops)),
                    None,
                ],
            }
        })
        .collect();
    let mut tables = vec![table(out, "timeout churn (cancel the oldest in-flight timeout, start a new one), ns/op — lower is better", "ns", &rows, false)];

    let rows: Vec<Row> = live
        .iter()
        .flat_map(|&n| {
            step(format!("expiry, {} live", count(n)));
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
    tables.push(table(
        out,
        "expiry throughput, million timers/s — higher is better",
        "M/s",
        &rows,
        true,
    ));

    let origin = Instant::now();
    let rows: Vec<Row> = live
        .iter()
        .map(|&n| {
            step(format!("bytes per timer, {} live", count(n)));
            Row {
                label: format!("{} live", count(n)),
                values: [
                    Some(bytes_per_timer::<Wheel<u64>>(origin, n)),
                    Some(bytes_per_timer::<QuadHeap<u64>>(origin, n)),
                    Some(bytes_per_timer::<BTreeQueue>(origin, n)),
                    Some(bytes_per_timer::<BinaryHeapQueue>(origin, n)),
                ],
            }
        })
        .collect();
    tables.push(table(
        out,
        "heap bytes per pending timer (u64 value) — lower is better",
        "B",
        &rows,
        false,
    ));
    p.finish();
    out.line("BinaryHeap cannot cancel a timer: a stopped timer stays until its deadline (Go's heap before 1.23).");
    out.line("");
    tables
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
    let took = fill_and_expire::<Q>(live, bulk);
    live as f64 / took.max(Duration::from_nanos(1)).as_secs_f64() / 1e6
}

/// Prints one queue table; its JSON: the title, the unit and a row per
/// size with a value per structure (`null`: does not apply).
fn table(out: &mut Out, title: &str, unit: &str, rows: &[Row], higher_is_better: bool) -> Value {
    out.line(title);
    out.line(format!("| | {} |", NAMES.join(" | ")));
    out.line(format!("|---|{}", "---:|".repeat(NAMES.len())));
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
        out.line(format!("| {} | {} |", row.label, cells.join(" | ")));
    }
    out.line("");
    json!({
        "table": title,
        "unit": unit,
        "higher_is_better": higher_is_better,
        "rows": rows.iter().map(|row| json!({
            "size": row.label,
            "results": NAMES.iter().zip(&row.values).map(|(name, v)| {
                ((*name).to_string(), v.map_or(Value::Null, number))
            }).collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
    })
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
