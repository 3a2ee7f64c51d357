//! Mounts the debug page on an axum router, beside the service's own routes,
//! instead of running tickless-debug's own server.
//!
//! `cargo run -p tickless-debug --example axum [SECONDS] [ADDR]` then open
//! the printed URL; `/` is the "service" (it answers after a tickless sleep).
//! Runs for SECONDS (default 5), serves on ADDR (default a free loopback
//! port). `tests/axum.rs` serves [`debug_routes`] and requests each route.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tickless::Handle;
use tickless_debug::render::{self, History, Rendered};

/// What the debug handlers need: the driver to show and its chart's samples.
#[derive(Clone)]
struct Debug {
    handle: Handle,
    history: Arc<History>,
}

fn reply(rendered: Rendered) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, rendered.content_type)],
        rendered.body,
    )
}

/// The four debug routes at the paths the page expects (it fetches
/// `/debug/timers.json` and links the other two). They name source lines:
/// a real service would put them behind its admin listener or auth layer.
pub fn debug_routes(handle: Handle, history: Arc<History>) -> Router {
    Router::new()
        .route(
            "/debug/timers",
            get(|State(d): State<Debug>| async move {
                reply(render::timers_html(&d.handle, &d.history))
            }),
        )
        .route(
            "/debug/timers.json",
            get(|State(d): State<Debug>| async move {
                reply(render::timers_json(&d.handle, &d.history))
            }),
        )
        .route(
            "/metrics",
            get(|State(d): State<Debug>| async move { reply(render::metrics_text(&d.handle)) }),
        )
        .route(
            "/debug/pprof/timers",
            get(|State(d): State<Debug>| async move { reply(render::pprof_body(&d.handle)) }),
        )
        .with_state(Debug { handle, history })
}

/// Samples the live count once a second for the page's chart (what the
/// built-in server's sampler thread does), on the driver's own clock.
async fn sample(handle: Handle, history: Arc<History>) {
    let mut every_second = handle.interval(Duration::from_secs(1));
    loop {
        every_second.tick().await;
        history.sample(&handle);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let seconds: u64 = std::env::args().nth(1).map_or(Ok(5), |s| s.parse())?;
    let addr = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let handle = Handle::current();
    let history = Arc::new(History::new());
    tokio::spawn(sample(handle.clone(), history.clone()));

    let app = Router::new()
        .route(
            "/",
            get(|| async {
                tickless::sleep(Duration::from_millis(20)).await;
                "hello, after a 20 ms tickless sleep\n"
            }),
        )
        .merge(debug_routes(handle, history));
    let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
    println!("open http://{}/debug/timers", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(tickless::sleep(Duration::from_secs(seconds)))
        .await?;
    Ok(())
}
