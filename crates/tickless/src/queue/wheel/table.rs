//! The level table of the module docs, computed from the constants (a test
//! checks that the docs match it).

use std::fmt::Write as _;
use std::time::Duration;

use super::level::{level_range, slot_range, LEVELS};
use super::Wheel;

impl<T> Wheel<T> {
    /// The module docs' table of level granularity and range for `tick`, as
    /// markdown.
    pub fn level_table(tick: Duration) -> String {
        let mut out =
            String::from("| level | slot granularity | level range |\n|---:|---:|---:|\n");
        for level in 0..LEVELS {
            let _ = writeln!(
                out,
                "| {level} | {} | {} |",
                human(mul(tick, slot_range(level))),
                human(mul(tick, level_range(level))),
            );
        }
        out
    }
}

fn mul(d: Duration, n: u64) -> Duration {
    Duration::from_nanos(
        u64::try_from(d.as_nanos().saturating_mul(u128::from(n))).unwrap_or(u64::MAX),
    )
}

/// Three significant digits and a unit, for the level table.
fn human(d: Duration) -> String {
    const UNITS: [(&str, f64); 8] = [
        ("y", 365.25 * 86_400.0),
        ("d", 86_400.0),
        ("h", 3_600.0),
        ("min", 60.0),
        ("s", 1.0),
        ("ms", 1e-3),
        ("µs", 1e-6),
        ("ns", 1e-9),
    ];
    let secs = d.as_secs_f64();
    let (unit, scale) = UNITS
        .iter()
        .copied()
        .find(|&(_, s)| secs >= s)
        .unwrap_or(("ns", 1e-9));
    let v = secs / scale;
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s} {unit}")
}
