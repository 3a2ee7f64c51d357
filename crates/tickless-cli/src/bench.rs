//! `tickless bench`: the side-by-side suite of the criterion benches, run
//! without criterion, as a markdown table with ratios (and optionally JSON).

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use tickless::queue::{QuadHeap, Wheel};
use tickless_workloads::alloc::live_bytes;
use tickless_workloads::queues::{BTreeQueue, BenchQueue, Churn};
use tickless_workloads::timers::{self, Impl};

use crate::progress::Progress;
use crate::scenario::{finish_json, only_of, print_table, Common, Scenario};

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    suite: Option<Suite>,
    #[command(flatten)]
    common: Common,
    /// Run only the scenarios whose name contains NAME (churn, timeout,
    /// tasks, reset, bytes, expiry, threads, lateness, queue, delay, blocking;
    /// `blocking` also runs the context scenario, which shares its Go run).
    #[arg(long, value_name = "NAME", value_parser = only)]
    only: Option<String>,
}

/// The scenario keys `--only` matches.
const KEYS: [&str; 11] = [
    "churn", "timeout", "tasks", "reset", "bytes", "expiry", "threads", "lateness", "queue",
    "delay", "blocking",
];

fn only(text: &str) -> Result<String, String> {
    only_of(&KEYS, text)
}

#[derive(clap::Subcommand, Debug)]
enum Suite {
    /// The example HTTP server (`tickless serve`) under wrk: tokio's timers vs tickless's.
    Server(crate::server::bench::ServerBenchArgs),
    /// The scheduler (`tickless::sched`) beside Java's ScheduledThreadPoolExecutor, Go and tokio.
    Sched(crate::bench_sched::SchedArgs),
    /// tickless::cache against moka and quick_cache: hit ratios on the ARC
    /// traces, replay time, two threads, memory per entry, the idle test.
    Cache(crate::bench_cache::CacheBenchArgs),
}

pub fn run(args: &BenchArgs) -> ExitCode {
    crate::out::start(args.common.json.as_ref());
    let common = &args.common;
    if args.suite.is_some() && args.only.is_some() {
        use clap::CommandFactory as _;
        let mut cli = crate::Cli::command();
        cli.build(); // the usage line then names `tickless bench`
        let bench = cli
            .find_subcommand_mut("bench")
            .expect("bench is a subcommand");
        bench
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "`bench --only` is for the default suite; give a suite its own `--only` after its name",
            )
            .exit();
    }
    match &args.suite {
        Some(Suite::Server(server)) => return crate::server::bench::run(server, common),
        Some(Suite::Sched(sched)) => return crate::bench_sched::run(sched, common),
        Some(Suite::Cache(_)) => return crate::bench_cache::run(common),
        None => {}
    }
    let q = common.quick;
    // Ctrl-C skips the scenarios not started yet; the table shows the rest.
    let wanted =
        |name: &str| !crate::stopped() && args.only.as_deref().is_none_or(|o| name.contains(o));
    let rt = timers::runtime();
    let _guard = rt.enter();
    let mut results: Vec<Scenario> = Vec::new();
    // One step per implementation, named on the bar while it runs.
    let per_impl =
        |p: &mut Progress, f: &mut dyn FnMut(Impl) -> f64| -> Vec<(&'static str, Option<f64>)> {
            Impl::ALL
                .iter()
                .enumerate()
                .map(|(i, &imp)| {
                    p.step(imp.name());
                    let v = f(imp);
                    p.set(i as u64 + 1);
                    (imp.name(), Some(v))
                })
                .collect()
        };
    let phase = |label: &str| Progress::new(label, Impl::ALL.len() as u64).ticking();

    let ops = if q { 20_000 } else { 1_000_000 };
    if wanted("churn") {
        let mut p = phase("churn");
        let columns = per_impl(&mut p, &mut |imp| {
            timers::churn(imp, ops / 10);
            timers::churn(imp, ops).as_nanos() as f64 / ops as f64
        });
        p.finish();
        results.push(Scenario {
            name: "churn: create, first poll, drop",
            unit: "ns/op",
            lower_is_better: true,
            columns,
        });
    }
    if wanted("timeout") {
        let mut p = phase("timeout");
        let columns = per_impl(&mut p, &mut |imp| {
            timers::timeout_pending_once(imp, ops).as_nanos() as f64 / ops as f64
        });
        p.finish();
        results.push(Scenario {
            name: "timeout around a future pending once",
            unit: "ns/op",
            lower_is_better: true,
            columns,
        });
    }
    if wanted("tasks") {
        let mut p = phase("churn in tasks");
        let columns = per_impl(&mut p, &mut |imp| {
            timers::churn_in_tasks(imp, ops).as_nanos() as f64 / ops as f64
        });
        p.finish();
        results.push(Scenario {
            name: "churn in tasks (2-worker tokio runtime, real wakers, 10k pending)",
            unit: "ns/op",
            lower_is_better: true,
            columns,
        });
    }
    if wanted("reset") {
        let mut p = phase("reset");
        let mut columns = per_impl(&mut p, &mut |imp| {
            timers::reset_later(imp, 10_000, ops).as_nanos() as f64 / ops as f64
        });
        let exact = timers::reset_later_with(Impl::Tickless, 10_000, ops, true);
        columns.insert(
            1,
            (
                "tickless, reset(Instant::now() + 30 s)",
                Some(exact.as_nanos() as f64 / ops as f64),
            ),
        );
        p.finish();
        results.push(Scenario {
            name: "reset to now + 30 s (idle timeout, 10k live; tickless: reset_after)",
            unit: "ns/op",
            lower_is_better: true,
            columns,
        });
    }
    if wanted("bytes") {
        let n = if q { 10_000 } else { 1_000_000 };
        let mut p = phase("bytes per pending timer");
        let columns = per_impl(&mut p, &mut |imp| {
            let before = live_bytes();
            let held = timers::hold_pending(imp, n);
            let bytes = live_bytes().saturating_sub(before) as f64 / n as f64;
            drop(held);
            bytes
        });
        p.finish();
        results.push(Scenario {
            name: "bytes per pending timer",
            unit: "B",
            lower_is_better: true,
            columns,
        });
    }
    if wanted("expiry") {
        let tasks = if q { 2_000 } else { 100_000 };
        let mut p = phase("expiry");
        let columns = per_impl(&mut p, &mut |imp| {
            timers::expiry(imp, tasks).as_secs_f64() * 1e3
        });
        p.finish();
        results.push(Scenario {
            name: "expiry: tasks sleeping until one instant",
            unit: "ms",
            lower_is_better: true,
            columns,
        });
    }
    if wanted("threads") {
        let n = if q { 20_000 } else { 2_000_000 };
        let mut p = phase("churn scaling");
        let columns = per_impl(&mut p, &mut |imp| {
            let one = timers::churn_threads(imp, 1, n);
            let two = timers::churn_threads(imp, 2, n);
            2.0 * one.as_secs_f64() / two.as_secs_f64()
        });
        p.finish();
        results.push(Scenario {
            name: "churn throughput, 2 threads vs 1",
            unit: "×",
            lower_is_better: false,
            columns,
        });
    }
    if wanted("lateness") {
        let samples = if q { 20 } else { 1000 };
        let mut p = phase("lateness");
        let mut p99 = Vec::new();
        let columns = per_impl(&mut p, &mut |imp| {
            let late = timers::lateness(imp, Duration::from_millis(1), samples);
            p99.push((
                imp.name(),
                Some(timers::quantile(&late, 0.99).as_secs_f64() * 1e6),
            ));
            timers::quantile(&late, 0.5).as_secs_f64() * 1e6
        });
        p.finish();
        results.push(Scenario {
            name: "sleep(1ms) lateness p50",
            unit: "µs",
            lower_is_better: true,
            columns,
        });
        results.push(Scenario {
            name: "sleep(1ms) lateness p99",
            unit: "µs",
            lower_is_better: true,
            columns: p99,
        });
    }
    if wanted("queue") {
        let live = if q { 1_000 } else { 1_000_000 };
        let p = Progress::new("queues", 1).ticking();
        let step = |f: &mut dyn FnMut()| {
            let start = std::time::Instant::now();
            for _ in 0..ops {
                f();
            }
            start.elapsed().as_nanos() as f64 / ops as f64
        };
        let mut wheel = Churn::<Wheel<u64>>::new(live);
        let mut heap = Churn::<QuadHeap<u64>>::new(live);
        let mut btree = Churn::<BTreeQueue>::new(live);
        let columns = vec![
            (
                <Wheel<u64> as BenchQueue>::NAME,
                Some(step(&mut || wheel.step())),
            ),
            (
                <QuadHeap<u64> as BenchQueue>::NAME,
                Some(step(&mut || heap.step())),
            ),
            (BTreeQueue::NAME, Some(step(&mut || btree.step()))),
        ];
        p.finish();
        results.push(Scenario {
            name: "queue churn (cancel oldest, insert)",
            unit: "ns/op",
            lower_is_better: true,
            columns,
        });
    }
    if wanted("delay") {
        use tickless_workloads::delay_queue::{self as dq, Queue};
        let live = if q { 1_000 } else { 10_000 };
        let n = if q { 20_000 } else { 1_000_000 };
        let p = Progress::new("delay queues", 1).ticking();
        let per_queue = |f: &mut dyn FnMut(Queue) -> f64| -> Vec<(&'static str, Option<f64>)> {
            Queue::ALL.iter().map(|&x| (x.name(), Some(f(x)))).collect()
        };
        let rows = [
            (
                "delay queue: insert + remove (10k live)",
                "ns/op",
                per_queue(&mut |x| dq::insert_remove(x, live, ops).as_nanos() as f64 / ops as f64),
            ),
            (
                "delay queue: reset to 30 s (10k live)",
                "ns/op",
                per_queue(&mut |x| dq::reset(x, live, ops).as_nanos() as f64 / ops as f64),
            ),
            (
                "delay queue: bytes per entry (1M pending)",
                "B",
                per_queue(&mut |x| dq::bytes_per_entry(x, n)),
            ),
            (
                "delay queue: drain 1M values due within 100 ms",
                "ms",
                per_queue(&mut |x| dq::drain(x, n).as_secs_f64() * 1e3),
            ),
        ];
        p.finish();
        for (name, unit, columns) in rows {
            results.push(Scenario {
                name,
                unit,
                lower_is_better: true,
                columns,
            });
        }
    }
    if wanted("blocking") {
        let n = if q { 20_000 } else { 1_000_000 };
        let p = Progress::new("blocking timers (and Go)", 1).ticking();
        let go = crate::leak::go_scenarios(n);
        let go_ns = |name: &str| {
            go.as_ref()
                .ok()
                .and_then(|g| g.iter().find(|r| r.0 == name).map(|r| r.1))
        };
        let time = |f: &mut dyn FnMut()| {
            let start = std::time::Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed().as_nanos() as f64 / n as f64
        };
        let hour = Duration::from_secs(3600);
        let timer = time(&mut || {
            let t = tickless::blocking::Timer::new(hour);
            std::hint::black_box(t.stop());
        });
        let func = time(&mut || {
            let h = tickless::blocking::after_func(hour, || {});
            std::hint::black_box(h.stop());
        });
        let crossbeam = time(&mut || {
            std::hint::black_box(crossbeam_channel::after(hour));
        });
        let (tx, work) = crossbeam_channel::unbounded::<u64>();
        let select = time(&mut || {
            tx.send(1).unwrap();
            crossbeam_channel::select! {
                recv(work) -> m => { std::hint::black_box(m.ok()); }
                recv(tickless::blocking::after(hour)) -> _ => unreachable!(),
            }
        });
        let select_timer = time(&mut || {
            tx.send(1).unwrap();
            let t = tickless::blocking::Timer::new(hour);
            crossbeam_channel::select! {
                recv(work) -> m => { std::hint::black_box(m.ok()); }
                recv(t.receiver()) -> _ => unreachable!(),
            }
            std::hint::black_box(t.stop());
        });
        let idle = tickless::blocking::Timer::new(hour);
        let reset = time(&mut || {
            std::hint::black_box(idle.reset(hour));
        });
        drop(idle);
        // The context rows are compared with a bare sleep: three alternating
        // rounds of each, medians, so a noisy neighbour hits all three alike.
        let (parent, _parent_guard) = tickless::Context::background().with_cancel();
        let mut rounds = [[0.0; 3]; 3];
        for round in &mut rounds {
            round[0] = time(&mut || {
                let (child, guard) = parent.with_timeout(hour);
                drop(std::hint::black_box(child));
                drop(guard); // cancels, as Go's `cancel()`
            });
            // The same with the deadline registered (it registers on the
            // first wait or question, here `is_done`), as Go's always is.
            round[1] = time(&mut || {
                let (child, guard) = parent.with_timeout(hour);
                std::hint::black_box(child.is_done());
                drop(guard);
            });
            round[2] = timers::churn(Impl::Tickless, n).as_nanos() as f64 / n as f64;
        }
        let median = |i: usize| {
            let mut v = rounds.map(|r| r[i]);
            v.sort_by(f64::total_cmp);
            v[1]
        };
        let (context, context_registered, bare) = (median(0), median(1), median(2));
        p.finish();
        results.push(Scenario {
            name: "context: with_timeout(1 h) + cancel, on a cancellable parent",
            unit: "ns/op",
            lower_is_better: true,
            columns: vec![
                ("tickless", Some(context)),
                ("tickless, deadline registered", Some(context_registered)),
                ("tickless bare sleep churn", Some(bare)),
                ("Go WithTimeout+cancel", go_ns("WithTimeout+cancel")),
            ],
        });
        results.push(Scenario {
            name: "blocking: Timer::new + stop",
            unit: "ns/op",
            lower_is_better: true,
            columns: vec![
                ("tickless", Some(timer)),
                ("crossbeam after (no stop)", Some(crossbeam)),
                ("Go NewTimer+Stop", go_ns("NewTimer+Stop")),
            ],
        });
        results.push(Scenario {
            name: "blocking: Timer::reset to 1 h (idle timeout, pending)",
            unit: "ns/op",
            lower_is_better: true,
            columns: vec![
                ("tickless", Some(reset)),
                ("Go Stop+Reset", go_ns("Timer.Reset")),
            ],
        });
        results.push(Scenario {
            name: "blocking: after_func + stop",
            unit: "ns/op",
            lower_is_better: true,
            columns: vec![
                ("tickless", Some(func)),
                ("Go AfterFunc+Stop", go_ns("AfterFunc+Stop")),
            ],
        });
        results.push(Scenario {
            name: "blocking: select loop turn with after(1h)",
            unit: "ns/op",
            lower_is_better: true,
            columns: vec![
                ("tickless", Some(select)),
                ("Go time.After", go_ns("After in select loop")),
            ],
        });
        results.push(Scenario {
            name: "blocking: select loop turn with a Timer, then stop",
            unit: "ns/op",
            lower_is_better: true,
            columns: vec![
                ("tickless", Some(select_timer)),
                ("Go NewTimer+Stop", go_ns("NewTimer in select loop+Stop")),
            ],
        });
        if let Err(note) = go {
            crate::note(note);
        }
    }
    print_table(&results);
    finish_json(common, &results)
}
