//! The small thread pool [`after_func`](super::super::blocking::after_func) callbacks
//! run on: one per driver, started on first use.
//!
//! Callbacks never run on the timer thread, so a slow one cannot delay other
//! timers; and a callback never waits behind a slow one: when every worker is
//! busy, another is started (up to [`MAX_WORKERS`]; Go runs each `AfterFunc`
//! in its own goroutine). Idle workers exit after [`IDLE_EXIT`]. A panicking
//! callback is caught and counted, and its worker carries on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

/// Most callback threads alive at once; beyond it callbacks queue.
pub(crate) const MAX_WORKERS: usize = 256;
/// An idle callback thread exits after this long.
pub(crate) const IDLE_EXIT: Duration = Duration::from_secs(5);

/// A callback to run.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

/// The executor; one per driver, started on first use.
pub(crate) struct Executor {
    shared: Arc<Shared>,
}

struct Shared {
    tx: Sender<Job>,
    rx: Receiver<Job>,
    /// Jobs sent but not yet taken by a worker.
    queued: AtomicUsize,
    /// Workers waiting for a job.
    idle: AtomicUsize,
    workers: AtomicUsize,
    panics: AtomicU64,
    name: String,
}

impl Executor {
    pub(crate) fn new(name: String) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Executor {
            shared: Arc::new(Shared {
                tx,
                rx,
                queued: AtomicUsize::new(0),
                idle: AtomicUsize::new(0),
                workers: AtomicUsize::new(0),
                panics: AtomicU64::new(0),
                name,
            }),
        }
    }

    /// Callbacks that panicked.
    pub(crate) fn panics(&self) -> u64 {
        // Relaxed: a statistic.
        self.shared.panics.load(Ordering::Relaxed)
    }

    /// Runs `job` on a worker; never blocks.
    pub(crate) fn submit(&self, job: Job) {
        let shared = &self.shared;
        // SeqCst on the three counters: submit compares `queued` with `idle`
        // while workers move between them; a single total order makes "every
        // queued job has an idle worker or spawns one" hold (at worst a spare
        // worker is started).
        let queued = shared.queued.fetch_add(1, Ordering::SeqCst) + 1;
        if shared.tx.send(job).is_err() {
            return; // unreachable: `shared` owns a receiver
        }
        if queued > shared.idle.load(Ordering::SeqCst)
            && shared.workers.load(Ordering::SeqCst) < MAX_WORKERS
        {
            spawn_worker(shared);
        }
    }
}

fn spawn_worker(shared: &Arc<Shared>) {
    shared.workers.fetch_add(1, Ordering::SeqCst);
    let worker = shared.clone();
    let spawned = std::thread::Builder::new()
        .name(shared.name.clone())
        .spawn(move || run(&worker));
    if spawned.is_err() {
        // Out of threads: the queued job waits for a busy worker.
        shared.workers.fetch_sub(1, Ordering::SeqCst);
    }
}

fn run(shared: &Shared) {
    loop {
        shared.idle.fetch_add(1, Ordering::SeqCst);
        match shared.rx.recv_timeout(IDLE_EXIT) {
            Ok(job) => {
                shared.idle.fetch_sub(1, Ordering::SeqCst);
                shared.queued.fetch_sub(1, Ordering::SeqCst);
                if catch_unwind(AssertUnwindSafe(job)).is_err() {
                    // Relaxed: a statistic.
                    shared.panics.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                shared.idle.fetch_sub(1, Ordering::SeqCst);
                shared.workers.fetch_sub(1, Ordering::SeqCst);
                // A job sent after our timeout but before we left the idle
                // count would wait: hand it to a fresh worker.
                if shared.queued.load(Ordering::SeqCst) > shared.idle.load(Ordering::SeqCst) {
                    shared.workers.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                return;
            }
        }
    }
}
