//! Plants a timer leak and serves the debug page while it grows.
//!
//! `cargo run -p tickless-debug --example leak_hunt [SECONDS]` then open the
//! printed URL: the leaking line is highlighted within a few seconds.
//! Runs for SECONDS (default 5).

use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = std::env::args().nth(1).map_or(Ok(5), |s| s.parse())?;
    let server = tickless_debug::serve("127.0.0.1:0")?;
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
        std::thread::sleep(Duration::from_millis(250));
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
