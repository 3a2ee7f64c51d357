//! The leak case study: the seed's `select { work, after(1h) }` loop, run
//! with tickless and with real peers, heap sampled as it goes; Go's version
//! beside them when a `go` toolchain is installed; then a planted leak that
//! the observability layer names by file and line.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{select, unbounded};
use tickless_workloads::alloc::live_bytes;

use crate::progress::Progress;

const HOUR: Duration = Duration::from_secs(3600);
/// Samples per run.
const SAMPLES: u64 = 20;

/// One implementation's run of the loop.
pub struct Series {
    pub name: String,
    /// (iterations done, heap bytes retained since the start of the loop).
    pub points: Vec<(u64, f64)>,
    pub iterations: u64,
    pub ns_per_iter: f64,
    /// Timers the tickless driver held at the end (`None` for peers: not visible).
    pub live_timers: Option<usize>,
    /// Resident set growth over the run, bytes (`None` for the Go process).
    pub rss_grown: Option<i64>,
}

impl Series {
    pub fn retained(&self) -> f64 {
        self.points.last().map_or(0.0, |p| p.1)
    }
}

fn rss_bytes() -> i64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<i64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// Runs `turn` `n` times, sampling the heap; stops early on Ctrl-C.
fn measure(name: &str, n: u64, stop: &AtomicBool, mut turn: impl FnMut(u64)) -> Series {
    if stop.load(Ordering::Relaxed) {
        let (points, ns_per_iter, live_timers, rss_grown) = (vec![(0, 0.0)], 0.0, None, None);
        return Series {
            name: name.to_string(),
            points,
            iterations: 0,
            ns_per_iter,
            live_timers,
            rss_grown,
        };
    }
    let mut progress = Progress::new(format!("leak loop: {name}"), n);
    for i in 0..1000 {
        turn(i); // warm up
    }
    let (heap0, rss0) = (live_bytes() as f64, rss_bytes());
    let step = (n / SAMPLES).max(1);
    let mut points = vec![(0, 0.0)];
    let start = Instant::now();
    let mut done = 0;
    for i in 1..=n {
        turn(i);
        done = i;
        if i % step == 0 {
            points.push((i, (live_bytes() as f64 - heap0).max(0.0)));
            progress.set(i);
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
    }
    let took = start.elapsed();
    progress.finish();
    Series {
        name: name.to_string(),
        points,
        iterations: done,
        ns_per_iter: took.as_nanos() as f64 / done.max(1) as f64,
        live_timers: None,
        rss_grown: Some(rss_bytes() - rss0),
    }
}

/// Every Rust implementation's run (those skipped by Ctrl-C are left out).
pub fn run_rust(n: u64, stop: &AtomicBool) -> Vec<Series> {
    let mut out = Vec::new();
    let (tx, work) = unbounded::<u64>();

    let mut s = measure("tickless after, select!", n, stop, |i| {
        tx.send(i).unwrap();
        select! {
            recv(work) -> m => { std::hint::black_box(m.ok()); }
            recv(tickless::blocking::after(HOUR)) -> _ => unreachable!(),
        }
    });
    s.live_timers = Some(tickless::Handle::current().pending_timers());
    out.push(s);

    let mut s = measure("tickless Timer, select!", n, stop, |i| {
        tx.send(i).unwrap();
        let timeout = tickless::blocking::Timer::new(HOUR);
        select! {
            recv(work) -> m => { std::hint::black_box(m.ok()); }
            recv(timeout.receiver()) -> _ => unreachable!(),
        }
    });
    s.live_timers = Some(tickless::Handle::current().pending_timers());
    out.push(s);

    out.push(measure("crossbeam after, select!", n, stop, |i| {
        tx.send(i).unwrap();
        select! {
            recv(work) -> m => { std::hint::black_box(m.ok()); }
            recv(crossbeam_channel::after(HOUR)) -> _ => unreachable!(),
        }
    }));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let (atx, mut arx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let mut s = measure("tickless sleep, tokio::select!", n, stop, |i| {
        atx.send(i).unwrap();
        rt.block_on(async {
            tokio::select! {
                m = arx.recv() => { std::hint::black_box(m); }
                _ = tickless::sleep(HOUR) => unreachable!(),
            }
        });
    });
    s.live_timers = Some(tickless::Handle::current().pending_timers());
    out.push(s);

    out.push(measure("tokio sleep, tokio::select!", n, stop, |i| {
        atx.send(i).unwrap();
        rt.block_on(async {
            tokio::select! {
                m = arx.recv() => { std::hint::black_box(m); }
                _ = tokio::time::sleep(HOUR) => unreachable!(),
            }
        });
    }));
    out.retain(|s| s.iterations > 0);
    out
}

/// Builds the Go anchor (`anchors/go/main.go`), or says why the Go column
/// is skipped and how to add it.
pub fn build_go_anchor() -> Result<std::path::PathBuf, String> {
    if Command::new("go").arg("version").output().is_err() {
        return Err(
            "Go column skipped: no `go` on PATH (apt-get install golang-go adds it).".into(),
        );
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let source = root.join("anchors/go/main.go");
    let binary = root.join("target/anchors/go-timers");
    std::fs::create_dir_all(root.join("target/anchors")).map_err(|e| e.to_string())?;
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(&source)
        .env("GO111MODULE", "off")
        .status()
        .map_err(|e| e.to_string())?;
    if !built.success() {
        return Err(format!(
            "Go column skipped: building {} failed.",
            source.display()
        ));
    }
    Ok(binary)
}

/// The Go anchor's scenarios: (name, ns/op, heap bytes retained per op).
pub fn go_scenarios(n: u64) -> Result<Vec<(String, f64, f64)>, String> {
    let binary = build_go_anchor()?;
    let out = Command::new(binary)
        .arg(format!("-n={n}"))
        .output()
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            match f.as_slice() {
                [name, ns, bytes] if *name != "go-version" => {
                    Some((name.to_string(), ns.parse().ok()?, bytes.parse().ok()?))
                }
                _ => None,
            }
        })
        .collect())
}

/// Go's loop (`anchors/go/main.go -series`), or a line saying how to add it.
pub fn run_go(n: u64) -> Result<Series, String> {
    let binary = build_go_anchor()?;
    let progress = Progress::new("leak loop: Go time.After, select", 1);
    let start = Instant::now();
    let out = Command::new(&binary)
        .args(["-series", &format!("-n={n}")])
        .output()
        .map_err(|e| e.to_string())?;
    let took = start.elapsed();
    progress.finish();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut points = vec![(0, 0.0)];
    let mut version = String::from("go");
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["sample", i, bytes] => {
                points.push((i.parse().unwrap_or(0), bytes.parse().unwrap_or(0.0)))
            }
            ["go-version", v, _] => version = (*v).to_string(),
            _ => {}
        }
    }
    Ok(Series {
        name: format!("Go {version} time.After, select"),
        iterations: n,
        ns_per_iter: took.as_nanos() as f64 / n as f64, // includes the sampling GCs
        points,
        live_timers: None,
        rss_grown: None,
    })
}

/// What the observability layer said about the planted leak.
pub struct Planted {
    pub expected_line: u32,
    pub report: Vec<String>,
    pub named_line: Option<(String, u32)>,
}

/// Plants a leak — detached one-hour callbacks created in a loop — on its
/// own driver, and asks `observe` which line leaks.
pub fn plant(count: usize) -> Planted {
    let driver = tickless::Driver::builder()
        .thread_name("demo-leak")
        .build()
        .expect("driver");
    let mut progress = Progress::new("planted leak: detached after_func", count as u64);
    let expected_line = line!() + 3;
    for i in 0..count {
        // The bug: a callback per "request", an hour out, detached and forgotten.
        driver.handle().after_func(HOUR, || {}).detach();
        if i % 1000 == 0 {
            progress.set(i as u64);
        }
    }
    // Healthy code beside it: timeouts the requests beat.
    for _ in 0..count {
        drop(driver.handle().timer(Duration::from_secs(30)));
    }
    progress.finish();
    let snapshot = driver.handle().snapshot();
    let suspects = snapshot.leak_suspects();
    let report = suspects
        .iter()
        .map(|s| {
            format!(
                "{}:{} — {} live timers, {} due more than 10 min away, oldest {:.1?}",
                s.site.file,
                s.site.line,
                s.site.live,
                s.site.live_far,
                s.site.oldest_live_age.unwrap_or_default()
            )
        })
        .collect();
    let named_line = suspects
        .first()
        .map(|s| (s.site.file.to_string(), s.site.line));
    Planted {
        expected_line,
        report,
        named_line,
    }
}
