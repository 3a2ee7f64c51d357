//! Prometheus text exposition (format 0.0.4) of a [`Snapshot`].
//!
//! Metric names start with `tickless_` and are kept stable: the alerting
//! rules in `deploy/prometheus/` and the dashboard in `deploy/grafana/` use
//! them (the README's "Monitoring" section lists them). Fire lateness is a
//! real histogram (`_bucket{le}`, `_sum`, `_count`) for `histogram_quantile`. Call-site series carry `file`, `line`
//! and `column` labels; to bound label cardinality only the [`MAX_SITES`]
//! sites with the most live timers (then most created) are exported, and the
//! rest are summed into one series with `file="(other)"` (gauges), or, for
//! counters, into a gauge family of its own (`…_created_other`), since that
//! sum can fall as sites move in and out of the top.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Snapshot, SuspectReason};

/// Call sites exported individually.
pub const MAX_SITES: usize = 100;

pub(super) fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let c = &s.counters;
    metric(
        &mut out,
        "tickless_timers_live",
        "gauge",
        "Timers pending now.",
        c.live,
    );
    metric(
        &mut out,
        "tickless_timers_created_total",
        "counter",
        "Timers registered.",
        c.created,
    );
    metric(
        &mut out,
        "tickless_timers_fired_total",
        "counter",
        "Timers that fired.",
        c.fired,
    );
    metric(
        &mut out,
        "tickless_timers_cancelled_total",
        "counter",
        "Timers cancelled before firing.",
        c.cancelled,
    );
    metric(
        &mut out,
        "tickless_timers_reset_total",
        "counter",
        "Pending timers moved to a new deadline.",
        c.reset,
    );
    metric(
        &mut out,
        "tickless_driver_wakeups_total",
        "counter",
        "Timer-thread wakeups.",
        c.wakeups,
    );
    metric(
        &mut out,
        "tickless_waker_panics_total",
        "counter",
        "Wakers that panicked when woken.",
        c.waker_panics,
    );
    metric(
        &mut out,
        "tickless_callback_panics_total",
        "counter",
        "after_func callbacks that panicked.",
        c.callback_panics,
    );
    metric(
        &mut out,
        "tickless_callback_threads",
        "gauge",
        "Threads of the after_func callback pool (at most 256).",
        c.callback_threads,
    );
    metric(
        &mut out,
        "tickless_callbacks_waiting",
        "gauge",
        "after_func callbacks due and not started (waiting past 256 busy ones).",
        c.callbacks_waiting,
    );

    out.push_str("# HELP tickless_fire_lateness_seconds How late timers fired, after their exact deadline.\n");
    out.push_str("# TYPE tickless_fire_lateness_seconds histogram\n");
    let mut cumulative = 0;
    for bucket in &s.lateness {
        cumulative += bucket.count;
        if bucket.below == Duration::MAX {
            continue;
        }
        let _ = writeln!(
            out,
            "tickless_fire_lateness_seconds_bucket{{le=\"{}\"}} {cumulative}",
            inclusive_bound(bucket.below).as_secs_f64()
        );
    }
    let _ = writeln!(
        out,
        "tickless_fire_lateness_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
    );
    let _ = writeln!(
        out,
        "tickless_fire_lateness_seconds_sum {}",
        s.lateness_sum.as_secs_f64()
    );
    let _ = writeln!(out, "tickless_fire_lateness_seconds_count {cumulative}");

    leak_suspects(&mut out, s);

    const SUM: fn(f64, f64) -> f64 = |a, b| a + b;
    let series: [Series; 5] = [
        Series {
            name: "tickless_call_site_live_timers",
            kind: "gauge",
            help: "Pending timers per creating call site.",
            value: |x| x.live as f64,
            combine: SUM,
        },
        Series {
            name: "tickless_call_site_created_total",
            kind: "counter",
            help: "Timers created per call site.",
            value: |x| x.created as f64,
            combine: SUM,
        },
        Series {
            name: "tickless_call_site_fired_total",
            kind: "counter",
            help: "Timers fired per call site.",
            value: |x| x.fired as f64,
            combine: SUM,
        },
        Series {
            name: "tickless_call_site_cancelled_total",
            kind: "counter",
            help: "Timers cancelled per call site.",
            value: |x| x.cancelled as f64,
            combine: SUM,
        },
        Series {
            name: "tickless_call_site_oldest_live_age_seconds",
            kind: "gauge",
            help: "Age of the oldest pending timer per call site.",
            value: |x| x.oldest_live_age.map_or(0.0, |d| d.as_secs_f64()),
            combine: f64::max, // the oldest of the rest, not a sum of ages
        },
    ];
    for Series {
        name,
        kind,
        help,
        value,
        combine,
    } in series
    {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for site in s.sites.iter().take(MAX_SITES) {
            let _ = writeln!(
                out,
                "{name}{{file=\"{}\",line=\"{}\",column=\"{}\"}} {}",
                escape(site.file),
                site.line,
                site.column,
                value(site)
            );
        }
        if s.sites.len() > MAX_SITES {
            let rest = s.sites[MAX_SITES..].iter().map(value).fold(0.0, combine);
            if kind == "counter" {
                // Sites move in and out of the top MAX_SITES, so their sum
                // can fall: Prometheus would read a falling counter as a
                // reset. The rest goes out as a gauge of its own.
                let other = format!("{}_other", name.trim_end_matches("_total"));
                let _ = writeln!(
                    out,
                    "# HELP {other} {help} Summed over the call sites beyond the top {MAX_SITES} (a gauge: that set changes)."
                );
                let _ = writeln!(out, "# TYPE {other} gauge");
                let _ = writeln!(out, "{other} {rest}");
            } else {
                let _ = writeln!(
                    out,
                    "{name}{{file=\"(other)\",line=\"0\",column=\"0\"}} {rest}"
                );
            }
        }
    }
    super::prometheus_sched::render(&mut out, &s.schedulers);
    super::prometheus_cache::render(&mut out, &s.caches);
    out
}

/// Prometheus' `le` is inclusive (`value <= le`); a lateness bucket's bound
/// is exclusive. Lateness is counted in whole nanoseconds, so "below `b`" is
/// exactly "at most `b` − 1 ns": exported that way, a fire exactly `b` late
/// is not counted under `le = b`, where it does not belong.
fn inclusive_bound(below: Duration) -> Duration {
    below.saturating_sub(Duration::from_nanos(1))
}

/// The leak suspects of [`Snapshot::leak_suspects`]: how many call sites
/// are suspected, and each suspect's live timers labelled with its site and
/// its `reason` (`growing` or `far_future`; the [`MAX_SITES`] largest only).
fn leak_suspects(out: &mut String, s: &Snapshot) {
    let suspects = s.leak_suspects();
    metric(
        out,
        "tickless_leak_suspects",
        "gauge",
        "Call sites suspected of leaking timers.",
        suspects.len() as u64,
    );
    out.push_str("# HELP tickless_leak_suspect_live_timers Live timers of each call site suspected of leaking, and why.\n");
    out.push_str("# TYPE tickless_leak_suspect_live_timers gauge\n");
    for suspect in suspects.iter().take(MAX_SITES) {
        let reason = match suspect.reason {
            SuspectReason::Growing { .. } => "growing",
            SuspectReason::FarFuture { .. } => "far_future",
        };
        let site = &suspect.site;
        let _ = writeln!(
            out,
            "tickless_leak_suspect_live_timers{{file=\"{}\",line=\"{}\",column=\"{}\",reason=\"{reason}\"}} {}",
            escape(site.file),
            site.line,
            site.column,
            site.live
        );
    }
}

/// One per-call-site metric: its name, type, help, value per site, and how
/// the sites beyond [`MAX_SITES`] combine into the `(other)` series.
struct Series {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: fn(&super::CallSite) -> f64,
    combine: fn(f64, f64) -> f64,
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// Label value escaping: backslash, double quote and newline.
pub(super) fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::super::{CallSite, Counters, Snapshot};
    use std::time::Duration;

    #[test]
    fn sites_beyond_the_cap_fold_into_other() {
        let site = |line: u32, live: u64, age: u64| CallSite {
            file: "x.rs",
            line,
            column: 1,
            live,
            created: live,
            fired: 0,
            cancelled: 0,
            oldest_live_age: Some(Duration::from_secs(age)),
            farthest_deadline: None,
            live_far: 0,
            live_history: Vec::new(),
        };
        let mut sites: Vec<CallSite> = (0..super::MAX_SITES as u32)
            .map(|i| site(i, 100, 1))
            .collect();
        sites.push(site(1000, 3, 7));
        sites.push(site(1001, 4, 9));
        let snapshot = Snapshot {
            counters: Counters::default(),
            lateness: Vec::new(),
            lateness_sum: Duration::ZERO,
            sites,
            resolution: Duration::from_millis(1),
            call_sites_enabled: true,
            schedulers: Vec::new(),
            caches: Vec::new(),
        };
        let text = super::render(&snapshot);
        let other = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("{name}{{file=\"(other)\"")))
                .and_then(|l| l.rsplit(' ').next())
                .unwrap_or_else(|| panic!("no (other) series for {name}"))
                .to_string()
        };
        assert_eq!(
            other("tickless_call_site_live_timers"),
            "7",
            "counts are summed"
        );
        assert_eq!(
            other("tickless_call_site_oldest_live_age_seconds"),
            "9",
            "ages take the oldest"
        );
        assert!(
            !text.contains("line=\"1000\""),
            "only MAX_SITES sites are exported one by one"
        );
        // Counters: the rest is a gauge family of its own, never a counter
        // series that could fall.
        assert!(!text.contains("tickless_call_site_created_total{file=\"(other)\""));
        assert!(text.contains("# TYPE tickless_call_site_created_other gauge"));
        assert!(text
            .lines()
            .any(|l| l == "tickless_call_site_created_other 7"));
        let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
            .expect("the exposition parses");
        assert!(parsed
            .samples
            .iter()
            .any(|s| s.metric == "tickless_call_site_created_other"));
    }

    #[test]
    fn escapes_label_values() {
        assert_eq!(super::escape(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(super::escape("x\ny"), "x\\ny");
    }
}
