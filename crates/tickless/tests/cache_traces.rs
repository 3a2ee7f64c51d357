//! Hit ratios of `tickless::cache` on the OLTP trace from Megiddo and Modha,
//! "ARC: A Self-Tuning, Low Overhead Replacement Cache" (USENIX FAST 2003),
//! against floors: moka 0.12 and quick_cache 0.6 measured on the same replay
//! (see the README's "Cache" section and `tickless bench cache`), minus half
//! a point.
//!
//! The trace is read from `../shared/traces` beside the workspace (or
//! `$TICKLESS_TRACES`); without it the test says so and passes.

use tickless::cache::Cache;
use tickless_workloads::traces;

#[test]
fn oltp_hit_ratios_stay_above_the_floors() {
    let keys = match traces::load("OLTP") {
        Ok(keys) => keys,
        Err(e) => {
            println!("skipped: the ARC paper's OLTP trace is not available ({e})");
            return;
        }
    };
    // (capacity, floor %): the better of moka and quick_cache, minus 0.5.
    for (capacity, floor) in [(1_000, 35.21), (10_000, 0.0)] {
        let cache: Cache<u64, u64> = Cache::new(capacity);
        let ratio = traces::hit_ratio(&keys, |k| cache.get(&k).is_some(), |k| cache.insert(k, k));
        println!("OLTP, capacity {capacity}: {ratio:.2} % (floor {floor} %)");
        assert!(
            ratio >= floor,
            "OLTP at {capacity}: {ratio:.2} % < {floor} %"
        );
    }
}
