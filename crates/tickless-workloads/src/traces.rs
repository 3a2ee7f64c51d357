//! The ARC paper's block traces, for cache hit ratios: Nimrod Megiddo and
//! Dharmendra S. Modha, "ARC: A Self-Tuning, Low Overhead Replacement
//! Cache", USENIX FAST 2003 (cited as their condition of use).
//!
//! The files live outside the repository, in `../shared/traces/` relative to
//! the workspace root (`NAME.lis.zst`, zstd-compressed; decompressed here
//! with the pure-Rust `ruzstd`). Each line `start n _ _` is a request for the
//! blocks `start .. start + n`; replaying a trace is one cache lookup per
//! block and an insert on a miss, as the moka project's benchmark does.

use std::io::Read;
use std::path::PathBuf;

/// Where the traces are: `$TICKLESS_TRACES`, else `../shared/traces` from the
/// workspace root.
pub fn dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TICKLESS_TRACES") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces")
}

/// The block keys of trace `name` (`"OLTP"`, `"P3"`) in request order, or
/// why they cannot be read (absent file, corrupt data).
pub fn load(name: &str) -> Result<Vec<u64>, String> {
    let path = dir().join(format!("{name}.lis.zst"));
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::new();
    ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(file))
        .map_err(|e| format!("{}: {e}", path.display()))?
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Expands `start n _ _` lines into block keys.
pub fn parse(text: &str) -> Result<Vec<u64>, String> {
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(start), Some(n)) = (fields.next(), fields.next()) else {
            continue; // blank line
        };
        let bad = |e: std::num::ParseIntError| format!("line {}: {e}", i + 1);
        let (start, n): (u64, u64) = (start.parse().map_err(bad)?, n.parse().map_err(bad)?);
        keys.extend(start..start.saturating_add(n));
    }
    Ok(keys)
}

/// Replays `keys` against a cache given as `get`/`insert` closures (an
/// insert on every miss); the hit ratio in percent.
pub fn hit_ratio(
    keys: &[u64],
    mut get: impl FnMut(u64) -> bool,
    mut insert: impl FnMut(u64),
) -> f64 {
    let mut hits = 0u64;
    for &k in keys {
        if get(k) {
            hits += 1;
        } else {
            insert(k);
        }
    }
    100.0 * hits as f64 / keys.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_expand_to_blocks() {
        assert_eq!(super::parse("5 3 0 0\n\n9 1 0 1\n").unwrap(), [5, 6, 7, 9]);
        assert!(super::parse("x 1 0 0").is_err());
    }
}
