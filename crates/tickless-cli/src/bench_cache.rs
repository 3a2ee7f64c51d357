//! `tickless bench cache`: `tickless::cache` side by side with moka 0.12
//! (`sync::Cache`, default settings) and quick_cache 0.6 (`sync::Cache`),
//! each used the way its users use it, in one run:
//!
//! - hit ratio and single-thread replay time on the ARC paper's traces
//!   (Megiddo and Modha, "ARC: A Self-Tuning, Low Overhead Replacement
//!   Cache", USENIX FAST 2003; read from `../shared/traces`, skipped with a
//!   note when absent): a lookup per block, an insert on a miss;
//! - two threads of get-or-insert over a Zipf(1.0) stream of 1M keys,
//!   capacity 100k, TTL 60 s (quick_cache has no TTL: it runs without);
//! - heap bytes per entry holding 1M `u64 → u64` entries with a TTL;
//! - the idle test: 1M entries with a 1 s TTL, then no call for 3 s.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tickless_workloads::alloc::live_bytes;
use tickless_workloads::traces;

use crate::out::number;
use crate::progress::Progress;
use crate::scenario::Common;

/// The three caches behind one face, for the workloads.
trait Bench: Send + Sync + 'static {
    fn get(&self, k: u64) -> bool;
    fn insert(&self, k: u64, v: u64);
}

impl Bench for tickless::cache::Cache<u64, u64> {
    fn get(&self, k: u64) -> bool {
        tickless::cache::Cache::get(self, &k).is_some()
    }
    fn insert(&self, k: u64, v: u64) {
        tickless::cache::Cache::insert(self, k, v);
    }
}

impl Bench for moka::sync::Cache<u64, u64> {
    fn get(&self, k: u64) -> bool {
        moka::sync::Cache::get(self, &k).is_some()
    }
    fn insert(&self, k: u64, v: u64) {
        moka::sync::Cache::insert(self, k, v);
    }
}

impl Bench for quick_cache::sync::Cache<u64, u64> {
    fn get(&self, k: u64) -> bool {
        quick_cache::sync::Cache::get(self, &k).is_some()
    }
    fn insert(&self, k: u64, v: u64) {
        quick_cache::sync::Cache::insert(self, k, v);
    }
}

const NAMES: [&str; 3] = ["tickless", "moka", "quick_cache"];

/// A cache of `which` (an index into `NAMES`) with `capacity` entries and `ttl`.
fn build(which: usize, capacity: u64, ttl: Option<Duration>) -> Arc<dyn Bench> {
    match which {
        0 => {
            let mut b = tickless::cache::Cache::builder().max_capacity(capacity);
            if let Some(ttl) = ttl {
                b = b.time_to_live(ttl);
            }
            Arc::new(b.build())
        }
        1 => {
            let mut b = moka::sync::Cache::builder().max_capacity(capacity);
            if let Some(ttl) = ttl {
                b = b.time_to_live(ttl);
            }
            Arc::new(b.build())
        }
        _ => Arc::new(quick_cache::sync::Cache::new(capacity as usize)),
    }
}

/// No flags of its own: `--quick` (small sizes, OLTP only) and `--json`
/// are bench's. The JSON is an object with one array per table:
/// `hit_ratio`, `zipf_two_threads`, `bytes_per_entry`, `idle`.
#[derive(clap::Args, Debug)]
pub struct CacheBenchArgs {}

pub fn run(common: &Common) -> ExitCode {
    let quick = common.quick;
    crate::say("# tickless bench cache (tickless · moka 0.12 · quick_cache 0.6)");
    let mut doc = serde_json::Map::new();
    doc.insert("hit_ratio".into(), hit_ratios(quick).into());
    if !crate::stopped() {
        doc.insert("zipf_two_threads".into(), zipf_throughput(quick).into());
    }
    if !crate::stopped() {
        doc.insert("bytes_per_entry".into(), bytes_per_entry(quick).into());
    }
    if !crate::stopped() {
        doc.insert("idle".into(), idle(quick).into());
    }
    if let Some(to) = &common.json {
        if let Err(e) = crate::out::write_json(to, &Value::Object(doc)) {
            crate::note(format!("error: {e}"));
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn hit_ratios(quick: bool) -> Vec<Value> {
    let mut rows = Vec::new();
    let plan: &[(&str, &[u64])] = if quick {
        &[("OLTP", &[1_000, 10_000])]
    } else {
        &[
            ("OLTP", &[250, 500, 1_000, 2_000, 5_000, 10_000]),
            ("P3", &[25_000, 50_000, 100_000, 200_000, 400_000]),
        ]
    };
    crate::say("\n## Hit ratio (%) and single-thread replay time, ARC traces (Megiddo & Modha, FAST 2003)\n");
    crate::say("| trace | capacity | tickless | moka | quick_cache |");
    crate::say("|---|---:|---:|---:|---:|");
    for &(name, capacities) in plan {
        let keys = match traces::load(name) {
            Ok(keys) => keys,
            Err(e) => {
                crate::note(format!("{name}: skipped, trace not available ({e})"));
                continue;
            }
        };
        let mut p = Progress::new(
            format!("cache hit ratios, {name}"),
            (capacities.len() * NAMES.len()) as u64,
        )
        .ticking();
        for &capacity in capacities {
            if crate::stopped() {
                return rows;
            }
            let mut cells = Vec::new();
            let mut results = serde_json::Map::new();
            for (which, cache_name) in NAMES.iter().enumerate() {
                p.step(format!("{cache_name}, capacity {capacity}"));
                let cache = build(which, capacity, None);
                let start = Instant::now();
                let ratio = traces::hit_ratio(&keys, |k| cache.get(k), |k| cache.insert(k, k));
                let secs = start.elapsed().as_secs_f64();
                cells.push(format!("{ratio:.2} ({secs:.2} s)"));
                results.insert(
                    (*cache_name).into(),
                    json!({"hit_ratio_pct": number(ratio), "replay_secs": number(secs)}),
                );
                p.set((rows.len() * NAMES.len() + which + 1) as u64);
            }
            crate::say(format!("| {name} | {capacity} | {} |", cells.join(" | ")));
            rows.push(json!({"trace": name, "capacity": capacity, "results": results}));
        }
        p.finish();
    }
    rows
}

/// `n` keys of a Zipf(1.0) distribution over `0..universe`, from `seed`.
fn zipf_keys(universe: usize, n: usize, seed: u64) -> Vec<u64> {
    let mut cdf = Vec::with_capacity(universe);
    let mut sum = 0.0;
    for i in 1..=universe {
        sum += 1.0 / i as f64;
        cdf.push(sum);
    }
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            // xorshift64*: uniform enough for a workload.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let u = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
            let rank = cdf.partition_point(|&c| c < u * sum);
            // Scatter the ranks over the key space so hot keys are not neighbours.
            (rank as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        })
        .collect()
}

fn zipf_throughput(quick: bool) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut p = Progress::new("cache, two threads", NAMES.len() as u64).ticking();
    let per_thread = if quick { 200_000 } else { 4_000_000 };
    let streams: Vec<Arc<Vec<u64>>> = (0..2u64)
        .map(|t| Arc::new(zipf_keys(1_000_000, per_thread, 0x5eed + t)))
        .collect();
    crate::say("\n## Two threads, get (insert on a miss), Zipf(1.0) over 1M keys, capacity 100k, TTL 60 s\n");
    crate::say("| cache | Mops/s | hit ratio % |");
    crate::say("|---|---:|---:|");
    for (which, name) in NAMES.iter().enumerate() {
        p.step(*name);
        let cache = build(which, 100_000, Some(Duration::from_secs(60)));
        // Warm up on the first quarter of one stream.
        for &k in &streams[0][..per_thread / 4] {
            if !cache.get(k) {
                cache.insert(k, k);
            }
        }
        let hits = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let threads: Vec<_> = streams
            .iter()
            .map(|keys| {
                let (cache, keys, hits) = (cache.clone(), keys.clone(), hits.clone());
                std::thread::spawn(move || {
                    let mut h = 0;
                    for &k in keys.iter() {
                        if cache.get(k) {
                            h += 1;
                        } else {
                            cache.insert(k, k);
                        }
                    }
                    // Relaxed: summed after the joins.
                    hits.fetch_add(h, Ordering::Relaxed);
                })
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
        let secs = start.elapsed().as_secs_f64();
        let ops = (2 * per_thread) as f64;
        let note = if which == 2 { " (no TTL)" } else { "" };
        let (mops, hit_pct) = (
            ops / secs / 1e6,
            100.0 * hits.load(Ordering::Relaxed) as f64 / ops,
        );
        crate::say(format!("| {name}{note} | {mops:.2} | {hit_pct:.1} |"));
        rows.push(json!({
            "cache": name,
            "ttl": which != 2,
            "mops_per_sec": number(mops),
            "hit_ratio_pct": number(hit_pct),
        }));
        p.set(which as u64 + 1);
    }
    p.finish();
    rows
}

fn bytes_per_entry(quick: bool) -> Vec<Value> {
    // Not ticking: the bar's redraws would allocate beside the measured heap.
    let mut p = Progress::new("cache, bytes per entry", NAMES.len() as u64);
    let mut rows = Vec::new();
    let n: u64 = if quick { 100_000 } else { 1_000_000 };
    crate::say(format!(
        "\n## Heap bytes per entry, {n} `u64 → u64` entries with a 60 s TTL\n"
    ));
    crate::say("| cache | bytes/entry | entries |");
    crate::say("|---|---:|---:|");
    let ttl = Duration::from_secs(60);
    {
        p.step("tickless");
        let before = live_bytes();
        let cache: tickless::cache::Cache<u64, u64> =
            tickless::cache::Cache::builder().time_to_live(ttl).build();
        (0..n).for_each(|k| cache.insert(k, k));
        rows.push(row(
            "tickless",
            live_bytes().saturating_sub(before),
            cache.entry_count(),
        ));
    }
    p.set(1);
    {
        p.step("moka");
        let before = live_bytes();
        let cache: moka::sync::Cache<u64, u64> =
            moka::sync::Cache::builder().time_to_live(ttl).build();
        (0..n).for_each(|k| cache.insert(k, k));
        cache.run_pending_tasks();
        rows.push(row(
            "moka",
            live_bytes().saturating_sub(before),
            cache.entry_count(),
        ));
    }
    p.set(2);
    {
        p.step("quick_cache");
        let before = live_bytes();
        let cache: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(n as usize);
        (0..n).for_each(|k| cache.insert(k, k));
        rows.push(row(
            "quick_cache (no TTL)",
            live_bytes().saturating_sub(before),
            cache.len() as u64,
        ));
    }
    p.finish();
    rows
}

fn row(name: &str, bytes: usize, entries: u64) -> Value {
    let per_entry = bytes as f64 / entries.max(1) as f64;
    crate::say(format!("| {name} | {per_entry:.1} | {entries} |"));
    json!({"cache": name, "bytes_per_entry": number(per_entry), "entries": entries})
}

fn idle(quick: bool) -> Vec<Value> {
    let mut p = Progress::new("cache, idle for 3 s", 2).ticking();
    let mut rows = Vec::new();
    let n: u64 = if quick { 100_000 } else { 1_000_000 };
    crate::say(format!(
        "\n## Idle: {n} entries with a 1 s TTL, then no call for 3 s\n"
    ));
    crate::say("| cache | entries left | heap left (MiB) | listener calls |");
    crate::say("|---|---:|---:|---:|");
    let ttl = Duration::from_secs(1);
    {
        p.step("tickless");
        let before = live_bytes();
        let calls = Arc::new(AtomicU64::new(0));
        let seen = calls.clone();
        let cache: tickless::cache::Cache<u64, u64> = tickless::cache::Cache::builder()
            .time_to_live(ttl)
            .eviction_listener(move |_, _, _| {
                // Relaxed: a count read after the idle period.
                seen.fetch_add(1, Ordering::Relaxed);
            })
            .build();
        (0..n).for_each(|k| cache.insert(k, k));
        std::thread::sleep(Duration::from_secs(3));
        let heap = live_bytes().saturating_sub(before);
        rows.push(idle_row(
            "tickless",
            cache.entry_count(),
            heap,
            Some(calls.load(Ordering::Relaxed)),
        ));
    }
    p.set(1);
    {
        p.step("moka");
        let before = live_bytes();
        let calls = Arc::new(AtomicU64::new(0));
        let seen = calls.clone();
        let cache: moka::sync::Cache<u64, u64> = moka::sync::Cache::builder()
            .time_to_live(ttl)
            .eviction_listener(move |_, _, _| {
                // Relaxed: a count read after the idle period.
                seen.fetch_add(1, Ordering::Relaxed);
            })
            .build();
        (0..n).for_each(|k| cache.insert(k, k));
        std::thread::sleep(Duration::from_secs(3));
        let heap = live_bytes().saturating_sub(before);
        rows.push(idle_row(
            "moka",
            cache.entry_count(),
            heap,
            Some(calls.load(Ordering::Relaxed)),
        ));
    }
    p.finish();
    rows
}

fn idle_row(name: &str, entries: u64, heap: usize, calls: Option<u64>) -> Value {
    crate::say(format!(
        "| {name} | {entries} | {:.2} | {} |",
        heap as f64 / (1 << 20) as f64,
        calls.map_or("n/a".to_string(), |c| c.to_string())
    ));
    json!({"cache": name, "entries_left": entries, "heap_left_bytes": heap, "listener_calls": calls})
}
