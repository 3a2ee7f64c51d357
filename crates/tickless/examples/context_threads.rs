//! A thread pool that stops when its context ends: each worker selects on
//! its job channel and `ctx.done()`. Cancelling the pool's context stops
//! every worker at once, wherever it is waiting. Runs in a fraction of a second.
//!
//! `cargo run -p tickless --example context_threads`

use std::time::Duration;

use crossbeam_channel::{select, unbounded};
use tickless::Context;

fn main() {
    let (ctx, cancel) = Context::background().with_cancel();
    let (jobs, queue) = unbounded::<u32>();
    let workers: Vec<_> = (0..4)
        .map(|id| {
            let (ctx, queue) = (ctx.clone(), queue.clone());
            std::thread::spawn(move || {
                let mut done = 0;
                loop {
                    select! {
                        recv(queue) -> job => match job {
                            Ok(n) => {
                                // A job may itself wait, and is cut short on cancel.
                                if ctx.sleep_blocking(Duration::from_millis(u64::from(n % 3) * 4)).is_err() {
                                    break;
                                }
                                done += 1;
                            }
                            Err(_) => break,
                        },
                        recv(ctx.done()) -> _ => break,
                    }
                }
                println!("worker {id}: {done} jobs, stopped: {:?}", ctx.err());
                done
            })
        })
        .collect();
    for n in 0..100 {
        jobs.send(n).unwrap();
    }
    std::thread::sleep(Duration::from_millis(30));
    cancel.cancel(); // every worker stops, mid-wait or idle
    let total: u32 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    println!("{total} jobs done before cancel");
}
