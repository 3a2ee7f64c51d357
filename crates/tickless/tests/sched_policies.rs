//! Each reject policy of `tickless::sched`, at each moment it applies —
//! `execute` with the queue full, `schedule` with `max_pending` jobs
//! waiting, a run coming due with the queue full — and a job submitting to
//! its own full pool, which must not deadlock under any policy.
//!
//! The pool is made full on purpose: one worker held by a gate, a queue of
//! capacity one holding one run.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, Sender};
use tickless::clock::ManualClock;
use tickless::sched::{RejectPolicy, Rejected, RejectedAt, Rejection, Scheduler};
use tickless::Driver;

const WAIT: Duration = Duration::from_secs(10);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A one-worker pool with room for one queued run, its worker held busy
/// until the returned gate is dropped, and its queue full (the queued run
/// sends "queued" when it runs).
struct Full {
    /// Declared first so it is dropped first: the scheduler's drop waits
    /// for its worker, which waits for the gate.
    gate: Option<Sender<()>>,
    clock: ManualClock,
    s: Scheduler,
    _driver: Driver,
    ran: Receiver<&'static str>,
    ran_tx: Sender<&'static str>,
    hook: Arc<Mutex<Vec<Rejection>>>,
}

fn full(policy: RejectPolicy, max_pending: usize) -> Full {
    let (clock, driver) = support::manual_driver();
    let hook: Arc<Mutex<Vec<Rejection>>> = Arc::default();
    let seen = hook.clone();
    let s = Scheduler::builder()
        .workers(1)
        .queue_capacity(1)
        .max_pending(max_pending)
        .reject(policy)
        .on_reject(move |r| seen.lock().unwrap().push(*r))
        .handle(driver.handle().clone())
        .build()
        .unwrap();
    let (gate, held) = unbounded::<()>();
    let (started_tx, started) = unbounded();
    s.execute(move || {
        started_tx.send(()).unwrap();
        let _ = held.recv();
    })
    .unwrap();
    started.recv_timeout(WAIT).unwrap();
    let (ran_tx, ran) = unbounded();
    let tx = ran_tx.clone();
    s.execute(move || tx.send("queued").unwrap()).unwrap();
    assert_eq!(s.metrics().queued, 1);
    Full {
        clock,
        _driver: driver,
        s,
        gate: Some(gate),
        ran,
        ran_tx,
        hook,
    }
}

impl Full {
    fn job(&self, name: &'static str) -> impl FnOnce() + Send + 'static {
        let tx = self.ran_tx.clone();
        move || tx.send(name).unwrap()
    }

    /// Opens the gate and returns what ran, in order, once the pool is idle.
    fn finish(&mut self) -> (Vec<&'static str>, Vec<Rejection>) {
        drop(self.gate.take());
        let start = Instant::now();
        loop {
            let m = self.s.metrics();
            if m.queued == 0 && m.running == 0 {
                break;
            }
            assert!(start.elapsed() < WAIT, "{m:?}");
            thread::sleep(ms(1));
        }
        let hook = self.hook.lock().unwrap().clone();
        (self.ran.try_iter().collect(), hook)
    }

    /// Waits for the hook to have been called `n` times (due-time rejections
    /// report on the driver's callback thread).
    fn wait_hook(&self, n: usize) {
        let start = Instant::now();
        while self.hook.lock().unwrap().len() < n {
            assert!(start.elapsed() < WAIT, "hook not called");
            thread::sleep(ms(1));
        }
    }
}

fn rejected(s: &Scheduler, policy: RejectPolicy) -> u64 {
    s.metrics().rejected()[policy as usize]
}

#[test]
fn execute_with_the_queue_full() {
    let mut f = full(RejectPolicy::Abort, 10);
    assert_eq!(f.s.execute(f.job("new")), Err(Rejected::QueueFull));
    let (ran, hook) = f.finish();
    let s = &f.s;
    assert_eq!(ran, ["queued"]);
    assert_eq!(rejected(s, RejectPolicy::Abort), 1);
    assert_eq!(
        (hook[0].reason, hook[0].at),
        (Rejected::QueueFull, RejectedAt::Submit)
    );
    assert!(
        hook[0].job.file().ends_with("sched_policies.rs"),
        "named by the submitting line"
    );

    let mut f = full(RejectPolicy::Discard, 10);
    assert_eq!(f.s.execute(f.job("new")), Ok(()), "silently dropped");
    let (ran, hook) = f.finish();
    let s = &f.s;
    assert_eq!((ran, hook.len()), (vec!["queued"], 1));
    assert_eq!(rejected(s, RejectPolicy::Discard), 1);

    let mut f = full(RejectPolicy::DiscardOldest, 10);
    assert_eq!(f.s.execute(f.job("new")), Ok(()));
    let (ran, _) = f.finish();
    assert_eq!(ran, ["new"], "the oldest queued run made room");

    let mut f = full(RejectPolicy::CallerRuns, 10);
    let caller = thread::current().id();
    let on = Arc::new(Mutex::new(None));
    let seen = on.clone();
    assert_eq!(
        f.s.execute(move || *seen.lock().unwrap() = Some(thread::current().id())),
        Ok(())
    );
    assert_eq!(
        *on.lock().unwrap(),
        Some(caller),
        "ran on the caller, before returning"
    );
    let (ran, _) = f.finish();
    let s = &f.s;
    assert_eq!(ran, ["queued"]);
    assert_eq!(s.metrics().caller_runs, 1);
}

/// `Block` admits the waiting submitter once a worker takes the queued run.
#[test]
fn block_admits_the_waiting_submitter_in_order() {
    let mut f = full(RejectPolicy::Block, 10);
    let (done_tx, done) = unbounded();
    let submitter = {
        let (s, job) = (f.s.clone(), f.job("new"));
        thread::spawn(move || done_tx.send(s.execute(job)).unwrap())
    };
    assert!(
        done.recv_timeout(ms(50)).is_err(),
        "waits while the queue is full"
    );
    drop(f.gate.take());
    assert_eq!(done.recv_timeout(WAIT).unwrap(), Ok(()));
    submitter.join().unwrap();
    let ran: Vec<_> = (0..2).map(|_| f.ran.recv_timeout(WAIT).unwrap()).collect();
    assert_eq!(ran, ["queued", "new"]);
}

#[test]
fn schedule_with_max_pending_jobs_waiting() {
    // Abort: refused.
    let f = full(RejectPolicy::Abort, 1);
    let _first = f.s.schedule(ms(10), f.job("first")).unwrap();
    assert_eq!(
        f.s.schedule(ms(5), f.job("second")).unwrap_err(),
        Rejected::PendingFull
    );
    assert_eq!(f.hook.lock().unwrap()[0].reason, Rejected::PendingFull);

    // Discard: Ok, but the handle is not pending and the job never runs.
    let f = full(RejectPolicy::Discard, 1);
    let _first = f.s.schedule(ms(10), f.job("first")).unwrap();
    let second = f.s.schedule(ms(5), f.job("second")).unwrap();
    assert!(!second.is_pending());
    assert_eq!(f.s.metrics().pending, 1);

    // DiscardOldest: the job due first is dropped for the newcomer.
    let f = full(RejectPolicy::DiscardOldest, 1);
    let first = f.s.schedule(ms(10), f.job("first")).unwrap();
    let second = f.s.schedule(ms(20), f.job("second")).unwrap();
    assert!(!first.is_pending() && second.is_pending());

    // CallerRuns: a one-shot job runs on the caller at its deadline.
    let f = full(RejectPolicy::CallerRuns, 1);
    let _first = f.s.schedule(ms(10), f.job("first")).unwrap();
    let (done_tx, done) = unbounded();
    let caller = {
        let (s, job) = (f.s.clone(), f.job("second"));
        thread::spawn(move || {
            done_tx
                .send(s.schedule(ms(5), job).map(|h| h.is_pending()))
                .unwrap()
        })
    };
    assert!(
        done.recv_timeout(ms(50)).is_err(),
        "waits for the deadline, never runs early"
    );
    f.clock.advance(ms(5));
    assert_eq!(done.recv_timeout(WAIT).unwrap(), Ok(false));
    caller.join().unwrap();
    assert_eq!(f.ran.recv_timeout(WAIT).unwrap(), "second");

    // Block: waits until a pending job leaves (here: is cancelled).
    let f = full(RejectPolicy::Block, 1);
    let first = f.s.schedule(ms(10), f.job("first")).unwrap();
    let (done_tx, done) = unbounded();
    let waiter = {
        let (s, job) = (f.s.clone(), f.job("second"));
        thread::spawn(move || {
            done_tx
                .send(s.schedule(ms(5), job).map(|h| h.is_pending()))
                .unwrap()
        })
    };
    assert!(done.recv_timeout(ms(50)).is_err(), "waits for room");
    assert!(first.cancel());
    assert_eq!(
        done.recv_timeout(WAIT).unwrap(),
        Ok(true),
        "admitted once there was room"
    );
    waiter.join().unwrap();
}

#[test]
fn a_run_coming_due_with_the_queue_full() {
    // Abort and Discard: the run is dropped and reported; the timer thread never blocks.
    for policy in [RejectPolicy::Abort, RejectPolicy::Discard] {
        let mut f = full(policy, 10);
        let job = f.s.schedule(ms(10), f.job("due")).unwrap();
        f.clock.advance(ms(10));
        f.wait_hook(1);
        assert!(!job.is_pending(), "dropped");
        let (ran, hook) = f.finish();
        let s = &f.s;
        assert_eq!(ran, ["queued"]);
        assert_eq!(
            (hook[0].at, hook[0].reason),
            (RejectedAt::Due, Rejected::QueueFull)
        );
        assert_eq!(rejected(s, policy), 1);
    }
    // DiscardOldest: the queued run is dropped for the due one.
    let mut f = full(RejectPolicy::DiscardOldest, 10);
    let _job = f.s.schedule(ms(10), f.job("due")).unwrap();
    f.clock.advance(ms(10));
    let (ran, _) = f.finish();
    assert_eq!(ran, ["due"]);
    // CallerRuns and Block: the run waits for room and runs late, never lost.
    for policy in [RejectPolicy::CallerRuns, RejectPolicy::Block] {
        let mut f = full(policy, 10);
        let _job = f.s.schedule(ms(10), f.job("due")).unwrap();
        f.clock.advance(ms(10));
        assert_eq!(
            f.s.metrics().pending,
            1,
            "waiting for room, still counted pending: {:?}",
            f.s.metrics()
        );
        f.wait_hook(1);
        let (ran, hook) = f.finish();
        assert_eq!(ran, ["queued", "due"], "{policy:?}");
        assert_eq!(hook.len(), 1);
    }
    // A periodic job's dropped run is only that run: the job keeps its schedule.
    let mut f = full(RejectPolicy::Abort, 10);
    let tx = f.ran_tx.clone();
    let periodic =
        f.s.at_fixed_rate(ms(10), ms(10), move || tx.send("tick").unwrap())
            .unwrap();
    f.clock.advance(ms(10));
    f.wait_hook(1);
    assert!(periodic.is_pending());
    let (ran, _) = f.finish();
    let s = &f.s;
    assert_eq!(ran, ["queued"]);
    f.clock.advance(ms(10));
    let start = Instant::now();
    while s.metrics().total.completed < 3 {
        assert!(start.elapsed() < WAIT);
        thread::sleep(ms(1));
    }
}

#[test]
fn a_job_submitting_to_its_own_full_pool_never_deadlocks() {
    for policy in RejectPolicy::ALL {
        let (_clock, driver) = support::manual_driver();
        let s = Scheduler::builder()
            .workers(1)
            .queue_capacity(1)
            .max_pending(1)
            .reject(policy)
            .handle(driver.handle().clone())
            .build()
            .unwrap();
        let (tx, rx) = unbounded();
        let inner = s.clone();
        let runs = Arc::new(AtomicUsize::new(0));
        let count = runs.clone();
        s.execute(move || {
            // Fill the queue, then ask for more from inside the only worker.
            let mut results = Vec::new();
            for _ in 0..3 {
                let count = count.clone();
                results.push(inner.execute(move || {
                    count.fetch_add(1, Ordering::Relaxed);
                }));
            }
            let _pending = inner.schedule(Duration::from_secs(3600), || {});
            let refused = inner.schedule(Duration::from_secs(3600), || {});
            tx.send((results, refused.is_err() || !refused.unwrap().is_pending()))
                .unwrap();
        })
        .unwrap();
        let (results, second_refused) = rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("{policy:?} deadlocked"));
        // DiscardOldest drops the first pending job for the second.
        assert_eq!(
            second_refused,
            policy != RejectPolicy::DiscardOldest,
            "{policy:?}: max_pending 1 was full"
        );
        match policy {
            RejectPolicy::Abort => assert_eq!(results[1..], [Err(Rejected::QueueFull); 2]),
            _ => assert!(results.iter().all(Result::is_ok), "{policy:?}: {results:?}"),
        }
        let expected = match policy {
            RejectPolicy::Abort | RejectPolicy::Discard | RejectPolicy::DiscardOldest => 1,
            RejectPolicy::CallerRuns | RejectPolicy::Block => 3, // two inline, one queued
        };
        let start = Instant::now();
        while runs.load(Ordering::Relaxed) < expected {
            assert!(
                start.elapsed() < WAIT,
                "{policy:?}: {} runs",
                runs.load(Ordering::Relaxed)
            );
            thread::sleep(ms(1));
        }
        drop(s);
        assert_eq!(runs.load(Ordering::Relaxed), expected, "{policy:?}");
    }
}
