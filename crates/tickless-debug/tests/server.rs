//! The debug server over real loopback sockets.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tickless::clock::ManualClock;
use tickless::Driver;
use tickless_debug::{serve_with, Options, ServeError};

fn request(addr: SocketAddr, raw: &[u8]) -> (u16, String, Vec<u8>) {
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

fn get(addr: SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    request(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )
}

fn server(driver: &Driver) -> tickless_debug::DebugServer {
    let options = Options {
        handle: driver.handle().clone(),
        ..Options::default()
    };
    serve_with("127.0.0.1:0", options).unwrap()
}

#[test]
fn serves_every_route() {
    let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
    let line = line!() + 2;
    let timers: Vec<_> = (0..3)
        .map(|_| driver.timer(Duration::from_secs(60)))
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
    let opted_in = Options {
        allow_non_loopback: true,
        ..Options::default()
    };
    let srv = serve_with("0.0.0.0:0", opted_in).expect("explicit opt-in binds");
    drop(srv);
}
