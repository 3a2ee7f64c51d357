//! Prometheus text exposition (format 0.0.4) of a [`Snapshot`].
//!
//! Metric names start with `tickless_`. Call-site series carry `file`, `line`
//! and `column` labels; to bound label cardinality only the [`MAX_SITES`]
//! sites with the most live timers (then most created) are exported, and the
//! rest are summed into one series with `file="(other)"`.

use std::fmt::Write as _;

use super::Snapshot;

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

    out.push_str("# HELP tickless_fire_lateness_seconds How late timers fired, after their deadline rounded up to the resolution.\n");
    out.push_str("# TYPE tickless_fire_lateness_seconds histogram\n");
    let mut cumulative = 0;
    for bucket in &s.lateness {
        cumulative += bucket.count;
        if bucket.below == std::time::Duration::MAX {
            continue;
        }
        let _ = writeln!(
            out,
            "tickless_fire_lateness_seconds_bucket{{le=\"{}\"}} {cumulative}",
            bucket.below.as_secs_f64()
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

    let series: [Series; 5] = [
        (
            "tickless_call_site_live_timers",
            "gauge",
            "Pending timers per creating call site.",
            |x| x.live as f64,
        ),
        (
            "tickless_call_site_created_total",
            "counter",
            "Timers created per call site.",
            |x| x.created as f64,
        ),
        (
            "tickless_call_site_fired_total",
            "counter",
            "Timers fired per call site.",
            |x| x.fired as f64,
        ),
        (
            "tickless_call_site_cancelled_total",
            "counter",
            "Timers cancelled per call site.",
            |x| x.cancelled as f64,
        ),
        (
            "tickless_call_site_oldest_live_age_seconds",
            "gauge",
            "Age of the oldest pending timer per call site.",
            |x| x.oldest_live_age.map_or(0.0, |d| d.as_secs_f64()),
        ),
    ];
    for (name, kind, help, value) in series {
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
            let rest: f64 = s.sites[MAX_SITES..].iter().map(value).sum();
            let rest = if name.ends_with("age_seconds") {
                s.sites[MAX_SITES..].iter().map(value).fold(0.0, f64::max)
            } else {
                rest
            };
            let _ = writeln!(
                out,
                "{name}{{file=\"(other)\",line=\"0\",column=\"0\"}} {rest}"
            );
        }
    }
    out
}

/// Name, type, help, and the value per call site.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&super::CallSite) -> f64,
);

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// Label value escaping: backslash, double quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_label_values() {
        assert_eq!(super::escape(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(super::escape("x\ny"), "x\\ny");
    }
}
