//! The accept loop: admits a connection to one of [`MAX_CONNECTIONS`] slots
//! (a thread each), refuses it with a 503 beyond them, and backs off when
//! accepting itself fails.
//!
//! Accept errors come in two kinds. Some concern only the connection being
//! accepted (it was aborted while it waited in the backlog): the next accept
//! may well succeed, so the loop retries at once. All others (`EMFILE` and
//! `ENFILE`, out of file descriptors; `ENOBUFS` and `ENOMEM`, out of kernel
//! memory; and anything unforeseen) leave the connection waiting in the
//! backlog, so an immediate retry fails the same way: retrying at once spun
//! the thread at most of a core. The loop sleeps instead, [`BACKOFF_MIN`]
//! first, doubling with each failure in a row up to [`BACKOFF_MAX`], and back
//! to the start after a success.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::{http, Shared, MAX_CONNECTIONS};

/// First pause after an accept error: short, as a shortage of descriptors or
/// memory is often gone by the next try (a connection closed meanwhile).
const BACKOFF_MIN: Duration = Duration::from_millis(5);
/// Longest pause: trying once a second costs nothing, and the server is back
/// within a second of the shortage ending.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Accepts until the server stops.
pub(crate) fn run(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut backoff = Backoff::new();
    while !shared.stopped() {
        let accepted = listener.accept();
        if shared.stopped() {
            return; // `DebugServer::drop` connected to wake us
        }
        match accepted {
            Ok((stream, _)) => {
                backoff.reset();
                admit(stream, shared);
            }
            Err(e) if concerns_one_connection(&e) => {}
            Err(_) => shared.sleep(backoff.pause()),
        }
    }
}

/// Whether an accept error is about the connection being accepted only, so
/// that an immediate retry may succeed.
fn concerns_one_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Serves `stream` on a thread of its own if a slot is free, else refuses it.
fn admit(stream: TcpStream, shared: &Arc<Shared>) {
    // SeqCst: a simple admission counter.
    if shared.active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
        shared.active.fetch_sub(1, Ordering::SeqCst);
        http::refuse(stream);
        return;
    }
    let conn = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("tickless-debug-conn".into())
        .spawn(move || {
            http::serve_connection(stream, &conn);
            conn.active.fetch_sub(1, Ordering::SeqCst);
        });
    if spawned.is_err() {
        // Out of threads: the connection is dropped with the closure.
        shared.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Pauses between failed accepts: [`BACKOFF_MIN`], doubling up to
/// [`BACKOFF_MAX`], until [`reset`](Backoff::reset).
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Self {
        Backoff { next: BACKOFF_MIN }
    }

    /// The pause to take after one more failure in a row.
    fn pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (pause * 2).min(BACKOFF_MAX);
        pause
    }

    /// After a success: the next failure pauses [`BACKOFF_MIN`] again.
    fn reset(&mut self) {
        self.next = BACKOFF_MIN;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new();
        let pauses: Vec<u128> = (0..10).map(|_| b.pause().as_millis()).collect();
        assert_eq!(pauses, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.reset();
        assert_eq!(b.pause(), BACKOFF_MIN);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn descriptor_and_memory_shortages_back_off() {
        // EMFILE, ENFILE, ENOBUFS, ENOMEM.
        for errno in [24, 23, 105, 12] {
            let e = io::Error::from_raw_os_error(errno);
            assert!(!concerns_one_connection(&e), "{e}");
        }
        let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert!(concerns_one_connection(&aborted));
    }
}
