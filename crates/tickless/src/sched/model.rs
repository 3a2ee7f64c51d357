//! A model test of the scheduler's accounting: random submits, executes,
//! time steps, worker takes and finishes, cancels and shutdowns on the
//! single-threaded [`State`], checking after every step that
//!
//! - `pending` and `queued` equal what the lists really hold, the queue
//!   never exceeds its capacity, and runs overflow only while it is full;
//! - `max_pending` is never exceeded by a submit;
//! - every job is accounted for exactly once: each offered one-shot job
//!   ends as completed, dropped by the policy, or cancelled — never two;
//! - no run starts before its deadline, and after a fire no pending job's
//!   deadline has passed (dispatch is exact, not rounded to the 1 ms tick:
//!   times here are in µs, so most deadlines lie inside a tick; with more
//!   jobs in a tick than the plan walks, `state/plan.rs`'s `WALK`, the
//!   design keeps the boundary instead — out of reach of these sizes);
//! - the driver timer, modelled as `core.rs` arms it (re-planned when a
//!   move asks for it, a plan already due fired at once as `Alarm::arm`
//!   does, each fire at its own instant, re-armed for what the fire
//!   returns) and a leading worker (`core/worker.rs`: it dispatches at the
//!   first deadline, ahead of the timer, without re-arming it) leave no job
//!   pending past its tick's boundary: a re-arm the state wrongly skips
//!   shows there. (Within a tick the earlier jobs wait for its latest
//!   deadline, by design: one fire per occupied tick.)

use std::panic::Location;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::builder::RejectPolicy;
use super::jobs::{At, JobId, Period, Periodic, Work};
use super::state::{Effects, Phase, State, Taken};
use crate::clock::nanos_since;
use crate::MissedTickBehavior;

#[derive(Debug, Clone)]
enum Op {
    Schedule(u16),
    /// A deadline already passed by this many µs (a submitter running late).
    ScheduleLate(u16),
    Periodic(u16),
    Execute,
    Advance(u16),
    Take,
    Finish(usize),
    Cancel(usize),
    Close(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u16..50_000).prop_map(Op::Schedule),
        2 => (0u16..5_000).prop_map(Op::ScheduleLate),
        1 => (1u16..30_000).prop_map(Op::Periodic),
        2 => Just(Op::Execute),
        4 => (0u16..20_000).prop_map(Op::Advance),
        4 => Just(Op::Take),
        3 => any::<usize>().prop_map(Op::Finish),
        2 => any::<usize>().prop_map(Op::Cancel),
        1 => any::<bool>().prop_map(Op::Close),
    ]
}

fn policy() -> impl Strategy<Value = RejectPolicy> {
    prop::sample::select(RejectPolicy::ALL.to_vec())
}

struct Model {
    st: State,
    now: Instant,
    /// Handles the test holds.
    ids: Vec<JobId>,
    running: Vec<(Taken, Instant)>,
    /// Where the driver timer is armed (`Core::arm`, `Dispatch::fire`).
    armed: Option<Instant>,
    offered: u64,
    completed: u64,
    dropped: u64,
    cancelled: u64,
}

impl Model {
    fn effects(&mut self, fx: Effects) {
        self.count_dropped(&fx);
        if fx.arm {
            // `Core::arm`: a plan of nothing leaves the alarm as it was.
            if let Some(plan) = self.st.next_deadline() {
                self.armed = Some(plan);
            }
            // `Alarm::arm`: a plan already due fires at once (the fire
            // re-arms for what dispatch returns).
            while self.armed.is_some_and(|at| at <= self.now) {
                let mut fx = Effects::default();
                self.armed = self.st.dispatch(self.now, &mut fx);
                self.count_dropped(&fx);
            }
        }
    }

    fn count_dropped(&mut self, fx: &Effects) {
        if let Some(shed) = &fx.shed {
            self.dropped += shed.dropped.iter().filter(|w| !w.is_periodic()).count() as u64;
        }
    }

    /// The deadlines of the jobs waiting in the wheel.
    fn pending_deadlines(&self) -> Vec<Instant> {
        self.ids
            .iter()
            .filter(|&&id| {
                self.st
                    .jobs
                    .get(id)
                    .is_some_and(|j| matches!(j.at, At::Pending(_)))
            })
            .map(|&id| self.st.deadline_of(id).expect("live"))
            .collect()
    }

    fn check(&self) {
        let st = &self.st;
        let (pending, queued, running, live) = st.counts();
        assert!(
            queued <= st.capacity,
            "queue over capacity: {queued} > {}",
            st.capacity
        );
        assert_eq!(running, self.running.len(), "running");
        let mut in_wheel = 0;
        let mut overflow = 0;
        let mut ready = 0;
        for &id in &self.ids {
            if let Some(job) = st.jobs.get(id) {
                match job.at {
                    At::Pending(_) => in_wheel += 1,
                    At::Overflow => overflow += 1,
                    At::Queued => ready += 1,
                    At::Running { .. } | At::Free => {}
                }
            }
        }
        assert_eq!(pending, in_wheel + overflow, "pending = wheel + overflow");
        assert_eq!(queued, ready, "queued = live ready ids");
        assert!(
            overflow == 0 || queued == st.capacity,
            "overflow only while the queue is full"
        );
        assert!(
            live <= pending + queued + running,
            "no job outside every list: {live}"
        );
        if st.phase == Phase::Stopped {
            assert_eq!((pending, queued), (0, 0));
        }
    }
}

/// The model's wheel tick: 1 ms, so most deadlines (in µs) lie inside one.
const TICK: Duration = Duration::from_millis(1);

fn site() -> &'static Location<'static> {
    Location::caller()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn accounting_holds(
        policy in policy(),
        capacity in 1usize..4,
        max_pending in 1usize..6,
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let start = Instant::now();
        let mut m = Model {
            st: State::new(start, TICK, capacity, max_pending, policy, false, MissedTickBehavior::Burst),
            now: start,
            ids: Vec::new(),
            running: Vec::new(),
            armed: None,
            offered: 0,
            completed: 0,
            dropped: 0,
            cancelled: 0,
        };
        for op in ops {
            let mut fx = Effects::default();
            match op {
                Op::Schedule(us) | Op::ScheduleLate(us) | Op::Periodic(us) => {
                    // `core.rs` applies the policies that wait or discard;
                    // the state's part is the bound itself.
                    if m.st.phase != Phase::Open || m.st.pending >= m.st.max_pending {
                        continue;
                    }
                    let work = match op {
                        Op::Periodic(_) => Work::Periodic(Box::new(Periodic {
                            run: Box::new(|| {}),
                            period: match us % 4 {
                                0 => Period::Rate(Duration::from_micros(u64::from(us)), MissedTickBehavior::Skip),
                                1 => Period::Rate(Duration::from_micros(u64::from(us)), MissedTickBehavior::Burst),
                                2 => Period::Rate(Duration::from_micros(u64::from(us)), MissedTickBehavior::Delay),
                                _ => Period::Delay(Duration::from_micros(u64::from(us))),
                            },
                        })),
                        _ => {
                            m.offered += 1;
                            Work::Once(Box::new(|| {}))
                        }
                    };
                    let deadline = match op {
                        Op::ScheduleLate(_) => start.max(m.now - Duration::from_micros(u64::from(us))),
                        _ => m.now + Duration::from_micros(u64::from(us)),
                    };
                    let id = m.st.submit(work, nanos_since(start, deadline), site(), &mut fx);
                    m.ids.push(id);
                }
                Op::Execute => {
                    if m.st.phase != Phase::Open {
                        continue;
                    }
                    if let Ok(id) = m.st.try_execute(Work::Once(Box::new(|| {})), m.now, site(), &mut fx) {
                        m.offered += 1;
                        m.ids.push(id);
                    }
                }
                Op::Advance(us) => {
                    let target = m.now + Duration::from_micros(u64::from(us));
                    let boundary = |deadline: Instant| start + TICK * (deadline - start).as_nanos().div_ceil(TICK.as_nanos()) as u32;
                    if us % 2 == 1 {
                        // A leading worker: it dispatches at the first
                        // deadline when that comes before the timer's fire,
                        // and does not re-arm the timer.
                        if let Some(first) = m.st.first_deadline().filter(|&f| f >= m.now && f <= target) {
                            if m.armed.is_none_or(|at| at > first) {
                                m.now = first;
                                m.st.dispatch(m.now, &mut fx);
                                fx.arm = false;
                            }
                        }
                    }
                    // Each fire at its own instant: no job's tick boundary
                    // passed before it, no job's deadline is left after it.
                    while let Some(at) = m.armed.filter(|&at| at <= target) {
                        m.now = m.now.max(at);
                        for deadline in m.pending_deadlines() {
                            prop_assert!(boundary(deadline) >= m.now, "due by {:?}, fired only at {:?}", boundary(deadline) - start, m.now - start);
                        }
                        m.armed = m.st.dispatch(m.now, &mut fx);
                        fx.arm = false;
                        for deadline in m.pending_deadlines() {
                            prop_assert!(deadline > m.now, "due at {:?}, still pending after a fire at {:?}", deadline - start, m.now - start);
                        }
                    }
                    m.now = target;
                    for deadline in m.pending_deadlines() {
                        prop_assert!(boundary(deadline) > m.now, "due by {:?}, still pending at {:?} (armed for {:?})", boundary(deadline) - start, m.now - start, m.armed.map(|a| a - start));
                    }
                }
                Op::Take => {
                    if let Some(taken) = m.st.take(&mut fx) {
                        let deadline = m.st.deadline_of(taken.id).unwrap();
                        prop_assert!(m.now >= deadline, "started before its deadline");
                        m.running.push((taken, m.now));
                    }
                }
                Op::Finish(i) => {
                    if m.running.is_empty() {
                        continue;
                    }
                    let (taken, started) = m.running.remove(i % m.running.len());
                    let rest = match taken.work {
                        Work::Once(_) => {
                            m.completed += 1;
                            None
                        }
                        periodic => Some(periodic),
                    };
                    m.st.finish((taken.id, taken.site), rest, started, m.now, false, &mut fx);
                    m.st.running -= 1;
                }
                Op::Cancel(i) => {
                    if m.ids.is_empty() {
                        continue;
                    }
                    let id = m.ids[i % m.ids.len()];
                    let once_not_started = m.st.jobs.get(id).is_some_and(|j| !j.periodic() && !matches!(j.at, At::Running { .. }));
                    let (prevented, _work) = m.st.cancel(id, &mut fx);
                    if once_not_started {
                        prop_assert!(prevented);
                        m.cancelled += 1;
                    }
                }
                Op::Close(stop) => {
                    m.st.close(stop, &mut fx);
                    m.armed = None; // shutdown stops the alarm
                }
            }
            m.effects(fx);
            m.check();
        }
        // Every one-shot job offered is completed, dropped, cancelled, or
        // still here (pending, queued or running) — exactly one of them.
        let once_left = m.ids.iter().filter(|&&id| m.st.jobs.get(id).is_some_and(|j| !j.periodic())).count() as u64;
        prop_assert_eq!(
            m.offered,
            m.completed + m.dropped + m.cancelled + once_left,
            "offered = completed {} + dropped {} + cancelled {} + left {}",
            m.completed, m.dropped, m.cancelled, once_left
        );
    }
}
