//! loom models of the scheduler's races, run against the production `Core`:
//! its state lock, condition variables, worker threads and thread-local come
//! from loom under `--cfg tickless_loom` (`crate::sync`), and so do the
//! driver's shard lock and the alarm's lock that a due job goes through.
//!
//! `RUSTFLAGS="--cfg tickless_loom" cargo test -p tickless --lib --release models`
//!
//! Each model builds a scheduler (one worker; two in the two-worker models)
//! on a `ManualClock` driver, so a
//! job falls due inside `clock.advance` on the calling model thread (the
//! driver fires the alarm, whose `Dispatch` queues the run and wakes the
//! worker). A model waits for a run it expects on a [`Latch`] rather than
//! letting `shutdown` (which wakes every worker) run it: a lost wake-up then
//! leaves every thread blocked, which loom reports as a deadlock.
//!
//! Breaks of the protocol (`core.rs`) these models catch, each tried once:
//!
//! | break | caught by |
//! |---|---|
//! | skip the re-arm after filing an earlier deadline | `racing_rearms_keep_the_earliest` |
//! | re-arm without `arm_lock` | `racing_rearms_keep_the_earliest` |
//! | shutdown stops the alarm without `arm_lock` | `shutdown_vs_schedule_leaves_no_timer` |
//! | worker unlocks between its check and its wait | every model (tried before `shutdown_vs_schedule_leaves_no_timer` existed) |
//! | one `work` notification short | `execute_wakes_the_waiting_worker`, `blocked_submitter_gets_in`, `racing_rearms_keep_the_earliest` |
//! | no `room` notification for a single blocked submitter | `blocked_submitter_gets_in` |
//! | `execute` ignores the shutdown | `shutdown_vs_execute` |
//! | a run's end ignores its cancel (periodic re-filed) | `periodic_due_vs_drop` |
//! | cancelling a started one-shot reports it prevented | `due_vs_cancel` |
//! | one notification per release, however many runs it queued | `one_fire_queuing_two_runs_reaches_two_workers` |
//! | a fire that finds its job gone (the leader took it) leaves the timer unarmed | `leader_dispatch_vs_fire_vs_cancel` |
//! | short runs left beside a waiting worker with no stall check armed | `a_stalled_short_queue_wakes_a_worker` |
//! | the stall check finds the queue stalled and wakes nobody | `a_stalled_short_queue_wakes_a_worker` |
//! | the stall check takes any run ever taken (not since its mark) for progress | `a_stalled_short_queue_wakes_a_worker` |

use std::sync::Arc;
use std::time::Duration;

use loom::thread;

use super::state::STALL;
use super::{Builder, RejectPolicy, Rejected, Scheduler};
use crate::clock::ManualClock;
use crate::sync::{lock, wait, Condvar, Mutex};
use crate::Driver;

/// Counts runs; [`Latch::wait_for`] blocks until enough have happened.
#[derive(Default)]
struct Latch {
    runs: Mutex<usize>,
    ran: Condvar,
}

impl Latch {
    fn job(self: &Arc<Self>) -> impl FnOnce() + Send + 'static {
        let latch = self.clone();
        move || latch.count()
    }

    fn count(&self) {
        *lock(&self.runs) += 1;
        self.ran.notify_all();
    }

    fn wait_for(&self, n: usize) {
        let mut runs = lock(&self.runs);
        while *runs < n {
            runs = wait(&self.ran, runs);
        }
    }

    fn runs(&self) -> usize {
        *lock(&self.runs)
    }
}

fn one_worker(driver: &Driver) -> Builder {
    Scheduler::builder()
        .workers(1)
        .queue_capacity(1)
        .max_pending(2)
        .handle(driver.handle().clone())
}

/// After a shutdown: nothing left anywhere, the worker has exited.
fn assert_empty(sched: &Scheduler) {
    let st = lock(&sched.core().shared.state);
    assert_eq!(
        st.counts(),
        (0, 0, 0, 0),
        "(pending, queued, running, live jobs)"
    );
    assert_eq!(st.live_workers, 0, "the worker exited");
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A one-shot job falling due (clock → alarm → dispatch → worker) while
/// another thread cancels it: it runs at most once, `cancel` says `true`
/// exactly when it never started, and a run that was not prevented happens
/// without any help from `shutdown` (the dispatch woke the worker).
#[test]
fn due_vs_cancel() {
    model(|| {
        let clock = ManualClock::new();
        let driver = Driver::builder().clock(clock.clone()).build().unwrap();
        let sched = one_worker(&driver).build().unwrap();
        let latch = Arc::new(Latch::default());
        let job = sched.schedule(secs(1), latch.job()).unwrap();

        let cancelling = thread::spawn(move || job.cancel());
        clock.advance(secs(1));
        let prevented = cancelling.join().unwrap();
        if !prevented {
            latch.wait_for(1);
        }
        sched.shutdown();

        let completed = sched.metrics().total.completed;
        assert_eq!(latch.runs() as u64, completed);
        assert_eq!(
            completed + u64::from(prevented),
            1,
            "ran or cancelled, once"
        );
        assert_empty(&sched);
    });
}

/// A periodic job cancelled (its handle dropped) while its first run falls
/// due: at most that one run, and it never re-files itself afterwards.
#[test]
fn periodic_due_vs_drop() {
    model(|| {
        let clock = ManualClock::new();
        let driver = Driver::builder().clock(clock.clone()).build().unwrap();
        let sched = one_worker(&driver).build().unwrap();
        let latch = Arc::new(Latch::default());
        let counted = latch.clone();
        let job = sched
            .at_fixed_rate(secs(1), secs(1), move || counted.count())
            .unwrap();

        let dropping = thread::spawn(move || drop(job));
        clock.advance(secs(1));
        dropping.join().unwrap();
        // Were the job still filed, these deadlines would queue more runs,
        // and the shutdown would let them run.
        clock.advance(secs(5));
        sched.shutdown();
        let runs = latch.runs();
        assert!(
            runs <= 1,
            "{runs} runs after the handle was dropped at the first deadline"
        );
        assert_eq!(sched.metrics().total.completed, runs as u64);
        assert_empty(&sched);
    });
}

/// `execute` from another thread while the worker waits for work: the
/// worker is woken and runs the job (no lost wake-up).
#[test]
fn execute_wakes_the_waiting_worker() {
    model(|| {
        let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
        let sched = one_worker(&driver).build().unwrap();
        let latch = Arc::new(Latch::default());

        let submitting = {
            let (sched, job) = (sched.clone(), latch.job());
            thread::spawn(move || sched.execute(job))
        };
        submitting.join().unwrap().unwrap();
        latch.wait_for(1);
        sched.shutdown();
        assert_empty(&sched);
    });
}

/// `shutdown` racing an `execute`: the job is either accepted and run
/// before the workers exit, or rejected with `Shutdown` — never accepted
/// and lost. The worker is joined either way.
#[test]
fn shutdown_vs_execute() {
    model(|| {
        let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
        let sched = one_worker(&driver).build().unwrap();
        let latch = Arc::new(Latch::default());

        let submitting = {
            let (sched, job) = (sched.clone(), latch.job());
            thread::spawn(move || sched.execute(job))
        };
        sched.shutdown();
        let submitted = submitting.join().unwrap();
        match submitted {
            Ok(()) => assert_eq!(latch.runs(), 1, "accepted, then lost"),
            Err(e) => {
                assert_eq!(e, Rejected::Shutdown);
                assert_eq!(latch.runs(), 0);
            }
        }
        assert_empty(&sched);
    });
}

/// `shutdown` racing a `schedule` an hour out: the job is rejected, or
/// accepted and cancelled by the shutdown — and either way the driver timer
/// is left disarmed (a re-arm that lands after the shutdown's stop would
/// keep the scheduler's state alive, as a pending driver timer, for the
/// hour).
#[test]
fn shutdown_vs_schedule_leaves_no_timer() {
    model(|| {
        let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
        let sched = one_worker(&driver).build().unwrap();
        let latch = Arc::new(Latch::default());

        let submitting = {
            let (sched, job) = (sched.clone(), latch.job());
            thread::spawn(move || {
                sched
                    .schedule(secs(3600), job)
                    .map(super::JobHandle::detach)
            })
        };
        sched.shutdown();
        let submitted = submitting.join().unwrap();
        assert!(matches!(submitted, Ok(()) | Err(Rejected::Shutdown)));
        assert_eq!(latch.runs(), 0);
        assert_eq!(
            driver.handle().pending_timers(),
            0,
            "the driver timer is armed after shutdown"
        );
        assert_empty(&sched);
    });
}

/// `RejectPolicy::Block`: with the one queue slot taken, a second `execute`
/// waits for room while the worker drains the queue, and gets in.
#[test]
fn blocked_submitter_gets_in() {
    model(|| {
        let driver = Driver::builder().clock(ManualClock::new()).build().unwrap();
        let sched = one_worker(&driver)
            .reject(RejectPolicy::Block)
            .build()
            .unwrap();
        let latch = Arc::new(Latch::default());

        sched.execute(latch.job()).unwrap();
        sched.execute(latch.job()).unwrap(); // may wait for the worker
        latch.wait_for(2);
        sched.shutdown();
        assert_eq!(sched.metrics().total.completed, 2);
        assert_empty(&sched);
    });
}

/// Two submitters racing to re-arm the driver timer, the later job filed
/// first: the timer ends up armed for the earlier deadline (`arm_lock`
/// makes the last reset the latest reading), so that job runs when the
/// clock reaches it — and the later one only at its own deadline.
#[test]
fn racing_rearms_keep_the_earliest() {
    model(|| {
        let clock = ManualClock::new();
        let driver = Driver::builder().clock(clock.clone()).build().unwrap();
        let sched = one_worker(&driver).build().unwrap();
        let (early, late) = (Arc::new(Latch::default()), Arc::new(Latch::default()));

        let submitting = {
            let (sched, job) = (sched.clone(), late.job());
            thread::spawn(move || sched.schedule(secs(2), job).unwrap().detach())
        };
        sched.schedule(secs(1), early.job()).unwrap().detach();
        submitting.join().unwrap();

        clock.advance(secs(1));
        early.wait_for(1);
        assert_eq!(late.runs(), 0, "ran early");
        clock.advance(secs(1));
        late.wait_for(1);
        sched.shutdown();
        assert_empty(&sched);
    });
}

/// `loom::model` with at most four preemptions per interleaving (unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise): three threads (the model, the
/// worker, one more) through the driver and the scheduler are too many
/// interleavings to explore unbounded in seconds (`periodic_due_vs_drop`
/// alone took 115k iterations, 33 s, here). Bound 4 runs these models in
/// ~6 s on 2 cores (`racing_rearms_keep_the_earliest`, the largest, 15k
/// iterations); each protocol break listed in the module docs was caught at bound 3.
/// Two workers; job A blocks until job B has started, so B must reach the
/// second worker: a release that queues runs but wakes fewer waiting
/// workers than it queued leaves B queued beside a sleeping worker while A
/// waits for it — a deadlock, which loom reports. `submit` queues A then B.
fn two_workers_take_two_runs(submit: impl Fn(&Scheduler, &Arc<Latch>, &ManualClock)) {
    let clock = ManualClock::new();
    let driver = Driver::builder().clock(clock.clone()).build().unwrap();
    let sched = Scheduler::builder()
        .workers(2)
        .queue_capacity(2)
        .max_pending(2)
        .handle(driver.handle().clone())
        .build()
        .unwrap();
    let b_started = Arc::new(Latch::default());
    submit(&sched, &b_started, &clock);
    b_started.wait_for(1);
    sched.shutdown();
    assert_eq!(sched.metrics().total.completed, 2);
    assert_empty(&sched);
}

fn waits_for(latch: &Arc<Latch>) -> impl FnOnce() + Send + 'static {
    let latch = latch.clone();
    move || latch.wait_for(1)
}

/// Two `execute`s while both workers may be waiting: each run gets a worker
/// (the wake-up accounting, `State::idle` and `waking`, notifies enough).
#[test]
fn two_executes_reach_two_workers() {
    model_bounded(3, || {
        two_workers_take_two_runs(|sched, b_started, _| {
            sched.execute(waits_for(b_started)).unwrap();
            sched.execute(b_started.job()).unwrap();
        })
    });
}

/// Two jobs due at one instant, queued by one fire (one release queuing two
/// runs): both workers are woken.
#[test]
fn one_fire_queuing_two_runs_reaches_two_workers() {
    model_bounded(3, || {
        two_workers_take_two_runs(|sched, b_started, clock| {
            let a = sched.schedule(secs(1), waits_for(b_started)).unwrap();
            let b = sched.schedule(secs(1), b_started.job()).unwrap();
            a.detach();
            b.detach();
            clock.advance(secs(1));
        })
    });
}

/// The leading worker (`Core::wait_for_runs`; here on a `ManualClock`,
/// where loom wakes it only by notifications) dispatching a due job itself,
/// against the driver timer's fire for the same job and a cancel: the
/// worker leads towards A's deadline; `execute` of B wakes it while the
/// clock reaches that deadline, so the leader or the fire queues A (never
/// both), or the cancel takes it first. A runs at most once, `cancel` says
/// `true` exactly when it never started, B runs, and the driver timer,
/// armed for A, still serves C's later deadline whoever dispatched A.
#[test]
fn leader_dispatch_vs_fire_vs_cancel() {
    model(|| {
        let clock = ManualClock::new();
        let driver = Driver::builder().clock(clock.clone()).build().unwrap();
        let mut builder = one_worker(&driver).queue_capacity(2).max_pending(3);
        builder.lead_on_manual_clock = true;
        let sched = builder.build().unwrap();
        let (a, b, c) = (
            Arc::new(Latch::default()),
            Arc::new(Latch::default()),
            Arc::new(Latch::default()),
        );
        let job_a = sched.schedule(secs(1), a.job()).unwrap();
        sched.schedule(secs(2), c.job()).unwrap().detach();

        let other = {
            let (sched, job_b) = (sched.clone(), b.job());
            thread::spawn(move || {
                sched.execute(job_b).unwrap();
                job_a.cancel()
            })
        };
        clock.advance(secs(1));
        let prevented = other.join().unwrap();
        b.wait_for(1);
        if !prevented {
            a.wait_for(1);
        }
        assert_eq!(c.runs(), 0, "C ran early");
        clock.advance(secs(1));
        c.wait_for(1);
        sched.shutdown();

        assert_eq!(
            a.runs() + usize::from(prevented),
            1,
            "A ran or was cancelled, once"
        );
        assert_eq!(sched.metrics().total.completed, 2 + a.runs() as u64);
        assert_empty(&sched);
    });
}

/// Short runs (the rule forced on a `ManualClock`, its estimate seeded): one
/// worker is woken for A and B, A blocks until B has started, and only the
/// stall check — fired as the model advances the clock by [`STALL`], at
/// most twice (once it may find A taken since its mark: progress) — can
/// wake the second worker for B. A missing check leaves every thread
/// blocked: loom reports the deadlock.
#[test]
fn a_stalled_short_queue_wakes_a_worker() {
    model_bounded(3, || {
        let clock = ManualClock::new();
        let driver = Driver::builder().clock(clock.clone()).build().unwrap();
        let mut builder = Scheduler::builder()
            .workers(2)
            .queue_capacity(2)
            .max_pending(2)
            .handle(driver.handle().clone());
        builder.drain_on_manual_clock = true;
        let sched = builder.build().unwrap();
        lock(&sched.core().shared.state).ran_for(0);
        let b_started = Arc::new(Latch::default());
        sched.execute(waits_for(&b_started)).unwrap();
        sched.execute(b_started.job()).unwrap();
        for _ in 0..2 {
            if b_started.runs() == 0 {
                clock.advance(STALL);
            }
        }
        b_started.wait_for(1);
        sched.shutdown();
        assert_eq!(sched.metrics().total.completed, 2);
        assert_empty(&sched);
        assert_eq!(driver.handle().pending_timers(), 0, "no check left armed");
    });
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    model_bounded(4, f);
}

/// [`model`] with another default preemption bound (two workers make the
/// state space too large for 4).
fn model_bounded(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(bound);
    }
    builder.check(f);
}
