//! The small thread pool [`after_func`](super::super::blocking::after_func) callbacks
//! run on: one per driver, started on first use.
//!
//! Callbacks never run on the timer thread, so a slow one cannot delay other
//! timers; and a callback never waits behind a slow one: when every worker is
//! busy, another is started (up to [`MAX_WORKERS`]; Go runs each `AfterFunc`
//! in its own goroutine). Idle workers exit after [`IDLE_EXIT`], or at once
//! once their driver has shut down. A panicking callback is caught and
//! counted, and its worker carries on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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

/// What the workers receive.
enum Msg {
    Run(Job),
    /// Sent once per worker at shutdown, after the callbacks already queued.
    Exit,
}

struct Shared {
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    /// Jobs sent but not yet taken by a worker.
    queued: AtomicUsize,
    /// Workers waiting for a job.
    idle: AtomicUsize,
    workers: AtomicUsize,
    panics: AtomicU64,
    /// Set when the driver shuts down: idle workers exit at once instead of
    /// after [`IDLE_EXIT`].
    closing: AtomicBool,
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
                closing: AtomicBool::new(false),
                name,
            }),
        }
    }

    /// Callbacks that panicked.
    pub(crate) fn panics(&self) -> u64 {
        // Relaxed: a statistic.
        self.shared.panics.load(Ordering::Relaxed)
    }

    /// Worker threads alive now.
    pub(crate) fn threads(&self) -> usize {
        // Relaxed: a statistic.
        self.shared.workers.load(Ordering::Relaxed)
    }

    /// Callbacks submitted and not yet started (waiting for a worker: past
    /// [`MAX_WORKERS`] busy ones, or for a thread to start).
    pub(crate) fn waiting(&self) -> usize {
        // Relaxed: a statistic.
        let queued = self.shared.queued.load(Ordering::Relaxed);
        queued.saturating_sub(self.shared.idle.load(Ordering::Relaxed))
    }

    /// The driver shut down: workers finish what is queued (the callbacks of
    /// the timers the shutdown completed) and exit, instead of idling for
    /// [`IDLE_EXIT`]. Callbacks submitted later still run, each on a worker
    /// that exits once idle.
    pub(crate) fn close(&self) {
        let shared = &self.shared;
        // SeqCst: ordered with the workers' reads in `run`, so a worker that
        // starts waiting after this waits for nothing.
        shared.closing.store(true, Ordering::SeqCst);
        // One `Exit` per worker, behind the queued callbacks: each worker
        // leaves on the first it takes. (A message per worker, not a flag:
        // one busy worker could otherwise drain every nudge while the others
        // sleep on.)
        for _ in 0..shared.workers.load(Ordering::SeqCst) {
            let _ = shared.tx.send(Msg::Exit);
        }
    }

    /// Runs `job` on a worker; never blocks.
    pub(crate) fn submit(&self, job: Job) {
        let shared = &self.shared;
        // SeqCst on the three counters: submit compares `queued` with `idle`
        // while workers move between them; a single total order makes "every
        // queued job has an idle worker or spawns one" hold (at worst a spare
        // worker is started).
        let queued = shared.queued.fetch_add(1, Ordering::SeqCst) + 1;
        if shared.tx.send(Msg::Run(job)).is_err() {
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
        // SeqCst: see `close`.
        let wait = if shared.closing.load(Ordering::SeqCst) {
            Duration::ZERO
        } else {
            IDLE_EXIT
        };
        match shared.rx.recv_timeout(wait) {
            Ok(Msg::Run(job)) => {
                shared.idle.fetch_sub(1, Ordering::SeqCst);
                shared.queued.fetch_sub(1, Ordering::SeqCst);
                if catch_unwind(AssertUnwindSafe(job)).is_err() {
                    // Relaxed: a statistic.
                    shared.panics.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(Msg::Exit) | Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
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
