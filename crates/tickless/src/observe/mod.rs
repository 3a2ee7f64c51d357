//! See every timer: counters, call-site accounting, leak suspects, and
//! exporters (Prometheus text, pprof, and a `metrics` bridge).
//!
//! Every driver counts, per shard and under the lock it already holds:
//! timers created, fired, cancelled and reset, a log₂ histogram of how late
//! timers fired, and — unless switched off with [`set_call_sites`] — the same
//! events per *call site*: the line of code that created the timer, recorded
//! by `#[track_caller]` on every constructor. A [`Snapshot`] adds what only a
//! scan of the pending timers can tell: how many are live per call site, how
//! old the oldest is, and how far away the farthest deadline lies.
//!
//! ```
//! use std::time::Duration;
//! use tickless::blocking::Timer;
//!
//! let timers: Vec<Timer> = (0..3).map(|_| Timer::new(Duration::from_secs(3600))).collect();
//! let snapshot = tickless::observe::snapshot();
//! let site = snapshot.sites.iter().find(|s| s.file.ends_with(".rs") && s.live >= 3).unwrap();
//! println!("{}:{} holds {} live timers", site.file, site.line, site.live);
//! # drop(timers);
//! ```
//!
//! # Wrappers need `#[track_caller]`
//!
//! The call site is the nearest caller **not** marked `#[track_caller]`. A
//! helper of your own that creates timers (`fn with_deadline(..) { tickless::timeout(..) }`)
//! is therefore the call site of every timer it creates, and `observe` shows
//! one line for all of them. Mark the helper `#[track_caller]` and its
//! callers' lines show instead (`async fn`s cannot be marked: create the
//! timer in a plain `#[track_caller] fn` that returns the future).
//!
//! ```
//! use std::time::Duration;
//!
//! #[track_caller]
//! fn request_timeout<F: std::future::Future>(f: F) -> tickless::Timeout<F> {
//!     tickless::timeout(Duration::from_secs(30), f)
//! }
//!
//! let line = line!() + 1;
//! let mut t = Box::pin(request_timeout(std::future::pending::<()>()));
//! let waker = std::task::Waker::noop();
//! assert!(t.as_mut().poll(&mut std::task::Context::from_waker(&waker)).is_pending());
//! let snapshot = tickless::observe::snapshot();
//! assert!(snapshot.sites.iter().any(|s| s.line == line && s.live == 1), "this line, not the helper's");
//! # use std::future::Future;
//! ```
//!
//! # Cost
//!
//! The driver counters cost nothing measurable: plain integers under a lock
//! already held. Call-site counters add one hash-map update per event; the
//! README has the churn benchmark with them on and off. A snapshot locks
//! each shard in turn and scans its pending timers: O(pending), ~10 ms per
//! million — for dashboards and debugging, not hot paths.

#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "pprof")]
mod pprof;
mod prometheus;
mod prometheus_cache;
mod prometheus_sched;

use std::collections::HashMap;
use std::time::Duration;

use crate::driver::stats::{self, Site, SiteCounts, LATENESS_BUCKETS};
use crate::driver::Handle;
use crate::sched::SchedulerMetrics;

/// Switches per-call-site counting on or off, for every driver (default on).
///
/// Off, the created/fired/cancelled counts per call site stop moving; live
/// counts, ages and deadlines per call site still come from the snapshot's
/// scan, and the driver-wide counters are always kept.
pub fn set_call_sites(on: bool) {
    stats::set_call_sites(on);
}

/// Whether per-call-site counting is on.
pub fn call_sites() -> bool {
    stats::call_sites()
}

/// A snapshot of the global driver (see [`Handle::snapshot`]).
pub fn snapshot() -> Snapshot {
    Handle::current().snapshot()
}

/// Driver-wide counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Timers pending now.
    pub live: u64,
    /// Timers registered since the driver started.
    pub created: u64,
    /// Timers that fired.
    pub fired: u64,
    /// Timers cancelled before firing (dropped or stopped).
    pub cancelled: u64,
    /// Pending timers moved to a new deadline.
    pub reset: u64,
    /// Timer-thread wakeups.
    pub wakeups: u64,
    /// Wakers that panicked when woken (caught).
    pub waker_panics: u64,
    /// `after_func` callbacks that panicked (caught).
    pub callback_panics: u64,
    /// Threads of the `after_func` callback pool alive now (at most 256).
    pub callback_threads: u64,
    /// `after_func` callbacks due and not started yet (waiting past 256 busy ones).
    pub callbacks_waiting: u64,
}

/// One bucket of the fire-lateness histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LatenessBucket {
    /// Upper bound (exclusive) of the bucket; `Duration::MAX` for the last.
    pub below: Duration,
    /// Timers that fired this late (after their deadline rounded up to the
    /// driver's resolution).
    pub count: u64,
}

/// What one line of code has done with timers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallSite {
    /// Source file of the constructor call.
    pub file: &'static str,
    /// Line of the constructor call.
    pub line: u32,
    /// Column of the constructor call.
    pub column: u32,
    /// Pending timers created here.
    pub live: u64,
    /// Timers created here (while call-site counting was on).
    pub created: u64,
    /// Timers created here that fired (while counting was on).
    pub fired: u64,
    /// Timers created here that were cancelled (while counting was on).
    pub cancelled: u64,
    /// Age of the oldest pending timer created here.
    pub oldest_live_age: Option<Duration>,
    /// How far away the farthest pending deadline is.
    pub farthest_deadline: Option<Duration>,
    /// Pending timers due more than [`FAR`] from now.
    pub live_far: u64,
    /// Live counts in the recent snapshots (one per second at most), oldest
    /// first, ending with this one.
    pub live_history: Vec<u64>,
}

/// "Far in the future" for leak suspicion: ten minutes.
pub const FAR: Duration = Duration::from_secs(600);

/// Why a call site is suspected of leaking timers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SuspectReason {
    /// Its live count never fell and grew by `to - from` over the last
    /// `snapshots` snapshots.
    Growing {
        /// Snapshots compared.
        snapshots: usize,
        /// Live count in the first of them.
        from: u64,
        /// Live count now.
        to: u64,
    },
    /// Most of its many live timers are due more than [`FAR`] away.
    FarFuture {
        /// Live timers due beyond [`FAR`].
        far: u64,
        /// All its live timers.
        live: u64,
    },
}

/// A call site suspected of leaking, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeakSuspect {
    /// The call site.
    pub site: CallSite,
    /// The evidence.
    pub reason: SuspectReason,
}

/// Counters, lateness and call sites of one driver at one moment.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Snapshot {
    /// Driver-wide counters.
    pub counters: Counters,
    /// Fire lateness, log₂-bucketed from 1 ns.
    pub lateness: Vec<LatenessBucket>,
    /// Sum of all fire lateness.
    pub lateness_sum: Duration,
    /// Call sites with live timers or counted events, most live first.
    pub sites: Vec<CallSite>,
    /// The driver's resolution.
    pub resolution: Duration,
    /// Whether call-site counting was on.
    pub call_sites_enabled: bool,
    /// Every live [`Scheduler`](crate::sched::Scheduler) on this driver, by name.
    pub schedulers: Vec<SchedulerMetrics>,
    /// The counters of every live [`Cache`](crate::cache::Cache) on this driver.
    pub caches: Vec<crate::cache::CacheStats>,
}

/// Growth over the recent snapshots that makes a call site a suspect.
pub const GROWTH_SUSPECT: u64 = 100;
/// Live timers a call site needs before its far deadlines make it a suspect.
pub const FAR_SUSPECT_MIN_LIVE: u64 = 1000;

impl Snapshot {
    /// Call sites that look like leaks, strongest evidence first.
    ///
    /// The heuristic, and its false positives:
    /// - **Growing**: across the recent snapshots (at least 3, taken at least
    ///   a second apart) the site's live count never fell, rose in each of the
    ///   last two, and rose by at least [`GROWTH_SUSPECT`] in all. A plateau
    ///   clears it at once; traffic ramping up, or a cache warming, looks the
    ///   same while it lasts — a leak keeps going.
    /// - **FarFuture**: at least [`FAR_SUSPECT_MIN_LIVE`] live timers, 90% of
    ///   them due more than [`FAR`] away — the shape of Go's
    ///   `time.After(time.Hour)` abandoned in a `select` loop. Legitimately long timers in
    ///   bulk (session expiry, a TTL cache) match too.
    pub fn leak_suspects(&self) -> Vec<LeakSuspect> {
        let mut suspects: Vec<LeakSuspect> = self
            .sites
            .iter()
            .filter_map(|site| {
                let h = &site.live_history;
                let n = h.len();
                let growing = n >= 3
                    && h.windows(2).all(|w| w[1] >= w[0])
                    && h[n - 3] < h[n - 2]
                    && h[n - 2] < h[n - 1]
                    && h[n - 1] >= h[0] + GROWTH_SUSPECT;
                if growing {
                    let reason = SuspectReason::Growing {
                        snapshots: h.len(),
                        from: h[0],
                        to: h[h.len() - 1],
                    };
                    return Some(LeakSuspect {
                        site: site.clone(),
                        reason,
                    });
                }
                if site.live >= FAR_SUSPECT_MIN_LIVE && site.live_far * 10 >= site.live * 9 {
                    let reason = SuspectReason::FarFuture {
                        far: site.live_far,
                        live: site.live,
                    };
                    return Some(LeakSuspect {
                        site: site.clone(),
                        reason,
                    });
                }
                None
            })
            .collect();
        suspects.sort_by_key(|s| std::cmp::Reverse(s.site.live));
        suspects
    }

    /// The Prometheus text exposition of this snapshot; the README's
    /// "Monitoring" section lists the names and labels.
    pub fn to_prometheus(&self) -> String {
        prometheus::render(self)
    }

    /// A gzip'd pprof `profile.proto` with sample types `live_timers/count`
    /// and `created_timers/count`, one sample per call site, the call site as
    /// its location: `go tool pprof -top` lists the lines holding timers.
    #[cfg(feature = "pprof")]
    pub fn to_pprof(&self) -> Vec<u8> {
        pprof::render(self)
    }
}

impl Handle {
    /// Counters and call sites of this driver (locks each shard in turn and
    /// scans its pending timers: O(pending)).
    pub fn snapshot(&self) -> Snapshot {
        let view = self.stats();
        let now = view.now();
        let now_ms = view.now_ms();
        let mut counters = Counters {
            wakeups: self.timer_thread_wakeups(),
            waker_panics: self.waker_panics(),
            callback_panics: self.callback_panics(),
            callback_threads: self.callback_threads() as u64,
            callbacks_waiting: self.callbacks_waiting() as u64,
            ..Counters::default()
        };
        let mut lateness = [0u64; LATENESS_BUCKETS];
        let mut lateness_sum = 0u64;
        let mut sites: HashMap<usize, (Site, SiteCounts, Scan)> = HashMap::new();
        for shard in view.shards() {
            let stats = shard.counters();
            counters.created += stats.created;
            counters.fired += stats.fired;
            counters.cancelled += stats.cancelled;
            counters.reset += stats.reset;
            for (b, n) in lateness.iter_mut().zip(stats.lateness.buckets) {
                *b += n;
            }
            lateness_sum = lateness_sum.saturating_add(stats.lateness.sum_nanos);
            for (site, counts) in stats.sites.iter() {
                let e = sites.entry(site_key(site)).or_insert((
                    site,
                    SiteCounts::default(),
                    Scan::default(),
                ));
                e.1.created += counts.created;
                e.1.fired += counts.fired;
                e.1.cancelled += counts.cancelled;
            }
            shard.for_each_pending(now, |p| {
                counters.live += 1;
                let e = sites.entry(site_key(p.site)).or_insert((
                    p.site,
                    SiteCounts::default(),
                    Scan::default(),
                ));
                let scan = &mut e.2;
                scan.live += 1;
                scan.oldest_ms = Some(scan.oldest_ms.map_or(p.created_ms, |m| m.min(p.created_ms)));
                scan.farthest = scan.farthest.max(p.due_in_nanos);
                if p.due_in_nanos > FAR.as_nanos() as u64 {
                    scan.far += 1;
                }
            });
        }
        // Collections (delay queues…) count their entries under their site.
        view.for_each_collection(|site, live| {
            let e = sites.entry(site_key(site)).or_insert((
                site,
                SiteCounts::default(),
                Scan::default(),
            ));
            e.2.live += live;
        });
        let live_now: HashMap<usize, u64> = sites.iter().map(|(k, v)| (*k, v.2.live)).collect();
        let history = view.record_history(now_ms, live_now);
        let mut sites: Vec<CallSite> = sites
            .into_iter()
            .map(|(key, (site, counts, scan))| CallSite {
                file: site.file(),
                line: site.line(),
                column: site.column(),
                live: scan.live,
                created: counts.created,
                fired: counts.fired,
                cancelled: counts.cancelled,
                oldest_live_age: scan
                    .oldest_ms
                    .map(|m| Duration::from_millis(now_ms.saturating_sub(m))),
                farthest_deadline: (scan.live > 0).then(|| Duration::from_nanos(scan.farthest)),
                live_far: scan.far,
                live_history: history
                    .iter()
                    .map(|sample| sample.get(&key).copied().unwrap_or(0))
                    .collect(),
            })
            .collect();
        sites.sort_by(|a, b| {
            (b.live, b.created)
                .cmp(&(a.live, a.created))
                .then_with(|| (a.file, a.line, a.column).cmp(&(b.file, b.line, b.column)))
        });
        Snapshot {
            counters,
            lateness: lateness
                .iter()
                .enumerate()
                .map(|(i, &count)| LatenessBucket {
                    below: if i + 1 == LATENESS_BUCKETS {
                        Duration::MAX
                    } else {
                        Duration::from_nanos(2u64 << i)
                    },
                    count,
                })
                .collect(),
            lateness_sum: Duration::from_nanos(lateness_sum),
            sites,
            resolution: self.resolution(),
            call_sites_enabled: call_sites(),
            schedulers: crate::sched::on_driver(self),
            caches: crate::cache::stats_on_driver(self),
        }
    }
}

#[derive(Default)]
struct Scan {
    live: u64,
    oldest_ms: Option<u64>,
    farthest: u64,
    far: u64,
}

/// A call site's identity: its file, line and column. Not its address: a
/// generic or `#[inline]` constructor instantiated in two crates has two
/// `Location`s for one line, which must count as one site.
fn site_key(site: Site) -> usize {
    use std::hash::{Hash, Hasher};
    // `DefaultHasher::new()` has fixed keys: the same site hashes the same
    // in every snapshot of the process, as the leak-trend history needs.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (site.file(), site.line(), site.column()).hash(&mut h);
    h.finish() as usize
}
