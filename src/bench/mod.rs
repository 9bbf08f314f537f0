//! `overlapped bench`: the load generator.
//!
//! One thread, one io_uring, fixed buffers: see [`ring`] (all the unsafe code), [`tcp`] (the
//! load), [`pattern`] (what is sent and checked) and [`stats`] (what is reported).

mod driver;
mod pattern;
mod progress;
pub mod ring;
pub mod stats;
mod target;
mod tcp;
mod udp;

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

/// Transport to load.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// TCP streams.
    Tcp,
    /// UDP datagrams.
    Udp,
}

/// Arguments of `overlapped bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Echo server to load, HOST:PORT (loopback only unless --allow-remote).
    #[arg(long)]
    pub addr: String,
    /// Connections.
    #[arg(long, default_value_t = 50)]
    pub conns: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Messages in flight per connection.
    #[arg(long, default_value_t = 1)]
    pub depth: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 5.0)]
    pub secs: f64,
    /// Warm-up seconds before measuring.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Pace the total offered load at this many messages per second (latency is then
    /// measured from each message's intended send time).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Transport.
    #[arg(long, value_enum, default_value_t = Proto::Tcp)]
    pub proto: Proto,
    /// Print exactly one JSON line.
    #[arg(long)]
    pub json: bool,
    /// Allow a target outside the loopback range.
    #[arg(long)]
    pub allow_remote: bool,
    /// Seconds to wait for a connection.
    #[arg(long, default_value_t = 5.0)]
    pub connect_timeout: f64,
    /// Seconds without any reply (while messages are in flight) after which the run stops.
    #[arg(long, default_value_t = 3.0)]
    pub stall_timeout: f64,
    /// UDP: seconds after which an unanswered datagram counts as lost.
    #[arg(long, default_value_t = 1.0)]
    pub loss_timeout: f64,
    /// Print `overlapped-bench: measure start|end` to stderr around the measured window.
    #[arg(long, hide = true)]
    pub markers: bool,
}

/// A checked run configuration.
pub struct Config {
    /// Target.
    pub addr: SocketAddr,
    /// Connections.
    pub conns: usize,
    /// Message size.
    pub size: usize,
    /// Messages in flight per connection.
    pub depth: usize,
    /// Warm-up.
    pub warmup: Duration,
    /// Measured window.
    pub secs: Duration,
    /// Total offered load, messages per second.
    pub rate: Option<f64>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Stall watchdog.
    pub stall_timeout: Duration,
    /// UDP loss timeout.
    pub loss_timeout: Duration,
    /// Print window markers to stderr.
    pub markers: bool,
    /// JSON output (no progress bar).
    pub json: bool,
}

fn seconds(name: &str, v: f64, min: f64) -> Result<Duration, String> {
    if v.is_finite() && v >= min && v <= 86_400.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("--{name} must be between {min} and 86400 seconds"))
    }
}

impl Config {
    /// Checks the arguments.
    pub fn from_args(a: &BenchArgs, addr: SocketAddr) -> Result<Config, String> {
        if a.conns == 0 || a.conns > 100_000 {
            return Err("--conns must be between 1 and 100000".into());
        }
        if a.size == 0 || a.size > 1 << 20 {
            return Err("--size must be between 1 and 1048576".into());
        }
        if a.proto == Proto::Udp && a.size > 65_000 {
            return Err("--size must be at most 65000 for UDP".into());
        }
        if a.depth == 0 || a.depth > 1024 {
            return Err("--depth must be between 1 and 1024".into());
        }
        // Every operation in flight needs a completion-queue entry of the one ring.
        let ops = a.conns
            * if a.proto == Proto::Udp {
                a.depth + 1
            } else {
                2
            };
        if ops > 65_000 {
            return Err(format!(
                "{ops} operations in flight: too many for one ring (at most 65000)"
            ));
        }
        if let Some(r) = a.rate {
            if !(r.is_finite() && r > 0.0) {
                return Err("--rate must be positive".into());
            }
        }
        Ok(Config {
            addr,
            conns: a.conns,
            size: a.size,
            depth: a.depth,
            warmup: seconds("warmup", a.warmup, 0.0)?,
            secs: seconds("secs", a.secs, 0.01)?,
            rate: a.rate,
            connect_timeout: seconds("connect-timeout", a.connect_timeout, 0.01)?,
            stall_timeout: seconds("stall-timeout", a.stall_timeout, 0.01)?,
            loss_timeout: seconds("loss-timeout", a.loss_timeout, 0.001)?,
            markers: a.markers,
            json: a.json,
        })
    }
}

/// Prints a window marker to stderr, if asked for.
fn marker(cfg: &Config, what: &str) {
    if cfg.markers {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "overlapped-bench: measure {what}");
        let _ = err.flush();
    }
}

/// Runs the load generator. Exits with code 2 on a refused (non-loopback) or invalid target
/// or arguments, 1 if the run saw any error; the report is printed either way.
pub fn run(args: BenchArgs) -> std::io::Result<()> {
    let addr = match target::resolve(&args.addr, args.allow_remote) {
        Ok(a) => a,
        Err(e) => usage_exit(&e.to_string()),
    };
    let cfg = match Config::from_args(&args, addr) {
        Ok(c) => c,
        Err(e) => usage_exit(&e),
    };
    if let Ok(limit) = ring::raise_nofile_limit() {
        if (limit as usize) < cfg.conns + 64 {
            eprintln!(
                "overlapped: warning: open file limit {limit} is low for {} connections",
                cfg.conns
            );
        }
    }
    let report = match args.proto {
        Proto::Tcp => tcp::run(&cfg)?,
        Proto::Udp => udp::run(&cfg)?,
    };
    if args.json {
        let line = serde_json::to_string(&report).map_err(std::io::Error::other)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    } else {
        report.print_human();
    }
    if report.errors > 0 || report.error.is_some() {
        std::process::exit(1);
    }
    Ok(())
}

fn usage_exit(msg: &str) -> ! {
    eprintln!("overlapped: {msg}");
    std::process::exit(2);
}
