//! The accept loop when the process is out of file descriptors (`EMFILE`):
//! it must back off, not spin. Its own test binary, because it exhausts the
//! descriptors of the whole process. Linux only: it reads the process's CPU
//! time from `/proc/self/stat`.

#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tickless::clock::ManualClock;
use tickless::Driver;
use tickless_debug::{serve_with, Options};

/// Stop duplicating descriptors here if the limit is never reached (a
/// machine with a huge `RLIMIT_NOFILE`): the test then skips.
const MAX_DUPS: usize = 1 << 21;
/// How long the accept loop is watched while accept fails.
const WATCH: Duration = Duration::from_secs(2);
/// CPU time the whole process may spend meanwhile: a spinning accept loop
/// burns most of a core (over a second of `WATCH` even on a busy machine);
/// one that backs off sleeps nearly all of it.
const CPU_BUDGET: Duration = Duration::from_millis(400);

/// User plus system CPU time of this process, from `/proc/self/stat`, kept
/// open so that reading it needs no new descriptor.
fn cpu_time(stat: &mut File) -> Duration {
    let mut text = String::new();
    stat.rewind().unwrap();
    stat.read_to_string(&mut text).unwrap();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th of the line, in clock ticks (USER_HZ, 100 on Linux).
    let rest = &text[text.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[test]
fn accept_backs_off_when_out_of_descriptors() {
    let mut stat = File::open("/proc/self/stat").unwrap();
    let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
    let mut options = Options::default();
    options.handle = driver.handle().clone();
    let srv = serve_with("127.0.0.1:0", options).unwrap();
    let addr = srv.local_addr();

    // Take every free descriptor, then give one back for a client: its
    // connection waits in the backlog, and accepting it fails with EMFILE.
    let null = File::open("/dev/null").unwrap();
    let mut hoard = Vec::new();
    while hoard.len() < MAX_DUPS {
        match null.try_clone() {
            Ok(f) => hoard.push(f),
            Err(e) if e.raw_os_error() == Some(24) => break, // EMFILE
            Err(e) => panic!("dup: {e}"),
        }
    }
    if hoard.len() == MAX_DUPS {
        eprintln!("RLIMIT_NOFILE above {MAX_DUPS}: skipping the EMFILE test");
        return;
    }
    hoard.pop();
    let mut client = TcpStream::connect(addr).unwrap();

    let before = cpu_time(&mut stat);
    std::thread::sleep(WATCH);
    let spent = cpu_time(&mut stat) - before;

    // Descriptors back: the waiting client is served.
    drop(hoard);
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    let start = Instant::now();
    client.read_to_end(&mut out).unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 200 "),
        "after {:?}: {:?}",
        start.elapsed(),
        String::from_utf8_lossy(&out)
    );
    assert!(
        spent < CPU_BUDGET,
        "the accept loop spun: {spent:?} of CPU in {WATCH:?} while accept failed with EMFILE"
    );
}
