//! Helpers of the tests that run Prometheus' own tools: finding them, the
//! shipped rule and dashboard files, and plain HTTP GETs.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The executable `name` on `PATH`, or `None` with a one-line hint — except
/// in CI (`CI=true`), where a missing tool fails the test: `.ci/run`
/// installs Debian's `prometheus` package, which ships both tools.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        // In CI a missing tool is a failure (.ci/run installs it); locally a skip.
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "{name} is missing in CI: .ci/run installs the prometheus package"
        );
        eprintln!("{name} not installed: skipping (apt-get install prometheus)");
    }
    found
}

/// `deploy/` at the root of the workspace.
pub fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// The shipped alerting rules.
pub fn rules_file() -> PathBuf {
    deploy().join("prometheus/tickless.rules.yml")
}

/// The shipped promtool unit tests of the rules.
pub fn rule_tests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy().join("prometheus/tests"))
        .expect("deploy/prometheus/tests")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

/// GET `target` over HTTP/1.0 (so no chunked body): the status and body, or
/// `None` if nothing listens or the server hung up.
pub fn get(addr: SocketAddr, target: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(format!("GET {target} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Sends `raw` and reads the whole response: status, head and body.
pub fn request(addr: SocketAddr, raw: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, out[split + 4..].to_vec())
}

/// Percent-encodes a query-string value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A driver's `/metrics` with every family filled: timers that fired (the
/// lateness histogram), live ones by call site, and a planted leak — 1500
/// one-hour timers from one line, a `far_future` suspect at once. Returns
/// what must be kept alive, and the leak's line.
pub fn busy_driver(driver: &tickless::Driver) -> (Vec<tickless::blocking::Timer>, u32) {
    for _ in 0..20 {
        let t = driver.handle().timer(Duration::from_millis(1));
        t.receiver().recv().expect("a timer fires");
    }
    let mut keep: Vec<_> = (0..10)
        .map(|_| driver.handle().timer(Duration::from_secs(30)))
        .collect();
    let leak_line = line!() + 1;
    keep.extend((0..1500).map(|_| driver.handle().timer(Duration::from_secs(3600))));
    (keep, leak_line)
}

/// A scheduler on `driver` with every `tickless_sched_*` family filled:
/// runs that completed (the lateness and run-time histograms), one that
/// panicked, a rejection, and a periodic job that keeps them coming.
pub fn busy_scheduler(driver: &tickless::Driver) -> tickless::sched::Scheduler {
    use tickless::sched::{RejectPolicy, Scheduler};
    let s = Scheduler::builder()
        .workers(1)
        .queue_capacity(1)
        .reject(RejectPolicy::Discard)
        .name("jobs")
        .handle(driver.handle().clone())
        .build()
        .expect("a scheduler");
    let (started_tx, started) = std::sync::mpsc::sync_channel(1);
    let (gate_tx, gate) = std::sync::mpsc::sync_channel::<()>(0);
    s.execute(move || {
        started_tx.send(()).unwrap();
        let _ = gate.recv();
    })
    .unwrap();
    started.recv().unwrap();
    s.execute(|| {}).unwrap(); // fills the queue
    s.execute(|| {}).unwrap(); // discarded: one rejection
    drop(gate_tx);
    s.execute(|| panic!("a job that panics (planted by the test)"))
        .unwrap();
    s.at_fixed_rate(Duration::ZERO, Duration::from_millis(200), || {})
        .unwrap()
        .detach();
    s
}

/// A cache named `sessions` on `driver` with every `tickless_cache_*`
/// family filled: hits, misses, and a removal of each cause (`size` by
/// going over its capacity of 100, `replaced`, `explicit`, and `expired`
/// — waited for, up to 10 s). Returns it: dropped, it leaves the scrape.
pub fn busy_cache(driver: &tickless::Driver) -> tickless::cache::Cache<u64, u64> {
    let cache = driver
        .handle()
        .cache_builder()
        .max_capacity(100)
        .name("sessions")
        .build();
    for k in 0..300 {
        cache.insert(k, k);
    }
    cache.insert(1000, 1);
    cache.insert(1000, 2); // replaced
    assert_eq!(cache.get(&1000), Some(2)); // a hit
    assert_eq!(cache.get(&5000), None); // a miss
    assert_eq!(cache.remove(&1000), Some(2)); // explicit
    cache.insert_with_ttl(2000, 1, Duration::from_millis(1));
    let start = std::time::Instant::now();
    while cache.stats().expired == 0 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let s = cache.stats();
    assert!(
        s.hits > 0
            && s.misses > 0
            && s.size > 0
            && s.replaced > 0
            && s.explicit > 0
            && s.expired > 0,
        "every counter of the busy cache moved: {s:?}"
    );
    cache
}
