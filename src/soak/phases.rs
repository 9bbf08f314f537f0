//! What a soak shows while it runs: a progress bar on a terminal (the churn
//! time so far, the phase, the connections churned), and one line per phase
//! on stderr otherwise, so that a log shows where a soak is.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// The progress of one server's soak.
pub struct Phases {
    model: String,
    bar: Option<ProgressBar>,
    /// Churn seconds finished in earlier phases (the bar counts churn time).
    done_ms: std::cell::Cell<u64>,
    started: std::cell::Cell<std::time::Instant>,
}

impl Phases {
    /// Progress for the soak of `model`: `churn_secs` seconds of churn in all.
    pub fn new(model: &str, churn_secs: f64) -> Phases {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new((churn_secs * 1000.0) as u64);
            bar.set_style(
                ProgressStyle::with_template("soak {prefix}: {bar:30} {elapsed} {msg}")
                    .expect("valid template"),
            );
            bar.set_prefix(model.to_string());
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Phases {
            model: model.to_string(),
            bar,
            done_ms: Default::default(),
            started: std::cell::Cell::new(std::time::Instant::now()),
        }
    }

    /// A new phase begins.
    pub fn phase(&self, what: &str) {
        self.started.set(std::time::Instant::now());
        match &self.bar {
            Some(bar) => bar.set_message(what.to_string()),
            None => eprintln!("soak {}: {what}", self.model),
        }
    }

    /// Churn goes on: `conns` connections so far in this phase.
    pub fn tick(&self, conns: u64) {
        if let Some(bar) = &self.bar {
            let ms = self.started.get().elapsed().as_millis() as u64;
            bar.set_position(self.done_ms.get() + ms);
            let msg = bar.message();
            let phase = msg.split(" | ").next().unwrap_or_default().to_string();
            bar.set_message(format!("{phase} | {conns} connections"));
        }
    }

    /// A churn phase of `secs` seconds is over.
    pub fn done_churning(&self, secs: f64) {
        self.done_ms
            .set(self.done_ms.get() + (secs * 1000.0) as u64);
        if let Some(bar) = &self.bar {
            bar.set_position(self.done_ms.get());
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Phases {
    fn drop(&mut self) {
        self.finish();
    }
}
