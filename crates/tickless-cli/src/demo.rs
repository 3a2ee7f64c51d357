//! `tickless demo`: the leak case study, the churn summary, the queue
//! summary, the seed's scheduler table and its cache case study, all
//! measured in this run, and a self-contained HTML report.
//!
//! Uses the same workloads as the criterion benches (the
//! `tickless-workloads` crate), timed with plain `Instant`s instead of
//! criterion.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Args;
use tickless_workloads::alloc::live_bytes;
use tickless_workloads::timers::{self, Impl};

use crate::demo_cache;
use crate::demo_queues;
use crate::demo_sched;
use crate::leak;
use crate::progress::Progress;
use crate::report;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Small sizes and short runs (seconds): for smoke tests.
    #[arg(long)]
    quick: bool,
    /// Iterations of the leak case study's select loop (1 to 10⁹).
    #[arg(long, default_value_t = 2_000_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    iterations: u64,
    /// Live timer counts to measure the queues at (comma-separated; each 1 to
    /// 20M: at 20M the four queues together need a few GiB).
    #[arg(long, value_delimiter = ',', default_value = "1000,1000000",
          value_parser = clap::value_parser!(u64).range(1..=20_000_000))]
    live: Vec<u64>,
    /// Where to write the HTML report.
    #[arg(long, default_value = "target/tickless-report/index.html")]
    report: std::path::PathBuf,
    #[arg(long, value_name = "FILE", value_parser = crate::out::json_to,
          help = crate::out::JSON_HELP)]
    json: Option<crate::out::JsonTo>,
}

/// Prints a line and keeps it for the report.
pub(crate) struct Out(String);

impl Out {
    pub(crate) fn line(&mut self, s: impl AsRef<str>) {
        crate::say(s.as_ref());
        self.0.push_str(s.as_ref());
        self.0.push('\n');
    }
}

pub fn run(args: &DemoArgs) -> ExitCode {
    crate::out::start(args.json.as_ref());
    // clap has checked the ranges (1..=20M live fits a usize everywhere).
    let live: Vec<usize> = if args.quick {
        vec![1_000, 100_000]
    } else {
        args.live.iter().map(|&n| n as usize).collect()
    };
    let stop = &crate::STOP;
    let iterations = if args.quick { 20_000 } else { args.iterations };
    let mut out = Out(String::new());
    out.line(format!(
        "tickless {} demo — everything below is measured now, on this machine",
        env!("CARGO_PKG_VERSION")
    ));
    out.line("");

    // 1. The leak case study.
    out.line(format!(
        "1. The seed's loop: `select {{ work, after(1h) }}`, {iterations} iterations"
    ));
    let mut series = leak::run_rust(iterations, stop);
    let go_note = match if crate::stopped() {
        Err("Go column skipped: interrupted".into())
    } else {
        leak::run_go(iterations)
    } {
        Ok(go) => {
            series.push(go);
            None
        }
        Err(note) => Some(note),
    };
    out.line("| implementation | ns/iter | heap retained | bytes/iter | RSS growth | live tickless timers |");
    out.line("|---|---:|---:|---:|---:|---:|");
    for s in &series {
        out.line(format!(
            "| {} | {:.0} | {:.1} MiB | {:.1} | {} | {} |",
            s.name,
            s.ns_per_iter,
            s.retained() / (1 << 20) as f64,
            s.retained() / s.iterations.max(1) as f64,
            s.rss_grown.map_or("n/a".to_string(), |b| format!(
                "{:.1} MiB",
                b as f64 / (1 << 20) as f64
            )),
            s.live_timers.map_or("n/a".to_string(), |n| n.to_string())
        ));
    }
    if let Some(note) = &go_note {
        crate::note(note);
    }
    out.line("");

    // 2. The planted leak, named.
    let mut planted_lines = Vec::new();
    let mut planted_named = None;
    if !stop.load(Ordering::Relaxed) {
        let planted = leak::plant(if args.quick { 5_000 } else { 200_000 });
        out.line(
            "2. A planted leak (detached one-hour after_func in a loop); tickless::observe says:",
        );
        for l in &planted.report {
            out.line(format!("   leak suspect: {l}"));
        }
        match &planted.named_line {
            Some((file, line)) if *line == planted.expected_line => {
                out.line(format!("   → the exact line: {file}:{line}"))
            }
            other => out.line(format!(
                "   → expected line {}, got {other:?}",
                planted.expected_line
            )),
        }
        planted_lines = planted.report;
        planted_named = planted.named_line;
        out.line("");
    }

    // 3. Churn summary against the peers.
    let mut churn_rows = Vec::new();
    if !stop.load(Ordering::Relaxed) {
        let ops = if args.quick { 20_000 } else { 1_000_000 };
        let held = if args.quick { 10_000 } else { 1_000_000 };
        let rt = timers::runtime();
        let _guard = rt.enter();
        let mut progress = Progress::new("churn vs peers", Impl::ALL.len() as u64);
        for (i, imp) in Impl::ALL.into_iter().enumerate() {
            timers::churn(imp, ops / 10);
            let ns = timers::churn(imp, ops).as_nanos() as f64 / ops as f64;
            let before = live_bytes();
            let holding = timers::hold_pending(imp, held);
            let bytes = live_bytes().saturating_sub(before) as f64 / held as f64;
            drop(holding);
            churn_rows.push((imp.name().to_string(), ns, bytes));
            progress.set(i as u64 + 1);
        }
        progress.finish();
        out.line(format!("3. Timer churn (create, first poll, drop; {ops} ops) and bytes per pending timer ({held} pending)"));
        out.line("| implementation | ns/op | vs tickless | bytes/timer | vs tickless |");
        out.line("|---|---:|---:|---:|---:|");
        let (base_ns, base_bytes) = (churn_rows[0].1, churn_rows[0].2);
        for (name, ns, bytes) in &churn_rows {
            out.line(format!(
                "| {name} | {ns:.0} | {:.2}× | {bytes:.0} | {:.2}× |",
                ns / base_ns,
                bytes / base_bytes
            ));
        }
        out.line("");
    }

    // 4. The queues underneath.
    let mut queues = Vec::new();
    if !stop.load(Ordering::Relaxed) {
        out.line(
            "4. The timer queues underneath (full suite: cargo bench -p tickless --bench queue)",
        );
        queues = demo_queues::summary(&live, if args.quick { 20_000 } else { 1_000_000 }, &mut out);
    }

    // 5. The seed's scheduler table, and an overload run.
    let mut sched_rows = Vec::new();
    let mut overload = None;
    if !stop.load(Ordering::Relaxed) {
        out.line("5. Periodic jobs, the seed's table: the same load (jobs every 50 ms from t = 0, fixed CPU work each) on three dispatchers; latency = start − grid point");
        let p = Progress::new("periodic jobs, three dispatchers", 1).ticking();
        sched_rows = demo_sched::table(args.quick);
        p.finish();
        out.line("| dispatcher | runs | average (ms) | p99 (ms) | max (ms) |");
        out.line("|---|---:|---:|---:|---:|");
        for r in &sched_rows {
            out.line(format!(
                "| {} | {} | {:.2} | {:.2} | {:.2} |",
                r.name, r.runs, r.avg_ms, r.p99_ms, r.max_ms
            ));
        }
        let p = Progress::new("scheduler overload", 1).ticking();
        let o = demo_sched::overload(args.quick);
        p.finish();
        out.line(format!(
            "   overload ({:.1} s, 2 workers, queue 100, Abort, offered ≈ 2× capacity): offered {}, completed {}, rejected {}; completed + rejected {} offered",
            o.secs,
            o.offered,
            o.completed,
            o.rejected,
            if o.completed + o.rejected == o.offered { "=" } else { "≠" }
        ));
        overload = Some(o);
        out.line("");
    }

    // 6. The seed's second case study: a cache per request key.
    let mut cache_study = None;
    if !stop.load(Ordering::Relaxed) {
        out.line("6. A cache per request key (the seed's `cache.(*Manager).store`), then the traffic stops: a HashMap, tickless::cache and moka, heap sampled");
        let study = demo_cache::study(args.quick);
        for l in demo_cache::lines(&study) {
            out.line(l);
        }
        out.line("");
        cache_study = Some(study);
    }

    // 7. Lateness histograms for the report.
    let lateness = if crate::stopped() {
        Vec::new()
    } else {
        lateness_histograms(if args.quick { 10 } else { 200 })
    };

    let parts = report::Report {
        series: &series,
        go_note: go_note.as_deref(),
        planted: &planted_lines,
        churn_rows: &churn_rows,
        lateness: &lateness,
        sched_rows: &sched_rows,
        overload: overload.as_ref(),
        cache: cache_study.as_ref(),
        text_summary: &out.0,
    };
    let html = report::render(&parts);
    if let Some(dir) = args.report.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(&args.report, html) {
        Ok(()) => crate::note(format!("report: {}", args.report.display())),
        Err(e) => {
            crate::note(format!(
                "error: cannot write {}: {e}",
                args.report.display()
            ));
            return ExitCode::FAILURE;
        }
    }
    if let Some(to) = &args.json {
        let doc = crate::demo_json::document(&parts, &queues, planted_named.as_ref());
        if let Err(e) = crate::out::write_json(to, &doc) {
            crate::note(format!("error: {e}"));
            return ExitCode::FAILURE;
        }
    }
    if stop.load(Ordering::Relaxed) {
        crate::note("interrupted: the phases above are what was measured");
    }
    ExitCode::SUCCESS
}

/// Lateness of sequential 1 ms sleeps per implementation, in log₂ buckets
/// from 1 µs (the same buckets for every implementation, so the charts compare).
fn lateness_histograms(sleeps: usize) -> Vec<(String, Vec<(String, u64)>)> {
    let mut progress = Progress::new("lateness of 1 ms sleeps", Impl::ALL.len() as u64);
    let mut out = Vec::new();
    for (i, imp) in Impl::ALL.into_iter().enumerate() {
        let late = timers::lateness(imp, Duration::from_millis(1), sleeps);
        let mut buckets: Vec<(String, u64)> = (0..14)
            .map(|b| {
                let upper = Duration::from_micros(1 << b);
                (format!("<{upper:?}"), 0)
            })
            .collect();
        buckets.push(("≥8.2ms".to_string(), 0));
        for d in late {
            let us = d.as_micros().max(1) as u64;
            let b = (64 - us.leading_zeros()) as usize; // 1 µs → bucket 1
            let last = buckets.len() - 1;
            buckets[b.min(last)].1 += 1;
        }
        out.push((imp.name().to_string(), buckets));
        progress.set(i as u64 + 1);
    }
    progress.finish();
    out
}
