//! `tickless demo --json`: what the demo measured, as one JSON object —
//! the numbers of its tables and of the report's charts, with units in the
//! key names.

use serde_json::{json, Value};

use crate::out::number;
use crate::report::Report;

/// The demo's JSON: `version`, `leak`, `planted_leak`, `churn`, `queues`
/// (already built by the queue tables), `sched`, `overload`, `lateness`
/// (log₂ buckets of 1 ms sleeps), `cache` (the cache case study's heap
/// samples) and `interrupted`.
pub fn document(r: &Report<'_>, queues: &[Value], named: Option<&(String, u32)>) -> Value {
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "leak": r.series.iter().map(|s| json!({
            "implementation": s.name,
            "iterations": s.iterations,
            "ns_per_iter": number(s.ns_per_iter),
            "heap_retained_bytes": number(s.retained()),
            "rss_growth_bytes": s.rss_grown,
            "live_tickless_timers": s.live_timers,
        })).collect::<Vec<_>>(),
        "go_note": r.go_note,
        "planted_leak": {
            "suspects": r.planted,
            "named": named.map(|(file, line)| json!({"file": file, "line": line})),
        },
        "churn": r.churn_rows.iter().map(|(name, ns, bytes)| json!({
            "implementation": name,
            "ns_per_op": number(*ns),
            "bytes_per_timer": number(*bytes),
        })).collect::<Vec<_>>(),
        "queues": queues,
        "sched": r.sched_rows.iter().map(|row| json!({
            "dispatcher": row.name,
            "runs": row.runs,
            "avg_ms": number(row.avg_ms),
            "p99_ms": number(row.p99_ms),
            "max_ms": number(row.max_ms),
        })).collect::<Vec<_>>(),
        "overload": r.overload.map(|o| json!({
            "secs": number(o.secs),
            "offered": o.offered,
            "completed": o.completed,
            "rejected": o.rejected,
        })),
        "lateness": r.lateness.iter().map(|(name, buckets)| json!({
            "implementation": name,
            "buckets": buckets.iter().map(|(below, count)| json!({"below": below, "count": count}))
                .collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "cache": r.cache.map(|study| json!({
            "observed": study.observed,
            "caches": study.runs.iter().map(|run| json!({
                "implementation": run.name,
                "requests": run.requests,
                "rereads": run.rereads,
                "reread_hits": run.hits,
                "peak_heap_bytes": number(run.peak),
                "at_load_end": {"heap_bytes": number(run.at_load_end.0), "entries": run.at_load_end.1},
                "samples": run.points.iter().map(|(ms, heap, entries)| json!({
                    "ms": number(*ms), "heap_bytes": number(*heap), "entries": entries,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })),
        "interrupted": crate::stopped(),
    })
}
