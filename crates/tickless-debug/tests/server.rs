//! The debug server over real loopback sockets.

mod support;

use support::request;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tickless::clock::ManualClock;
use tickless::Driver;
use tickless_debug::{serve_with, Options, ServeError, MAX_CONNECTIONS};

fn get(addr: SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    request(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )
}

fn server(driver: &Driver) -> tickless_debug::DebugServer {
    let mut options = Options::default();
    options.handle = driver.handle().clone();
    serve_with("127.0.0.1:0", options).unwrap()
}

#[test]
fn serves_every_route() {
    let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
    let line = line!() + 2;
    let timers: Vec<_> = (0..3)
        .map(|_| driver.handle().timer(Duration::from_secs(60)))
        .collect();
    let srv = server(&driver);
    let addr = srv.local_addr();

    let (status, head, body) = get(addr, "/metrics");
    assert_eq!(status, 200);
    assert!(head.contains("text/plain; version=0.0.4"));
    let text = String::from_utf8(body).unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert!(scrape
        .samples
        .iter()
        .any(|s| s.metric == "tickless_call_site_live_timers"
            && s.labels.get("line") == Some(&line.to_string())));

    let (status, _, body) = get(addr, "/debug/pprof/timers");
    assert_eq!(status, 200);
    assert_eq!(&body[..2], &[0x1f, 0x8b], "gzip");

    let (status, head, body) = get(addr, "/debug/timers");
    assert_eq!(status, 200);
    assert!(head.contains("text/html"));
    let html = String::from_utf8(body).unwrap();
    assert!(
        html.contains(&format!("server.rs:{line}:")),
        "the page lists the call site"
    );

    let (status, _, body) = get(addr, "/debug/timers.json");
    assert_eq!(status, 200);
    let json = String::from_utf8(body).unwrap();
    assert!(json.starts_with("{\"live\":3,"), "{json}");

    let (status, _, body) = request(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!((status, body.len()), (200, 0), "HEAD has no body");
    drop(timers);
}

#[test]
fn the_page_lists_schedulers() {
    let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
    let srv = server(&driver);
    let (_, _, body) = get(srv.local_addr(), "/debug/timers");
    assert!(
        !String::from_utf8(body).unwrap().contains("Schedulers"),
        "no table without a scheduler"
    );
    let sched = tickless::sched::Scheduler::builder()
        .workers(3)
        .name("<billing>")
        .handle(driver.handle().clone())
        .build()
        .unwrap();
    let _job = sched.schedule(Duration::from_secs(60), || {}).unwrap();
    let (_, _, body) = get(srv.local_addr(), "/debug/timers");
    let html = String::from_utf8(body).unwrap();
    let row = html
        .lines()
        .find(|l| l.contains("&lt;billing&gt;"))
        .expect("a row for the scheduler, its name escaped");
    assert!(
        row.contains("<td>3</td><td>1</td>"),
        "3 workers, 1 pending: {row}"
    );
    assert!(
        row.contains("<td>–</td><td>0</td></tr>"),
        "no stall wakes: {row}"
    );
}

#[test]
fn the_page_and_its_json_list_caches() {
    // A real clock: the busy cache waits for one entry to expire.
    let driver = Driver::builder().build().unwrap();
    let srv = server(&driver);
    let (_, _, body) = get(srv.local_addr(), "/debug/timers");
    assert!(
        !String::from_utf8(body).unwrap().contains("Caches"),
        "no table without a cache"
    );
    let sessions = support::busy_cache(&driver);
    let other: tickless::cache::Cache<u64, u64> =
        driver.handle().cache_builder().name("<a&b>").build();
    other.insert(1, 1);
    let s = sessions.stats();

    let (_, _, body) = get(srv.local_addr(), "/debug/timers");
    let html = String::from_utf8(body).unwrap();
    let row = |name: &str| {
        html.split("<tr>")
            .find(|r| r.starts_with(&format!("<td class=\"site\">{name}</td>")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{html}"))
            .to_string()
    };
    let cells = format!(
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1} %</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
        s.entries,
        s.weighted_size,
        s.hits,
        s.misses,
        s.hit_ratio() * 100.0,
        s.expired,
        s.size,
        s.explicit,
        s.replaced
    );
    assert!(
        row("sessions").contains(&cells),
        "{cells} in {}",
        row("sessions")
    );
    assert!(
        row("&lt;a&amp;b&gt;").contains("<td>1</td><td>1</td><td>0</td><td>0</td><td>–</td>"),
        "one entry, no read yet: {}",
        row("&lt;a&amp;b&gt;")
    );

    let (_, _, body) = get(srv.local_addr(), "/debug/timers.json");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let caches = json["caches"].as_array().expect("a caches array");
    assert_eq!(caches.len(), 2, "{json}");
    let c = caches
        .iter()
        .find(|c| c["name"] == "sessions")
        .expect("the sessions cache");
    assert_eq!(c["entries"], s.entries);
    assert_eq!(c["weighted_size"], s.weighted_size);
    assert_eq!(
        (c["hits"].clone(), c["misses"].clone()),
        (s.hits.into(), s.misses.into())
    );
    assert_eq!(c["hit_ratio"].as_f64(), Some(s.hit_ratio()));
    for (cause, n) in [
        ("expired", s.expired),
        ("size", s.size),
        ("explicit", s.explicit),
        ("replaced", s.replaced),
    ] {
        assert_eq!(c["evictions"][cause], n, "{cause}: {c}");
    }
    assert!(caches.iter().any(|c| c["name"] == "<a&b>"), "{json}");
    drop(other);
}

#[test]
fn errors_are_clean() {
    let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
    let srv = server(&driver);
    let addr = srv.local_addr();
    assert_eq!(get(addr, "/nope").0, 404);
    let (status, head, _) = request(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(status, 405);
    assert!(head.contains("Allow: GET, HEAD"));
    assert_eq!(request(addr, b"garbage\r\n\r\n").0, 400);
    assert_eq!(request(addr, b"GET /metrics SPDY/9\r\n\r\n").0, 400);
    assert_eq!(request(addr, b"\xff\xfe\xfd\r\n\r\n").0, 400);
    let huge = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(40_000));
    assert_eq!(request(addr, huge.as_bytes()).0, 431);
    // The server still works after all that.
    assert_eq!(get(addr, "/metrics").0, 200);
}

#[test]
fn a_silent_client_does_not_stall_others() {
    let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
    let srv = server(&driver);
    let addr = srv.local_addr();
    let _silent: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let start = Instant::now();
    assert_eq!(get(addr, "/metrics").0, 200);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "served behind silent clients in {:?}",
        start.elapsed()
    );
}

#[test]
fn refuses_non_loopback_without_opt_in() {
    match tickless_debug::serve("0.0.0.0:0") {
        Err(ServeError::NotLoopback(a)) => assert!(a.ip().is_unspecified()),
        other => panic!("expected NotLoopback, got {other:?}"),
    }
    let err = tickless_debug::serve("0.0.0.0:0").unwrap_err();
    assert!(err.to_string().contains("allow_non_loopback"));
    let mut opted_in = Options::default();
    opted_in.allow_non_loopback = true;
    let srv = serve_with("0.0.0.0:0", opted_in).expect("explicit opt-in binds");
    drop(srv);
}

/// How long a test waits for a normal client to be served while attackers
/// hold connections: generous, because the machine is shared and noisy; the
/// server's own limits free a slot in about a second.
const PATIENCE: Duration = Duration::from_secs(10);

/// `n` connections that each send `prefix`, then one more byte every
/// `every`, never reading, until dropped (or for 20 s at most, so that a
/// failing test still ends).
struct Tricklers {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Tricklers {
    fn start(addr: SocketAddr, n: usize, prefix: &[u8], every: Duration) -> Self {
        let mut streams: Vec<TcpStream> = (0..n)
            .map(|_| {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
                s.write_all(prefix).unwrap();
                s
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                // Relaxed: a stop flag; the join in `drop` orders the rest.
                while !stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(20) {
                    std::thread::sleep(every);
                    for s in &mut streams {
                        let _ = s.write_all(b"a"); // the server may have cut it off
                    }
                }
            })
        };
        Tricklers {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Tricklers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.take().unwrap().join();
    }
}

/// The status of one `GET /`, or `None` when the connection failed or was
/// reset before the whole response was read.
fn try_get(addr: SocketAddr) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(PATIENCE)).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let head = String::from_utf8_lossy(&out);
    head.split(' ').nth(1)?.parse().ok()
}

/// Retries `GET /` until it answers 200; panics after [`PATIENCE`]. Returns
/// every earlier outcome.
fn until_served(addr: SocketAddr) -> Vec<Option<u16>> {
    let start = Instant::now();
    let mut seen = Vec::new();
    loop {
        let status = try_get(addr);
        if status == Some(200) {
            return seen;
        }
        seen.push(status);
        assert!(
            start.elapsed() < PATIENCE,
            "not served within {PATIENCE:?}; saw {} refusals, last {:?}",
            seen.len(),
            seen.last()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn trickling_after_the_response_does_not_hold_a_slot() {
    let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
    let srv = server(&driver);
    let addr = srv.local_addr();
    // Every slot: a full request, then a byte every 50 ms, inside the
    // drain's per-read timeout, so only a total bound on the drain ends it.
    let _tricklers = Tricklers::start(
        addr,
        MAX_CONNECTIONS,
        b"GET / HTTP/1.1\r\n\r\n",
        Duration::from_millis(50),
    );
    let refused = until_served(addr);
    assert!(
        refused.first().is_some_and(|s| *s != Some(200)),
        "the tricklers never held the slots: the test proves nothing"
    );
}

#[test]
fn slow_request_heads_do_not_hold_the_slots() {
    let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
    let mut options = Options::default();
    options.handle = driver.handle().clone();
    options.head_deadline = Duration::from_secs(2);
    let srv = serve_with("127.0.0.1:0", options).unwrap();
    let addr = srv.local_addr();
    // Every slot: a request head gaining a byte every 300 ms, well inside the
    // per-read timeout, so only a deadline on the whole head ends it.
    let _lorises = Tricklers::start(
        addr,
        MAX_CONNECTIONS,
        b"GET / HTTP/1.1\r\nX-Slow: ",
        Duration::from_millis(300),
    );
    let refused = until_served(addr);
    assert!(
        refused.first().is_some_and(|s| *s != Some(200)),
        "the slow clients never held the slots: the test proves nothing"
    );
}

#[test]
fn a_busy_server_answers_503_in_full() {
    let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
    // A head deadline far beyond the test, however slow the machine: the
    // holders keep every slot until they are dropped.
    let mut options = Options::default();
    options.handle = driver.handle().clone();
    options.head_deadline = Duration::from_secs(60);
    let srv = serve_with("127.0.0.1:0", options).unwrap();
    let addr = srv.local_addr();
    // Hold every slot with request heads that never end (a byte every 300 ms).
    let _holders = Tricklers::start(
        addr,
        MAX_CONNECTIONS,
        b"GET / HTTP/1.1\r\nX-Slow: ",
        Duration::from_millis(300),
    );
    for i in 0..20 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        if let Err(e) = s.read_to_end(&mut out) {
            panic!("request {i}: {e} after {:?}", String::from_utf8_lossy(&out));
        }
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.starts_with("HTTP/1.1 503 ") && text.ends_with("\r\n\r\ntoo many requests\n"),
            "request {i}: {text:?}"
        );
    }
}
