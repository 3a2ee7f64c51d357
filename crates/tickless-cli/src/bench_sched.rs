//! `tickless bench sched`: the scheduler's scenarios (issue 13's numbered
//! list) side by side with Java 17's `ScheduledThreadPoolExecutor`
//! (`anchors/java/SchedBench.java`, run when `java` is on PATH), Go's
//! `AfterFunc` (`anchors/go/main.go -pending`, when `go` is) and tokio
//! tasks, as one table with ratios (and optionally JSON).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

use clap::Args;
use tickless::sched::RejectPolicy;
use tickless_workloads::sched as work;

use crate::progress::Progress;
use crate::scenario::{finish_json, only_of, print_table, Common, Scenario};

#[derive(Args, Debug)]
pub struct SchedArgs {
    /// Run only the scenarios whose name contains NAME (churn, bytes,
    /// periodic, oneshot, overload).
    #[arg(long, value_name = "NAME", value_parser = only)]
    only: Option<String>,
    /// Seconds of the periodic load (1000 jobs every 50 ms on 10 workers;
    /// 0.1 to 3600; at most 1 with --quick).
    #[arg(long, default_value_t = 10.0, value_parser = seconds)]
    secs: f64,
    /// Seconds of each overload run, one per policy (0.1 to 3600; at most 1
    /// with --quick).
    #[arg(long, default_value_t = 5.0, value_parser = seconds)]
    overload_secs: f64,
}

const KEYS: [&str; 5] = ["churn", "bytes", "periodic", "oneshot", "overload"];

fn only(text: &str) -> Result<String, String> {
    only_of(&KEYS, text)
}

/// `--secs`, `--overload-secs`: seconds in 0.1..=3600.
fn seconds(text: &str) -> Result<f64, String> {
    let secs: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if (0.1..=3600.0).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!("{text} is not in 0.1..=3600"))
    }
}

const PENDING: usize = 10_000;

/// Row names of the periodic load, all first deadlines at one instant.
const PERIODIC_BURST: [&str; 4] = [
    "periodic 1000 × 50 ms, 10 workers, in one burst: lateness p50",
    "periodic, burst: lateness p99",
    "periodic, burst: lateness max",
    "periodic, burst: process CPU per run",
];
/// Row names of the periodic load, first deadlines spread over a period.
const PERIODIC_STAGGERED: [&str; 4] = [
    "periodic 1000 × 50 ms, 10 workers, staggered: lateness p50",
    "periodic, staggered: lateness p99",
    "periodic, staggered: lateness max",
    "periodic, staggered: process CPU per run",
];

pub fn run(args: &SchedArgs, common: &Common) -> ExitCode {
    let q = common.quick;
    let wanted =
        |name: &str| !crate::stopped() && args.only.as_deref().is_none_or(|o| name.contains(o));
    let mut results: Vec<Scenario> = Vec::new();
    // Findings beside the table (stdout), and peers skipped and how to add them (stderr).
    let mut notes: Vec<String> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut ok = true;
    let java_note = |r: &Result<HashMap<String, f64>, String>, skipped: &mut Vec<String>| {
        if let Err(e) = r {
            if !skipped.contains(e) {
                skipped.push(e.clone());
            }
        }
    };
    let get = |r: &Result<HashMap<String, f64>, String>, key: &str| {
        r.as_ref().ok().and_then(|m| m.get(key).copied())
    };

    if wanted("churn") {
        let pairs: u64 = if q { 20_000 } else { 1_000_000 };
        let mut p = Progress::new("sched churn", 4).ticking();
        let per = |d: Duration| Some(d.as_nanos() as f64 / pairs as f64);
        p.step("tickless, drop");
        let dropped = per(work::churn(pairs, PENDING, false));
        p.set(1);
        p.step("tickless, cancel");
        let cancelled = per(work::churn(pairs, PENDING, true));
        p.set(2);
        p.step("Java");
        let java = java(&["churn", &pairs.to_string(), &PENDING.to_string()]);
        p.set(3);
        p.step("Go");
        let go = go_churn(pairs);
        p.finish();
        java_note(&java, &mut skipped);
        if let Err(e) = &go {
            skipped.push(e.clone());
        }
        if let Some(retained) = get(&java, "churn_retained_after_cancel") {
            notes.push(format!(
                "STPE without remove-on-cancel kept {retained} cancelled tasks queued"
            ));
        }
        results.push(Scenario {
            name: "schedule(1 h) + cancel, 10k pending beside",
            unit: "ns/op",
            lower_is_better: true,
            columns: vec![
                ("tickless, drop(handle)", dropped),
                ("tickless, cancel() + drop", cancelled),
                (
                    "STPE remove-on-cancel",
                    get(&java, "churn_ns_remove_on_cancel"),
                ),
                ("STPE default (retains)", get(&java, "churn_ns_default")),
                ("Go AfterFunc+Stop", go.ok()),
            ],
        });
    }
    if wanted("bytes") {
        let n = if q { 10_000 } else { 1_000_000 };
        let p = Progress::new("sched bytes per pending job", 1).ticking();
        let own = work::bytes_per_job(n);
        let handle = std::mem::size_of::<tickless::sched::JobHandle>() as f64;
        let java = java(&["bytes", &n.to_string()]);
        p.finish();
        java_note(&java, &mut skipped);
        results.push(Scenario {
            name: "bytes per pending one-shot job (zero-sized closure)",
            unit: "B",
            lower_is_better: true,
            columns: vec![
                ("tickless (a detached job)", Some(own)),
                ("tickless + JobHandle kept", Some(own + handle)),
                ("STPE (heap after GC)", get(&java, "bytes_per_task")),
            ],
        });
    }
    if wanted("periodic") {
        let secs = if q { args.secs.min(1.0) } else { args.secs };
        for (mode, staggered, names) in [
            ("burst", false, PERIODIC_BURST),
            ("staggered", true, PERIODIC_STAGGERED),
        ] {
            // Not ticking: redraws would count in the CPU per run.
            let p = Progress::new(format!("sched periodic load ({mode}), {secs} s each"), 1);
            let cpu0 = crate::precision::process_cpu();
            let run_for = Duration::from_secs_f64(secs);
            let t = work::periodic(1000, Duration::from_millis(50), 10, run_for, staggered);
            let cpu = crate::precision::process_cpu().saturating_sub(cpu0);
            let java = java(&["periodic", "1000", "50", "10", &secs.to_string(), mode]);
            p.finish();
            java_note(&java, &mut skipped);
            let javas = |key: &str| get(&java, key).map(|ns| ns / 1e3);
            notes.push(format!(
                "periodic ({mode}): tickless {} runs, {} early, metrics() lateness p99 \
                 (bucket bound) {:?}; STPE {} runs",
                t.lateness.len(),
                t.lateness.early(),
                t.metrics_p99.unwrap_or_default(),
                get(&java, "runs").unwrap_or(f64::NAN)
            ));
            for (name, q, key) in [
                (names[0], 0.5, "late_p50_ns"),
                (names[1], 0.99, "late_p99_ns"),
                (names[2], 1.0, "late_max_ns"),
            ] {
                results.push(Scenario {
                    name,
                    unit: "µs",
                    lower_is_better: true,
                    columns: vec![
                        ("tickless", Some(t.lateness.quantile(q) / 1e3)),
                        ("STPE", javas(key)),
                    ],
                });
            }
            let runs = t.lateness.len().max(1) as f64;
            results.push(Scenario {
                name: names[3],
                unit: "µs",
                lower_is_better: true,
                columns: vec![
                    ("tickless", Some(cpu.as_secs_f64() * 1e6 / runs)),
                    ("STPE", javas("cpu_ns_per_run")),
                ],
            });
        }
    }
    if wanted("oneshot") {
        let n = if q { 20_000 } else { 1_000_000 };
        let within = Duration::from_secs(1);
        let mut p = Progress::new("sched one-shots", 3).ticking();
        p.step("tickless");
        let mine = work::one_shots(n, within, 2);
        p.set(1);
        p.step("tokio");
        let tokio = work::one_shots_tokio(n, within, 2);
        p.set(2);
        p.step("Java");
        let java = java(&["oneshot", &n.to_string(), "1000", "2"]);
        p.finish();
        java_note(&java, &mut skipped);
        for (who, r) in [("tickless", &mine), ("tokio", &tokio)] {
            let early = r.lateness.early();
            ok &= r.ran == n as u64 && r.not_exactly_once == 0 && early == 0;
            notes.push(format!(
                "one-shots {who}: ran {}/{n}, not exactly once {}, early {early}, \
                 submitting took {:.0} ms, the last run ended at {:.0} ms",
                r.ran,
                r.not_exactly_once,
                r.submitted.as_secs_f64() * 1e3,
                r.took.as_secs_f64() * 1e3
            ));
        }
        if java.is_ok() {
            notes.push(format!(
                "one-shots STPE: ran {}/{n}, not exactly once {}, early {}, submitting took {:.0} ms",
                get(&java, "ran").unwrap_or(f64::NAN),
                get(&java, "not_exactly_once").unwrap_or(f64::NAN),
                get(&java, "early").unwrap_or(f64::NAN),
                get(&java, "submit_ms").unwrap_or(f64::NAN)
            ));
        }
        let rate = |r: &work::OneShots| Some(r.ran as f64 / r.took.as_secs_f64().max(1e-9));
        results.push(Scenario {
            name: "1M one-shots due within 1 s, 2 workers: throughput",
            unit: "jobs/s",
            lower_is_better: false,
            columns: vec![
                ("tickless", rate(&mine)),
                ("tokio spawn+sleep_until", rate(&tokio)),
                ("STPE", get(&java, "throughput_per_s")),
            ],
        });
        for (name, q, key) in [
            ("one-shots: lateness p50", 0.5, "late_p50_ns"),
            ("one-shots: lateness p99", 0.99, "late_p99_ns"),
        ] {
            results.push(Scenario {
                name,
                unit: "µs",
                lower_is_better: true,
                columns: vec![
                    ("tickless", Some(mine.lateness.quantile(q) / 1e3)),
                    (
                        "tokio spawn+sleep_until",
                        Some(tokio.lateness.quantile(q) / 1e3),
                    ),
                    ("STPE", get(&java, key).map(|ns| ns / 1e3)),
                ],
            });
        }
    }
    if wanted("overload") {
        let secs = if q {
            args.overload_secs.min(1.0)
        } else {
            args.overload_secs
        };
        // 4 workers × jobs sleeping 1 ms: at most 4000 runs/s; offered 8000/s.
        let (workers, job, rate) = (4, Duration::from_millis(1), 8000.0);
        let mut p = Progress::new(format!("sched overload, {secs} s per policy"), 3).ticking();
        let runs: Vec<_> = [
            RejectPolicy::Abort,
            RejectPolicy::CallerRuns,
            RejectPolicy::Block,
        ]
        .into_iter()
        .enumerate()
        .map(|(i, policy)| {
            p.step(policy.name());
            p.set(i as u64);
            let o = work::overload(
                policy,
                workers,
                256,
                job,
                rate,
                Duration::from_secs_f64(secs),
            );
            (policy.name(), o)
        })
        .collect();
        p.finish();
        for (name, o) in &runs {
            notes.push(format!(
                "overload {name}: offered {}, completed {}, rejected {} (Err returned {}), caller ran {}",
                o.offered, o.completed, o.rejected, o.refused, o.caller_runs
            ));
        }
        let abort = &runs[0].1;
        let exact =
            abort.rejected + abort.completed == abort.offered && abort.refused == abort.rejected;
        ok &= exact;
        notes.push(format!(
            "overload abort: rejected + completed == offered: {} + {} {} {}",
            abort.rejected,
            abort.completed,
            if exact { "==" } else { "!= (MISMATCH)" },
            abort.offered
        ));
        let col = |f: &dyn Fn(&work::Overload) -> f64| -> Vec<(&'static str, Option<f64>)> {
            runs.iter().map(|(n, o)| (*n, Some(f(o)))).collect()
        };
        results.push(Scenario {
            name: "overload (offer 8000/s to 4 workers × 1 ms jobs): offered rate",
            unit: "jobs/s",
            lower_is_better: false,
            columns: col(&|o| o.offered_per_sec),
        });
        results.push(Scenario {
            name: "overload: runs completed (drain at shutdown included)",
            unit: "jobs/s",
            lower_is_better: false,
            columns: col(&|o| o.completed_per_sec),
        });
        results.push(Scenario {
            name: "overload: peak heap growth",
            unit: "KiB",
            lower_is_better: true,
            columns: col(&|o| o.peak_bytes as f64 / 1024.0),
        });
    }
    print_table(&results);
    if !notes.is_empty() {
        crate::say("");
    }
    for n in &notes {
        crate::say(format!("- {n}"));
    }
    for n in &skipped {
        crate::note(n);
    }
    if finish_json(common, &results) != ExitCode::SUCCESS {
        return ExitCode::FAILURE;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        crate::note("error: a correctness check failed (see the notes above)");
        ExitCode::FAILURE
    }
}

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `anchors/java/SchedBench.java` with `args`; its `key value` lines,
/// or a line saying why the Java columns are empty and how to fill them.
fn java(args: &[&str]) -> Result<HashMap<String, f64>, String> {
    if Command::new("java").arg("-version").output().is_err() {
        return Err("Java columns skipped: no `java` on PATH \
                    (apt-get install openjdk-17-jdk-headless adds it)."
            .into());
    }
    let source = root().join("anchors/java/SchedBench.java");
    let out = Command::new("java")
        .arg(&source)
        .args(args)
        .output()
        .map_err(|e| format!("Java columns skipped: {e}"))?;
    // Java's own messages, between the bars like every note.
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        crate::note(format!("java: {line}"));
    }
    if !out.status.success() {
        return Err(format!(
            "Java columns skipped: {} {} failed ({})",
            source.display(),
            args.join(" "),
            out.status
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect())
}

/// Go's `AfterFunc(1 h)` + `Stop` beside 10k pending, ns per pair.
fn go_churn(pairs: u64) -> Result<f64, String> {
    let binary = crate::leak::build_go_anchor()?;
    let out = Command::new(binary)
        .args([format!("-n={pairs}"), format!("-pending={PENDING}")])
        .output()
        .map_err(|e| e.to_string())?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            match f.as_slice() {
                ["AfterFunc+Stop beside pending", ns, _] => ns.parse().ok(),
                _ => None,
            }
        })
        .ok_or_else(|| "Go column skipped: the anchor printed no churn line.".into())
}
