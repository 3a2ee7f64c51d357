//! Plants a timer leak and serves the debug page while it grows.
//!
//! `cargo run -p tickless-debug --example leak_hunt [SECONDS] [ADDR]` then
//! open the printed URL: the leaking line is highlighted within a few
//! seconds. Runs for SECONDS (default 5), serves on ADDR (default a free
//! loopback port; give a fixed one, e.g. `127.0.0.1:6060`, for Prometheus to
//! scrape its `/metrics`: the README's "Monitoring" section).

use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = std::env::args().nth(1).map_or(Ok(5), |s| s.parse())?;
    let addr = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let server = tickless_debug::serve(addr.as_str())?;
    println!("open http://{}/debug/timers", server.local_addr());
    let end = Instant::now() + Duration::from_secs(seconds);
    // Healthy: request timeouts that the requests beat.
    let mut in_flight = Vec::new();
    while Instant::now() < end {
        for _ in 0..100 {
            in_flight.push(tickless::blocking::Timer::new(Duration::from_secs(30)));
        }
        in_flight.drain(..in_flight.len().saturating_sub(300));
        // The leak: a one-hour callback per "request", detached and forgotten.
        for _ in 0..200 {
            tickless::blocking::after_func(Duration::from_secs(3600), || {}).detach();
        }
        // Paced by a tickless timer that fires: lateness and wake-ups to see.
        let _ = tickless::blocking::Timer::new(Duration::from_millis(250))
            .receiver()
            .recv();
    }
    let snapshot = tickless::observe::snapshot();
    for suspect in snapshot.leak_suspects() {
        println!(
            "leak suspect: {}:{} ({} live)",
            suspect.site.file, suspect.site.line, suspect.site.live
        );
    }
    Ok(())
}
