//! The example server's three timers, one implementation per `--timers`
//! choice: the per-request timeout, the per-connection idle timeout (reset
//! on every request) and hyper's own [`Timer`](hyper::rt::Timer). Each is
//! written the way that runtime's users write it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use hyper::server::conn::http1;

/// The timers of one server variant.
pub trait Timers: Clone + Send + Sync + 'static {
    /// A connection's idle timer (pinned in the connection's future).
    type Idle: Future<Output = ()> + Send + 'static;

    /// An idle timer that fires `after` from now.
    fn idle(&self, after: Duration) -> Self::Idle;

    /// Pushes an idle timer out to `after` from now (a request arrived).
    fn reset_idle(idle: Pin<&mut Self::Idle>, after: Duration);

    /// `fut`, or `None` if it is not done within `limit`.
    fn timeout<F: Future + Send>(
        &self,
        limit: Duration,
        fut: F,
    ) -> impl Future<Output = Option<F::Output>> + Send;

    /// Gives hyper its `Timer` (header-read timeout).
    fn install(&self, http: &mut http1::Builder);
}

/// `tokio::time`, and hyper-util's `TokioTimer` for hyper.
#[derive(Clone, Copy, Debug)]
pub struct Tokio;

impl Timers for Tokio {
    type Idle = tokio::time::Sleep;

    fn idle(&self, after: Duration) -> Self::Idle {
        tokio::time::sleep(after)
    }

    fn reset_idle(idle: Pin<&mut Self::Idle>, after: Duration) {
        idle.reset(tokio::time::Instant::now() + after);
    }

    async fn timeout<F: Future + Send>(&self, limit: Duration, fut: F) -> Option<F::Output> {
        tokio::time::timeout(limit, fut).await.ok()
    }

    fn install(&self, http: &mut http1::Builder) {
        http.timer(hyper_util::rt::TokioTimer::new());
    }
}

/// tickless's global driver, and `tickless::hyper::TicklessTimer` for hyper.
#[derive(Clone, Copy, Debug)]
pub struct Tickless;

impl Timers for Tickless {
    type Idle = tickless::Sleep;

    fn idle(&self, after: Duration) -> Self::Idle {
        tickless::sleep(after)
    }

    fn reset_idle(idle: Pin<&mut Self::Idle>, after: Duration) {
        // `Sleep` is `Unpin`: no pinning needed, the pin derefs mutably.
        idle.get_mut().reset_after(after);
    }

    async fn timeout<F: Future + Send>(&self, limit: Duration, fut: F) -> Option<F::Output> {
        tickless::timeout(limit, fut).await.ok()
    }

    fn install(&self, http: &mut http1::Builder) {
        http.timer(tickless::hyper::TicklessTimer::new());
    }
}
