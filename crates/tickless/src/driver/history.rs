//! Live counts per call site over recent snapshots, kept per driver for
//! `observe`'s "keeps growing" leak suspects.

use std::collections::{HashMap, VecDeque};

/// Samples kept.
const KEEP: usize = 8;
/// A snapshot is sampled only if this long after the previous sample, so a
/// burst of snapshots (a page refreshing) does not fake a trend.
const MIN_GAP_MS: u64 = 1000;

/// The last [`KEEP`] samples of live counts per call site (keyed by the
/// site's identity: file, line and column).
#[derive(Default)]
pub(crate) struct History {
    samples: VecDeque<(u64, HashMap<usize, u64>)>,
}

impl History {
    /// Adds `live` taken at `now_ms` (unless too soon after the last sample)
    /// and returns the samples to report, oldest first, ending with `live`.
    pub(crate) fn record(
        &mut self,
        now_ms: u64,
        live: HashMap<usize, u64>,
    ) -> Vec<HashMap<usize, u64>> {
        let due = self
            .samples
            .back()
            .is_none_or(|(t, _)| now_ms >= t + MIN_GAP_MS);
        if due {
            self.samples.push_back((now_ms, live));
            if self.samples.len() > KEEP {
                self.samples.pop_front();
            }
            return self.samples.iter().map(|(_, s)| s.clone()).collect();
        }
        // Too soon: report the stored trend with its latest point replaced by now.
        let mut out: Vec<HashMap<usize, u64>> =
            self.samples.iter().map(|(_, s)| s.clone()).collect();
        out.pop();
        out.push(live);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(n: u64) -> HashMap<usize, u64> {
        HashMap::from([(1, n)])
    }

    #[test]
    fn samples_at_most_once_a_second_and_keeps_eight() {
        let mut h = History::default();
        assert_eq!(h.record(0, live(1)).len(), 1);
        let out = h.record(500, live(2));
        assert_eq!(out, vec![live(2)], "too soon: replaces the latest point");
        assert_eq!(h.record(1000, live(3)).len(), 2);
        for i in 0..20 {
            h.record(2000 + i * 1000, live(10 + i));
        }
        let out = h.record(100_000, live(99));
        assert_eq!(out.len(), KEEP);
        assert_eq!(out.last(), Some(&live(99)));
    }
}
