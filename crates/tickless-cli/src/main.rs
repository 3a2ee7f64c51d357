//! `tickless`: the command-line face of the tickless timer library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;

/// Timers that cannot leak, cost almost nothing when cancelled, and can be seen.
#[derive(Parser, Debug)]
#[command(name = "tickless", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Measure the timer queues on this machine and print a side-by-side summary.
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => demo::run(&args),
    }
}
