//! A progress bar on stderr: redrawn in place on a terminal, a start and an
//! end line otherwise (piped output stays readable). No colours at all, so
//! `NO_COLOR` is honoured trivially.

use std::io::{IsTerminal, Write};
use std::time::Instant;

pub struct Progress {
    label: String,
    total: u64,
    tty: bool,
    last_percent: u64,
    started: Instant,
}

impl Progress {
    pub fn new(label: impl Into<String>, total: u64) -> Self {
        let label = label.into();
        let tty = std::io::stderr().is_terminal();
        if !tty {
            eprintln!("{label} ...");
        }
        Progress {
            label,
            total: total.max(1),
            tty,
            last_percent: u64::MAX,
            started: Instant::now(),
        }
    }

    pub fn set(&mut self, done: u64) {
        let percent = done.min(self.total) * 100 / self.total;
        if !self.tty || percent == self.last_percent {
            return;
        }
        self.last_percent = percent;
        let filled = (percent / 5) as usize;
        let _ = write!(
            std::io::stderr(),
            "\r{:<34} [{}{}] {percent:>3}%",
            self.label,
            "#".repeat(filled),
            "-".repeat(20 - filled)
        );
    }

    pub fn finish(self) {
        let took = self.started.elapsed();
        if self.tty {
            let _ = writeln!(
                std::io::stderr(),
                "\r{:<34} [{}] done in {took:.1?}",
                self.label,
                "#".repeat(20)
            );
        } else {
            eprintln!("{} done in {took:.1?}", self.label);
        }
    }
}
