//! `tickless::sched` on a ManualClock driver: timing of one-shot and
//! periodic jobs, missed ticks, panics, cancellation (before, during and
//! from inside a run), shutdown, and no thread left behind. The reject
//! policies have their own file (`sched_policies.rs`).

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, Sender};
use tickless::clock::{Clock, ManualClock};
use tickless::sched::{BuildError, Scheduler};
use tickless::MissedTickBehavior;

const WAIT: Duration = Duration::from_secs(10);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

use support::sched;

/// Waits until every run that is due has finished (workers idle, queue empty).
fn settle(s: &Scheduler) {
    let start = Instant::now();
    loop {
        let m = s.metrics();
        if m.queued == 0 && m.running == 0 {
            return;
        }
        assert!(start.elapsed() < WAIT, "runs did not settle: {m:?}");
        std::thread::sleep(ms(1));
    }
}

/// A job that sends the (virtual) time it ran at.
fn stamp(clock: &ManualClock, tx: &Sender<Instant>) -> impl FnMut() + Send + 'static {
    let (clock, tx) = (clock.clone(), tx.clone());
    move || tx.send(clock.now()).unwrap()
}

fn drain(rx: &Receiver<Instant>) -> Vec<Instant> {
    rx.try_iter().collect()
}

#[test]
fn bad_configuration_is_an_error_not_a_panic() {
    for (b, want) in [
        (Scheduler::builder().workers(0), "worker"),
        (Scheduler::builder().queue_capacity(0), "queue capacity"),
        (Scheduler::builder().max_pending(0), "max_pending"),
    ] {
        let err = b.build().unwrap_err();
        assert!(err.to_string().contains(want), "{err}");
        assert!(!matches!(err, BuildError::SpawnThread(_)));
    }
}

#[test]
fn a_one_shot_job_runs_at_its_deadline_never_before() {
    let (clock, driver) = support::manual_driver();
    let s = sched(&driver, 2);
    let (tx, rx) = unbounded();
    let t0 = clock.now();
    let job = s.schedule(ms(50), stamp(&clock, &tx)).unwrap();
    assert!(job.is_pending());
    clock.advance(ms(49));
    settle(&s);
    assert!(drain(&rx).is_empty(), "early");
    assert!(job.is_pending());
    clock.advance(ms(1));
    let ran = rx.recv_timeout(WAIT).unwrap();
    assert!(ran >= t0 + ms(50));
    settle(&s);
    assert!(
        !job.is_pending() && !job.cancel(),
        "ran: nothing left to cancel"
    );
    assert_eq!(s.metrics().total.completed, 1);
    assert_eq!(s.metrics().pending, 0);
}

/// A tick's jobs run at the latest exact deadline among them, not at the
/// boundary of the driver's 100 µs tick that holds them (one fire per
/// tick, as the driver's own timers): a lone job runs at its own deadline;
/// of two jobs in one tick, the earlier waits for the later.
#[test]
fn a_ticks_jobs_run_at_its_latest_exact_deadline_not_its_boundary() {
    let (clock, driver) = support::manual_driver();
    let s = sched(&driver, 1);
    let (tx, rx) = unbounded();
    let us = Duration::from_micros;
    let t0 = clock.now();
    // Tick boundaries lie at multiples of 100 µs after the scheduler's
    // origin (the clock's reading when it was built, here its start); each
    // group of deadlines lies inside one tick.
    let _lone = s.schedule(us(10_130), stamp(&clock, &tx)).unwrap();
    let _first = s.schedule(us(20_120), stamp(&clock, &tx)).unwrap();
    let _second = s.schedule(us(20_170), stamp(&clock, &tx)).unwrap();
    clock.advance(us(10_129));
    settle(&s);
    assert!(drain(&rx).is_empty(), "early");
    clock.advance(us(1));
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), t0 + us(10_130), "lone job");
    clock.advance(us(20_169) - us(10_130));
    settle(&s);
    assert!(
        drain(&rx).is_empty(),
        "the tick's earlier job waits for its later one"
    );
    clock.advance(us(1));
    for _ in 0..2 {
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), t0 + us(20_170));
    }
    settle(&s);
    assert!(drain(&rx).is_empty());
}

#[test]
fn cancel_and_drop_free_the_job_at_once_detach_keeps_it() {
    let (clock, driver) = support::manual_driver();
    let s = sched(&driver, 1);
    let (tx, rx) = unbounded();
    let a = s
        .schedule(Duration::from_secs(3600), stamp(&clock, &tx))
        .unwrap();
    let b = s
        .schedule(Duration::from_secs(3600), stamp(&clock, &tx))
        .unwrap();
    s.schedule(Duration::from_secs(3600), stamp(&clock, &tx))
        .unwrap()
        .detach();
    assert_eq!(s.metrics().pending, 3);
    assert_eq!(
        driver.handle().pending_timers(),
        1,
        "one driver timer for the whole scheduler"
    );
    assert!(a.cancel());
    assert!(!a.cancel(), "once");
    assert!(!a.is_pending());
    drop(b);
    assert_eq!(
        s.metrics().pending,
        1,
        "cancelled and dropped jobs are gone at once"
    );
    clock.advance(Duration::from_secs(3600));
    rx.recv_timeout(WAIT).unwrap();
    settle(&s);
    assert!(drain(&rx).is_empty(), "only the detached job ran");
}

#[test]
fn fixed_rate_keeps_a_grid_fixed_delay_counts_from_the_end() {
    let (clock, driver) = support::manual_driver();
    let s = sched(&driver, 1);
    let t0 = clock.now();
    let (tx, rx) = unbounded();
    // Each run takes 3 ms of virtual time.
    let runner = |tx: Sender<Instant>| {
        let clock = clock.clone();
        move || {
            tx.send(clock.now()).unwrap();
            clock.advance(ms(3));
        }
    };
    let (rate_tx, rate_rx) = unbounded();
    let rate = s.at_fixed_rate(ms(10), ms(10), runner(rate_tx)).unwrap();
    let delay = s.with_fixed_delay(ms(10), ms(10), runner(tx)).unwrap();
    for _ in 0..40 {
        clock.advance(ms(1));
        settle(&s);
    }
    let offsets = |times: Vec<Instant>| {
        times
            .iter()
            .map(|t| (*t - t0).as_millis())
            .collect::<Vec<_>>()
    };
    let rate_runs = offsets(drain(&rate_rx));
    let delay_runs = offsets(drain(&rx));
    // Rate: on the 10 ms grid (each run's 3 ms moves the clock too, so a
    // run may start a little after its grid point, never before).
    assert!(rate_runs.len() >= 4, "{rate_runs:?}");
    for (i, at) in rate_runs.iter().enumerate() {
        let grid = 10 * (i as u128 + 1);
        assert!(
            *at >= grid && *at < grid + 10,
            "rate run {i} at {at} ms: {rate_runs:?}"
        );
    }
    // Delay: every start at least 3 + 10 ms after the previous one.
    for pair in delay_runs.windows(2) {
        assert!(pair[1] - pair[0] >= 13, "{delay_runs:?}");
    }
    assert!(rate.is_pending() && delay.is_pending());
}

/// Fixed rate, 10 ms, first at 10 ms; the clock jumps to 35 ms at once.
fn runs_after_a_jump(missed: MissedTickBehavior) -> (usize, usize) {
    let (clock, driver) = support::manual_driver();
    let s = Scheduler::builder()
        .workers(1)
        .handle(driver.handle().clone())
        .missed_tick_behavior(missed)
        .build()
        .unwrap();
    let (tx, rx) = unbounded();
    let _job = s.at_fixed_rate(ms(10), ms(10), stamp(&clock, &tx)).unwrap();
    clock.advance(ms(35));
    settle(&s);
    let at_35 = drain(&rx).len();
    clock.advance(ms(5));
    settle(&s);
    (at_35, drain(&rx).len())
}

#[test]
fn missed_ticks_burst_delay_or_skip() {
    assert_eq!(
        runs_after_a_jump(MissedTickBehavior::Burst),
        (3, 1),
        "10, 20, 30 at once; 40"
    );
    assert_eq!(
        runs_after_a_jump(MissedTickBehavior::Delay),
        (1, 0),
        "next at 45"
    );
    assert_eq!(
        runs_after_a_jump(MissedTickBehavior::Skip),
        (1, 1),
        "next at 40"
    );
}

#[test]
fn a_panicking_periodic_job_keeps_its_schedule_unless_configured() {
    for cancel in [false, true] {
        let (clock, driver) = support::manual_driver();
        let s = Scheduler::builder()
            .workers(1)
            .handle(driver.handle().clone())
            .cancel_periodic_on_panic(cancel)
            .build()
            .unwrap();
        let (tx, rx) = unbounded();
        let mut n = 0;
        let job = s
            .at_fixed_rate(ms(10), ms(10), move || {
                n += 1;
                tx.send(n).unwrap();
                assert!(n != 1, "the first run panics (expected in this test)");
            })
            .unwrap();
        for _ in 0..3 {
            clock.advance(ms(10));
            settle(&s);
        }
        let runs: Vec<i32> = rx.try_iter().collect();
        let m = s.metrics();
        assert_eq!(m.total.panicked, 1);
        if cancel {
            assert_eq!(runs, [1], "cancelled after its panic, as Java does");
            assert!(!job.is_pending());
        } else {
            assert_eq!(runs, [1, 2, 3], "kept its schedule");
            assert_eq!(m.total.completed, 2);
            assert!(job.is_pending());
        }
    }
}

#[test]
fn cancel_while_running_and_from_inside_the_job() {
    let (clock, driver) = support::manual_driver();
    let s = sched(&driver, 2);
    // A periodic job cancelled during a run finishes that run, never runs again.
    let (started_tx, started) = unbounded();
    let (gate_tx, gate) = unbounded::<()>();
    let job = s
        .at_fixed_rate(ms(10), ms(10), move || {
            started_tx.send(()).unwrap();
            let _ = gate.recv();
        })
        .unwrap();
    clock.advance(ms(10));
    started.recv_timeout(WAIT).unwrap();
    assert!(job.cancel(), "its later runs were prevented");
    drop(gate_tx);
    settle(&s);
    clock.advance(ms(100));
    settle(&s);
    assert!(started.try_recv().is_err(), "no run after cancel");
    assert_eq!(s.metrics().pending, 0);

    // A job that cancels itself on its third run.
    let me: Arc<Mutex<Option<tickless::sched::JobHandle>>> = Arc::default();
    let (tx, rx) = unbounded();
    let mut n = 0;
    let handle = {
        let me = me.clone();
        s.at_fixed_rate(ms(10), ms(10), move || {
            n += 1;
            tx.send(n).unwrap();
            if n == 3 {
                assert!(me.lock().unwrap().take().unwrap().cancel());
            }
        })
        .unwrap()
    };
    *me.lock().unwrap() = Some(handle);
    for _ in 0..6 {
        clock.advance(ms(10));
        settle(&s);
    }
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2, 3]);

    // A one-shot job already running cannot be prevented.
    let (started_tx, started) = unbounded();
    let (gate_tx, gate) = unbounded::<()>();
    let once = s
        .schedule(ms(1), move || {
            started_tx.send(()).unwrap();
            let _ = gate.recv();
        })
        .unwrap();
    clock.advance(ms(1));
    started.recv_timeout(WAIT).unwrap();
    assert!(!once.cancel());
    drop(gate_tx);
}

#[test]
fn shutdown_finishes_queued_runs_and_cancels_future_ones() {
    let (clock, driver) = support::manual_driver();
    let s = sched(&driver, 1);
    let (gate_tx, gate) = unbounded::<()>();
    let (tx, rx) = unbounded();
    s.execute(move || {
        let _ = gate.recv();
    })
    .unwrap();
    for i in 0..3 {
        let tx = tx.clone();
        s.execute(move || tx.send(i).unwrap()).unwrap();
    }
    let future = s
        .schedule(ms(10), || unreachable!("cancelled by shutdown"))
        .unwrap();
    let closer = {
        let s = s.clone();
        std::thread::spawn(move || s.shutdown())
    };
    let start = Instant::now();
    while future.is_pending() {
        assert!(start.elapsed() < WAIT);
        std::thread::yield_now();
    }
    assert_eq!(
        s.execute(|| {}),
        Err(tickless::sched::Rejected::Shutdown),
        "no new jobs once shutting down"
    );
    drop(gate_tx);
    closer.join().unwrap();
    assert_eq!(
        rx.try_iter().collect::<Vec<_>>(),
        [0, 1, 2],
        "queued runs finished"
    );
    clock.advance(ms(20));
}

#[test]
fn shutdown_now_drops_queued_runs_and_timeout_gives_up_on_stuck_jobs() {
    let (_clock, driver) = support::manual_driver();
    let s = sched(&driver, 1);
    let (started_tx, started) = unbounded();
    let (gate_tx, gate) = unbounded::<()>();
    s.execute(move || {
        started_tx.send(()).unwrap();
        let _ = gate.recv_timeout(WAIT);
    })
    .unwrap();
    started.recv_timeout(WAIT).unwrap();
    let (tx, rx) = unbounded::<i32>();
    s.execute(move || tx.send(1).unwrap()).unwrap();
    assert!(
        !s.shutdown_timeout(ms(20)),
        "the stuck job outlives the timeout"
    );
    drop(gate_tx);
    assert!(
        rx.recv_timeout(ms(100)).is_err(),
        "queued run dropped after the timeout"
    );

    let s = sched(&driver, 1);
    let (started_tx, started) = unbounded();
    let (gate_tx, gate) = unbounded::<()>();
    s.execute(move || {
        started_tx.send(()).unwrap();
        let _ = gate.recv();
    })
    .unwrap();
    started.recv_timeout(WAIT).unwrap();
    let (tx, rx) = unbounded::<i32>();
    s.execute(move || tx.send(1).unwrap()).unwrap();
    let closer = {
        let s = s.clone();
        std::thread::spawn(move || s.shutdown_now())
    };
    std::thread::sleep(ms(20));
    drop(gate_tx);
    closer.join().unwrap();
    assert!(
        rx.try_recv().is_err(),
        "shutdown_now dropped the queued run"
    );
}

fn threads_named(prefix: &str) -> usize {
    support::threads_named(prefix).unwrap_or(0)
}

#[test]
fn dropping_the_last_scheduler_joins_its_threads() {
    if !std::path::Path::new("/proc/self/task").exists() {
        eprintln!("skipped: needs /proc to count threads");
        return;
    }
    let (clock, driver) = support::manual_driver();
    let s = Scheduler::builder()
        .workers(4)
        .name("sl-join")
        .handle(driver.handle().clone())
        .build()
        .unwrap();
    // A thread names itself once it runs.
    let start = Instant::now();
    while threads_named("sl-join") < 4 {
        assert!(start.elapsed() < WAIT, "workers did not start");
        std::thread::sleep(ms(1));
    }
    let clone = s.clone();
    let (tx, rx) = unbounded();
    clone
        .at_fixed_rate(ms(1), ms(1), stamp(&clock, &tx))
        .unwrap()
        .detach();
    clock.advance(ms(1));
    rx.recv_timeout(WAIT).unwrap();
    drop(s);
    assert_eq!(threads_named("sl-join"), 4, "a clone still holds the pool");
    drop(clone);
    // Joined: each thread has exited; the kernel may list an exited task in
    // /proc for a moment longer.
    let left = threads_named("sl-join");
    let start = Instant::now();
    while threads_named("sl-join") > 0 {
        assert!(
            start.elapsed() < ms(500),
            "{left} threads left after the last clone dropped"
        );
        std::thread::sleep(ms(1));
    }
}

#[test]
fn jobs_never_run_early_under_random_steps() {
    let (clock, driver) = support::manual_driver();
    let s = sched(&driver, 2);
    let (tx, rx) = unbounded();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut handles = Vec::new();
    for _ in 0..2_000 {
        let delay = Duration::from_micros(next() % 50_000);
        let deadline = clock.now() + delay;
        let (tx, clock) = (tx.clone(), clock.clone());
        handles.push(
            s.schedule(delay, move || tx.send((deadline, clock.now())).unwrap())
                .unwrap(),
        );
    }
    while clock.elapsed() < ms(60) {
        clock.advance(Duration::from_micros(next() % 700));
    }
    settle(&s);
    let runs: Vec<_> = rx.try_iter().collect();
    assert_eq!(runs.len(), 2_000, "every job ran once");
    for (deadline, ran) in runs {
        assert!(ran >= deadline, "early by {:?}", deadline - ran);
    }
    let m = s.metrics();
    assert_eq!((m.pending, m.total.completed), (0, 2_000));
}

#[test]
fn metrics_reach_observe_snapshots_and_prometheus() {
    let (clock, driver) = support::manual_driver();
    let s = Scheduler::builder()
        .workers(1)
        .name("billing")
        .handle(driver.handle().clone())
        .build()
        .unwrap();
    for i in 0..10u64 {
        s.schedule(ms(i), || {}).unwrap().detach();
    }
    s.execute(|| panic!("a job that panics (expected in this test)"))
        .unwrap();
    let _later = s.schedule(ms(100), || {}).unwrap();
    clock.advance(ms(20));
    settle(&s);
    let snapshot = driver.handle().snapshot();
    let m = snapshot
        .schedulers
        .iter()
        .find(|m| m.name == "billing")
        .expect("the scheduler is in its driver's snapshot");
    assert_eq!((m.pending, m.total.completed, m.total.panicked), (1, 10, 1));
    assert_eq!(
        m.jobs.len(),
        2,
        "two submitting lines have run jobs: {:?}",
        m.jobs
    );
    assert_eq!(m.total.lateness.count, 11);

    let text = snapshot.to_prometheus();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("valid exposition");
    let sum = |metric: &str, label: (&str, &str)| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == metric && s.labels.get("scheduler") == Some("billing"))
            .filter(|s| s.labels.get(label.0) == Some(label.1))
            .map(|s| match &s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) => *v,
                prometheus_parse::Value::Histogram(h) => {
                    h.iter().map(|b| b.count).fold(0.0, f64::max)
                }
                other => panic!("{other:?}"),
            })
            .sum()
    };
    assert_eq!(
        sum("tickless_sched_runs_total", ("outcome", "completed")),
        10.0
    );
    assert_eq!(
        sum("tickless_sched_runs_total", ("outcome", "panicked")),
        1.0
    );
    assert_eq!(sum("tickless_sched_jobs", ("state", "pending")), 1.0);
    assert_eq!(sum("tickless_sched_limit", ("limit", "workers")), 1.0);
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "tickless_sched_stall_wakes_total"
                && s.labels.get("scheduler") == Some("billing")),
        "the stall check's count is exported"
    );
    // A real histogram: every run is under the +Inf bucket, and `_count` agrees.
    let count: f64 = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "tickless_sched_dispatch_lateness_seconds_count")
        .map(|s| match s.value {
            prometheus_parse::Value::Untyped(v) | prometheus_parse::Value::Counter(v) => v,
            ref other => panic!("{other:?}"),
        })
        .sum();
    assert_eq!(count, 11.0);
}

/// Real time, real threads: submitters racing the driver's timer thread
/// (arming for an earlier deadline while a fire re-arms) and each other's
/// cancels. Every job not cancelled runs exactly once, none early, and
/// none is stranded by a lost re-arm.
#[test]
fn racing_submits_cancels_and_fires_lose_nothing() {
    use std::sync::atomic::{AtomicU32, Ordering};
    // A queue that holds every run: no policy may drop one here.
    let s = Scheduler::builder()
        .workers(2)
        .queue_capacity(1 << 20)
        .name("sl-race")
        .build()
        .unwrap();
    let threads = 4;
    let per_thread = 3_000;
    let runs: Arc<Vec<AtomicU32>> = Arc::new(
        (0..threads * per_thread)
            .map(|_| AtomicU32::new(0))
            .collect(),
    );
    let early = Arc::new(AtomicU32::new(0));
    let kept: usize = std::thread::scope(|scope| {
        let submitters: Vec<_> = (0..threads)
            .map(|t| {
                let (s, runs, early) = (s.clone(), runs.clone(), early.clone());
                scope.spawn(move || {
                    let mut seed = 0x2545_F491_4F6C_DD1Du64 ^ (t as u64 + 1);
                    let mut kept = 0;
                    for i in 0..per_thread {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        let delay = Duration::from_micros(seed % 3_000);
                        let deadline = Instant::now() + delay;
                        let (runs, early) = (runs.clone(), early.clone());
                        let n = t * per_thread + i;
                        let job = s
                            .schedule(delay, move || {
                                if Instant::now() < deadline {
                                    early.fetch_add(1, Ordering::Relaxed);
                                }
                                runs[n].fetch_add(1, Ordering::Relaxed);
                            })
                            .unwrap();
                        if seed % 10 < 3 {
                            // Cancelled: it may still have run if it was due already.
                            if !job.cancel() {
                                kept += 1;
                            }
                        } else {
                            job.detach();
                            kept += 1;
                        }
                    }
                    kept
                })
            })
            .collect();
        submitters.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let start = Instant::now();
    loop {
        let ran: u32 = runs.iter().map(|r| r.load(Ordering::Relaxed)).sum();
        if ran as usize >= kept {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "{ran} of {kept} jobs ran: one was stranded; {:?}",
            s.metrics()
        );
        std::thread::sleep(ms(2));
    }
    s.shutdown();
    assert!(
        runs.iter().all(|r| r.load(Ordering::Relaxed) <= 1),
        "a job ran twice"
    );
    let ran: u32 = runs.iter().map(|r| r.load(Ordering::Relaxed)).sum();
    assert_eq!(ran as usize, kept, "exactly the jobs not cancelled ran");
    assert_eq!(early.load(Ordering::Relaxed), 0, "a job ran early");
}

/// Shutting down drops pending jobs in one pass: 200k one-hour jobs (that
/// share wheel slots) go in well under a second here, where a `peek` per job
/// took minutes. The bound is generous (noisy CI); quadratic would blow it.
#[test]
fn shutdown_with_many_pending_jobs_is_linear() {
    let (_clock, driver) = support::manual_driver();
    let s = sched(&driver, 1);
    for i in 0..200_000u64 {
        s.schedule(Duration::from_secs(3600) + Duration::from_micros(i), || {})
            .unwrap()
            .detach();
    }
    assert_eq!(s.metrics().pending, 200_000);
    let start = Instant::now();
    s.shutdown_now();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(s.metrics().pending, 0);
}

/// On the system clock an idle worker leads: it waits only until the first
/// pending deadline and dispatches it itself. Work that arrives meanwhile
/// must not wait for that deadline — an `execute` (which notifies the
/// leader) nor a job due before it (which the driver timer serves).
#[test]
fn a_leading_worker_is_not_in_the_way() {
    let s = Scheduler::builder()
        .workers(1)
        .name("sl-lead")
        .build()
        .unwrap();
    let (tx, rx) = unbounded();
    let far = s.schedule(Duration::from_secs(3600), || {}).unwrap();
    // A worker leads once it goes idle with a deadline pending: after a run.
    let t = tx.clone();
    s.execute(move || t.send("warm").unwrap()).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "warm");
    std::thread::sleep(ms(20)); // the worker now leads, for an hour
    let start = Instant::now();
    let t = tx.clone();
    s.execute(move || t.send("executed").unwrap()).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "executed");
    std::thread::sleep(ms(20)); // leading again
    let t = tx.clone();
    let deadline = Instant::now() + ms(30);
    let _soon = s
        .schedule_at(deadline, move || t.send("soon").unwrap())
        .unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "soon");
    assert!(Instant::now() >= deadline, "early");
    assert!(start.elapsed() < WAIT, "waited for the leader's deadline");
    drop(far);
}

/// A leader notified for a run that wakes after its own deadline dispatches
/// that deadline's job and must hand it to the other, idle worker, not keep
/// it queued behind the run it takes (a long one here). The run arrives in
/// the last few µs before the deadline, when that race can happen.
#[test]
fn a_leader_that_takes_a_long_run_hands_the_due_job_on() {
    let s = Scheduler::builder()
        .workers(2)
        .name("sl-hand")
        .build()
        .unwrap();
    let (tx, rx) = unbounded::<(&str, Instant)>();
    let run = |name: &'static str| {
        let tx = tx.clone();
        move || tx.send((name, Instant::now())).unwrap()
    };
    for round in 0..10u32 {
        let f = Instant::now() + ms(40);
        let _j = s.schedule_at(f, run("due")).unwrap();
        // One worker runs this, goes idle and leads (towards `f`); the other
        // runs the next and waits behind it.
        s.execute(run("warm")).unwrap();
        rx.recv_timeout(WAIT).unwrap();
        std::thread::sleep(ms(5));
        s.execute(run("warm")).unwrap();
        rx.recv_timeout(WAIT).unwrap();
        let at = f - Duration::from_micros(u64::from(round) * 5);
        while Instant::now() < at {
            std::hint::spin_loop();
        }
        s.execute(|| std::thread::sleep(ms(300))).unwrap();
        let (name, ran) = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(name, "due");
        let late = ran - f;
        assert!(late < ms(150), "round {round}: the due job waited {late:?}");
        settle(&s);
    }
}
