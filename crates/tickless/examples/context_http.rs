//! An HTTP-handler-shaped example: a request deadline passed down three
//! calls. The handler gets 50 ms; the database call would take 80 ms, so it
//! is cut off and every layer learns why. Runs in well under a second.
//!
//! `cargo run -p tickless --example context_http`

use std::time::{Duration, Instant};

use tickless::{Context, ContextError};

/// The deepest call: a "query" that takes `latency`, unless the context ends.
async fn query_db(ctx: &Context, latency: Duration) -> Result<u32, ContextError> {
    ctx.sleep(latency).await?; // stands in for real I/O, raced against ctx
    Ok(42)
}

/// The middle layer: gives the query at most 30 ms of what is left.
async fn load_user(ctx: &Context, latency: Duration) -> Result<u32, ContextError> {
    let (ctx, _guard) = ctx.with_timeout(Duration::from_millis(30)); // the earlier deadline wins
    query_db(&ctx, latency).await
}

/// The handler: the request's deadline is the root of everything below.
async fn handle_request(latency: Duration) -> String {
    let (ctx, _guard) = Context::background().with_timeout(Duration::from_millis(50));
    match load_user(&ctx, latency).await {
        Ok(id) => format!("200 OK user {id}"),
        Err(ContextError::DeadlineExceeded) => "504 Gateway Timeout".to_string(),
        Err(e) => format!("500 {e}"),
    }
}

fn main() {
    futures::executor::block_on(async {
        for latency in [Duration::from_millis(5), Duration::from_millis(80)] {
            let start = Instant::now();
            let reply = handle_request(latency).await;
            println!(
                "db latency {latency:?}: {reply} after {:?}",
                start.elapsed()
            );
        }
    });
}
