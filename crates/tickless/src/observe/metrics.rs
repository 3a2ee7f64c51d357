//! Publishes a [`Snapshot`] through the [`metrics`] facade
//! (feature `metrics`), under the same names as the Prometheus exporter.
//!
//! Call [`publish`] periodically (every few seconds) with a fresh snapshot;
//! driver-wide values become gauges and absolute counters, call sites
//! labelled `file`/`line` (the [`MAX_SITES`] busiest only), and the number
//! of leak suspects a gauge. The lateness histogram is not published: the
//! facade records observations, not a driver's ready-made buckets; scrape
//! [`Snapshot::to_prometheus`] for it.

use super::Snapshot;

/// Call sites published individually.
pub const MAX_SITES: usize = 100;

/// Records every value of `snapshot` with the installed `metrics` recorder.
pub fn publish(snapshot: &Snapshot) {
    let c = &snapshot.counters;
    metrics::gauge!("tickless_timers_live").set(c.live as f64);
    metrics::counter!("tickless_timers_created_total").absolute(c.created);
    metrics::counter!("tickless_timers_fired_total").absolute(c.fired);
    metrics::counter!("tickless_timers_cancelled_total").absolute(c.cancelled);
    metrics::counter!("tickless_timers_reset_total").absolute(c.reset);
    metrics::counter!("tickless_driver_wakeups_total").absolute(c.wakeups);
    metrics::counter!("tickless_waker_panics_total").absolute(c.waker_panics);
    metrics::counter!("tickless_callback_panics_total").absolute(c.callback_panics);
    metrics::gauge!("tickless_leak_suspects").set(snapshot.leak_suspects().len() as f64);
    for site in snapshot.sites.iter().take(MAX_SITES) {
        let labels = [
            ("file", site.file.to_string()),
            ("line", site.line.to_string()),
        ];
        metrics::gauge!("tickless_call_site_live_timers", &labels).set(site.live as f64);
        metrics::counter!("tickless_call_site_created_total", &labels).absolute(site.created);
    }
}
