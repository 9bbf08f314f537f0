//! What a run measures, and its report (human table or one JSON line).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Counters and latency histogram of the measured window.
pub struct Recorder {
    /// Latency per message, in microseconds.
    pub hist: Histogram<u64>,
    /// Messages echoed back completely and correctly within the window.
    pub msgs: u64,
    /// Errors: failed connects, bad data, resets, early closes, a stalled server.
    pub errors: u64,
    /// UDP datagrams given up on (no echo within the loss timeout).
    pub lost: u64,
    /// The first error seen, as text.
    pub first_error: Option<String>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Recorder {
        Recorder {
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
            msgs: 0,
            errors: 0,
            lost: 0,
            first_error: None,
        }
    }

    /// Records one message's latency.
    pub fn record(&mut self, latency_ns: u64) {
        self.msgs += 1;
        self.hist.saturating_record((latency_ns / 1000).max(1));
    }

    /// Counts an error, keeping the first description.
    pub fn error(&mut self, what: impl FnOnce() -> String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }
}

/// The result of one `bench` run; `--json` prints it as one line.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Report {
    /// Target address.
    pub addr: String,
    /// `tcp` or `udp`.
    pub proto: String,
    /// Connections asked for.
    pub conns: usize,
    /// Connections that were established.
    pub connected: usize,
    /// Message size in bytes.
    pub size: usize,
    /// Messages in flight per connection.
    pub depth: usize,
    /// Offered load in messages per second, if paced.
    pub rate: Option<f64>,
    /// Length of the measured window, seconds.
    pub secs: f64,
    /// Messages echoed in the window.
    pub msgs: u64,
    /// Messages per second.
    pub msgs_per_sec: f64,
    /// Echoed payload, megabytes (10^6) per second, one direction.
    pub mb_per_sec: f64,
    /// Median latency, microseconds.
    pub p50_us: u64,
    /// 99th percentile latency, microseconds.
    pub p99_us: u64,
    /// 99.9th percentile latency, microseconds.
    pub p999_us: u64,
    /// Highest latency, microseconds.
    pub max_us: u64,
    /// Mean latency, microseconds.
    pub mean_us: f64,
    /// Error count.
    pub errors: u64,
    /// Lost datagrams (UDP).
    pub lost: u64,
    /// Echoes that came after their datagram was counted lost (UDP).
    #[serde(default)]
    pub late: u64,
    /// The first error, or why the run stopped early.
    pub error: Option<String>,
    /// The load generator's client (io_uring or epoll) and why it was chosen.
    #[serde(default)]
    pub client: Option<super::client::ClientChoice>,
}

impl Report {
    /// An empty report of a run of `cfg` over `proto`.
    pub fn new(cfg: &super::Config, proto: &str) -> Report {
        Report {
            addr: cfg.addr.to_string(),
            proto: proto.into(),
            conns: cfg.conns,
            size: cfg.size,
            depth: cfg.depth,
            rate: cfg.rate,
            client: Some(cfg.client.clone()),
            ..Report::default()
        }
    }

    /// Fills the measured figures from `rec` over a window of `secs` seconds.
    pub fn fill(&mut self, rec: &Recorder, secs: f64) {
        let h = &rec.hist;
        self.secs = secs;
        self.msgs = rec.msgs;
        self.msgs_per_sec = if secs > 0.0 {
            rec.msgs as f64 / secs
        } else {
            0.0
        };
        self.mb_per_sec = self.msgs_per_sec * self.size as f64 / 1e6;
        if !h.is_empty() {
            self.p50_us = h.value_at_quantile(0.50);
            self.p99_us = h.value_at_quantile(0.99);
            self.p999_us = h.value_at_quantile(0.999);
            self.max_us = h.max();
            self.mean_us = (h.mean() * 10.0).round() / 10.0;
        }
        self.errors = rec.errors;
        self.lost = rec.lost;
        if self.error.is_none() {
            self.error = rec.first_error.clone();
        }
    }

    /// Prints the report for a person.
    pub fn print_human(&self) {
        let rate = self
            .rate
            .map(|r| format!(" @ {r:.0} msgs/s"))
            .unwrap_or_default();
        println!(
            "{} {}: {}/{} conns x {} B x depth {}{rate}, {:.1} s measured",
            self.proto, self.addr, self.connected, self.conns, self.size, self.depth, self.secs
        );
        println!("  msgs/s   {:>14.0}", self.msgs_per_sec);
        println!("  MB/s     {:>14.2}", self.mb_per_sec);
        println!(
            "  latency  p50 {} us, p99 {} us, p99.9 {} us, max {} us",
            self.p50_us, self.p99_us, self.p999_us, self.max_us
        );
        println!("  errors   {:>14}", self.errors);
        if self.proto == "udp" {
            println!("  lost     {:>14}", self.lost);
            println!("  late     {:>14}", self.late);
        }
        if let Some(e) = &self.error {
            println!("  error: {e}");
        }
        if let Some(c) = &self.client {
            println!("  client   {c}");
        }
    }
}
