//! Sessions that expire unless touched: a `DelayQueue` on a plain thread.
//!
//! `cargo run -p tickless --example delay_queue` — a second of simulated
//! traffic: requests touch the first ten sessions in turn (pushing their
//! expiry out);
//! idle sessions come back from the queue and are closed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tickless::DelayQueue;

const IDLE: Duration = Duration::from_millis(150);

fn main() {
    let mut expiry = DelayQueue::new();
    let mut sessions = HashMap::new();
    for id in 0..20u32 {
        sessions.insert(id, expiry.insert(id, IDLE));
    }
    let start = Instant::now();
    let mut closed = Vec::new();
    let mut turn = 0u32;
    while start.elapsed() < Duration::from_secs(1) {
        // Requests for the first ten sessions, in turn: they stay alive
        // (each is touched every ten turns, well within IDLE).
        let id = turn % 10;
        turn += 1;
        if let Some(key) = sessions.get(&id) {
            expiry.reset(key, IDLE);
        }
        // Close whatever went idle in the meantime, waiting at most 1 ms.
        if let Ok(expired) = expiry.recv_timeout(Duration::from_millis(1)) {
            let id = expired.into_inner();
            sessions.remove(&id);
            closed.push(id);
        }
    }
    closed.sort();
    println!("closed idle sessions: {closed:?}");
    println!("still open: {}", sessions.len());
    assert!(closed.iter().all(|&id| id >= 10), "a busy session expired");
}
