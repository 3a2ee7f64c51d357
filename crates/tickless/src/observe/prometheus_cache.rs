//! The cache series of the Prometheus exposition (`tickless_cache_*`), one
//! set per live [`Cache`](crate::cache::Cache) of the driver, labelled
//! `cache` (its name; the line that built it when unnamed): hits, misses,
//! hit ratio, entries, weighted size, and removals by `cause`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::prometheus::escape;
use crate::cache::CacheStats;

/// Per-cache series, labelled `cache="name"` (caches sharing a name are
/// summed into one series).
pub(super) fn render(out: &mut String, caches: &[CacheStats]) {
    let mut by_name: BTreeMap<&str, CacheStats> = BTreeMap::new();
    for c in caches {
        let e = by_name.entry(c.name.as_str()).or_default();
        e.hits += c.hits;
        e.misses += c.misses;
        e.expired += c.expired;
        e.size += c.size;
        e.explicit += c.explicit;
        e.replaced += c.replaced;
        e.entries += c.entries;
        e.weighted_size += c.weighted_size;
    }
    if by_name.is_empty() {
        return;
    }
    type Value = fn(&CacheStats) -> f64;
    let series: [(&str, &str, &str, Value); 5] = [
        (
            "tickless_cache_hits_total",
            "counter",
            "Cache reads that found a live entry.",
            |c| c.hits as f64,
        ),
        (
            "tickless_cache_misses_total",
            "counter",
            "Cache reads that found none.",
            |c| c.misses as f64,
        ),
        (
            "tickless_cache_hit_ratio",
            "gauge",
            "Cache hits over reads so far.",
            |c| c.hit_ratio(),
        ),
        ("tickless_cache_entries", "gauge", "Entries held.", |c| {
            c.entries as f64
        }),
        (
            "tickless_cache_weighted_size",
            "gauge",
            "Total weight held.",
            |c| c.weighted_size as f64,
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (cache, stats) in &by_name {
            let _ = writeln!(
                out,
                "{name}{{cache=\"{}\"}} {}",
                escape(cache),
                value(stats)
            );
        }
    }
    let name = "tickless_cache_evictions_total";
    let _ = writeln!(
        out,
        "# HELP {name} Entries that left the cache, by cause.\n# TYPE {name} counter"
    );
    for (cache, c) in &by_name {
        for (cause, n) in [
            ("expired", c.expired),
            ("size", c.size),
            ("explicit", c.explicit),
            ("replaced", c.replaced),
        ] {
            let _ = writeln!(
                out,
                "{name}{{cache=\"{}\",cause=\"{cause}\"}} {n}",
                escape(cache)
            );
        }
    }
}
