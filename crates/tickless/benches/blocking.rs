//! Go-style timers side by side with crossbeam-channel and Go itself.
//!
//! `cargo bench -p tickless --bench blocking`. Criterion times the Rust
//! scenarios; when `go` is on PATH the Go anchor (`anchors/go/main.go`) is
//! built and run for the same scenarios, and a table of ratios is printed
//! first. Without Go, a line says how to add that column.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use crossbeam_channel::{select, unbounded};
use tickless::blocking::{after, after_func, Ticker, Timer};
use tickless_workloads::alloc::{live_bytes, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const HOUR: Duration = Duration::from_secs(3600);

fn timer_new_stop() {
    let t = Timer::new(HOUR);
    black_box(t.stop());
}

fn crossbeam_after_create_drop() {
    black_box(crossbeam_channel::after(HOUR));
}

fn after_func_stop() {
    let h = after_func(HOUR, || {});
    black_box(h.stop());
}

/// One turn of the seed's loop with the given timeout receiver.
fn select_turn(
    tx: &crossbeam_channel::Sender<u64>,
    work: &crossbeam_channel::Receiver<u64>,
    i: u64,
    timeout: &crossbeam_channel::Receiver<Instant>,
) {
    tx.send(i).unwrap();
    select! {
        recv(work) -> m => { black_box(m.unwrap()); }
        recv(timeout) -> _ => unreachable!(),
    }
}

/// ns/op and heap bytes retained per op of `f` over `n` runs.
fn measure(n: u64, mut f: impl FnMut(u64)) -> (f64, f64) {
    for i in 0..1000 {
        f(i);
    }
    let before = live_bytes();
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    let grown = live_bytes().saturating_sub(before) as f64 / n as f64;
    (ns, grown)
}

/// Runs the Go anchor; `None` (with a message) when Go is not installed.
fn go_anchor(n: u64) -> Option<Vec<(String, f64, f64)>> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = manifest.join("../../anchors/go/main.go");
    let binary = manifest.join("../../target/anchors/go-timers");
    if Command::new("go").arg("version").output().is_err() {
        println!("Go column skipped: no `go` on PATH (apt-get install golang-go adds it).");
        return None;
    }
    std::fs::create_dir_all(binary.parent()?).ok()?;
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(&source)
        .env("GOFLAGS", "-mod=mod")
        .env("GO111MODULE", "off")
        .status()
        .ok()?;
    if !built.success() {
        println!("Go column skipped: building {} failed.", source.display());
        return None;
    }
    let out = Command::new(&binary).arg(format!("-n={n}")).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .filter_map(|l| {
                let mut f = l.split('\t');
                let name = f.next()?.to_string();
                let second = f.next()?;
                let ns = second.parse().unwrap_or(f64::NAN);
                let bytes = f.next()?.parse().unwrap_or(0.0);
                if name == "go-version" {
                    println!("Go anchor: {second}");
                }
                Some((name, ns, bytes))
            })
            .collect(),
    )
}

fn report() {
    const N: u64 = 1_000_000;
    let (tx, work) = unbounded();
    let rows = [
        ("Timer::new + stop", measure(N, |_| timer_new_stop())),
        ("after_func + stop", measure(N, |_| after_func_stop())),
        (
            "crossbeam after: create + drop",
            measure(N, |_| crossbeam_after_create_drop()),
        ),
        (
            "select loop, tickless::after (crossbeam's)",
            measure(N, |i| select_turn(&tx, &work, i, &after(HOUR))),
        ),
        (
            "select loop, Timer per turn + stop",
            measure(N, |i| {
                let t = Timer::new(HOUR);
                select_turn(&tx, &work, i, t.receiver());
                black_box(t.stop());
            }),
        ),
        (
            "Ticker::new + stop",
            measure(N, |_| Ticker::new(HOUR).unwrap().stop()),
        ),
        (
            "crossbeam tick: create + drop",
            measure(N, |_| {
                black_box(crossbeam_channel::tick(HOUR));
            }),
        ),
    ];
    println!("\n== blocking timers, {N} ops each: ns/op, heap bytes retained per op");
    for (name, (ns, bytes)) in &rows {
        println!("{name:>44}: {ns:>7.1} ns  {bytes:>6.1} B");
    }
    if let Some(go) = go_anchor(N) {
        for (name, ns, bytes) in &go {
            if name != "go-version" {
                println!("{:>44}: {ns:>7.1} ns  {bytes:>6.1} B", format!("Go {name}"));
            }
        }
        let go_ns = |n: &str| go.iter().find(|r| r.0 == n).map(|r| r.1);
        if let Some(g) = go_ns("NewTimer+Stop") {
            println!(
                "Timer::new+stop / Go NewTimer+Stop = {:.2} (target ≤ 0.25)",
                rows[0].1 .0 / g
            );
        }
        if let Some(g) = go_ns("AfterFunc+Stop") {
            println!(
                "after_func+stop / Go AfterFunc+Stop = {:.2}",
                rows[1].1 .0 / g
            );
        }
        if let Some(g) = go_ns("After in select loop") {
            println!(
                "select loop with after / Go time.After loop = {:.2}",
                rows[3].1 .0 / g
            );
        }
        if let Some(g) = go_ns("NewTimer in select loop+Stop") {
            println!(
                "select loop with Timer+stop / Go NewTimer loop+Stop = {:.2} (target ≤ 0.5)",
                rows[4].1 .0 / g
            );
        }
    }
    println!();
}

fn benches(c: &mut Criterion) {
    report();
    let mut g = c.benchmark_group("blocking");
    g.bench_function("Timer::new+stop", |b| b.iter(timer_new_stop));
    g.bench_function("after_func+stop", |b| b.iter(after_func_stop));
    g.bench_function("crossbeam after create+drop", |b| {
        b.iter(crossbeam_after_create_drop)
    });
    let (tx, work) = unbounded();
    let mut i = 0;
    g.bench_function("select loop turn, after", |b| {
        b.iter(|| {
            i += 1;
            select_turn(&tx, &work, i, &after(HOUR))
        })
    });
    g.finish();
}

criterion_group! {
    name = blocking_benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(blocking_benches);
