//! The scheduler series of the Prometheus exposition (`tickless_sched_*`),
//! one set per live [`Scheduler`](crate::sched::Scheduler) of the driver,
//! labelled `scheduler` (its name) and, per job name, `site` (`file:line`; not `job`,
//! which Prometheus reserves for the scrape target).
//!
//! Dispatch lateness (deadline → start) and run time are real histograms
//! (`_bucket{le}`, `_sum`, `_count`), so `histogram_quantile` gives the p99
//! the seed's alert watches. Their buckets are the scheduler's log₂ buckets
//! from 1 µs to about 4.6 minutes (a fixed set, the same in every scrape).

use std::fmt::Write as _;
use std::time::Duration;

use super::prometheus::escape;
use crate::sched::{Histogram, SchedulerMetrics, BUCKETS};

/// The first bucket exported: values below 2^10 ns ≈ 1 µs.
const FIRST_BUCKET: usize = 10;

/// A counter with one sample per scheduler, labelled `scheduler`.
fn counter(
    out: &mut String,
    schedulers: &[SchedulerMetrics],
    name: &str,
    help: &str,
    value: impl Fn(&SchedulerMetrics) -> u64,
) {
    header(out, name, "counter", help);
    for s in schedulers {
        let _ = writeln!(
            out,
            "{name}{{scheduler=\"{}\"}} {}",
            escape(&s.name),
            value(s)
        );
    }
}

pub(super) fn render(out: &mut String, schedulers: &[SchedulerMetrics]) {
    if schedulers.is_empty() {
        return;
    }
    header(out, "tickless_sched_jobs", "gauge", "Jobs per state: pending (waiting for their deadline, or for room), queued (due, waiting for a worker), running.");
    for s in schedulers {
        let name = escape(&s.name);
        for (state, n) in [
            ("pending", s.pending),
            ("queued", s.queued),
            ("running", s.running),
        ] {
            let _ = writeln!(
                out,
                "tickless_sched_jobs{{scheduler=\"{name}\",state=\"{state}\"}} {n}"
            );
        }
    }
    header(
        out,
        "tickless_sched_limit",
        "gauge",
        "Configured bounds: workers, queue_capacity, max_pending.",
    );
    for s in schedulers {
        let name = escape(&s.name);
        for (limit, n) in [
            ("workers", s.workers),
            ("queue_capacity", s.queue_capacity),
            ("max_pending", s.max_pending),
        ] {
            let _ = writeln!(
                out,
                "tickless_sched_limit{{scheduler=\"{name}\",limit=\"{limit}\"}} {n}"
            );
        }
    }
    counter(
        out,
        schedulers,
        "tickless_sched_caller_runs_total",
        "Runs the submitting thread did itself (CallerRuns, or Block inside a job).",
        |s| s.caller_runs,
    );
    counter(
        out,
        schedulers,
        "tickless_sched_stall_wakes_total",
        "Workers woken because the one draining short runs took none for 250 µs while runs waited (or, one per queued run, because runs turned long).",
        |s| s.stall_wakes,
    );
    let jobs = || {
        schedulers.iter().flat_map(|s| {
            s.jobs.iter().map(move |j| {
                let labels = format!(
                    "scheduler=\"{}\",site=\"{}:{}\"",
                    escape(&s.name),
                    escape(j.file),
                    j.line
                );
                (s, labels, &j.stats)
            })
        })
    };
    header(
        out,
        "tickless_sched_runs_total",
        "counter",
        "Runs ended, by outcome (completed or panicked; panics are caught).",
    );
    for (_, labels, st) in jobs() {
        let _ = writeln!(
            out,
            "tickless_sched_runs_total{{{labels},outcome=\"completed\"}} {}",
            st.completed
        );
        let _ = writeln!(
            out,
            "tickless_sched_runs_total{{{labels},outcome=\"panicked\"}} {}",
            st.panicked
        );
    }
    header(
        out,
        "tickless_sched_rejected_total",
        "counter",
        "Uses of the reject policy (a full queue or max_pending), by policy.",
    );
    for (s, labels, st) in jobs() {
        let policy = s.policy;
        let n = st.rejected[policy as usize];
        let _ = writeln!(
            out,
            "tickless_sched_rejected_total{{{labels},policy=\"{}\"}} {n}",
            policy.name()
        );
    }
    histogram(
        out,
        "tickless_sched_dispatch_lateness_seconds",
        "How late runs started after their deadline (due to started).",
        jobs().map(|(_, l, st)| (l, &st.lateness)),
    );
    histogram(
        out,
        "tickless_sched_run_seconds",
        "How long runs took.",
        jobs().map(|(_, l, st)| (l, &st.run_time)),
    );
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histogram<'a>(
    out: &mut String,
    name: &str,
    help: &str,
    series: impl Iterator<Item = (String, &'a Histogram)>,
) {
    header(out, name, "histogram", help);
    for (labels, h) in series {
        let mut cumulative: u64 = h.buckets[..FIRST_BUCKET].iter().sum();
        for i in FIRST_BUCKET..BUCKETS - 1 {
            cumulative += h.buckets[i];
            // Bucket `i` holds values below 2^i ns; `le` is inclusive and
            // values are whole nanoseconds, so its bound is 2^i − 1 ns.
            let le = Duration::from_nanos((1u64 << i) - 1).as_secs_f64();
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(
            out,
            "{name}_sum{{{labels}}} {}",
            Duration::from_nanos(h.sum_nanos).as_secs_f64()
        );
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
    }
}
