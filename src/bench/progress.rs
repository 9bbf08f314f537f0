//! A progress bar, shown only when stdout is a terminal and `--json` is off.

use std::cell::Cell;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use super::Config;

/// The run's progress bar, or nothing.
pub struct Progress {
    bar: Option<ProgressBar>,
    last: Cell<u64>,
}

impl Progress {
    /// A bar for a run of `total_ns` nanoseconds, if stdout is a terminal.
    pub fn new(cfg: &Config, total_ns: u64) -> Progress {
        let bar = (!cfg.json && std::io::stdout().is_terminal()).then(|| {
            let bar = ProgressBar::new(total_ns / 1_000_000);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {elapsed}/{duration} {msg}")
                    .expect("valid template"),
            );
            bar
        });
        Progress {
            bar,
            last: Cell::new(0),
        }
    }

    /// Updates the bar at most every 250 ms: `at_ns` into the run, `msgs` measured so far.
    pub fn tick(&self, at_ns: u64, msgs: u64) {
        if let Some(bar) = &self.bar {
            if at_ns >= self.last.get() + 250_000_000 {
                self.last.set(at_ns);
                bar.set_position(at_ns / 1_000_000);
                bar.set_message(format!("{msgs} msgs"));
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
