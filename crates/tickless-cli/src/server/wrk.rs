//! Runs `wrk --latency` and reads its report: requests completed and per
//! second, the latency distribution's p50 and p99, and the errors it counted.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

/// What one wrk run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub requests: u64,
    pub requests_per_sec: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Socket errors (connect, read, write, timeout) plus non-2xx/3xx responses.
    pub errors: u64,
}

/// `true` when `wrk` is on `PATH`.
pub fn available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty())
}

/// `wrk -t2 -c<connections> -d<duration> --latency http://<addr>/`.
pub fn run(addr: SocketAddr, connections: u32, duration: Duration) -> Result<Report, String> {
    let output = Command::new("wrk")
        .arg("-t2")
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg("--latency")
        .arg(format!("http://{addr}/"))
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk failed ({}): {}{}",
            output.status,
            text,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    parse(&text).ok_or_else(|| format!("cannot read wrk's report:\n{text}"))
}

/// Reads wrk's text report; `None` if a required line is missing.
pub fn parse(text: &str) -> Option<Report> {
    let mut report = Report {
        requests: 0,
        requests_per_sec: f64::NAN,
        p50: Duration::ZERO,
        p99: Duration::ZERO,
        errors: 0,
    };
    let (mut p50, mut p99, mut rps, mut requests) = (None, None, None, None);
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("50%") => p50 = words.next().and_then(latency),
            Some("99%") => p99 = words.next().and_then(latency),
            Some("Requests/sec:") => rps = words.next().and_then(|w| w.parse().ok()),
            // "379 requests in 1.10s, 2.05MB read"
            Some(n) if words.next() == Some("requests") => requests = n.parse().ok(),
            _ => {}
        }
        if let Some(counts) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            report.errors += counts
                .split(',')
                .filter_map(|c| c.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
        if let Some(n) = line.strip_prefix("Non-2xx or 3xx responses:") {
            report.errors += n.trim().parse::<u64>().unwrap_or(0);
        }
    }
    report.p50 = p50?;
    report.p99 = p99?;
    report.requests_per_sec = rps?;
    report.requests = requests?;
    Some(report)
}

/// `245.00us`, `1.23ms`, `2.00s`, `1.50m` → a duration.
fn latency(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let value: f64 = text[..split].parse().ok()?;
    let unit_ns = match &text[split..] {
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return None,
    };
    let nanos = (value * unit_ns).round();
    (nanos.is_finite() && nanos >= 0.0 && nanos < u64::MAX as f64)
        .then(|| Duration::from_nanos(nanos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 1s test @ http://127.0.0.1:18777/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    11.46ms    3.94ms  24.24ms   69.47%
    Req/Sec   345.91     40.74   450.00     81.82%
  Latency Distribution
     50%  245.50us
     75%   13.62ms
     90%   16.60ms
     99%   21.86ms
  379 requests in 1.10s, 2.05MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:    344.40
Transfer/sec:      1.87MB
";

    #[test]
    fn reads_wrks_report() {
        let r = parse(REPORT).unwrap();
        assert_eq!(r.requests_per_sec, 344.40);
        assert_eq!(r.requests, 379);
        assert_eq!(r.p50, Duration::from_nanos(245_500));
        assert_eq!(r.p99, Duration::from_micros(21_860));
        assert_eq!(r.errors, 12);
    }

    #[test]
    fn a_report_without_percentiles_is_refused() {
        assert_eq!(parse("Requests/sec: 5.0\n"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn latency_units() {
        assert_eq!(latency("2.00s"), Some(Duration::from_secs(2)));
        assert_eq!(latency("1.50m"), Some(Duration::from_secs(90)));
        assert_eq!(latency("3.0parsecs"), None);
        assert_eq!(latency("ms"), None);
    }
}
