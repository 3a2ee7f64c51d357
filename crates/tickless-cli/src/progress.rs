//! A phase's progress on stderr (`indicatif`): a bar redrawn in place when
//! stderr is a terminal — cleared around every table line by
//! [`crate::out`] — and otherwise just a start and an end line, so a log
//! stays readable. No colours at all, so `NO_COLOR` is honoured trivially.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::out::{self, BARS};

pub struct Progress {
    bar: ProgressBar,
    label: String,
    tty: bool,
    started: Instant,
}

impl Progress {
    /// A phase of `total` steps (1 for a phase measured in one go).
    pub fn new(label: impl Into<String>, total: u64) -> Self {
        let label = label.into();
        let tty = std::io::stderr().is_terminal() && !BARS.is_hidden();
        if !tty {
            out::note(format!("{label} ..."));
        }
        let style = ProgressStyle::with_template(
            "{spinner} {prefix} [{bar:20}] {pos}/{len} {elapsed} {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("#>-")
        .tick_chars("|/-\\ ");
        let bar = BARS.add(ProgressBar::new(total.max(1)).with_style(style));
        bar.set_prefix(label.clone());
        bar.tick(); // drawn now, not at the first step
        Progress {
            bar,
            label,
            tty,
            started: Instant::now(),
        }
    }

    /// Redraws the spinner and the elapsed time five times a second, from a
    /// thread of indicatif's, so a long step is seen to be running. Not for
    /// phases that measure the process's CPU time (the redraws would count),
    /// and nothing at all when stderr is not a terminal.
    pub fn ticking(self) -> Self {
        if self.tty {
            self.bar.enable_steady_tick(Duration::from_millis(200));
        }
        self
    }

    /// Names what runs now (an implementation, a size).
    pub fn step(&self, what: impl Into<String>) {
        self.bar.set_message(what.into());
    }

    pub fn set(&mut self, done: u64) {
        self.bar.set_position(done);
    }

    /// Removes the bar and leaves one line: what ran and how long it took.
    pub fn finish(self) {
        let took = self.started.elapsed();
        self.bar.finish_and_clear();
        BARS.remove(&self.bar);
        out::note(format!("{} done in {took:.1?}", self.label));
    }
}

impl Drop for Progress {
    /// A phase left early (an error, a skipped peer) takes its bar along.
    fn drop(&mut self) {
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
            BARS.remove(&self.bar);
        }
    }
}
