//! The bench's own small clients (plain blocking sockets): keep-alive
//! connections held open idle after one request, and silent connections
//! timed until the server closes them. Plus the descriptor limit they need.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const REQUEST: &[u8] = b"GET /idle HTTP/1.1\r\nHost: bench\r\n\r\n";

/// Raises the soft limit on open descriptors to the hard limit (children
/// inherit it); returns the soft limit now in force, `None` if unknown.
#[cfg(target_os = "linux")]
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    if setrlimit(Resource::Nofile, raised).is_ok() {
        raised.current.or(Some(u64::MAX))
    } else {
        limit.current.or(Some(u64::MAX))
    }
}

#[cfg(not(target_os = "linux"))]
pub fn raise_fd_limit() -> Option<u64> {
    None
}

/// `n` keep-alive connections, each after one request and its full
/// response, left open and idle.
pub fn open_idle(addr: SocketAddr, n: usize) -> io::Result<Vec<TcpStream>> {
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.write_all(REQUEST)?;
        read_response(&mut stream)?;
        streams.push(stream);
    }
    Ok(streams)
}

/// How many of `streams` the server has not closed.
pub fn still_open(streams: &[TcpStream]) -> usize {
    let mut buf = [0u8; 1];
    streams
        .iter()
        .filter(|s| {
            s.set_nonblocking(true).is_ok()
                && matches!(s.peek(&mut buf), Err(e) if e.kind() == ErrorKind::WouldBlock)
        })
        .count()
}

/// Reads one response: the head, then `Content-Length` bytes of body.
fn read_response(stream: &mut TcpStream) -> io::Result<()> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return Ok(());
            }
        }
        match stream.read(&mut chunk)? {
            0 => return Err(ErrorKind::UnexpectedEof.into()),
            n => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// `n` connections that send nothing, each on its own thread: for each, the
/// time from just before its connect to the server closing it (`None`: not
/// closed within `bound`, or the connect failed).
pub fn silent(addr: SocketAddr, n: usize, bound: Duration) -> Vec<Option<Duration>> {
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..n)
            .map(|_| scope.spawn(move || time_to_close(addr, bound)))
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().ok().flatten())
            .collect()
    })
}

fn time_to_close(addr: SocketAddr, bound: Duration) -> Option<Duration> {
    // Before connect: the server's timer starts no earlier than this.
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).ok()?;
    let mut buf = [0u8; 256];
    loop {
        let left = bound.checked_sub(start.elapsed())?;
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .ok()?;
        match stream.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Some(start.elapsed()),
            Err(_) => return None,
        }
    }
}
