//! What a benchmark is doing, on stderr while it runs: which benchmark, which step, which
//! run. On a terminal each run overwrites the line before; elsewhere (CI logs) every step
//! gets one line and runs are not listed one by one.

use std::io::{IsTerminal, Write};

/// Progress lines of one benchmark.
#[derive(Debug)]
pub(crate) struct Progress {
    bench: &'static str,
    terminal: bool,
    /// A run line is on the terminal and must be ended before other output.
    open: bool,
}

impl Progress {
    pub(crate) fn new(bench: &'static str) -> Progress {
        Progress {
            bench,
            terminal: std::io::stderr().is_terminal(),
            open: false,
        }
    }

    /// A step: one line, e.g. `bench boot: hello on microvm, smp 1`.
    pub(crate) fn step(&mut self, what: &str) {
        self.end_line();
        eprintln!("probe: bench {}: {what}", self.bench);
    }

    /// Run `run` of `runs` of the current step; only on a terminal, on one line.
    pub(crate) fn run(&mut self, what: &str, run: usize, runs: usize) {
        if self.terminal {
            eprint!("\rprobe: bench {}: {what} {run}/{runs}\x1b[K", self.bench);
            // A progress line that does not show is no reason to stop.
            let _ = std::io::stderr().flush();
            self.open = true;
        }
    }

    /// Ends a run line, so that what follows starts on a line of its own.
    pub(crate) fn end_line(&mut self) {
        if self.open {
            eprintln!();
            self.open = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.end_line();
    }
}
