//! `tickless serve`: the example HTTP server that `tickless bench server`
//! loads — hyper 1.x on a 2-worker multi-thread tokio runtime, with the
//! timers a production server has:
//!
//! - every request is wrapped in a timeout (5 s; a 503 when it fires);
//! - every connection has an idle timeout (60 s), reset on each request
//!   (when it starts: keep the request timeout below the idle timeout, as
//!   the defaults do, or a slow request's connection idles out under it);
//! - hyper's header-read timeout, on hyper's `Timer`, set to the idle
//!   timeout: hyper 1.x arms it whenever a connection waits for a request
//!   head, between keep-alive requests too, so it also bounds idleness.
//!
//! `--timers tokio|tickless` chooses who runs all three ([`timers`]).
//! The handler formats a small body; `GET /stall` never answers, so the
//! request timeout's 503 can be seen. On start the server prints
//! `listening on ADDR` as its first line of stdout.

pub mod bench;
mod clients;
mod timers;
mod wrk;

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::io::Write as _;
use std::pin::pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use clap::{Args, ValueEnum};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use timers::Timers;

/// Who runs the server's timers.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    /// `tokio::time` and hyper-util's `TokioTimer`.
    Tokio,
    /// tickless's global driver and `tickless::hyper::TicklessTimer`.
    Tickless,
}

impl TimerKind {
    pub const ALL: [TimerKind; 2] = [TimerKind::Tickless, TimerKind::Tokio];

    pub fn name(self) -> &'static str {
        match self {
            TimerKind::Tokio => "tokio",
            TimerKind::Tickless => "tickless",
        }
    }
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Who runs the request timeout, the idle timeout and hyper's timer.
    #[arg(long, value_enum, default_value = "tickless")]
    timers: TimerKind,
    /// Address to listen on (port 0: any free port, printed on start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    /// Per-request timeout, in seconds.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = seconds)]
    request_timeout: Duration,
    /// Per-connection idle timeout (and hyper's header-read timeout), in seconds.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = seconds)]
    idle_timeout: Duration,
}

/// A positive, finite number of seconds.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text.parse().map_err(|e| format!("{e}"))?;
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!("{text}: not a positive number of seconds")),
    }
}

#[derive(Clone, Copy, Debug)]
struct Config {
    request_timeout: Duration,
    idle_timeout: Duration,
}

pub fn run(args: &ServeArgs) -> ExitCode {
    let config = Config {
        request_timeout: args.request_timeout,
        idle_timeout: args.idle_timeout,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match rt.block_on(TcpListener::bind(args.addr)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    if let Ok(addr) = listener.local_addr() {
        // The bench reads this line; flush it past the pipe's buffer.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "listening on {addr} (timers: {})", args.timers.name());
        let _ = out.flush();
    }
    match args.timers {
        TimerKind::Tokio => rt.block_on(accept(listener, timers::Tokio, config)),
        TimerKind::Tickless => rt.block_on(accept(listener, timers::Tickless, config)),
    }
}

/// Accepts forever; a failed accept (out of descriptors) backs off briefly.
async fn accept<T: Timers>(listener: TcpListener, timers: T, config: Config) -> ExitCode {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, timers.clone(), config));
            }
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Serves one connection until the client leaves or it idles out.
async fn connection<T: Timers>(stream: TcpStream, timers: T, config: Config) {
    let _ = stream.set_nodelay(true);
    // Counted by the service, read by this task (the same task polls both):
    // a change means a request arrived since the last poll.
    let requests = Arc::new(AtomicU64::new(0));
    let service = {
        let (requests, timers) = (requests.clone(), timers.clone());
        hyper::service::service_fn(move |request| {
            // Relaxed: only this connection's own task reads it.
            let n = requests.fetch_add(1, Ordering::Relaxed) + 1;
            let timers = timers.clone();
            async move {
                let reply = timers.timeout(config.request_timeout, handle(request, n));
                Ok::<_, Infallible>(reply.await.unwrap_or_else(timed_out))
            }
        })
    };
    let mut http = http1::Builder::new();
    timers.install(&mut http);
    http.header_read_timeout(config.idle_timeout);
    let mut conn = pin!(http.serve_connection(TokioIo::new(stream), service));
    // Pinned in this task's future, as tokio's docs pin a `Sleep`: no box.
    let mut idle = pin!(timers.idle(config.idle_timeout));
    let mut seen = 0;
    poll_fn(|cx| {
        if conn.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        // Relaxed: written by the service inside `conn.poll` above, same thread.
        let now = requests.load(Ordering::Relaxed);
        if now != seen {
            seen = now;
            T::reset_idle(idle.as_mut(), config.idle_timeout);
        }
        // Idle too long: dropping the connection closes it.
        idle.as_mut().poll(cx)
    })
    .await;
}

/// The handler: a little work, a small body.
async fn handle(request: Request<Incoming>, n: u64) -> Response<Full<Bytes>> {
    if request.uri().path() == "/stall" {
        std::future::pending::<()>().await;
    }
    let body = format!(
        "hello from tickless's example server: {} {} (request {n} on this connection)\n",
        request.method(),
        request.uri().path()
    );
    Response::new(Full::new(Bytes::from(body)))
}

fn timed_out() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"request timed out\n")));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}
