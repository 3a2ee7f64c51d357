//! The renderers mounted on an axum router (`examples/axum.rs`), served on
//! loopback and requested with a plain TCP client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tickless::clock::ManualClock;
use tickless::Driver;
use tickless_debug::render::History;

mod support;

// The example's `main` is not called here: only its router is.
#[allow(dead_code)]
#[path = "../examples/axum.rs"]
mod example;

/// Status, `Content-Type` (if any) and body of a GET.
fn get(addr: SocketAddr, path: &str) -> (u16, Option<String>, Vec<u8>) {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (status, head, body) = support::request(addr, raw.as_bytes());
    let content_type = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-type")
            .then(|| value.trim().to_string())
    });
    (status, content_type, body)
}

#[test]
fn axum_router_serves_every_renderer() {
    let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
    let history = Arc::new(History::new());
    history.sample(driver.handle());
    let line = line!() + 2;
    let _timers: Vec<_> = (0..3)
        .map(|_| driver.handle().timer(Duration::from_secs(60)))
        .collect();
    history.sample(driver.handle());

    let router = example::debug_routes(driver.handle().clone(), history);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    // The runtime runs the server on its own thread; dropping the test's
    // process ends it.
    std::thread::spawn(move || rt.block_on(async move { axum::serve(listener, router).await }));

    let (status, content_type, body) = get(addr, "/debug/timers");
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
    let html = String::from_utf8(body).unwrap();
    assert!(
        html.contains(&format!("axum.rs:{line}:")),
        "the call site: {html}"
    );
    assert!(html.contains("live <b id=\"live\">3</b>"), "{html}");

    let (status, content_type, body) = get(addr, "/debug/timers.json");
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["live"], 3);
    let history: Vec<u64> = json["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_u64().unwrap())
        .collect();
    assert_eq!(history, [0, 3], "both samples, oldest first");

    let (status, content_type, body) = get(addr, "/metrics");
    assert_eq!(status, 200);
    assert_eq!(
        content_type.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = String::from_utf8(body).unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert!(scrape.samples.iter().any(|s| {
        s.metric == "tickless_call_site_live_timers"
            && s.labels.get("line") == Some(&line.to_string())
            && matches!(s.value, prometheus_parse::Value::Gauge(v) if v == 3.0)
    }));

    let (status, content_type, body) = get(addr, "/debug/pprof/timers");
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("application/octet-stream"));
    assert_eq!(&body[..2], &[0x1f, 0x8b], "gzip");

    let (status, _, _) = get(addr, "/debug/nothing");
    assert_eq!(status, 404, "only the mounted routes answer");
}
