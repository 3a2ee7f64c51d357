//! Just enough HTTP/1.1 for a debug page: one request per connection, GET
//! and HEAD, bounded reads with timeouts.
//!
//! A connection holds one of the server's few slots from accept to close, so
//! every phase that waits on the client is bounded in time, not only per read:
//! a client that sends a byte just inside each read timeout must still let go.
//!
//! | phase | bound |
//! |---|---|
//! | each read or write | [`TIMEOUT`] |
//! | reading the request head | [`Options::head_deadline`](crate::Options::head_deadline) in all (default [`HEAD_DEADLINE`](crate::HEAD_DEADLINE)), [`MAX_HEAD`] bytes |
//! | after the response: draining what the client still sends | [`DRAIN_DEADLINE`] in all, [`DRAIN_IDLE`] per read, [`MAX_DRAIN`] bytes |
//! | refusing a connection beyond the slots ([`refuse`], on the accept thread) | no wait at all: non-blocking calls only |

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use crate::render::{self, Rendered};
use crate::Shared;

/// Read and write timeout per call: a client on loopback or a LAN that
/// pauses this long mid-request is gone, and a silent one is cut off before
/// it has held its slot for long.
const TIMEOUT: Duration = Duration::from_secs(3);
/// Largest request head accepted: a GET with cookies fits many times over.
const MAX_HEAD: usize = 16 * 1024;
/// Longest the post-response drain may last in all. A client that reads the
/// response and closes ends it within a round trip; one second also lets a
/// request body still in flight arrive, and caps how long a client that keeps
/// trickling bytes holds its slot after being served.
const DRAIN_DEADLINE: Duration = Duration::from_secs(1);
/// The drain stops at the first pause this long: the client has sent all it
/// had, or keeps the connection open without sending.
const DRAIN_IDLE: Duration = Duration::from_millis(200);
/// The drain stops after this many bytes: more is an upload, not leftovers.
const MAX_DRAIN: usize = 256 * 1024;

pub(crate) struct Response {
    status: u16,
    content_type: &'static str,
    extra: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    pub(crate) fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            content_type,
            extra: Vec::new(),
            body: body.into(),
        }
    }

    /// 200 with a rendered body.
    fn ok(rendered: Rendered) -> Self {
        Response::new(200, rendered.content_type, rendered.body)
    }

    pub(crate) fn text(status: u16, body: &str) -> Self {
        Response::new(status, "text/plain; charset=utf-8", body)
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    pub(crate) fn write_to(&self, out: &mut impl Write, head_only: bool) -> io::Result<()> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            431 => "Request Header Fields Too Large",
            503 => "Service Unavailable",
            _ => "Error",
        };
        let mut head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
            self.status,
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.extra {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())?;
        if !head_only {
            out.write_all(&self.body)?;
        }
        out.flush()
    }
}

/// Answers 503 on the accept loop's thread, which must never wait on a
/// client (one slow client would stall every accept): no blocking call.
///
/// The request is not read first; closing with it unread made the kernel
/// reset the connection, and clients lost the 503. So the response is
/// followed at once by a FIN (half-close), then whatever request bytes have
/// already arrived are read and discarded. If more arrive after the close,
/// the kernel answers them with a reset, but the response and the FIN are
/// ahead of it: the client reads the whole 503 and end-of-stream.
pub(crate) fn refuse(mut stream: TcpStream) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    // A fresh connection's send buffer is empty: the short response goes
    // out in full without waiting.
    let _ = Response::text(503, "too many requests\n").write_to(&mut stream, false);
    let _ = stream.shutdown(Shutdown::Write);
    let mut sink = [0u8; 4096];
    let mut discarded = 0;
    while discarded < MAX_HEAD {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break, // end, or nothing more yet (WouldBlock)
            Ok(n) => discarded += n,
        }
    }
}

/// Reads the request head within `deadline` (408 past it) and [`MAX_HEAD`]
/// bytes (431), or the status of what went wrong.
fn read_head(stream: &mut TcpStream, deadline: Option<Instant>) -> Result<String, u16> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            break;
        }
        if buf.len() > MAX_HEAD {
            return Err(431);
        }
        // The per-read timeout alone let a client that sends a byte every
        // few seconds hold its slot for as long as it liked.
        let timeout = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).min(TIMEOUT),
            None => TIMEOUT,
        };
        if timeout.is_zero() {
            return Err(408);
        }
        stream.set_read_timeout(Some(timeout)).map_err(|_| 400u16)?;
        match stream.read(&mut chunk) {
            Ok(0) => break, // closed: parse what we have
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(408)
            }
            Err(_) => return Err(400),
        }
    }
    String::from_utf8(buf).map_err(|_| 400)
}

pub(crate) fn serve_connection(mut stream: TcpStream, shared: &Shared) {
    // None: a deadline too far to represent is no deadline.
    let deadline = Instant::now().checked_add(shared.head_deadline);
    let _ = stream.set_write_timeout(Some(TIMEOUT));
    let (response, head_only) = match read_head(&mut stream, deadline) {
        Err(status) => (Response::text(status, "bad request\n"), false),
        Ok(head) => route(&head, shared),
    };
    let _ = response.write_to(&mut stream, head_only);
    drain(&mut stream);
}

/// Half-closes after the response, then reads and discards what the client
/// still sends, within [`DRAIN_DEADLINE`], [`DRAIN_IDLE`] and [`MAX_DRAIN`].
///
/// Closing with unread input makes the kernel send a reset, which can
/// destroy the response before the client reads it; the drain gives the
/// client time to read the response and close first.
fn drain(stream: &mut TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + DRAIN_DEADLINE;
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < MAX_DRAIN {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left.min(DRAIN_IDLE))).is_err() {
            break;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// The response to a request head, and whether to omit the body (HEAD).
pub(crate) fn route(head: &str, shared: &Shared) -> (Response, bool) {
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return (Response::text(400, "malformed request line\n"), false);
    };
    if parts.next().is_some() || !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return (Response::text(400, "malformed request line\n"), false);
    }
    let path = target.split('?').next().unwrap_or(target);
    let known = matches!(
        path,
        "/metrics" | "/debug/pprof/timers" | "/debug/timers" | "/debug/timers.json" | "/"
    );
    if !known {
        return (Response::text(404, "not found\n"), false);
    }
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return (
            Response::text(405, "method not allowed\n").header("Allow", "GET, HEAD"),
            false,
        );
    }
    let (handle, history) = (&shared.handle, &shared.history);
    let response = match path {
        "/" => Response::text(
            200,
            "tickless debug server: /debug/timers /metrics /debug/pprof/timers\n",
        ),
        "/metrics" => Response::ok(render::metrics_text(handle)),
        "/debug/pprof/timers" => Response::ok(render::pprof_body(handle)).header(
            "Content-Disposition",
            "attachment; filename=\"timers.pb.gz\"",
        ),
        "/debug/timers.json" => Response::ok(render::timers_json(handle, history)),
        _ => Response::ok(render::timers_html(handle, history)),
    };
    (response, head_only)
}
