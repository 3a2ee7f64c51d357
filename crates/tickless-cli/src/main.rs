//! `tickless`: the command-line face of the tickless timer library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod leak;
mod progress;
mod report;

#[path = "../../tickless/benches/support/queues.rs"]
mod queues;
#[path = "../../tickless/benches/support/timers.rs"]
mod timers;

#[global_allocator]
static ALLOC: queues::CountingAlloc = queues::CountingAlloc;

/// Timers that cannot leak, cost almost nothing when cancelled, and can be seen.
#[derive(Parser, Debug)]
#[command(name = "tickless", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The leak case study, churn against the peers, the queues, and an HTML report.
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => demo::run(&args),
    }
}
