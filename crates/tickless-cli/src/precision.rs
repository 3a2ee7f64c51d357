//! `tickless precision`: what a wakeup costs, by mechanism and frequency.
//!
//! For each frequency, each mechanism waits for the ticks of an absolute
//! schedule (`start + k × period`) for `--secs`, on a fresh thread, with the
//! thread's kernel timer slack at its default (50 µs) and at 1 ns
//! (`PR_SET_TIMERSLACK`). Reported: lateness p50 / p99 / max against the
//! schedule, and process CPU time per wakeup (`CLOCK_PROCESS_CPUTIME_ID`,
//! the user + system time `getrusage` reports, so work on helper threads —
//! tickless's timer thread, tokio's driver — counts too).
//!
//! Then, side by side for tickless, tokio and async-io (each on a tokio
//! current-thread runtime, as `tickless bench` runs them): the lateness of
//! sequential `sleep(1 ms)`s (p50 / p99 / max; every one is checked not to
//! end early), and the wake-ups per second of the thread that waits for the
//! deadlines and of the runtime thread, with 10 000 timers of random
//! deadlines re-armed as they fire (`tickless_workloads::wakeups`).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;

use crate::progress::Progress;
use tickless_workloads::timers::{self, Impl};
use tickless_workloads::wakeups;

#[derive(Args, Debug)]
pub struct PrecisionArgs {
    /// Wakeup frequencies to measure, in Hz (comma-separated; each 1 to
    /// 100000 — beyond, no mechanism keeps up and a run takes minutes).
    #[arg(long, value_delimiter = ',', default_value = "10,1000,10000",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    hz: Vec<u32>,
    /// Seconds per mechanism and frequency (more than 0, at most 600).
    #[arg(long, default_value_t = 1.0, value_parser = seconds)]
    secs: f64,
    #[arg(long, value_name = "FILE", value_parser = crate::out::json_to,
          help = crate::out::JSON_HELP)]
    json: Option<crate::out::JsonTo>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mechanism {
    Nanosleep,
    Futex,
    TimerfdEpoll,
    Tickless,
    TokioInterval,
}

impl Mechanism {
    const ALL: [Mechanism; 5] = [
        Mechanism::Nanosleep,
        Mechanism::Futex,
        Mechanism::TimerfdEpoll,
        Mechanism::Tickless,
        Mechanism::TokioInterval,
    ];

    fn name(self) -> &'static str {
        match self {
            Mechanism::Nanosleep => "thread::sleep (nanosleep)",
            Mechanism::Futex => "park_timeout (futex)",
            Mechanism::TimerfdEpoll => "timerfd + epoll_wait",
            Mechanism::Tickless => "tickless sleep_until",
            Mechanism::TokioInterval => "tokio interval",
        }
    }
}

struct Measured {
    p50: Duration,
    p99: Duration,
    max: Duration,
    cpu_per_wakeup: Duration,
    wakeups: usize,
}

pub(crate) fn process_cpu() -> Duration {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    }
    #[cfg(not(target_os = "linux"))]
    {
        Duration::ZERO
    }
}

fn set_slack(precise: bool) {
    #[cfg(target_os = "linux")]
    {
        let value = if precise {
            std::num::NonZeroU64::new(1)
        } else {
            None
        }; // None: the default
        let _ = rustix::thread::set_current_timer_slack(value);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = precise;
}

/// Waits for every tick of the schedule with `mechanism`; lateness per tick.
fn wait_ticks(mechanism: Mechanism, period: Duration, ticks: u32) -> Vec<Duration> {
    let start = Instant::now() + period;
    let target = |k: u32| start + period * k;
    let mut late = Vec::with_capacity(ticks as usize);
    match mechanism {
        Mechanism::Nanosleep => {
            for k in 0..ticks {
                let t = target(k);
                std::thread::sleep(t.saturating_duration_since(Instant::now()));
                late.push(Instant::now().saturating_duration_since(t));
            }
        }
        Mechanism::Futex => {
            for k in 0..ticks {
                let t = target(k);
                while Instant::now() < t {
                    std::thread::park_timeout(t.saturating_duration_since(Instant::now()));
                }
                late.push(Instant::now().saturating_duration_since(t));
            }
        }
        Mechanism::TimerfdEpoll => {
            #[cfg(target_os = "linux")]
            {
                use rustix::event::epoll;
                use rustix::time::{
                    timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags,
                    TimerfdTimerFlags, Timespec,
                };
                let tfd = timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::CLOEXEC)
                    .expect("timerfd");
                let ep = epoll::create(epoll::CreateFlags::CLOEXEC).expect("epoll");
                epoll::add(
                    &ep,
                    &tfd,
                    epoll::EventData::new_u64(1),
                    epoll::EventFlags::IN,
                )
                .expect("epoll add");
                let mut events = [epoll::Event {
                    flags: epoll::EventFlags::empty(),
                    data: epoll::EventData::new_u64(0),
                }; 4];
                for k in 0..ticks {
                    let t = target(k);
                    let d = t
                        .saturating_duration_since(Instant::now())
                        .max(Duration::from_nanos(1));
                    let spec = Itimerspec {
                        it_interval: Timespec {
                            tv_sec: 0,
                            tv_nsec: 0,
                        },
                        it_value: Timespec {
                            tv_sec: d.as_secs() as i64,
                            tv_nsec: d.subsec_nanos() as i64,
                        },
                    };
                    timerfd_settime(&tfd, TimerfdTimerFlags::empty(), &spec)
                        .expect("timerfd_settime");
                    let _ = epoll::wait(&ep, &mut events[..], None);
                    let mut buf = [0u8; 8];
                    let _ = rustix::io::read(&tfd, &mut buf);
                    late.push(Instant::now().saturating_duration_since(t));
                }
            }
        }
        Mechanism::Tickless => {
            for k in 0..ticks {
                let t = target(k);
                futures_lite::future::block_on(tickless::sleep_until(t));
                late.push(Instant::now().saturating_duration_since(t));
            }
        }
        Mechanism::TokioInterval => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("tokio");
            rt.block_on(async {
                let mut interval = tokio::time::interval_at(start.into(), period);
                for _ in 0..ticks {
                    let scheduled: Instant = interval.tick().await.into();
                    late.push(Instant::now().saturating_duration_since(scheduled));
                }
            });
        }
    }
    late
}

fn measure(mechanism: Mechanism, hz: u32, secs: f64, precise_slack: bool) -> Measured {
    let period = Duration::from_secs_f64(1.0 / f64::from(hz.max(1)));
    let ticks = ((secs * f64::from(hz)).ceil() as u32).max(3);
    std::thread::spawn(move || {
        set_slack(precise_slack);
        let cpu0 = process_cpu();
        let mut late = wait_ticks(mechanism, period, ticks);
        let cpu = process_cpu().saturating_sub(cpu0);
        late.sort();
        let q = |p: f64| late[((late.len() - 1) as f64 * p).round() as usize];
        Measured {
            p50: q(0.5),
            p99: q(0.99),
            max: *late.last().unwrap_or(&Duration::ZERO),
            cpu_per_wakeup: cpu / late.len().max(1) as u32,
            wakeups: late.len(),
        }
    })
    .join()
    .expect("measurement thread")
}

/// `--secs`: a number of seconds in (0, 600].
fn seconds(s: &str) -> Result<f64, String> {
    let secs: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if secs > 0.0 && secs <= 600.0 {
        Ok(secs)
    } else {
        Err(format!("{secs} is not in (0, 600]"))
    }
}

/// One row of the table (and of the JSON), durations in nanoseconds.
#[derive(serde::Serialize)]
struct Row {
    hz: u32,
    mechanism: &'static str,
    timer_slack: &'static str,
    lateness_p50_ns: u64,
    lateness_p99_ns: u64,
    lateness_max_ns: u64,
    cpu_per_wakeup_ns: u64,
    wakeups: usize,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub fn run(args: &PrecisionArgs) -> ExitCode {
    crate::out::start(args.json.as_ref());
    crate::say(
        "| Hz | mechanism | timer slack | lateness p50 | p99 | max | CPU / wakeup | wakeups |",
    );
    crate::say("|---:|---|---|---:|---:|---:|---:|---:|");
    let total = (args.hz.len() * Mechanism::ALL.len() * 2) as u64;
    // Not ticking: redraws would count in the CPU per wakeup.
    let mut progress = Progress::new("wakeup precision", total);
    let mut done = 0;
    let mut rows = Vec::new();
    for &hz in &args.hz {
        for mechanism in Mechanism::ALL {
            for precise in [false, true] {
                if crate::stopped() {
                    break; // Ctrl-C: the rows above are what was measured
                }
                let slack = if precise { "1 ns" } else { "default" };
                progress.step(format!("{hz} Hz, {}, slack {slack}", mechanism.name()));
                let m = measure(mechanism, hz, args.secs, precise);
                done += 1;
                progress.set(done);
                crate::say(format!(
                    "| {hz} | {} | {slack} | {:.1?} | {:.1?} | {:.1?} | {:.2?} | {} |",
                    mechanism.name(),
                    m.p50,
                    m.p99,
                    m.max,
                    m.cpu_per_wakeup,
                    m.wakeups
                ));
                rows.push(Row {
                    hz,
                    mechanism: mechanism.name(),
                    timer_slack: slack,
                    lateness_p50_ns: nanos(m.p50),
                    lateness_p99_ns: nanos(m.p99),
                    lateness_max_ns: nanos(m.max),
                    cpu_per_wakeup_ns: nanos(m.cpu_per_wakeup),
                    wakeups: m.wakeups,
                });
            }
        }
    }
    progress.finish();
    let sleeps = if crate::stopped() {
        Vec::new()
    } else {
        sleep_lateness(args.secs)
    };
    let random = if crate::stopped() {
        Vec::new()
    } else {
        random_deadlines(args.secs)
    };
    if let Some(to) = &args.json {
        let value = serde_json::json!({
            "wakeup_mechanisms": rows,
            "sleep_1ms_lateness": sleeps,
            "random_deadlines_10k": random,
        });
        if let Err(e) = crate::out::write_json(to, &value) {
            crate::note(format!("error: {e}"));
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// The peers of the two side-by-side tables.
const PEERS: [Impl; 3] = [Impl::Tickless, Impl::Tokio, Impl::AsyncIo];

#[derive(serde::Serialize)]
struct SleepRow {
    implementation: &'static str,
    samples: usize,
    lateness_p50_ns: u64,
    lateness_p99_ns: u64,
    lateness_max_ns: u64,
}

/// Sequential `sleep(1 ms)`s per implementation, about `secs` each.
fn sleep_lateness(secs: f64) -> Vec<SleepRow> {
    let samples = ((secs * 800.0) as usize).max(20);
    crate::say("");
    crate::say(format!(
        "`sleep(1 ms)` lateness, {samples} sequential sleeps each (none ended early):"
    ));
    crate::say("");
    crate::say("| implementation | p50 | p99 | max |");
    crate::say("|---|---:|---:|---:|");
    let mut rows = Vec::new();
    for imp in PEERS {
        if crate::stopped() {
            break;
        }
        let late = timers::lateness(imp, Duration::from_millis(1), samples);
        let row = SleepRow {
            implementation: imp.name(),
            samples,
            lateness_p50_ns: nanos(timers::quantile(&late, 0.5)),
            lateness_p99_ns: nanos(timers::quantile(&late, 0.99)),
            lateness_max_ns: nanos(*late.last().unwrap_or(&Duration::ZERO)),
        };
        crate::say(format!(
            "| {} | {:.1?} | {:.1?} | {:.1?} |",
            row.implementation,
            Duration::from_nanos(row.lateness_p50_ns),
            Duration::from_nanos(row.lateness_p99_ns),
            Duration::from_nanos(row.lateness_max_ns),
        ));
        rows.push(row);
    }
    rows
}

#[derive(serde::Serialize)]
struct WakeupRow {
    implementation: &'static str,
    timer_thread: &'static str,
    fires_per_sec: f64,
    timer_thread_wakeups_per_sec: Option<f64>,
    runtime_thread_wakeups_per_sec: Option<f64>,
}

/// 10 000 timers of random deadlines in [1 ms, 1 s), re-armed as they fire.
fn random_deadlines(secs: f64) -> Vec<WakeupRow> {
    const TIMERS: usize = 10_000;
    let range = (Duration::from_millis(1), Duration::from_secs(1));
    let warmup = Duration::from_secs_f64(secs.min(0.5));
    crate::say("");
    crate::say(format!(
        "{TIMERS} timers, random deadlines in [1 ms, 1 s) re-armed as they fire, {secs} s \
         after {warmup:.1?} (wake-ups: voluntary context switches):"
    ));
    crate::say("");
    crate::say(
        "| implementation | fires/s | timer thread | its wake-ups/s | runtime thread wake-ups/s |",
    );
    crate::say("|---|---:|---|---:|---:|");
    let show = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.0}"));
    let mut rows = Vec::new();
    for imp in PEERS {
        if crate::stopped() {
            break;
        }
        let m =
            wakeups::random_deadlines(imp, TIMERS, range, warmup, Duration::from_secs_f64(secs));
        let row = WakeupRow {
            implementation: imp.name(),
            timer_thread: wakeups::timer_thread(imp),
            fires_per_sec: m.fires_per_sec,
            timer_thread_wakeups_per_sec: m.timer_thread_per_sec,
            runtime_thread_wakeups_per_sec: m.runtime_thread_per_sec,
        };
        crate::say(format!(
            "| {} | {:.0} | {} | {} | {} |",
            row.implementation,
            row.fires_per_sec,
            if imp == Impl::Tokio {
                "(the runtime thread)"
            } else {
                row.timer_thread
            },
            show(row.timer_thread_wakeups_per_sec),
            show(row.runtime_thread_wakeups_per_sec),
        ));
        rows.push(row);
    }
    rows
}
