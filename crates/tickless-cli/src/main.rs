//! `tickless`: the command-line face of the tickless timer library.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand};
use tickless_workloads::alloc::CountingAlloc;

mod bench;
mod bench_cache;
mod bench_sched;
mod demo;
mod demo_cache;
mod demo_json;
mod demo_queues;
mod demo_sched;
mod leak;
mod out;
mod precision;
mod progress;
mod report;
mod scenario;
mod server;
mod soak;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Timers that cannot leak, cost almost nothing when cancelled, and can be seen.
#[derive(Parser, Debug)]
#[command(name = "tickless", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The leak case study, churn against the peers, the queues, the scheduler and cache case studies, and an HTML report.
    Demo(demo::DemoArgs),
    /// The full side-by-side benchmark suite, as a markdown table (and JSON).
    Bench(bench::BenchArgs),
    /// Wakeup lateness and CPU per wakeup: nanosleep, futex, timerfd, tickless, tokio.
    Precision(precision::PrecisionArgs),
    /// The example HTTP server that `tickless bench server` loads (hyper, tokio).
    Serve(server::ServeArgs),
    /// A randomized mix of every timer API with checkers (never early, nothing
    /// lost, no stale value, memory and threads back to baseline); non-zero exit on a violation.
    Soak(soak::SoakArgs),
}

/// Set by Ctrl-C: every subcommand finishes the measurement in hand, skips
/// the rest, and still prints what it measured.
pub static STOP: AtomicBool = AtomicBool::new(false);

pub fn stopped() -> bool {
    // Relaxed: a flag polled between measurements.
    STOP.load(Ordering::Relaxed)
}

pub use out::{note, say};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::Relaxed));
    let code = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Precision(args) => precision::run(&args),
        Command::Serve(args) => server::run(&args),
        Command::Soak(args) => soak::run(&args),
    };
    if stopped() {
        // Interrupted: what was measured is printed; the shell's convention
        // for Ctrl-C (128 + SIGINT) says the run was cut short.
        return ExitCode::from(130);
    }
    code
}
