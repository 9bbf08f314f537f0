//! The event loop shared by the TCP and UDP loads: timing, pacing, the stall watchdog,
//! the measured window's markers and the progress bar. One `submit_and_wait` per turn.

use std::io;
use std::time::{Duration, Instant};

use super::client::{Client, Completion};
use super::progress::Progress;
use super::stats::Recorder;
use super::{marker, Config};

/// The run's timeline, in nanoseconds since the load's clock base.
pub struct Window {
    /// When the load started (all connections up).
    pub t_load: u64,
    /// End of the warm-up: measuring starts.
    pub warm_end: u64,
    /// End of the run.
    pub end: u64,
    rate: Option<f64>,
    conns: u64,
}

impl Window {
    /// Whether a message completing at `now` is measured.
    pub fn measuring(&self, now: u64) -> bool {
        now >= self.warm_end && now < self.end
    }

    /// Paced mode: when message `j` of connection `c` is meant to be sent. Messages go out
    /// round-robin over the connections, evenly spaced at the total rate.
    pub fn intended(&self, c: usize, j: u64) -> Option<u64> {
        let rate = self.rate?;
        Some(self.t_load + ((j * self.conns + c as u64) as f64 * 1e9 / rate) as u64)
    }
}

/// A load the driver can run.
pub trait Load {
    /// The ring.
    fn ring(&mut self) -> &mut Client;
    /// The recorder.
    fn rec(&mut self) -> &mut Recorder;
    /// Starts the load on every live connection.
    fn begin(&mut self, w: &Window, now: u64) -> io::Result<()>;
    /// Paced mode: one more message of connection `c` is due.
    fn due(&mut self, c: usize, w: &Window, now: u64) -> io::Result<()>;
    /// Handles one completion.
    fn complete(&mut self, done: &Completion, w: &Window, now: u64) -> io::Result<()>;
    /// Called about every 10 ms (UDP gives up on lost datagrams here).
    fn tick(&mut self, _w: &Window, _now: u64) -> io::Result<()> {
        Ok(())
    }
    /// Messages issued and neither answered nor given up on.
    fn outstanding(&self) -> u64;
    /// When the last reply arrived.
    fn last_reply(&self) -> u64;
    /// Why the run must stop now, if it must.
    fn fatal(&self) -> Option<String>;
}

/// Runs `load` from now until the end of the measured window, or a fatal error; returns the
/// length of the measured window in seconds and the reason for an early stop.
pub fn drive<L: Load>(
    cfg: &Config,
    base: Instant,
    load: &mut L,
) -> io::Result<(f64, Option<String>)> {
    let clock = || base.elapsed().as_nanos() as u64;
    let t_load = clock();
    let warm_end = t_load + cfg.warmup.as_nanos() as u64;
    let w = Window {
        t_load,
        warm_end,
        end: warm_end + cfg.secs.as_nanos() as u64,
        rate: cfg.rate,
        conns: cfg.conns as u64,
    };
    load.begin(&w, t_load)?;
    let progress = Progress::new(cfg, w.end - t_load);
    let stall = cfg.stall_timeout.as_nanos() as u64;
    let (mut started, mut released, mut last_tick, mut quiet_since) = (false, 0u64, 0u64, t_load);
    let mut fatal = None;
    let mut done = Vec::with_capacity(4096);
    let mut now = clock();
    while now < w.end {
        if cfg.interrupt.load(std::sync::atomic::Ordering::SeqCst) {
            fatal = Some("interrupted: the figures cover the run until then".to_string());
            break;
        }
        if !started && now >= w.warm_end {
            started = true;
            marker(cfg, "start");
        }
        if let Some(rate) = cfg.rate {
            let due_total = ((now - t_load) as f64 * rate / 1e9) as u64 + 1;
            while released < due_total {
                load.due((released % w.conns) as usize, &w, now)?;
                released += 1;
            }
        }
        if now >= last_tick + 10_000_000 {
            last_tick = now;
            load.tick(&w, now)?;
        }
        // The watchdog: replies must keep coming while messages are outstanding.
        let waiting_since = if load.outstanding() == 0 {
            quiet_since = now;
            now
        } else {
            load.last_reply().max(quiet_since)
        };
        if now - waiting_since > stall {
            let (s, n) = (cfg.stall_timeout.as_secs_f64(), load.outstanding());
            let why = format!(
                "server stopped answering: no reply for {s:.1} s ({n} messages outstanding)"
            );
            load.rec().error(|| why.clone());
            fatal = Some(why);
            break;
        }
        if let Some(why) = load.fatal() {
            fatal = Some(why);
            break;
        }
        progress.tick(now - t_load, load.rec().msgs);
        let mut wake = (w.end - now)
            .min(10_000_000)
            .min((waiting_since + stall).saturating_sub(now));
        if !started {
            wake = wake.min(w.warm_end - now);
        }
        if let Some(rate) = cfg.rate {
            let next = t_load + (released as f64 * 1e9 / rate) as u64;
            wake = wake.min(next.saturating_sub(now));
        }
        load.ring()
            .submit_and_wait(Duration::from_nanos(wake.max(1_000)))?;
        load.ring().reap(&mut done);
        now = clock();
        for c in &done {
            load.complete(c, &w, now)?;
        }
    }
    if started {
        marker(cfg, "end");
    }
    progress.finish();
    let secs = now.min(w.end).saturating_sub(w.warm_end) as f64 / 1e9;
    if fatal.is_none() && load.rec().msgs == 0 {
        // Whatever the run's length, a window without one echo measured nothing.
        let n = load.outstanding();
        let why =
            format!("nothing was echoed in the {secs:.2} s measured ({n} messages outstanding)");
        load.rec().error(|| why.clone());
        fatal = Some(why);
    }
    Ok((secs, fatal))
}
