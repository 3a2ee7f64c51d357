//! `tickless bench server`: the example server ([`super`]) under `wrk`, once
//! per timer implementation, as one table:
//!
//! 1. throughput: 64 connections for 10 s — requests/s, latency p50/p99,
//!    and the server's CPU time per request (`/proc/<pid>/stat`), which the
//!    neighbours of a shared machine disturb far less than requests/s;
//! 2. 10k idle keep-alive connections (our own client) while 64 connections
//!    load the server — RSS per idle connection, p99 of the loaded ones;
//! 3. slow clients: silent connections against a server with a short idle
//!    timeout — none closed early; how late the median and the last closed
//!    (measured from just before connect, so connect time counts as late).
//!
//! Each variant runs in its own server process (`tickless serve`), so its
//! RSS is its own. Without `wrk` it prints a hint and skips.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use clap::Args;

use super::{clients, seconds, wrk, TimerKind};
use crate::progress::Progress;
use crate::scenario::{finish_json, print_table, Common, Scenario};

#[derive(Args, Debug)]
pub struct ServerBenchArgs {
    /// Seconds of each wrk load.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    duration: Duration,
    /// Idle keep-alive connections held open in part 2 (1 to 1000000; at
    /// most 1000 with --quick, which also makes each load 1 s).
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    idle: u64,
    /// The server's idle timeout in part 3 (slow clients), in seconds.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = seconds)]
    slow_timeout: Duration,
    /// Silent connections in part 3 (1 to 10000).
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    slow: u64,
}

/// Connections of every wrk load.
const LOAD_CONNECTIONS: u32 = 64;

/// What one variant measured (`None`: skipped or failed).
#[derive(Default)]
struct Measured {
    rps: Option<f64>,
    cpu_us: Option<f64>,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    rss_per_idle: Option<f64>,
    idle_p99_ms: Option<f64>,
    early_closes: Option<f64>,
    median_late_ms: Option<f64>,
    worst_late_ms: Option<f64>,
}

pub fn run(args: &ServerBenchArgs, common: &Common) -> ExitCode {
    if !wrk::available() {
        crate::note("bench server: skipped, wrk is not installed (apt-get install wrk)");
        return finish_json(common, &[]);
    }
    // clap has checked the ranges: both fit a usize everywhere.
    let (idle, slow) = (args.idle as usize, args.slow as usize);
    let (load, mut idle) = if common.quick {
        (Duration::from_secs(1), idle.min(1_000))
    } else {
        (args.duration, idle)
    };
    // Our idle clients and the server's side of them, plus wrk's and slack.
    if let Some(limit) = clients::raise_fd_limit() {
        let room = usize::try_from(limit.saturating_sub(512)).unwrap_or(usize::MAX);
        if idle > room {
            crate::note(format!(
                "note: open-file limit {limit}: holding {room} idle connections, not {idle}"
            ));
            idle = room;
        }
    }
    let mut notes = Vec::new();
    let mut measured: Vec<_> = TimerKind::ALL
        .iter()
        .map(|k| (k.name(), Measured::default()))
        .collect();
    // Part by part, the variants back to back: the neighbours' noise moves
    // less between them than between whole runs.
    type Part = fn(TimerKind, &Params, &mut Measured, &mut dyn FnMut(String));
    let parts: [(&str, Part); 3] = [
        ("throughput", throughput),
        ("idle + load", idle_and_load),
        ("slow clients", slow_clients),
    ];
    let params = Params {
        load,
        idle,
        slow,
        slow_timeout: args.slow_timeout,
    };
    for (part, measure) in parts {
        for (kind, (name, m)) in TimerKind::ALL.into_iter().zip(&mut measured) {
            if crate::stopped() {
                break;
            }
            let p = Progress::new(format!("{name}: {part}"), 1).ticking();
            let mut note = |what: String| notes.push(format!("{name}: {what}"));
            measure(kind, &params, m, &mut note);
            p.finish();
        }
    }
    let row = |name: &'static str, unit, lower_is_better, f: fn(&Measured) -> Option<f64>| {
        let columns = measured.iter().map(|(n, m)| (*n, f(m))).collect();
        Scenario {
            name,
            unit,
            lower_is_better,
            columns,
        }
    };
    crate::say(format!(
        "wrk -t2 -c{LOAD_CONNECTIONS} --latency, {:?} per load; {idle} idle connections; \
         {} silent connections against a {:?} idle timeout",
        load, args.slow, args.slow_timeout
    ));
    let table = [
        row("throughput (64 connections)", "req/s", false, |m| m.rps),
        row(
            "server CPU per request (64 connections)",
            "µs",
            true,
            |m| m.cpu_us,
        ),
        row("latency p50 (64 connections)", "ms", true, |m| m.p50_ms),
        row("latency p99 (64 connections)", "ms", true, |m| m.p99_ms),
        row("RSS per idle keep-alive connection", "B", true, |m| {
            m.rss_per_idle
        }),
        row(
            "latency p99 (64 connections beside the idle ones)",
            "ms",
            true,
            |m| m.idle_p99_ms,
        ),
        row(
            "slow clients closed before the timeout",
            "conns",
            true,
            |m| m.early_closes,
        ),
        row(
            "slow clients: median close after the timeout",
            "ms",
            true,
            |m| m.median_late_ms,
        ),
        row(
            "slow clients: latest close after the timeout",
            "ms",
            true,
            |m| m.worst_late_ms,
        ),
    ];
    print_table(&table);
    if !notes.is_empty() {
        crate::say("");
    }
    for note in notes {
        crate::say(format!("- note: {note}"));
    }
    finish_json(common, &table)
}

/// The sizes of one run.
struct Params {
    load: Duration,
    idle: usize,
    slow: usize,
    slow_timeout: Duration,
}

/// The server's default timeouts (5 s request, 60 s idle).
fn default_server(kind: TimerKind, note: &mut dyn FnMut(String)) -> Option<Server> {
    Server::start(kind, Duration::from_secs(60))
        .map_err(note)
        .ok()
}

/// Part 1: 64 connections for the load's duration, after a 1 s warm-up.
fn throughput(kind: TimerKind, p: &Params, m: &mut Measured, note: &mut dyn FnMut(String)) {
    let Some(server) = default_server(kind, note) else {
        return;
    };
    let _ = wrk::run(server.addr, LOAD_CONNECTIONS, Duration::from_secs(1));
    let cpu_before = cpu_time(server.child.id());
    match wrk::run(server.addr, LOAD_CONNECTIONS, p.load) {
        Ok(r) => {
            if let (Some(b), Some(a)) = (cpu_before, cpu_time(server.child.id())) {
                let used = a.saturating_sub(b).as_secs_f64();
                m.cpu_us = Some(used * 1e6 / r.requests.max(1) as f64);
            }
            m.rps = Some(r.requests_per_sec);
            m.p50_ms = Some(r.p50.as_secs_f64() * 1e3);
            m.p99_ms = Some(r.p99.as_secs_f64() * 1e3);
            if r.errors > 0 {
                note(format!("wrk counted {} errors under load", r.errors));
            }
        }
        Err(e) => note(e),
    }
}

/// Part 2: after the same warm-up, the server's RSS before and after `idle`
/// keep-alive connections, then 64 loaded connections beside them.
fn idle_and_load(kind: TimerKind, p: &Params, m: &mut Measured, note: &mut dyn FnMut(String)) {
    let Some(server) = default_server(kind, note) else {
        return;
    };
    let _ = wrk::run(server.addr, LOAD_CONNECTIONS, Duration::from_secs(1));
    let before = rss_bytes(server.child.id());
    let held = match clients::open_idle(server.addr, p.idle) {
        Ok(held) => held,
        Err(e) => return note(format!("opening {} idle connections: {e}", p.idle)),
    };
    if let (Some(b), Some(a)) = (before, rss_bytes(server.child.id())) {
        m.rss_per_idle = Some(a.saturating_sub(b) as f64 / p.idle.max(1) as f64);
    }
    match wrk::run(server.addr, LOAD_CONNECTIONS, p.load) {
        Ok(r) => m.idle_p99_ms = Some(r.p99.as_secs_f64() * 1e3),
        Err(e) => note(e),
    }
    let open = clients::still_open(&held);
    if open != held.len() {
        note(format!(
            "{} idle connections closed early",
            held.len() - open
        ));
    }
    // The server closes first: the TIME_WAITs are its, not our ports'.
    drop(server);
    drop(held);
}

/// Part 3: silent connections against a server with a short idle timeout.
fn slow_clients(kind: TimerKind, p: &Params, m: &mut Measured, note: &mut dyn FnMut(String)) {
    // Let the kernel finish tearing down the previous part's idle sockets.
    std::thread::sleep(Duration::from_millis(500));
    let server = match Server::start(kind, p.slow_timeout) {
        Ok(s) => s,
        Err(e) => return note(e),
    };
    let bound = p.slow_timeout * 5 + Duration::from_secs(5);
    let closes = clients::silent(server.addr, p.slow, bound);
    let mut closed: Vec<Duration> = closes.iter().flatten().copied().collect();
    closed.sort();
    if closed.len() < closes.len() {
        note(format!(
            "{} of {} silent connections not closed within {bound:?}",
            closes.len() - closed.len(),
            closes.len()
        ));
    }
    let t = p.slow_timeout;
    m.early_closes = Some(closed.iter().filter(|&&c| c < t).count() as f64);
    let late_ms = |c: &Duration| c.saturating_sub(t).as_secs_f64() * 1e3;
    m.median_late_ms = closed.get(closed.len() / 2).map(late_ms);
    m.worst_late_ms = closed.last().map(late_ms);
}

/// A `tickless serve` child process; killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(kind: TimerKind, idle_timeout: Duration) -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
        let mut child = Command::new(exe)
            .args(["serve", "--addr", "127.0.0.1:0", "--timers", kind.name()])
            .arg("--idle-timeout")
            .arg(idle_timeout.as_secs_f64().to_string())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the server: {e}"))?;
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|out| BufReader::new(out).read_line(&mut line));
        let addr = line
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok());
        match (read, addr) {
            (Some(Ok(_)), Some(addr)) => Ok(Server { child, addr }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("the server did not start (said {line:?})"))
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system CPU time of process `pid`, all threads (`/proc/<pid>/stat`).
#[cfg(target_os = "linux")]
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces), from field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11); // utime is field 14
    let ticks: u64 = fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?;
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Some(Duration::from_nanos(
        ticks.saturating_mul(1_000_000_000 / hz),
    ))
}

#[cfg(not(target_os = "linux"))]
fn cpu_time(_pid: u32) -> Option<Duration> {
    None
}

/// The resident set of process `pid` (`VmRSS` of `/proc/<pid>/status`).
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kb: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}
