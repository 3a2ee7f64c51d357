//! The demo's cache part: the seed's second case study. A service caches
//! a record per request key (session or request ids: every key is new),
//! then its traffic stops. Three caches take the same stream, one after
//! the other, the heap (the counting allocator) sampled every step:
//!
//! - a `HashMap` with no TTL and no bound — the seed's
//!   `cache.(*Manager).store`: it grows with every key and never shrinks;
//! - `tickless::cache::Cache` with a TTL and a capacity: flat under load,
//!   and back to empty a TTL after the traffic stops, with no call;
//! - moka's `sync::Cache` with the same TTL and capacity (otherwise its
//!   defaults): flat under load too, but it expires entries only when it
//!   is used, so after the traffic stops it holds its expired entries.
//!
//! Each request reads its own (new) key — a miss, then an insert — and
//! re-reads a key from a few steps earlier, which a cache still holding it
//! answers (so the hit ratio means something).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use tickless_debug::html;
use tickless_workloads::alloc::live_bytes;

use crate::progress::Progress;

/// The value cached per key: a small record on the heap.
type Record = Box<[u8]>;

/// The shape of the load (quick or full).
pub struct Params {
    pub step: Duration,
    pub keys_per_step: u64,
    pub load: Duration,
    pub idle: Duration,
    pub ttl: Duration,
    pub capacity: u64,
    pub record_bytes: usize,
}

impl Params {
    pub fn new(quick: bool) -> Params {
        if quick {
            // Tiny: CI runs `demo --quick` under valgrind.
            Params {
                step: Duration::from_millis(10),
                keys_per_step: 20,
                load: Duration::from_millis(200),
                idle: Duration::from_millis(300),
                ttl: Duration::from_millis(100),
                capacity: 1_000,
                record_bytes: 96,
            }
        } else {
            Params {
                step: Duration::from_millis(10),
                keys_per_step: 1_000,
                load: Duration::from_millis(1_000),
                idle: Duration::from_millis(500),
                ttl: Duration::from_millis(200),
                capacity: 10_000,
                record_bytes: 96,
            }
        }
    }

    fn keys_per_sec(&self) -> f64 {
        self.keys_per_step as f64 / self.step.as_secs_f64()
    }
}

/// One cache's run.
pub struct Run {
    pub name: String,
    /// (ms since the load began, heap bytes above the baseline, entries held).
    pub points: Vec<(f64, f64, u64)>,
    pub requests: u64,
    /// Re-reads of an earlier key, and how many the cache answered.
    pub rereads: u64,
    pub hits: u64,
    /// The sample taken as the load ended.
    pub at_load_end: (f64, u64),
    pub peak: f64,
}

impl Run {
    fn last(&self) -> (f64, u64) {
        self.points.last().map_or((0.0, 0), |p| (p.1, p.2))
    }
}

/// The whole case study, for the console and the report.
pub struct Study {
    pub params: Params,
    pub runs: Vec<Run>,
    /// What `tickless::observe` said of the tickless cache after the idle phase.
    pub observed: Option<String>,
}

/// A cache as this study uses it.
trait Store {
    fn get(&mut self, key: u64) -> bool;
    fn insert(&mut self, key: u64, record: Record);
    fn entries(&self) -> u64;
}

impl Store for HashMap<u64, Record> {
    fn get(&mut self, key: u64) -> bool {
        std::hint::black_box(HashMap::get(self, &key)).is_some()
    }
    fn insert(&mut self, key: u64, record: Record) {
        HashMap::insert(self, key, record);
    }
    fn entries(&self) -> u64 {
        self.len() as u64
    }
}

impl Store for tickless::cache::Cache<u64, Record> {
    fn get(&mut self, key: u64) -> bool {
        tickless::cache::Cache::get(self, &key).is_some()
    }
    fn insert(&mut self, key: u64, record: Record) {
        tickless::cache::Cache::insert(self, key, record);
    }
    fn entries(&self) -> u64 {
        self.entry_count()
    }
}

impl Store for moka::sync::Cache<u64, Record> {
    fn get(&mut self, key: u64) -> bool {
        moka::sync::Cache::get(self, &key).is_some()
    }
    fn insert(&mut self, key: u64, record: Record) {
        moka::sync::Cache::insert(self, key, record);
    }
    fn entries(&self) -> u64 {
        // moka's own count, as its users see it (kept by its housekeeping,
        // which runs only on cache calls).
        self.entry_count()
    }
}

/// The name of the tickless cache, as `observe` and `/metrics` show it.
const CACHE_NAME: &str = "demo-sessions";

/// Runs the three caches one after another.
pub fn study(quick: bool) -> Study {
    let p = Params::new(quick);
    let mut runs = Vec::new();
    let mut observed = None;
    let mut progress = Progress::new("cache case study", 3);

    let base = live_bytes();
    let mut map: HashMap<u64, Record> = HashMap::new();
    runs.push(run("HashMap, no TTL, no bound", &p, base, &mut map));
    drop(map);
    progress.set(1);

    if !crate::stopped() {
        let base = live_bytes();
        let mut cache: tickless::cache::Cache<u64, Record> = tickless::cache::Cache::builder()
            .max_capacity(p.capacity)
            .time_to_live(p.ttl)
            .name(CACHE_NAME)
            .build();
        runs.push(run("tickless::cache, TTL + capacity", &p, base, &mut cache));
        observed = tickless::observe::snapshot()
            .caches
            .iter()
            .find(|c| c.name == CACHE_NAME)
            .map(|c| {
                format!(
                    "cache {:?}: {} entries, {} hits, {} misses (hit ratio {:.1} %), removed: {} expired, {} for size",
                    c.name,
                    c.entries,
                    c.hits,
                    c.misses,
                    c.hit_ratio() * 100.0,
                    c.expired,
                    c.size
                )
            });
        drop(cache);
    }
    progress.set(2);

    if !crate::stopped() {
        let base = live_bytes();
        let mut cache: moka::sync::Cache<u64, Record> = moka::sync::Cache::builder()
            .max_capacity(p.capacity)
            .time_to_live(p.ttl)
            .build();
        runs.push(run("moka 0.12, TTL + capacity", &p, base, &mut cache));
        drop(cache);
    }
    progress.finish();
    Study {
        params: p,
        runs,
        observed,
    }
}

/// The load, then as long again with no call, sampling every step.
fn run(name: &str, p: &Params, base: usize, store: &mut impl Store) -> Run {
    let heap = || live_bytes() as f64 - base as f64;
    let mut r = Run {
        name: name.to_string(),
        points: vec![(0.0, heap(), 0)],
        requests: 0,
        rereads: 0,
        hits: 0,
        at_load_end: (0.0, 0),
        peak: 0.0,
    };
    // Re-read a key from 5 steps back: within the TTL (10 steps or more).
    let lag = p.keys_per_step * 5;
    let start = Instant::now();
    let mut next = start;
    let mut key = 0u64;
    while next < start + p.load && !crate::stopped() {
        for _ in 0..p.keys_per_step {
            if !store.get(key) {
                store.insert(key, vec![key as u8; p.record_bytes].into_boxed_slice());
            }
            if key >= lag {
                r.rereads += 1;
                r.hits += u64::from(store.get(key - lag));
            }
            key += 1;
        }
        r.requests += p.keys_per_step;
        next += p.step;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        r.points.push((ms(start), heap(), store.entries()));
    }
    r.at_load_end = r.last();
    // The traffic stops: no call on the cache from here on.
    let end = Instant::now() + p.idle;
    while Instant::now() < end && !crate::stopped() {
        std::thread::sleep(p.step);
        r.points.push((ms(start), heap(), store.entries()));
    }
    r.peak = r.points.iter().map(|p| p.1).fold(0.0, f64::max);
    r
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// Bytes as KiB below 1 MiB, MiB above.
fn bytes(b: f64) -> String {
    if b.abs() < (1 << 20) as f64 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{:.2} MiB", b / (1 << 20) as f64)
    }
}

/// The scenario in one line.
fn scenario(p: &Params) -> String {
    format!(
        "{:.0} new keys/s ({}-byte records) for {:.1} s, then no call for {:.1} s; TTL {:?}, capacity {} entries; heap above each run's start",
        p.keys_per_sec(),
        p.record_bytes,
        p.load.as_secs_f64(),
        p.idle.as_secs_f64(),
        p.ttl,
        p.capacity
    )
}

/// The console table (markdown, like the rest of the demo).
pub fn lines(s: &Study) -> Vec<String> {
    let idle = s.params.idle.as_secs_f64();
    let mut out = vec![
        format!("   {}", scenario(&s.params)),
        format!("| cache | requests | re-reads answered | entries, load ends | heap, load ends | peak heap | entries, {idle:.1} s idle | heap, {idle:.1} s idle |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|".to_string(),
    ];
    for r in &s.runs {
        let (heap_end, entries_end) = r.last();
        out.push(format!(
            "| {} | {} | {:.1} % | {} | {} | {} | {} | {} |",
            r.name,
            r.requests,
            r.hits as f64 / r.rereads.max(1) as f64 * 100.0,
            r.at_load_end.1,
            bytes(r.at_load_end.0),
            bytes(r.peak),
            entries_end,
            bytes(heap_end)
        ));
    }
    if let Some(o) = &s.observed {
        out.push(format!("   tickless::observe after the idle phase: {o}"));
    }
    out
}

const COLORS: [&str; 3] = ["#dc2626", "#2563eb", "#ca8a04"];

/// Heap over time, one polyline per cache, the end of the load marked.
fn chart(s: &Study) -> String {
    let (w, h, pad) = (760.0, 300.0, 50.0);
    let max_x = (s.params.load + s.params.idle).as_secs_f64() * 1e3;
    let max_x = s
        .runs
        .iter()
        .flat_map(|r| r.points.iter().map(|p| p.0))
        .fold(max_x, f64::max);
    let max_y = s.runs.iter().map(|r| r.peak).fold(1.0, f64::max);
    let x = |t: f64| pad + t / max_x * (w - 2.0 * pad);
    let y = |b: f64| pad + h - b.max(0.0) / max_y * h;
    let load_x = x(s.params.load.as_secs_f64() * 1e3);
    let mut svg = format!(
        "<svg class=\"chart\" id=\"cache-memory\" viewBox=\"0 0 {w} {}\" width=\"{w}\" height=\"{}\">\
<line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#999\"/><line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{b}\" stroke=\"#999\"/>\
<line x1=\"{load_x:.1}\" y1=\"{pad}\" x2=\"{load_x:.1}\" y2=\"{b}\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>\
<text x=\"{load_x:.1}\" y=\"{lt}\" font-size=\"12\" text-anchor=\"middle\">traffic stops</text>\
<text x=\"{pad}\" y=\"{t}\" font-size=\"12\">heap above start (max {})</text>\
<text x=\"{r}\" y=\"{bl}\" font-size=\"12\" text-anchor=\"end\">{max_x:.0} ms</text>",
        h + 2.0 * pad,
        h + 2.0 * pad,
        html::escape(&bytes(max_y)),
        b = h + pad,
        r = w - pad,
        t = pad - 10.0,
        lt = h + pad + 14.0,
        bl = h + pad + 30.0,
    );
    for (i, r) in s.runs.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<String> = r
            .points
            .iter()
            .map(|&(t, b, _)| format!("{:.1},{:.1}", x(t), y(b)))
            .collect();
        let _ = write!(
            svg,
            "<polyline class=\"series\" data-name=\"{name}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\
<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{name}</text>",
            points.join(" "),
            pad + 10.0,
            pad + 10.0 + i as f64 * 16.0,
            pad + 25.0,
            pad + 19.0 + i as f64 * 16.0,
            name = html::escape(&r.name),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The report's section: the scenario, the chart and the table.
pub fn html(s: &Study) -> String {
    let idle = s.params.idle.as_secs_f64();
    let mut rows = String::new();
    for r in &s.runs {
        let (heap_end, entries_end) = r.last();
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html::escape(&r.name),
            r.at_load_end.1,
            bytes(r.at_load_end.0),
            bytes(r.peak),
            entries_end,
            bytes(heap_end)
        );
    }
    format!(
        "<h2>The cache case study: a cache per request key, then the traffic stops</h2>\n<p>{}.</p>\n{}\n\
<table id=\"cache\"><tr><th>cache</th><th>entries, load ends</th><th>heap, load ends</th><th>peak heap</th><th>entries, {idle:.1} s idle</th><th>heap, {idle:.1} s idle</th></tr>{rows}</table>\n<p>{}</p>\n",
        html::escape(&scenario(&s.params)),
        chart(s),
        html::escape(s.observed.as_deref().map_or("", |o| o)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_grows_a_cache_stays_within_its_capacity() {
        let p = Params::new(true);
        let mut map: HashMap<u64, Record> = HashMap::new();
        let r = run("map", &p, live_bytes(), &mut map);
        assert!(r.requests > 0);
        assert_eq!(map.len() as u64, r.requests, "every key kept");
        assert_eq!(r.last().1, r.requests, "nothing leaves the map");

        let mut cache: tickless::cache::Cache<u64, Record> =
            tickless::cache::Cache::builder().max_capacity(10).build();
        let r = run("cache", &p, live_bytes(), &mut cache);
        assert!(r.points.iter().all(|p| p.2 <= 10), "capacity held");
    }

    #[test]
    fn the_chart_marks_the_end_of_the_load() {
        let s = Study {
            params: Params::new(true),
            runs: vec![Run {
                name: "a<b".into(),
                points: vec![(0.0, 0.0, 0), (500.0, 1024.0, 3)],
                requests: 3,
                rereads: 1,
                hits: 1,
                at_load_end: (1024.0, 3),
                peak: 1024.0,
            }],
            observed: None,
        };
        let page = html(&s);
        assert!(page.contains("a&lt;b"), "{page}");
        // 200 ms of a 500 ms axis: x = 50 + 0.4 × 660.
        assert!(page.contains("x1=\"314.0\""), "{page}");
        assert!(page.contains("points=\"50.0,350.0 710.0,50.0\""), "{page}");
    }
}
