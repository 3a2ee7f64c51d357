//! A debug HTTP server for tickless: see every timer from a browser.
//!
//! ```no_run
//! let server = tickless_debug::serve("127.0.0.1:6060")?;
//! println!("open http://{}/debug/timers", server.local_addr());
//! # Ok::<(), tickless_debug::ServeError>(())
//! ```
//!
//! | path | what |
//! |---|---|
//! | `/debug/timers` | HTML: live timers by call site, sortable, refreshing itself, leak suspects highlighted, live count over the last minutes |
//! | `/debug/timers.json` | the same data as JSON (the page's feed) |
//! | `/metrics` | Prometheus text exposition ([`Snapshot::to_prometheus`](tickless::observe::Snapshot::to_prometheus)) |
//! | `/debug/pprof/timers` | gzip'd pprof profile: `go tool pprof -top http://HOST/debug/pprof/timers` |
//!
//! Binds to loopback unless [`Options::allow_non_loopback`] says otherwise:
//! the page names source files and lines. Unknown paths answer 404, other
//! methods than GET/HEAD 405, malformed requests 400. At most
//! [`MAX_CONNECTIONS`] requests are served at once, and each lets go of its
//! slot within a few seconds whatever the client does: it has
//! [`HEAD_DEADLINE`] in all to send its request head (408 after), 3 s for each
//! read or write, and what it still sends after the response is drained for
//! at most a second. Beyond the limit a client gets an immediate 503. When
//! the process runs out of file descriptors or memory, accepting pauses (5 ms,
//! doubling to 1 s) rather than spinning.
//!
//! To serve these from a router of your own instead (axum, hyper, …), the
//! four responses are public functions in [`render`]; the server answers
//! with the same functions.
//!
//! The page's HTML escaping is public as [`html::escape`], for other hand-built
//! HTML (the `tickless` command's report uses it).

mod accept;
pub mod html;
mod http;
mod page;
pub mod render;

/// The README's examples, compiled as doctests (the README is in the package).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tickless::Handle;

use render::History;

/// Requests served at once; more get 503.
pub const MAX_CONNECTIONS: usize = 32;
/// Samples of the live count kept for the page's chart (one a second: 5 min).
pub const HISTORY: usize = 300;
/// How often a sleeping server thread checks whether the server is stopping:
/// dropping a [`DebugServer`] waits about this long for it.
const STOP_POLL: Duration = Duration::from_millis(10);
/// Default [`Options::head_deadline`]: the time a client has, from accept, to
/// send its whole request head. Browsers and `curl` send it in one packet;
/// five seconds forgives a slow tunnel, yet bounds how long clients that
/// trickle their headers can hold the [`MAX_CONNECTIONS`] slots.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(5);

/// Why the server could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    /// The address did not resolve.
    Resolve(io::Error),
    /// The address is not loopback and [`Options::allow_non_loopback`] is off.
    NotLoopback(SocketAddr),
    /// Binding or starting the server thread failed.
    Io(io::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Resolve(e) => write!(f, "cannot resolve the debug server address: {e}"),
            ServeError::NotLoopback(a) => write!(
                f,
                "refusing to serve timer internals on non-loopback {a}; set Options::allow_non_loopback to opt in"
            ),
            ServeError::Io(e) => write!(f, "cannot start the debug server: {e}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Resolve(e) | ServeError::Io(e) => Some(e),
            ServeError::NotLoopback(_) => None,
        }
    }
}

/// Server options: start from `Options::default()` and set fields (the
/// struct is `#[non_exhaustive]`, so new options are not breaking changes).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// The driver to show. Default: the global driver.
    pub handle: Handle,
    /// Allow binding to a non-loopback address. Default `false`.
    pub allow_non_loopback: bool,
    /// How often the live count is sampled for the chart. Default 1 s.
    pub sample_every: Duration,
    /// How long a client has to send its whole request head; past it the
    /// connection gets 408 and its slot is freed. Default [`HEAD_DEADLINE`].
    pub head_deadline: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            handle: Handle::current(),
            allow_non_loopback: false,
            sample_every: Duration::from_secs(1),
            head_deadline: HEAD_DEADLINE,
        }
    }
}

/// Serves the global driver's timers on `addr` (loopback only).
pub fn serve(addr: impl ToSocketAddrs) -> Result<DebugServer, ServeError> {
    serve_with(addr, Options::default())
}

/// Serves with explicit [`Options`].
pub fn serve_with(addr: impl ToSocketAddrs, options: Options) -> Result<DebugServer, ServeError> {
    let addr = addr
        .to_socket_addrs()
        .map_err(ServeError::Resolve)?
        .next()
        .ok_or_else(|| {
            ServeError::Resolve(io::Error::new(io::ErrorKind::NotFound, "no address"))
        })?;
    if !addr.ip().is_loopback() && !options.allow_non_loopback {
        return Err(ServeError::NotLoopback(addr));
    }
    let listener = TcpListener::bind(addr).map_err(ServeError::Io)?;
    let local = listener.local_addr().map_err(ServeError::Io)?;
    let shared = Arc::new(Shared {
        handle: options.handle,
        stop: AtomicBool::new(false),
        active: AtomicUsize::new(0),
        head_deadline: options.head_deadline,
        history: History::new(),
    });
    let sampler = {
        let shared = shared.clone();
        let every = options.sample_every.max(Duration::from_millis(10));
        std::thread::Builder::new()
            .name("tickless-debug-sampler".into())
            .spawn(move || sample(&shared, every))
            .map_err(ServeError::Io)?
    };
    let acceptor = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("tickless-debug".into())
            .spawn(move || accept::run(&listener, &shared))
            .map_err(ServeError::Io)?
    };
    Ok(DebugServer {
        local,
        shared,
        threads: vec![acceptor, sampler],
    })
}

/// A running debug server; dropping it stops it.
pub struct DebugServer {
    local: SocketAddr,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl DebugServer {
    /// The address it listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for DebugServer {
    fn drop(&mut self) {
        // SeqCst: a flag read by two threads after they wake; ordering is moot.
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.local, Duration::from_secs(1)); // unblock accept
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl fmt::Debug for DebugServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DebugServer")
            .field("local_addr", &self.local)
            .finish()
    }
}

pub(crate) struct Shared {
    pub(crate) handle: Handle,
    stop: AtomicBool,
    active: AtomicUsize,
    pub(crate) head_deadline: Duration,
    /// The live count, sampled every [`Options::sample_every`].
    pub(crate) history: History,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps for `d`, or less if the server stops meanwhile.
    fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || self.stopped() {
                return;
            }
            std::thread::sleep(left.min(STOP_POLL));
        }
    }
}

fn sample(shared: &Shared, every: Duration) {
    while !shared.stopped() {
        shared.history.sample(&shared.handle);
        shared.sleep(every);
    }
}
